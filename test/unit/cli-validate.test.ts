import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.ts';
import { crdText } from '../../src/api/crd.ts';

async function run(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (l) => out.push(l), err: (l) => err.push(l) }, env);
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

  test('validate: file:line: field: reason per error, the line of the field; a summary per file; exit 1', async () => {
    const file = join(dir, 'apps.yaml');
    writeFileSync(
      file,
      [
        'apiVersion: kaspr.io/v1alpha1\nkind: KasprApp\nmetadata: {name: good}\nspec: {bootstrapServers: "k:9092"}', // 1-4
        'apiVersion: v1\nkind: Secret\nmetadata: {name: creds}\nstringData: {password: x}', // 6-9
        [
          'apiVersion: kaspr.io/v1alpha1', // 11
          'kind: KasprApp',
          'metadata: {name: bad}',
          'spec:',
          '  bootstrapServers: k:9092', // 15
          '  pythonPakages: {}',
          '  pythonPackages:',
          '    packages:',
          '      - requests',
          '      - requests; touch /tmp/x', // 20
          '    installPolicy: {onFailure: warn}',
        ].join('\n'),
      ].join('\n---\n'),
    );
    const { code, out, err } = await run(['validate', '-f', file]);
    assert.equal(code, 1);
    assert.deepEqual(out, [
      `${file}:21: spec.pythonPackages.installPolicy.onFailure: must be one of: block, allow`,
      `${file}:20: spec.pythonPackages.packages[1]: invalid requirement "requests; touch /tmp/x": expected a marker variable (such as python_version or sys_platform) or a quoted string at position 11, found 'touch /tmp/x'`,
      `${file}: 1 of 2 KasprApps invalid (2 errors), 1 warning; 1 document skipped (v1 Secret)`,
    ]);
    assert.deepEqual(err, [
      `${file}:16: warning: spec.pythonPakages: unknown field, ignored; did you mean 'pythonPackages'?`,
    ]);
  });

  test('validate: a valid file says what was checked, and exits 0', async () => {
    const good = join(dir, 'good.yaml');
    writeFileSync(
      good,
      'apiVersion: kaspr.io/v1alpha1\nkind: KasprApp\nmetadata: {name: good}\nspec: {bootstrapServers: "k:9092"}\n' +
        '---\napiVersion: v1\nkind: Secret\nmetadata: {name: creds}\n',
    );
    const others = join(dir, 'others.yaml');
    writeFileSync(others, 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n');
    assert.deepEqual(await run(['validate', '-f', good, '-f', others, '-f', good]), {
      code: 0,
      out: [
        `${good}: 1 KasprApp valid, 0 warnings; 1 document skipped (v1 Secret)`,
        `${others}: no KasprApp; 1 document skipped (v1 ConfigMap)`,
      ],
      err: [],
    });
  });

  test('validate: -f is relative to where npm was run (INIT_CWD), and named as given', async () => {
    const good = join(dir, 'here.yaml');
    writeFileSync(
      good,
      'apiVersion: kaspr.io/v1alpha1\nkind: KasprApp\nmetadata: {name: h}\nspec: {bootstrapServers: "k:9092"}\n',
    );
    assert.deepEqual(await run(['validate', '-f', 'here.yaml'], { INIT_CWD: dir }), {
      code: 0,
      out: ['here.yaml: 1 KasprApp valid, 0 warnings'],
      err: [],
    });
  });

  test('validate: a missing field is reported at the line of its parent', async () => {
    const file = join(dir, 'missing.yaml');
    writeFileSync(file, 'apiVersion: kaspr.io/v1alpha1\nkind: KasprApp\nmetadata: {name: m}\nspec:\n  replicas: 1\n');
    const { code, out } = await run(['validate', '-f', file]);
    assert.equal(code, 1);
    assert.ok(out.includes(`${file}:4: spec.bootstrapServers: is required`), out.join('\n'));
  });

  test('validate: YAML errors (with their line) and missing files are errors too', async () => {
    const file = join(dir, 'broken.yaml');
    writeFileSync(file, 'kind: KasprApp\napiVersion: [unclosed\n');
    const broken = await run(['validate', '-f', file, '-f', join(dir, 'nonexistent.yaml')]);
    assert.equal(broken.code, 1);
    assert.equal(broken.out.length, 3);
    assert.match(broken.out[0]!, /broken\.yaml:\d+: YAML: /);
    assert.equal(broken.out[1], `${file}: no KasprApp`);
    assert.match(broken.out[2]!, /nonexistent\.yaml: cannot read: ENOENT/);
  });

  test('usage errors exit 2', async () => {
    assert.equal((await run(['validate'])).code, 2);
    assert.equal((await run(['frobnicate'])).code, 2);
  });

  test("--version prints package.json's version; the usage names the exit codes", async () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    assert.deepEqual(await run(['--version']), { code: 0, out: [pkg.version], err: [] });
    assert.match((await run(['--help'])).out.join('\n'), /Exit codes: 0 success, 1 .*, 2 wrong usage/);
  });
});
