// Installs from a bundle (spec.pythonPackages.bundleSource, a wheelhouse directory) with the real installer and pip.
// Offline, pip reads the bundle only: a wheel index is running and named in the installer's environment, and its
// request log proves that nothing asked it. A bundle without a distribution fails once, naming it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { lockedLines } from '../../src/packages/locked-packages.ts';
import { buildWheels, DEMO_PROJECTS, type BuiltWheel } from '../support/wheels.ts';
import { randomHash, resultOf, runInstaller, sandboxWithIndex, type Sandbox } from './installer-harness.ts';

const demo = new Map(buildWheels(DEMO_PROJECTS).map((wheel) => [wheel.filename, wheel]));

function wheel(filename: string): BuiltWheel {
  const found = demo.get(filename);
  if (found === undefined) throw new Error(`no demo wheel ${filename}`);
  return found;
}

const a1 = wheel('kaspr_demo_a-1.0-py3-none-any.whl');
const b1 = wheel('kaspr_demo_b-1.0-py3-none-any.whl');
const c1 = wheel('kaspr_demo_c-1.0-py3-none-any.whl');

/** A wheelhouse in the sandbox, as `kasprop bundle` writes one and the bundle's volume shows it. */
async function bundleOf(sandbox: Sandbox, ...files: BuiltWheel[]): Promise<string> {
  const dir = join(sandbox.root, 'bundle', 'wheels');
  await mkdir(dir, { recursive: true });
  for (const file of files) await writeFile(join(dir, file.filename), file.bytes);
  return dir;
}

test('offline: installs from the bundle alone; the index in its environment is never asked', async (t) => {
  const { index, sandbox } = await sandboxWithIndex(t);
  const bundleDir = await bundleOf(sandbox, a1, b1);
  const exit = await runInstaller(sandbox, {
    hash: randomHash(),
    requirements: ['kaspr-demo-a'],
    indexUrl: index.url,
    extraIndexUrls: [index.url.replace('/simple/', '/other/')],
    bundleDir,
    offline: true,
  });
  const result = resultOf(exit);
  assert.equal(result.state, 'Ready', result.error ?? '');
  assert.deepEqual(result.installed, ['kaspr-demo-a==1.0', 'kaspr-demo-b==1.0']);
  assert.equal(result.installSource, 'bundle');
  assert.deepEqual(index.requests, []);
  assert.match(exit.stdout, /from the bundle in .*\/bundle\/wheels only \(offline\)/);
});

test('offline and locked: the bundle files are hash-checked, and the index is never asked', async (t) => {
  const { index, sandbox } = await sandboxWithIndex(t);
  const bundleDir = await bundleOf(sandbox, a1, b1);
  const locked = lockedLines([
    { name: 'kaspr-demo-a', version: '1.0', hashes: [{ algorithm: 'sha256', digest: a1.sha256 }] },
    { name: 'kaspr-demo-b', version: '1.0', hashes: [{ algorithm: 'sha256', digest: b1.sha256 }] },
  ]);
  const hash = randomHash();
  const result = resultOf(
    await runInstaller(sandbox, { hash, requirements: [], locked, indexUrl: index.url, bundleDir, offline: true }),
  );
  assert.equal(result.state, 'Ready', result.error ?? '');
  assert.deepEqual(result.installed, ['kaspr-demo-a==1.0', 'kaspr-demo-b==1.0']);
  assert.equal(result.hashVerified, true);
  assert.equal(result.installSource, 'bundle');
  assert.deepEqual(index.requests, []);

  // A later pod reuses the install and reports where it came from.
  const reused = resultOf(await runInstaller(sandbox, { hash, requirements: [], locked, bundleDir, offline: true }));
  assert.equal(reused.source, 'cache');
  assert.equal(reused.installSource, 'bundle');
});

test('offline: a bundle without a dependency fails once, naming it, and the index is never asked', async (t) => {
  const { index, sandbox } = await sandboxWithIndex(t);
  const bundleDir = await bundleOf(sandbox, a1);
  const result = resultOf(
    await runInstaller(sandbox, {
      hash: randomHash(),
      requirements: ['kaspr-demo-a'],
      indexUrl: index.url,
      bundleDir,
      offline: true,
      retries: 3,
    }),
  );
  assert.equal(result.state, 'Failed');
  assert.equal(result.errorType, 'package_not_found');
  assert.equal(result.attempts, 1);
  assert.equal(
    result.error,
    "the bundle has no distribution of 'kaspr-demo-b' (kaspr-demo-b>=1) for this Python and platform, and " +
      'offlineMode reads nothing else; add its files to the bundle (`kasprop bundle` writes every locked file)',
  );
  assert.deepEqual(index.requests, []);
});

test('with a bundle, not offline: pip takes what the bundle has and the rest from the index', async (t) => {
  const { index, sandbox } = await sandboxWithIndex(t);
  // kaspr-demo-z exists only in the bundle; kaspr-demo-c only on the index.
  const [z1] = buildWheels([{ name: 'kaspr-demo-z', releases: [{ version: '1.0' }] }]);
  assert.ok(z1 !== undefined);
  const bundleDir = await bundleOf(sandbox, z1);
  const result = resultOf(
    await runInstaller(sandbox, {
      hash: randomHash(),
      requirements: ['kaspr-demo-z', 'kaspr-demo-c'],
      indexUrl: index.url,
      bundleDir,
    }),
  );
  assert.equal(result.state, 'Ready', result.error ?? '');
  assert.deepEqual(result.installed, ['kaspr-demo-c==1.0', 'kaspr-demo-z==1.0']);
  assert.equal(result.installSource, 'bundleAndIndex');
  const files = index.requests.filter((r) => r.path.startsWith('/files/')).map((r) => r.path);
  assert.deepEqual(files, [`/files/${c1.filename}`]);
});

test('a bundle directory that does not exist is refused before pip runs', async (t) => {
  const { index, sandbox } = await sandboxWithIndex(t);
  const result = resultOf(
    await runInstaller(sandbox, {
      hash: randomHash(),
      requirements: ['kaspr-demo-c'],
      bundleDir: join(sandbox.root, 'no-such-bundle'),
      offline: true,
    }),
  );
  assert.equal(result.state, 'Failed');
  assert.equal(result.errorType, 'invalid_input');
  assert.equal(result.attempts, 0);
  assert.match(result.error ?? '', /the bundle directory .*no-such-bundle does not exist .*bundleSource\.path/);
  assert.deepEqual(index.requests, []);
});
