// Whoever can write the claim controls what the app imports (the volume is trusted for that), but nothing planted on it
// may make the installer reach outside the volume, hang, or write an invalid or oversized termination message; and a
// marker alone never stands for an install whose directory is gone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  hashDirectory,
  lockPath,
  markerPath,
  MAX_RESULT_BYTES,
  preparedResultPath,
  stagingRoot,
} from '../../src/packages/installer-contract.ts';
import {
  killTree,
  randomHash,
  resultOf,
  startInstaller,
  type InstallerExit,
  type InstallerSettings,
  sandboxWithIndex,
  type Sandbox,
} from './installer-harness.ts';

const REQUIREMENTS = ['kaspr-demo-c==1.0'];

/** Runs the installer, failing the test instead of waiting forever when it hangs. */
async function runWithin(sandbox: Sandbox, settings: InstallerSettings, seconds = 30): Promise<InstallerExit> {
  const installer = startInstaller(sandbox, settings);
  const timer = sleep(seconds * 1000).then(() => 'hung' as const);
  const outcome = await Promise.race([installer.exited, timer]);
  if (outcome === 'hung') {
    killTree(installer.pid);
    throw new Error(`the installer hung for ${String(seconds)} s`);
  }
  return outcome;
}

/** The termination message is one line of valid JSON within Kubernetes' limit. */
function assertValidMessage(exit: InstallerExit): void {
  assert.ok(Buffer.byteLength(exit.message) <= MAX_RESULT_BYTES, `message of ${String(exit.message.length)} bytes`);
  assert.equal(exit.parsed.kind, 'result', exit.message.slice(0, 300));
}

function outsideDirectory(sandbox: Sandbox): string {
  const victim = join(sandbox.root, 'victim');
  mkdirSync(victim);
  for (const name of ['a', 'b']) writeFileSync(join(victim, name), 'precious');
  return victim;
}

for (const planted of ['.staging', 'envs', '.store'] as const) {
  test(`${planted} is a symlink out of the volume: it is replaced, never followed`, async (t) => {
    const { index, sandbox } = await sandboxWithIndex(t);
    const victim = outsideDirectory(sandbox);
    symlinkSync(victim, join(sandbox.volume, planted));
    const hash = randomHash();
    const exit = await runWithin(sandbox, { hash, requirements: REQUIREMENTS, indexUrl: index.url });
    assert.equal(exit.code, 0, exit.stdout + exit.stderr);
    assert.deepEqual(readdirSync(victim).sort(), ['a', 'b'], 'nothing outside the volume was removed or added');
    assert.ok(lstatSync(join(sandbox.volume, planted)).isDirectory(), `${planted} is a real directory now`);
    assert.ok(existsSync(join(hashDirectory(sandbox.volume, hash), 'kaspr_demo_c')));
  });
}

test('.lock is a symlink out of the volume: the file it points to is untouched, the failure says what to remove', async (t) => {
  const { index, sandbox } = await sandboxWithIndex(t);
  const victim = join(sandbox.root, 'victim-file');
  writeFileSync(victim, 'precious');
  symlinkSync(victim, lockPath(sandbox.volume));
  const exit = await runWithin(sandbox, { hash: randomHash(), requirements: REQUIREMENTS, indexUrl: index.url });
  assert.equal(readFileSync(victim, 'utf8'), 'precious');
  assert.equal(exit.code, 1);
  assertValidMessage(exit);
  assert.match(resultOf(exit).error ?? '', /\.lock is a symbolic link, which no installer creates; remove it/);
});

test('a FIFO, or a symlink to /dev/zero, as the prepared result: no hang, a valid result from the marker', async (t) => {
  const { index, sandbox } = await sandboxWithIndex(t);
  const hash = randomHash();
  const settings = { hash, requirements: REQUIREMENTS, indexUrl: index.url };
  assert.equal((await runWithin(sandbox, settings)).code, 0);
  const prepared = preparedResultPath(sandbox.volume, hash);
  for (const plant of [() => execFileSync('mkfifo', [prepared]), () => symlinkSync('/dev/zero', prepared)]) {
    unlinkSync(prepared);
    plant();
    const exit = await runWithin(sandbox, settings, 20);
    assert.equal(exit.code, 0, exit.stdout + exit.stderr);
    assertValidMessage(exit);
    assert.equal(resultOf(exit).source, 'cache');
    assert.deepEqual(resultOf(exit).installed, ['kaspr-demo-c==1.0']);
  }
});

test('forged markers: 1 MB, a 100 KB field, NaN, not JSON: never an invalid or oversized message', async (t) => {
  const { index, sandbox } = await sandboxWithIndex(t);
  const hash = randomHash();
  const settings = { hash, requirements: REQUIREMENTS, indexUrl: index.url };
  assert.equal((await runWithin(sandbox, settings)).code, 0);
  const marker = markerPath(sandbox.volume, hash);
  const real = JSON.parse(readFileSync(marker, 'utf8')) as Record<string, unknown>;
  const forgeries: [string, string, 'cache' | 'installed'][] = [
    ['1 MB marker', JSON.stringify({ ...real, installedBy: 'x'.repeat(1_000_000) }), 'installed'],
    ['100 KB installedBy', JSON.stringify({ ...real, installedBy: 'y'.repeat(100_000) }), 'cache'],
    ['NaN duration', JSON.stringify(real).replace(/"durationSeconds":[^,]+/, '"durationSeconds":NaN'), 'installed'],
    ['not JSON', 'this is not a marker', 'installed'],
  ];
  for (const [what, content, source] of forgeries) {
    writeFileSync(marker, content);
    // Without the prepared result the bootstrap hands over to the installer, which reads the marker itself.
    rmSync(preparedResultPath(sandbox.volume, hash), { force: true });
    const exit = await runWithin(sandbox, settings);
    assert.equal(exit.code, 0, `${what}: ${exit.stdout}${exit.stderr}`);
    assertValidMessage(exit);
    assert.equal(resultOf(exit).source, source, `${what}: reused only when the marker is one an installer could write`);
    assert.deepEqual(resultOf(exit).installed, ['kaspr-demo-c==1.0'], what);
  }
});

test('a marker whose directory is gone is not trusted: the bootstrap and the installer reinstall', async (t) => {
  const { index, sandbox } = await sandboxWithIndex(t);
  const hash = randomHash();
  const settings = { hash, requirements: REQUIREMENTS, indexUrl: index.url };
  assert.equal((await runWithin(sandbox, settings)).code, 0);
  rmSync(hashDirectory(sandbox.volume, hash), { recursive: true });
  const exit = await runWithin(sandbox, settings);
  assert.equal(exit.code, 0, exit.stdout + exit.stderr);
  assert.equal(resultOf(exit).source, 'installed');
  assert.ok(existsSync(join(hashDirectory(sandbox.volume, hash), 'kaspr_demo_c')));
  assert.deepEqual(readdirSync(stagingRoot(sandbox.volume)), []);
});

test('garbage collection keeps the install of every pod that still runs it, however many newer ones exist', async (t) => {
  const { index, sandbox } = await sandboxWithIndex(t);
  const old = randomHash();
  const install = async (hash: string, podName: string): Promise<void> => {
    const exit = await runWithin(sandbox, { hash, requirements: REQUIREMENTS, indexUrl: index.url, podName });
    assert.equal(exit.code, 0, exit.stdout + exit.stderr);
  };
  // app-0 of an old revision keeps running; app-1 goes through four newer revisions meanwhile.
  await install(old, 'app-0');
  const newer = [randomHash(), randomHash(), randomHash(), randomHash()];
  for (const hash of newer) await install(hash, 'app-1');
  const envs = (): string[] => readdirSync(join(sandbox.volume, 'envs')).sort();
  assert.deepEqual(envs(), [old, ...newer.slice(1)].sort(), 'app-0 keeps its install; the oldest newer one goes');
  // Once app-0 restarts on the current revision, nothing holds the old install any more.
  await install(newer[3]!, 'app-0');
  await install(randomHash(), 'app-1');
  assert.ok(!envs().includes(old), 'the old install is collected once no pod record names it');
});
