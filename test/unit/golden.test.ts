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
