// A pod dies in the middle of pip (node failure, OOM kill, eviction): the next installer must finish the job, and no
// pod may ever see a partial install under the hash's name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { hashDirectory, markerPath, stagingRoot } from '../../src/packages/installer-contract.ts';
import { startWheelIndex } from '../support/wheel-index.ts';
import {
  createSandbox,
  killTree,
  processesMentioning,
  randomHash,
  resultOf,
  startInstaller,
  waitFor,
} from './installer-harness.ts';

const COMPLETE_INSTALL = [
  'kaspr_demo_a/__init__.py',
  'kaspr_demo_a/release.py',
  'kaspr_demo_a-1.0.dist-info/RECORD',
  'kaspr_demo_b/__init__.py',
  'kaspr_demo_b-2.0.dist-info/RECORD',
];

test('an installer killed with SIGKILL in the middle of pip: the next one completes from a clean slate', async (t) => {
  const index = await startWheelIndex();
  const sandbox = await createSandbox();
  t.after(async () => {
    await index.close();
    await sandbox.cleanup();
  });
  const hash = randomHash();
  const hashDir = hashDirectory(sandbox.volume, hash);
  const settings = { hash, requirements: ['kaspr-demo-a==1.0'], indexUrl: index.url };

  // Every time the hash directory exists it must hold the whole install: it only ever appears by rename.
  const sightings: string[] = [];
  const stopWatching = new AbortController();
  const watcher = (async () => {
    while (!stopWatching.signal.aborted) {
      if (existsSync(hashDir)) {
        const missing = COMPLETE_INSTALL.filter((file) => !existsSync(join(hashDir, file)));
        sightings.push(missing.length === 0 ? 'complete' : `incomplete, missing ${missing.join(', ')}`);
      }
      await sleep(2);
    }
  })();

  // Wheel downloads hang, so the victim is inside pip, with its staging directory populated, when it dies.
  index.update({ delayMs: 60_000, affects: (path) => path.startsWith('/files/') });
  const victim = startInstaller(sandbox, { ...settings, podName: 'victim' });
  await waitFor('the victim to download a wheel', () => index.requests.some((r) => r.path.startsWith('/files/')));
  assert.notDeepEqual(readdirSync(stagingRoot(sandbox.volume)), [], 'the victim was staging an install');
  killTree(victim.pid);
  const killed = await victim.exited;
  assert.equal(killed.signal, 'SIGKILL');
  assert.equal(killed.parsed.kind, 'unreadable', 'a killed installer leaves no result: the kubelet shows the log tail');
  assert.equal(existsSync(hashDir), false);
  assert.equal(existsSync(markerPath(sandbox.volume, hash)), false);

  index.update({ delayMs: 0 });
  const survivor = await startInstaller(sandbox, { ...settings, podName: 'survivor' }).exited;
  stopWatching.abort();
  await watcher;

  assert.equal(survivor.code, 0, survivor.stdout + survivor.stderr);
  const result = resultOf(survivor);
  assert.equal(result.state, 'Ready');
  assert.equal(result.source, 'installed');
  assert.equal(result.installedBy, 'survivor');
  assert.deepEqual(readdirSync(stagingRoot(sandbox.volume)), [], "the victim's staging leftovers are gone");
  assert.ok(existsSync(markerPath(sandbox.volume, hash)));
  assert.ok(sightings.length > 0, 'the watcher saw the published directory');
  assert.deepEqual(new Set(sightings), new Set(['complete']));
  assert.deepEqual(processesMentioning(sandbox.volume), [], 'nothing of the victim or the survivor is left running');
});

test('SIGTERM in the middle of pip (the pod is deleted): pip is stopped, staging emptied, a result written', async (t) => {
  const index = await startWheelIndex({ delayMs: 60_000, affects: (path) => path.startsWith('/files/') });
  const sandbox = await createSandbox();
  t.after(async () => {
    await index.close();
    await sandbox.cleanup();
  });
  const hash = randomHash();
  const installer = startInstaller(sandbox, { hash, requirements: ['kaspr-demo-c'], indexUrl: index.url });
  await waitFor('pip to download a wheel', () => index.requests.some((r) => r.path.startsWith('/files/')));
  // The bootstrap exec'd python3, so the container's main process is the installer itself, as in a pod.
  process.kill(installer.pid, 'SIGTERM');
  const exit = await installer.exited;
  assert.equal(exit.code, 1);
  const result = resultOf(exit);
  assert.equal(result.state, 'Failed');
  assert.match(result.error!, /stopped by a signal/);
  assert.deepEqual(readdirSync(stagingRoot(sandbox.volume)), []);
  assert.equal(existsSync(markerPath(sandbox.volume, hash)), false);
  assert.deepEqual(processesMentioning(sandbox.volume), [], "pip's process group went with it");
});
