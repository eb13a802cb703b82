// `kasprop` as npm installs it: the package packed by `npm pack` (which builds dist/ first, prepack), installed from
// the tarball into an empty directory, and its `kasprop` run on Node 24 as a user would: version, help, exit codes,
// validate, render and crd on the repository's examples. The package's dependencies come from npm's cache, which
// `npm ci` filled with exactly these versions (`--offline`: `npm test` runs in a network namespace of its own). The build writes the repository's dist/ (ignored by git), as `npm run build` does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { commands } from '../../src/cli/commands.ts';

const repo = resolve(import.meta.dirname, '../..');
// Node 24 first on PATH: the bin's `#!/usr/bin/env node` must find it, as it would on a user's machine.
const env = { ...process.env, PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}` };

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to its end; `signal` (the test's) kills it when the test ends first, say at its timeout. */
async function run(file: string, args: readonly string[], cwd: string, signal?: AbortSignal): Promise<Run> {
  try {
    const options = { cwd, env, maxBuffer: 64 * 1024 * 1024, ...(signal !== undefined && { signal }) };
    const { stdout, stderr } = await promisify(execFile)(file, args, options);
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: unknown; stdout?: string; stderr?: string };
    if (typeof failed.code !== 'number') throw error;
    return { code: failed.code, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

test('npm pack, npm install of the tarball into an empty directory, and kasprop works from there', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kasprop-npm-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const packed = await run('npm', ['pack', '--silent', '--pack-destination', dir], repo, t.signal);
  assert.equal(packed.code, 0, packed.stderr);
  const [tarball] = readdirSync(dir).filter((f) => f.endsWith('.tgz'));
  assert.equal(tarball, 'kasprop-0.1.0.tgz');

  const listed = await run('tar', ['-tzf', join(dir, tarball)], dir);
  const files = listed.stdout.trim().split('\n');
  assert.ok(files.includes('package/dist/src/cli/main.js'), 'the compiled CLI is packed');
  assert.ok(files.includes('package/dist/crds/kasprapp.crd.yaml'), 'the CRD is packed');
  assert.ok(
    !files.some((f) => f.startsWith('package/src/') || f.startsWith('package/test/')),
    'sources and tests are not',
  );

  const prefix = join(dir, 'install');
  const installed = await run(
    'npm',
    ['install', '--offline', '--no-audit', '--no-fund', '--omit=dev', '--prefix', prefix, join(dir, tarball)],
    dir,
    t.signal,
  );
  assert.equal(installed.code, 0, installed.stderr);
  const kasprop = join(prefix, 'node_modules/.bin/kasprop');

  assert.deepEqual(await run(kasprop, ['--version'], dir), { code: 0, stdout: '0.1.0\n', stderr: '' });

  const valid = await run(kasprop, ['validate', '-f', join(repo, 'examples/python-packages/basic.yaml')], dir);
  assert.equal(valid.code, 0, valid.stderr);
  assert.match(valid.stdout, /basic\.yaml: 1 KasprApp valid/);

  const bad = join(dir, 'bad.yaml');
  writeFileSync(
    bad,
    'apiVersion: kaspr.io/v1alpha1\nkind: KasprApp\nmetadata: {name: bad}\nspec:\n  replicas: -1\n  bootstrapServers: k:9092\n',
  );
  const invalid = await run(kasprop, ['validate', '-f', bad], dir);
  assert.equal(invalid.code, 1, 'an invalid manifest exits 1');
  assert.match(invalid.stdout, /replicas/);

  const rendered = await run(kasprop, ['render', '-f', join(repo, 'examples/python-packages/basic.yaml')], dir);
  assert.equal(rendered.code, 0, rendered.stderr);
  const kinds = parseAllDocuments(rendered.stdout).map((d) => (d.toJS() as { kind: string }).kind);
  assert.ok(kinds.includes('StatefulSet') && kinds.includes('PersistentVolumeClaim'), kinds.join(', '));

  const crd = await run(kasprop, ['crd'], dir);
  assert.equal(crd.code, 0);
  assert.match(crd.stdout, /name: kasprapps\.kaspr\.io/);

  assert.equal((await run(kasprop, ['frobnicate'], dir)).code, 2, 'an unknown command exits 2');
  assert.equal((await run(kasprop, ['validate', '--nope'], dir)).code, 2, 'an unknown option exits 2');
  for (const command of commands) {
    const help = await run(kasprop, [command.name, '--help'], dir);
    assert.equal(help.code, 0, `${command.name} --help`);
    assert.match(help.stdout, new RegExp(`^usage: kasprop ${command.name}`), command.name);
  }
  const local = await run(kasprop, ['local'], dir);
  assert.equal(local.code, 1);
  assert.match(local.stderr, /runs from a clone of the repository only/);
});
