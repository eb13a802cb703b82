import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { kasprAppSchema, crd, type SchemaNode } from '../../src/api/crd.ts';
import { defaults } from '../../src/api/defaults.ts';
import { defaultKasprVersion } from '../../src/api/versions.ts';
import { generateTypes, generatedTypesPath } from '../../scripts/gen-types.ts';

function nodeAt(path: string): SchemaNode {
  let node: SchemaNode | undefined = kasprAppSchema;
  for (const key of path.split('.')) node = node?.properties?.[key];
  assert.ok(node, `no schema at ${path}`);
  return node;
}

describe('the KasprApp CRD', () => {
  test('the committed TypeScript types are what `npm run gen` generates from it', async () => {
    assert.equal(
      readFileSync(generatedTypesPath, 'utf8'),
      await generateTypes(),
      'run `npm run gen` and commit the result',
    );
  });

  test('names, scope, short names, status subresource and printer columns', () => {
    const doc = crd as unknown as {
      metadata: { name: string };
      spec: {
        group: string;
        scope: string;
        names: { kind: string; plural: string; shortNames: string[] };
        versions: {
          name: string;
          served: boolean;
          storage: boolean;
          subresources: unknown;
          additionalPrinterColumns: { name: string }[];
        }[];
      };
    };
    assert.equal(doc.metadata.name, 'kasprapps.kaspr.io');
    assert.equal(doc.spec.scope, 'Namespaced');
    assert.deepEqual(doc.spec.names.shortNames, ['kapp', 'kapps']);
    const [version] = doc.spec.versions;
    assert.ok(version?.served && version.storage);
    assert.deepEqual(version.subresources, { status: {} });
    assert.deepEqual(
      version.additionalPrinterColumns.map((c) => c.name),
      ['Replicas', 'Members', 'Packages', 'Installed', 'Ready', 'Age'],
    );
  });

  test('states every default the operator applies (defaults are never written into objects)', () => {
    const described: [path: string, value: string][] = [
      ['spec.replicas', `Defaults to ${defaults.replicas}.`],
      ['spec.storage.deleteClaim', `Defaults to ${String(defaults.storage.deleteClaim)}.`],
      ['spec.pythonPackages.offlineMode', `Defaults to ${String(defaults.pythonPackages.offlineMode)}.`],
      ['spec.pythonPackages.installer', `Defaults to ${defaults.pythonPackages.installer}.`],
      ['spec.pythonPackages.cache.enabled', `Defaults to ${String(defaults.pythonPackages.cache.enabled)}.`],
      ['spec.pythonPackages.cache.size', `Defaults to ${defaults.pythonPackages.cache.size}.`],
      ['spec.pythonPackages.cache.accessMode', `Defaults to ${defaults.pythonPackages.cache.accessMode}.`],
      ['spec.pythonPackages.cache.deleteClaim', `Defaults to ${String(defaults.pythonPackages.cache.deleteClaim)}.`],
      ['spec.pythonPackages.installPolicy.retries', `Defaults to ${defaults.pythonPackages.installPolicy.retries}.`],
      ['spec.pythonPackages.installPolicy.timeout', `Defaults to ${defaults.pythonPackages.installPolicy.timeout}.`],
      [
        'spec.pythonPackages.installPolicy.onFailure',
        `Defaults to ${defaults.pythonPackages.installPolicy.onFailure}.`,
      ],
      [
        'spec.pythonPackages.credentials.secretRef.usernameKey',
        `Defaults to \`${defaults.pythonPackages.credentials.usernameKey}\`.`,
      ],
      [
        'spec.pythonPackages.credentials.secretRef.passwordKey',
        `Defaults to \`${defaults.pythonPackages.credentials.passwordKey}\`.`,
      ],
    ];
    for (const [path, text] of described) assert.ok(nodeAt(path).description?.includes(text), `${path}: "${text}"`);
    const { requests, limits } = defaults.pythonPackages.resources;
    assert.ok(
      nodeAt('spec.pythonPackages.resources').description?.includes(
        `requests cpu ${requests.cpu}, memory ${requests.memory} and limit memory ${limits.memory}`,
      ),
    );
    assert.ok(defaultKasprVersion);
  });

  test('has no `default:` anywhere (the apiserver would write it into stored objects)', () => {
    const walk = (node: SchemaNode, path: string): void => {
      assert.ok(!('default' in node), `${path} has a default`);
      for (const [k, v] of Object.entries(node.properties ?? {})) walk(v, `${path}.${k}`);
      if (node.items) walk(node.items, `${path}[]`);
      if (typeof node.additionalProperties === 'object') walk(node.additionalProperties, `${path}{}`);
    };
    walk(kasprAppSchema, '');
  });

  test('is structural: every node has a type, except int-or-string and preserved nodes', () => {
    const walk = (node: SchemaNode, path: string): void => {
      const typed = node.type !== undefined || node['x-kubernetes-int-or-string'] === true;
      assert.ok(typed || node['x-kubernetes-preserve-unknown-fields'] === true, `${path} has no type`);
      assert.ok(
        !(node.properties && typeof node.additionalProperties === 'object'),
        `${path}: properties and additionalProperties`,
      );
      for (const [k, v] of Object.entries(node.properties ?? {})) walk(v, `${path}.${k}`);
      if (node.items) walk(node.items, `${path}[]`);
      if (typeof node.additionalProperties === 'object') walk(node.additionalProperties, `${path}{}`);
    };
    walk(kasprAppSchema, '');
  });
});
