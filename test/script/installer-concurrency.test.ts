// Many pods start at once on one empty volume (a scale-up or a fresh StatefulSet with parallel pod management).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { hashDirectory, markerPath } from '../../src/packages/installer-contract.ts';
import { startWheelIndex } from '../support/wheel-index.ts';
import {
  createSandbox,
  processesMentioning,
  pythonWith,
  randomHash,
  resultOf,
  startInstaller,
  INSTALLERS,
} from './installer-harness.ts';

for (const installer of INSTALLERS) {
  test(`${installer}: 16 installers started together on an empty volume: one pip run, all ready with the same hash`, async (t) => {
    // Slow answers keep the one pip run going while the other 15 arrive and queue on the lock.
    const index = await startWheelIndex({ delayMs: 150 });
    const sandbox = await createSandbox();
    t.after(async () => {
      await index.close();
      await sandbox.cleanup();
    });
    const hash = randomHash();
    const installers = Array.from({ length: 16 }, (_, i) =>
      startInstaller(sandbox, {
        installer,
        hash,
        requirements: ['kaspr-demo-a==1.0'],
        indexUrl: index.url,
        podName: `app-${String(i)}`,
      }),
    );
    const exits = await Promise.all(installers.map((installer) => installer.exited));

    for (const exit of exits) assert.equal(exit.code, 0, exit.stdout + exit.stderr);
    const results = exits.map(resultOf);
    assert.deepEqual(new Set(results.map((r) => r.state)), new Set(['Ready']));
    assert.deepEqual(new Set(results.map((r) => r.hash)), new Set([hash]));
    const installedHere = results.filter((r) => r.source === 'installed');
    assert.equal(installedHere.length, 1, 'exactly one installer reports that it installed');
    const [install] = installedHere;
    for (const r of results) {
      assert.equal(r.installedBy, install!.installedBy, 'every pod names the same installer');
      assert.equal(r.installTime, install!.installTime);
      assert.deepEqual(r.installed, ['kaspr-demo-a==1.0', 'kaspr-demo-b==2.0']);
    }
    assert.equal(index.pageRequests('kaspr-demo-a'), 1, 'pip resolved once: exactly one pip run');
    assert.ok(
      exits.some((exit) => exit.stdout.includes('waiting for the install lock, held by pod app-')),
      'some installers waited on the lock and said who held it',
    );
    assert.ok(existsSync(markerPath(sandbox.volume, hash)));
    assert.equal(
      pythonWith(hashDirectory(sandbox.volume, hash), 'import kaspr_demo_a; print(kaspr_demo_a.__version__)'),
      '1.0',
    );
    assert.deepEqual(processesMentioning(sandbox.volume), []);
  });
}
