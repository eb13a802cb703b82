import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { main } from '../../src/cli/main.ts';
import { exampleFiles, goldenPathFor, renderGolden } from '../../scripts/gen-golden.ts';

async function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (l) => out.push(l), err: (l) => err.push(l) }, env);
  return { code, out: out.join('\n'), err };
}

describe('examples', () => {
  const examples = exampleFiles();

  test('include the plain app and the three python-packages examples', () => {
    const names = examples.map((e) => e.slice(e.indexOf('examples/')));
    for (const expected of [
      'examples/basic.yaml',
      'examples/python-packages/basic.yaml',
      'examples/python-packages/with-cache-config.yaml',
      'examples/python-packages/private-registry.yaml',
    ]) {
      assert.ok(names.includes(expected), expected);
    }
  });

  for (const example of examples) {
    const name = example.slice(example.indexOf('examples/'));
    test(`${name} renders to its committed golden file`, () => {
      const golden = goldenPathFor(example);
      assert.ok(existsSync(golden), `missing ${golden}: run npm run gen:golden`);
      assert.equal(
        renderGolden(example),
        readFileSync(golden, 'utf8'),
        'rendering changed: review, then npm run gen:golden',
      );
    });

    test(`kasprop render -f ${name} exits 0 and prints the children, in YAML and JSON`, async () => {
      const yaml = await run(['render', '-f', example]);
      assert.equal(yaml.code, 0, yaml.err.join('\n'));
      const docs = parseAllDocuments(yaml.out).map((d) => d.toJS() as { kind: string });
      assert.ok(docs.length >= 6);
      const json = await run(['render', '-f', example, '-o', 'json']);
      assert.equal(json.code, 0);
      assert.deepEqual((JSON.parse(json.out) as { items: unknown[] }).items, docs);
    });
  }

  test('kasprop render writes object by object, so thousands of apps never make one huge string', async () => {
    const apps = 150;
    const file = join(mkdtempSync(join(tmpdir(), 'kasprop-render-')), 'many.yaml');
    const app = (i: number) =>
      `apiVersion: kaspr.io/v1alpha1\nkind: KasprApp\nmetadata:\n  name: app-${i}\nspec:\n  bootstrapServers: k:9092\n` +
      `  pythonPackages:\n    packages: ['requests==2.31.0']\n`;
    writeFileSync(file, Array.from({ length: apps }, (_, i) => app(i)).join('---\n'));
    for (const format of ['yaml', 'json'] as const) {
      const writes: string[] = [];
      const code = await main(
        ['render', '-f', file, '-o', format],
        { out: (l) => writes.push(l), err: () => undefined },
        {},
      );
      assert.equal(code, 0);
      const text = `${writes.join('\n')}\n`;
      const items =
        format === 'json'
          ? (JSON.parse(text) as { items: unknown[] }).items
          : parseAllDocuments(text).map((d) => d.toJS() as unknown);
      const perApp = items.length / apps;
      assert.ok(Number.isInteger(perApp) && perApp > 1, `${items.length} objects for ${apps} apps (${format})`);
      // Each write is at most one object (the largest is a StatefulSet, tens of KB), never the whole output.
      const largest = Math.max(...writes.map((w) => w.length));
      assert.ok(largest < text.length / apps, `largest write ${largest} of ${text.length} bytes (${format})`);
    }
  });

  test('kasprop render on an invalid file exits 1 with the errors and nothing on stdout', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'kasprop-render-')), 'bad.yaml');
    writeFileSync(
      file,
      'apiVersion: kaspr.io/v1alpha1\nkind: KasprApp\nmetadata: {name: bad}\nspec:\n  bootstrapServers: k:9092\n  pythonPackages: {packages: ["$(id)"]}\n',
    );
    const result = await run(['render', '-f', file]);
    assert.equal(result.code, 1);
    assert.equal(result.out, '');
    assert.deepEqual(result.err, [
      `${file}:6: spec.pythonPackages.packages[0]: invalid requirement "$(id)": contains '$', which is not allowed (pip expands \${VAR})`,
    ]);
  });

  test('kasprop render with PYTHON_PACKAGES_ENABLED=false warns and renders without packages', async () => {
    const example = examples.find((e) => e.endsWith('python-packages/basic.yaml'))!;
    const result = await run(['render', '-f', example], { PYTHON_PACKAGES_ENABLED: 'false' });
    assert.equal(result.code, 0);
    assert.ok(!result.out.includes('install-packages'));
    assert.deepEqual(result.err, [
      'enrich: warning: spec.pythonPackages is ignored: the operator runs with PYTHON_PACKAGES_ENABLED=false',
    ]);
  });
});
