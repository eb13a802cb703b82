// The store of distributions on the volume (.store/): what one install downloaded, a later install of another hash
// takes from the volume, against an index that sends no cache headers (so pip's HTTP cache keeps nothing). The
// index's request log says what pip really fetched.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { distributionStoreDirectory, hashDirectory, pipCacheDirectory } from '../../src/packages/installer-contract.ts';
import { lockedLines } from '../../src/packages/locked-packages.ts';
import { startWheelIndex, type WheelIndex } from '../support/wheel-index.ts';
import { buildProbeSdist } from './probe-sdist.ts';
import { buildWheels, DEMO_PROJECTS, type BuiltWheel, type WheelProject } from '../support/wheels.ts';
import {
  createSandbox,
  filesUnder,
  pythonWith,
  randomHash,
  resultOf,
  runInstaller,
  type InstallerSettings,
  type Sandbox,
} from './installer-harness.ts';

/** Every file in the store, with its path and the digest its entry is named after. */
function storeFiles(volume: string): { name: string; path: string; digest: string }[] {
  const store = distributionStoreDirectory(volume);
  return readdirSync(store).flatMap((scope) =>
    readdirSync(join(store, scope)).flatMap((digest) =>
      readdirSync(join(store, scope, digest)).map((name) => ({ name, path: join(store, scope, digest, name), digest })),
    ),
  );
}

function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

async function install(sandbox: Sandbox, settings: Omit<InstallerSettings, 'hash'>) {
  const exit = await runInstaller(sandbox, { hash: randomHash(), ...settings });
  const result = resultOf(exit);
  assert.equal(result.state, 'Ready', exit.stdout + exit.stderr);
  return { exit, result };
}

async function setup(t: { after(fn: () => Promise<unknown>): void }, index: Promise<WheelIndex>) {
  const [started, sandbox] = await Promise.all([index, createSandbox()]);
  t.after(() => Promise.all([started.close(), sandbox.cleanup()]));
  return { index: started, sandbox };
}

const demo = new Map(buildWheels(DEMO_PROJECTS).map((wheel) => [wheel.filename, wheel]));

function demoWheel(filename: string): BuiltWheel {
  const found = demo.get(filename);
  if (found === undefined) throw new Error(`no demo wheel ${filename}`);
  return found;
}

test('a later install of another hash downloads only the file it does not share with an earlier one', async (t) => {
  const { index, sandbox } = await setup(t, startWheelIndex());
  const first = await install(sandbox, { requirements: ['kaspr-demo-a==1.0'], indexUrl: index.url });
  assert.deepEqual(index.fileDownloads().sort(), [
    'kaspr_demo_a-1.0-py3-none-any.whl',
    'kaspr_demo_b-2.0-py3-none-any.whl',
  ]);
  assert.equal(first.result.downloaded, 2);
  assert.equal(first.result.fromStore, 0);
  assert.deepEqual(
    readdirSync(pipCacheDirectory(sandbox.volume)).filter((name) => name.startsWith('http')),
    [],
    'no cache headers: pip keeps nothing in its HTTP cache',
  );

  const before = index.fileDownloads().length;
  const second = await install(sandbox, {
    requirements: ['kaspr-demo-a==1.0', 'kaspr-demo-c==1.0'],
    indexUrl: index.url,
  });
  assert.deepEqual(index.fileDownloads().slice(before), ['kaspr_demo_c-1.0-py3-none-any.whl'], 'only the new file');
  assert.equal(second.result.fromStore, 2);
  assert.equal(second.result.downloaded, 1);
  assert.deepEqual(second.result.installed, ['kaspr-demo-a==1.0', 'kaspr-demo-b==2.0', 'kaspr-demo-c==1.0']);
  assert.match(second.exit.stdout, /installed 3 distribution\(s\) in [0-9.]+s \(2 from the store, 1 downloaded\)/);
  const stored = storeFiles(sandbox.volume);
  assert.deepEqual(stored.map((file) => file.name).sort(), [
    'kaspr_demo_a-1.0-py3-none-any.whl',
    'kaspr_demo_b-2.0-py3-none-any.whl',
    'kaspr_demo_c-1.0-py3-none-any.whl',
  ]);
  for (const file of stored) {
    assert.equal(sha256(file.path), file.digest, file.name);
    assert.equal(file.digest, demoWheel(file.name).sha256, `${file.name} is the index's file`);
  }
  // The marker keeps the counts: a later pod of the same hash reports them with source cache.
  const again = await runInstaller(sandbox, {
    hash: second.result.hash,
    requirements: ['kaspr-demo-a==1.0', 'kaspr-demo-c==1.0'],
    indexUrl: index.url,
  });
  assert.equal(resultOf(again).source, 'cache');
  assert.equal(resultOf(again).fromStore, 2);
  assert.equal(resultOf(again).downloaded, 1);
});

test('a damaged or cut-short file in the store is detected, downloaded again and never installed', async (t) => {
  const { index, sandbox } = await setup(t, startWheelIndex());
  await install(sandbox, { requirements: ['kaspr-demo-a==1.0'], indexUrl: index.url });
  const byName = new Map(storeFiles(sandbox.volume).map((file) => [file.name, file]));
  const a = byName.get('kaspr_demo_a-1.0-py3-none-any.whl');
  const b = byName.get('kaspr_demo_b-2.0-py3-none-any.whl');
  assert.ok(a !== undefined && b !== undefined);
  const damaged = Buffer.from(readFileSync(a.path));
  damaged[Math.floor(damaged.length / 2)]! ^= 0xff;
  writeFileSync(a.path, damaged);
  writeFileSync(b.path, readFileSync(b.path).subarray(0, 100));

  const before = index.fileDownloads().length;
  const second = await install(sandbox, {
    requirements: ['kaspr-demo-a==1.0', 'kaspr-demo-c==1.0'],
    indexUrl: index.url,
  });
  assert.deepEqual(
    index.fileDownloads().slice(before).sort(),
    ['kaspr_demo_a-1.0-py3-none-any.whl', 'kaspr_demo_b-2.0-py3-none-any.whl', 'kaspr_demo_c-1.0-py3-none-any.whl'],
    'both damaged files were fetched again',
  );
  assert.equal(second.result.fromStore, 0);
  assert.equal(second.result.downloaded, 3);
  assert.match(second.exit.stdout, /the stored kaspr_demo_a-1\.0-py3-none-any\.whl does not match its sha256/);
  assert.match(second.exit.stdout, /the stored kaspr_demo_b-2\.0-py3-none-any\.whl does not match its sha256/);
  const site = hashDirectory(sandbox.volume, second.result.hash);
  assert.equal(pythonWith(site, 'import kaspr_demo_a, kaspr_demo_b; print(kaspr_demo_a.__version__)').trim(), '1.0');
  for (const file of storeFiles(sandbox.volume)) assert.equal(sha256(file.path), file.digest, file.name);
});

test('a hash-checked install never takes a stored file that differs from the lock: pip downloads the locked one', async (t) => {
  const { index, sandbox } = await setup(t, startWheelIndex());
  const lock = (name: string, version: string) =>
    lockedLines([
      {
        name,
        version,
        hashes: [
          { algorithm: 'sha256', digest: demoWheel(`${name.replaceAll('-', '_')}-${version}-py3-none-any.whl`).sha256 },
        ],
      },
    ])[0] ?? '';
  const locked = [lock('kaspr-demo-a', '1.0'), lock('kaspr-demo-b', '1.0')];
  await install(sandbox, { requirements: ['kaspr-demo-a'], locked, indexUrl: index.url });
  // A stored b 1.0 that is consistent with its own digest but holds other bytes (b 2.0's): only the lock can tell.
  const stored = storeFiles(sandbox.volume).find((file) => file.name === 'kaspr_demo_b-1.0-py3-none-any.whl');
  assert.ok(stored !== undefined);
  const other = demoWheel('kaspr_demo_b-2.0-py3-none-any.whl');
  const forged = join(stored.path, '..', '..', other.sha256);
  rmSync(join(stored.path, '..'), { recursive: true });
  mkdirSync(forged);
  writeFileSync(join(forged, stored.name), other.bytes);

  const before = index.fileDownloads().length;
  const second = await install(sandbox, {
    requirements: ['kaspr-demo-a', 'kaspr-demo-c'],
    locked: [...locked, lock('kaspr-demo-c', '1.0')],
    indexUrl: index.url,
  });
  assert.equal(second.result.hashVerified, true);
  assert.deepEqual(index.fileDownloads().slice(before).sort(), [
    'kaspr_demo_b-1.0-py3-none-any.whl',
    'kaspr_demo_c-1.0-py3-none-any.whl',
  ]);
  assert.equal(second.result.fromStore, 1);
  assert.equal(second.result.downloaded, 2);
  assert.match(second.exit.stdout, /Previously-downloaded file .*kaspr_demo_b-1\.0-py3-none-any\.whl has bad hash/);
  const site = hashDirectory(sandbox.volume, second.result.hash);
  assert.equal(pythonWith(site, 'import kaspr_demo_b; print(kaspr_demo_b.__version__)').trim(), '1.0');
  const b = storeFiles(sandbox.volume).filter((file) => file.name === 'kaspr_demo_b-1.0-py3-none-any.whl');
  assert.deepEqual(
    b.map((file) => file.digest),
    [demoWheel(stored.name).sha256],
    'the store now holds the locked file only',
  );
});

test('the index decides: a stored file of another index is not offered, nor one the index withdrew', async (t) => {
  const projects = (versions: string[]): WheelProject[] => [
    { name: 'kaspr-store-x', releases: versions.map((version) => ({ version })) },
  ];
  const { index: newer, sandbox } = await setup(t, startWheelIndex({ projects: projects(['1.0', '2.0']) }));
  const older = await startWheelIndex({ projects: projects(['1.0']) });
  t.after(() => older.close());
  const first = await install(sandbox, { requirements: ['kaspr-store-x'], indexUrl: newer.url });
  assert.deepEqual(first.result.installed, ['kaspr-store-x==2.0']);
  const other = await install(sandbox, { requirements: ['kaspr-store-x'], indexUrl: older.url });
  assert.deepEqual(other.result.installed, ['kaspr-store-x==1.0'], 'the index of this spec lists only 1.0');
  assert.deepEqual(older.fileDownloads(), ['kaspr_store_x-1.0-py3-none-any.whl'], 'the other index store is its own');

  newer.update({ listed: (filename) => !filename.includes('-2.0-') });
  const withdrawn = await install(sandbox, { requirements: ['kaspr-store-x'], indexUrl: newer.url });
  assert.deepEqual(
    withdrawn.result.installed,
    ['kaspr-store-x==1.0'],
    'the version the index withdrew is not installed',
  );
  assert.equal(withdrawn.result.fromStore, 0);
  assert.equal(withdrawn.result.downloaded, 1);
});

test('the store keeps no credentials, and reuses the files of an index behind basic auth', async (t) => {
  const username = 'kaspr-reader';
  const password = 'st0re:s3cret/p@ss%';
  const { index, sandbox } = await setup(t, startWheelIndex({ auth: { username, password }, vary: 'Authorization' }));
  const settings = { indexUrl: index.url, username, password };
  await install(sandbox, { ...settings, requirements: ['kaspr-demo-c==1.0'] });
  const second = await install(sandbox, { ...settings, requirements: ['kaspr-demo-c==1.0', 'kaspr-demo-b==1.0'] });
  assert.equal(second.result.fromStore, 1, second.exit.stdout);
  assert.equal(second.result.downloaded, 1, second.exit.stdout);
  assert.deepEqual(index.fileDownloads().sort(), [
    'kaspr_demo_b-1.0-py3-none-any.whl',
    'kaspr_demo_c-1.0-py3-none-any.whl',
  ]);
  assert.equal(storeFiles(sandbox.volume).length, 2, 'the store holds both files');
  const secrets = [
    password,
    encodeURIComponent(password),
    Buffer.from(`${username}:${password}`).toString('base64'),
    Buffer.from(`${encodeURIComponent(username)}:${encodeURIComponent(password)}`).toString('base64'),
  ];
  for (const file of filesUnder(sandbox.volume)) {
    for (const secret of secrets) assert.ok(!file.content.includes(secret), `${file.path} holds a credential`);
    assert.ok(!file.path.includes(username) && !file.path.includes(encodeURIComponent(password)), file.path);
  }
  for (const output of [second.exit.stdout, second.exit.stderr]) {
    for (const secret of secrets) assert.ok(!output.includes(secret), 'the log holds a credential');
  }
});

test('the store is pruned to a quarter of the volume, least recently used first', async (t) => {
  // A real small filesystem, so that a quarter of it is a few MiB: this test needs root (as the script tests run).
  const sandbox = await createSandbox();
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=32m,mode=0755', 'kasprop-test-store', sandbox.volume]);
  t.after(async () => {
    execFileSync('umount', [sandbox.volume]);
    await sandbox.cleanup();
  });
  const mib = 1024 * 1024;
  const projects: WheelProject[] = ['one', 'two', 'three'].map((name) => ({
    name: `kaspr-store-${name}`,
    releases: [{ version: '1.0', payloadBytes: 3 * mib }],
  }));
  const index = await startWheelIndex({ projects });
  t.after(() => index.close());
  const names = () =>
    storeFiles(sandbox.volume)
      .map((file) => file.name.split('-')[0])
      .sort();

  await install(sandbox, { requirements: ['kaspr-store-one==1.0'], indexUrl: index.url });
  await install(sandbox, { requirements: ['kaspr-store-two==1.0'], indexUrl: index.url });
  assert.deepEqual(names(), ['kaspr_store_one', 'kaspr_store_two']);
  // Used again by another hash (from the store), so `one` is now more recently used than `two`.
  const reuse = await install(sandbox, { requirements: ['kaspr-store-one==1.0'], indexUrl: index.url });
  assert.equal(reuse.result.fromStore, 1);
  await install(sandbox, { requirements: ['kaspr-store-three==1.0'], indexUrl: index.url });
  // Three files of 3 MiB exceed 8 MiB, a quarter of 32 MiB: the least recently used one went.
  assert.deepEqual(names(), ['kaspr_store_one', 'kaspr_store_three']);
  const used = storeFiles(sandbox.volume).reduce((sum, file) => sum + statSync(file.path).size, 0);
  assert.ok(used <= 8 * mib, `the store holds ${String(used)} bytes`);
});

test('a set with a source distribution installs in one pip run from the index, and its files are stored', async (t) => {
  const probe = buildProbeSdist();
  const { index, sandbox } = await setup(t, startWheelIndex({ files: [probe] }));
  const settings = {
    requirements: ['kcase-probe==1.0', 'kaspr-demo-c==1.0'],
    indexUrl: index.url,
    // The probe's build backend writes what it saw there; here it only has to build.
    extraEnv: { KCASE_PROBE_REPORT: join(sandbox.root, 'probe-report.jsonl') },
  };
  const first = await install(sandbox, settings);
  assert.match(first.exit.stdout, /the set has a source distribution: pip install from the indexes/);
  assert.deepEqual(first.result.installed, ['kaspr-demo-c==1.0', 'kcase-probe==1.0']);
  assert.equal(first.result.fromStore, 0);
  assert.equal(first.result.downloaded, 2, 'the one pip install downloaded both files');
  assert.deepEqual(
    storeFiles(sandbox.volume)
      .map((file) => file.name)
      .sort(),
    ['kaspr_demo_c-1.0-py3-none-any.whl', probe.filename],
  );
});

test('a store scope that is a symlink out of the volume is replaced, never followed', async (t) => {
  const { index, sandbox } = await setup(t, startWheelIndex());
  await install(sandbox, { requirements: ['kaspr-demo-c==1.0'], indexUrl: index.url });
  const store = distributionStoreDirectory(sandbox.volume);
  const [scope] = readdirSync(store);
  assert.ok(scope !== undefined);
  const victim = join(sandbox.root, 'victim');
  mkdirSync(join(victim, demoWheel('kaspr_demo_c-1.0-py3-none-any.whl').sha256), { recursive: true });
  writeFileSync(join(victim, 'precious'), 'precious');
  rmSync(join(store, scope), { recursive: true });
  symlinkSync(victim, join(store, scope));
  const second = await install(sandbox, {
    requirements: ['kaspr-demo-c==1.0', 'kaspr-demo-b==1.0'],
    indexUrl: index.url,
  });
  assert.equal(second.result.downloaded, 2);
  assert.deepEqual(readdirSync(victim).sort(), [demoWheel('kaspr_demo_c-1.0-py3-none-any.whl').sha256, 'precious']);
  assert.ok(lstatSync(join(store, scope)).isDirectory(), 'the scope is a real directory now');
});
