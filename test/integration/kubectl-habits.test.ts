// What a person sees with kubectl, from the real apiserver serving the CRD: `kubectl get kapp` shows the replicas,
// the ready members, the packages' state and installed count (as the operator writes them) and the age, and
// `kubectl explain` shows the description of every field of spec.pythonPackages.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { crdPath } from '../../src/api/crd.ts';
import { connectCluster, installKasprAppCrd } from '../support/integration.ts';
import { createApp, kasprApp, waitForCondition, waitForPackages } from '../support/kasprapps.ts';
import { kubectl } from '../support/kubectl.ts';
import { startScenario } from '../support/scenario.ts';

const cluster = await connectCluster();
await installKasprAppCrd(cluster.client);

interface Schema {
  readonly description?: string;
  readonly properties?: Record<string, Schema>;
}

/** Every field under `schema`, as a dotted path below it, with its description. */
function fields(schema: Schema, path: string[] = []): { path: string[]; description: string | undefined }[] {
  return Object.entries(schema.properties ?? {}).flatMap(([name, child]) => [
    { path: [...path, name], description: child.description },
    ...fields(child, [...path, name]),
  ]);
}

const words = (text: string): string => text.replace(/\s+/g, ' ').trim();

test('kubectl explain kasprapp.spec.pythonPackages describes every field', async () => {
  const crd = parse(readFileSync(crdPath, 'utf8')) as {
    spec: { versions: { schema: { openAPIV3Schema: { properties: { spec: Schema } } } }[] };
  };
  const packages = crd.spec.versions[0]!.schema.openAPIV3Schema.properties.spec.properties!.pythonPackages!;
  const all = fields(packages);
  assert.ok(all.length >= 20, `${all.length} fields`);
  for (const { path, description } of all) {
    assert.ok(description, `spec.pythonPackages.${path.join('.')} has a description in the CRD`);
    const explained = await kubectl(cluster.kubeconfigPath, [
      'explain',
      `kasprapp.spec.pythonPackages.${path.join('.')}`,
    ]);
    const shown = words(explained.split(/^DESCRIPTION:$/m)[1]?.split(/^FIELDS:$/m)[0] ?? '');
    assert.ok(shown.includes(words(description)), `kubectl explain ${path.join('.')} shows:\n${explained}`);
  }
});

test('kubectl get kapp shows replicas, ready members, packages state, installed count and age', async (t) => {
  const { ns, packages } = await startScenario(t, cluster);
  await createApp(
    cluster.client,
    kasprApp(ns.name, 'cols', { replicas: 1, pythonPackages: packages(['kaspr-demo-c==1.0']) }),
  );
  await waitForPackages(cluster.client, ns.name, 'cols', (s) => s.state === 'Ready', 'Ready');
  await waitForCondition(cluster.client, ns.name, 'cols', 'Ready', (c) => c.status === 'True');

  const table = (await kubectl(cluster.kubeconfigPath, ['get', 'kapp', '-n', ns.name])).trim().split('\n');
  assert.deepEqual(table[0]?.split(/\s+/), ['NAME', 'REPLICAS', 'MEMBERS', 'PACKAGES', 'INSTALLED', 'READY', 'AGE']);
  const [name, replicas, members, state, installed, ready, age] = table[1]?.split(/\s+/) ?? [];
  assert.deepEqual([name, replicas, members, state, ready], ['cols', '1', '1/1', 'Ready', 'True']);
  assert.match(installed ?? '', /^[1-9]\d*$/, 'the installed count');
  assert.match(age ?? '', /^\d+[smh]/);
});
