import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.ts';
import { crdText } from '../../src/api/crd.ts';

async function run(args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out, err };
}

describe('kasprop CLI', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kasprop-cli-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('crd prints the CRD file', async () => {
    const { code, out } = await run(['crd']);
    assert.equal(code, 0);
    assert.equal(out.join('\n'), crdText.trimEnd());
  });

  test('validate: exit 0 for valid files, file:doc:path: reason per error and exit 1 otherwise', async () => {
    const file = join(dir, 'apps.yaml');
    writeFileSync(
      file,
      [
        'apiVersion: kaspr.io/v1alpha1\nkind: KasprApp\nmetadata: {name: good}\nspec: {bootstrapServers: "k:9092"}',
        'apiVersion: v1\nkind: Secret\nmetadata: {name: creds}\nstringData: {password: x}',
        'apiVersion: kaspr.io/v1alpha1\nkind: KasprApp\nmetadata: {name: bad}\nspec:\n  bootstrapServers: k:9092\n  pythonPackages:\n    packages: ["requests; touch /tmp/x"]\n    installPolicy: {onFailure: warn}',
      ].join('\n---\n'),
    );
    const { code, out, err } = await run(['validate', '-f', file]);
    assert.equal(code, 1);
    assert.deepEqual(out, [
      `${file}:3:spec.pythonPackages.installPolicy.onFailure: must be one of: block, allow`,
      `${file}:3:spec.pythonPackages.packages[0]: invalid requirement "requests; touch /tmp/x": expected a marker variable (such as python_version or sys_platform) or a quoted string at position 11, found 'touch /tmp/x'`,
    ]);
    assert.ok(err.includes(`${file}:2: skipped (v1 Secret is not a KasprApp)`));

    const good = join(dir, 'good.yaml');
    writeFileSync(
      good,
      'apiVersion: kaspr.io/v1alpha1\nkind: KasprApp\nmetadata: {name: good}\nspec: {bootstrapServers: "k:9092"}\n',
    );
    assert.equal((await run(['validate', '-f', good])).code, 0);
  });

  test('validate: YAML errors and missing files are errors too', async () => {
    const file = join(dir, 'broken.yaml');
    writeFileSync(file, 'apiVersion: [unclosed\n');
    const broken = await run(['validate', '-f', file, '-f', join(dir, 'missing.yaml')]);
    assert.equal(broken.code, 1);
    assert.equal(broken.out.length, 2);
    assert.match(broken.out[0]!, /broken\.yaml:1: YAML: /);
    assert.match(broken.out[1]!, /missing\.yaml:-: cannot read: /);
  });

  test('usage errors exit 2', async () => {
    assert.equal((await run(['validate'])).code, 2);
    assert.equal((await run(['frobnicate'])).code, 2);
  });
});
