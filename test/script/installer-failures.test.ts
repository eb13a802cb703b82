// Installs that cannot succeed: each ends in a classified, clean failure result, with nothing published and nothing
// left in staging, and onFailure deciding only the exit code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { hashDirectory, markerPath, stagingRoot } from '../../src/packages/installer-contract.ts';
import {
  processesMentioning,
  PYTHON,
  randomHash,
  resultOf,
  runInstaller,
  startInstaller,
  waitFor,
  type InstallerExit,
  sandboxWithIndex,
  type Sandbox,
  INSTALLERS,
} from './installer-harness.ts';

function assertNothingPublished(sandbox: Sandbox, hash: string): void {
  assert.equal(existsSync(markerPath(sandbox.volume, hash)), false, 'no marker');
  assert.equal(existsSync(hashDirectory(sandbox.volume, hash)), false, 'no hash directory');
  assert.deepEqual(readdirSync(stagingRoot(sandbox.volume)), [], 'no staging left');
  assert.deepEqual(processesMentioning(sandbox.volume), [], 'no process left');
}

function failure(exit: InstallerExit): { errorType: string | null; attempts: number; error: string | null } {
  const result = resultOf(exit);
  assert.equal(result.state, 'Failed');
  assert.equal(result.source, 'installed');
  assert.ok(result.error !== null && result.error.length > 0);
  return result;
}

for (const installer of INSTALLERS) {
  test(`${installer}: a project that does not exist: block exits non-zero, package_not_found, not retried`, async (t) => {
    const { index, sandbox } = await sandboxWithIndex(t);
    const hash = randomHash();
    const exit = await runInstaller(sandbox, {
      installer,
      hash,
      requirements: ['kaspr-demo-missing'],
      indexUrl: index.url,
      retries: 3,
      onFailure: 'block',
    });
    assert.notEqual(exit.code, 0);
    const result = failure(exit);
    assert.equal(result.errorType, 'package_not_found');
    assert.equal(result.attempts, 1, 'a permanent failure is not retried');
    assert.match(result.error!, /kaspr-demo-missing/);
    assertNothingPublished(sandbox, hash);
  });

  test(`${installer}: a project that does not exist: allow exits 0, reports Failed and publishes nothing`, async (t) => {
    const { index, sandbox } = await sandboxWithIndex(t);
    const hash = randomHash();
    const exit = await runInstaller(sandbox, {
      installer,
      hash,
      requirements: ['kaspr-demo-a==1.0', 'kaspr-demo-missing'],
      indexUrl: index.url,
      onFailure: 'allow',
    });
    assert.equal(exit.code, 0);
    assert.equal(failure(exit).errorType, 'package_not_found');
    assert.match(exit.stdout, /onFailure is allow/);
    assertNothingPublished(sandbox, hash);
  });

  test(`${installer}: a slow index: each attempt times out, after exactly retries + 1 attempts`, async (t) => {
    const { index, sandbox } = await sandboxWithIndex(t);
    // The index never answers within the test: every attempt can only end by the installer's own timeout.
    const indexDelayMs = 120_000;
    index.update({ delayMs: indexDelayMs });
    const hash = randomHash();
    const started = Date.now();
    const exit = await runInstaller(sandbox, {
      installer,
      hash,
      requirements: ['kaspr-demo-a==1.0'],
      indexUrl: index.url,
      retries: 2,
      // Long enough for pip to start and send its first request, which then hangs, also on a loaded machine.
      timeoutSeconds: 6,
    });
    const result = failure(exit);
    assert.equal(result.errorType, 'timeout');
    assert.equal(result.attempts, 3);
    assert.equal(index.pageRequests('kaspr-demo-a'), 3, 'one request per attempt reached the index');
    // 3 attempts of 6 s and 0.5 s + 1 s of backoff: all three were stopped long before the index would have answered.
    assert.ok(Date.now() - started < indexDelayMs, `took ${String(Date.now() - started)} ms`);
    assertNothingPublished(sandbox, hash);
  });

  test(`${installer}: transient failures are retried: a dropping index costs retries + 1 attempts, then network`, async (t) => {
    const { index, sandbox } = await sandboxWithIndex(t);
    index.update({ failure: 'drop' });
    const exit = await runInstaller(sandbox, {
      installer,
      hash: randomHash(),
      requirements: ['kaspr-demo-a==1.0'],
      indexUrl: index.url,
      retries: 1,
    });
    const result = failure(exit);
    assert.equal(result.errorType, 'network');
    assert.equal(result.attempts, 2);
    assert.equal(index.pageRequests('kaspr-demo-a'), 2);
    assert.match(exit.stdout, /attempt 1 failed \(network\).*retrying in 0\.5s/);
  });

  test(`${installer}: a file whose hash does not match the index: hash_mismatch`, async (t) => {
    const { index, sandbox } = await sandboxWithIndex(t);
    index.update({ failure: 'wrong-hash' });
    const hash = randomHash();
    const result = failure(
      await runInstaller(sandbox, { installer, hash, requirements: ['kaspr-demo-c==1.0'], indexUrl: index.url }),
    );
    assert.equal(result.errorType, 'hash_mismatch');
    assertNothingPublished(sandbox, hash);
  });

  test(`${installer}: requirements that cannot hold together: version_conflict`, async (t) => {
    const { index, sandbox } = await sandboxWithIndex(t);
    const result = failure(
      await runInstaller(sandbox, {
        installer,
        hash: randomHash(),
        requirements: ['kaspr-demo-a==2.0', 'kaspr-demo-b<2'],
        indexUrl: index.url,
      }),
    );
    assert.equal(result.errorType, 'version_conflict');
    assert.match(result.error!, installer === 'pip' ? /conflicting dependencies/ : /unsatisfiable/);
    assert.doesNotMatch(result.error!, /\.staging/, 'the error names the requirements file, not its temp path');
  });

  test(`${installer}: a full volume: disk_full, no marker, no staging left`, async (t) => {
    const { index, sandbox } = await sandboxWithIndex(t);
    // A real full filesystem needs a real mount: this test needs root (CI runs as root).
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=512k,mode=0755', 'kasprop-test-volume', sandbox.volume], {
      stdio: 'pipe',
    });
    try {
      const hash = randomHash();
      const exit = await runInstaller(sandbox, {
        installer,
        hash,
        requirements: ['kaspr-demo-big'],
        indexUrl: index.url,
        trustedHosts: [index.host],
      });
      const result = failure(exit);
      assert.equal(result.errorType, 'disk_full');
      assertNothingPublished(sandbox, hash);
    } finally {
      execFileSync('umount', [sandbox.volume]);
    }
  });

  test(`${installer}: a waiter gives up at its deadline and says who holds the lock`, async (t) => {
    const { index, sandbox } = await sandboxWithIndex(t);
    index.update({ delayMs: 2_000, affects: (path) => path.startsWith('/files/') });
    const hash = randomHash();
    const settings = { installer, hash, requirements: ['kaspr-demo-c==1.0'], indexUrl: index.url };
    const holder = startInstaller(sandbox, { ...settings, podName: 'holder' });
    await waitFor('the holder to run pip', () => index.requests.length > 0);
    const waiter = await runInstaller(sandbox, { ...settings, podName: 'waiter', deadlineSeconds: 1 });
    const result = failure(waiter);
    assert.equal(result.errorType, 'timeout');
    assert.equal(result.attempts, 0);
    assert.match(result.error!, /waiting for the install lock held by pod holder/);
    assert.match(waiter.stdout, /waiting for the install lock, held by pod holder \(pid \d+\)/);
    const held = await holder.exited;
    assert.equal(resultOf(held).state, 'Ready');
  });

  // With uv: the image has no uv either, so the installer would need pip to put uv on the volume.
  test(`${installer}: an image whose python3 has no pip (nor uv): a clean failure before any attempt`, async (t) => {
    const { index, sandbox } = await sandboxWithIndex(t);
    const venv = join(sandbox.root, 'python-without-pip');
    execFileSync(PYTHON, ['-m', 'venv', '--without-pip', venv], { stdio: 'pipe' });
    const hash = randomHash();
    const exit = await runInstaller(sandbox, {
      installer,
      hash,
      requirements: ['kaspr-demo-c'],
      indexUrl: index.url,
      python: join(venv, 'bin', 'python3'),
      imageUv: false,
    });
    const result = failure(exit);
    assert.equal(result.errorType, 'pip_unavailable');
    assert.equal(result.attempts, 0);
    assert.match(result.error!, /has no pip module/);
    assertNothingPublished(sandbox, hash);
  });
}
