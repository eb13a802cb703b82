// Hash-checked installs (spec.pythonPackages.packagesWithHashes) with the real installer and pip against the local
// wheel index: the locked files and nothing else are installed, a file whose bytes differ from the lock fails once
// as hash_mismatch, and a dependency the lock lacks is refused by name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { hashDirectory, markerPath } from '../../src/packages/installer-contract.ts';
import { lockedLines } from '../../src/packages/locked-packages.ts';
import { buildWheel, buildWheels, DEMO_PROJECTS, type BuiltWheel } from '../support/wheels.ts';
import { startWheelIndex } from '../support/wheel-index.ts';
import {
  createSandbox,
  randomHash,
  resultOf,
  runInstaller,
  sandboxWithIndex,
  INSTALLERS,
} from './installer-harness.ts';

const demo = new Map(buildWheels(DEMO_PROJECTS).map((wheel) => [wheel.filename, wheel]));

function wheel(filename: string): BuiltWheel {
  const found = demo.get(filename);
  if (found === undefined) throw new Error(`no demo wheel ${filename}`);
  return found;
}

/** The lock line of a wheel, made by the same code as the operator's (packagesWithHashes to KASPR_PACKAGES_LOCKED). */
function lockOf(name: string, version: string, ...files: BuiltWheel[]): string {
  const hashes = files.map((file) => ({ algorithm: 'sha256' as const, digest: file.sha256 }));
  return lockedLines([{ name, version, hashes }])[0] ?? '';
}

const a1 = wheel('kaspr_demo_a-1.0-py3-none-any.whl');
const b1 = wheel('kaspr_demo_b-1.0-py3-none-any.whl');

for (const installer of INSTALLERS) {
  test(`${installer}: a locked set installs exactly the locked versions, hash-checked, and says so in the marker and the result`, async (t) => {
    const { index, sandbox } = await sandboxWithIndex(t);
    const hash = randomHash();
    // Unlocked, `kaspr-demo-a>=1` would resolve to a 2.0 and b 2.0, the newest on the index.
    const exit = await runInstaller(sandbox, {
      installer,
      hash,
      requirements: ['kaspr-demo-a>=1'],
      locked: [lockOf('kaspr-demo-a', '1.0', a1), lockOf('kaspr-demo-b', '1.0', b1)],
      indexUrl: index.url,
    });
    const result = resultOf(exit);
    assert.equal(result.state, 'Ready', result.error ?? '');
    assert.deepEqual(result.installed, ['kaspr-demo-a==1.0', 'kaspr-demo-b==1.0']);
    assert.equal(result.hashVerified, true);
    const fetched = index.requests.filter((r) => r.path.startsWith('/files/')).map((r) => r.path);
    // pip fetches each file once; uv asks a file up to three times (HEAD for range support, its metadata, the file).
    const files = installer === 'pip' ? fetched : [...new Set(fetched)];
    assert.deepEqual(files.sort(), [`/files/${a1.filename}`, `/files/${b1.filename}`]);
    const marker = JSON.parse(readFileSync(markerPath(sandbox.volume, hash), 'utf8')) as { hashVerified: unknown };
    assert.equal(marker.hashVerified, true);
    assert.match(exit.stdout, /installing 2 locked distribution\(s\), hash-checked,/);

    // A second pod reuses the install and reports it as verified too.
    const reused = resultOf(
      await runInstaller(sandbox, { installer, hash, requirements: [], locked: ['x==1 sha256:' + '0'.repeat(64)] }),
    );
    assert.equal(reused.source, 'cache');
    assert.equal(reused.hashVerified, true);
  });

  test(`${installer}: the loose requirements constrain the lock: a lock that does not satisfy them fails`, async (t) => {
    const { index, sandbox } = await sandboxWithIndex(t);
    const result = resultOf(
      await runInstaller(sandbox, {
        installer,
        hash: randomHash(),
        requirements: ['kaspr-demo-a[extra]>=2'],
        locked: [lockOf('kaspr-demo-a', '1.0', a1), lockOf('kaspr-demo-b', '1.0', b1)],
        indexUrl: index.url,
      }),
    );
    assert.equal(result.state, 'Failed');
    assert.equal(result.errorType, 'version_conflict');
  });

  test(`${installer}: a file whose bytes differ from the lock: hash_mismatch naming the file and both digests, not retried`, async (t) => {
    // The index is honest about what it serves (its #sha256 matches the bytes), but the bytes are not the locked ones.
    const tampered = { ...buildWheel('kaspr-demo-c', { version: '1.0', payloadBytes: 16 }) };
    assert.equal(tampered.filename, 'kaspr_demo_c-1.0-py3-none-any.whl');
    const locked = wheel('kaspr_demo_c-1.0-py3-none-any.whl');
    assert.notEqual(tampered.sha256, locked.sha256);
    const index = await startWheelIndex({ projects: [], files: [tampered] });
    const sandbox = await createSandbox();
    t.after(async () => {
      await index.close();
      await sandbox.cleanup();
    });
    const hash = randomHash();
    const exit = await runInstaller(sandbox, {
      installer,
      hash,
      requirements: [],
      locked: [lockOf('kaspr-demo-c', '1.0', locked)],
      indexUrl: index.url,
      retries: 3,
    });
    const result = resultOf(exit);
    assert.equal(result.state, 'Failed');
    assert.equal(result.errorType, 'hash_mismatch');
    assert.equal(result.attempts, 1);
    assert.equal(index.pageRequests('kaspr-demo-c'), 1);
    // uv names the distribution, not the file.
    const what = installer === 'pip' ? 'kaspr_demo_c-1.0-py3-none-any.whl (kaspr-demo-c==1.0)' : 'kaspr-demo-c==1.0';
    assert.equal(
      result.error,
      `${what} has sha256:${tampered.sha256}, not the digest in ` +
        `packagesWithHashes (sha256:${locked.sha256}); the index serves other bytes than were locked`,
    );
    assert.equal(result.hashVerified, false);
    assert.equal(existsSync(hashDirectory(sandbox.volume, hash)), false);
    // The digest pip reports is the file's: recomputed from the bytes the index served.
    assert.equal(createHash('sha256').update(tampered.bytes).digest('hex'), tampered.sha256);
  });

  // uv does not say who requires the dependency.
  const requiredBy = installer === 'pip' ? ' with who requires it,' : '';
  test(`${installer}: a dependency missing from the lock is refused by name,${requiredBy} and not retried`, async (t) => {
    const { index, sandbox } = await sandboxWithIndex(t);
    const result = resultOf(
      await runInstaller(sandbox, {
        installer,
        hash: randomHash(),
        requirements: ['kaspr-demo-a'],
        locked: [lockOf('kaspr-demo-a', '1.0', a1)],
        indexUrl: index.url,
        retries: 2,
      }),
    );
    assert.equal(result.state, 'Failed');
    assert.equal(result.errorType, 'invalid_input');
    assert.equal(result.attempts, 1);
    assert.match(
      result.error ?? '',
      installer === 'pip'
        ? /^packagesWithHashes does not lock 'kaspr-demo-b' \(kaspr-demo-b>=1 required by kaspr-demo-a==1\.0\)/
        : /^packagesWithHashes does not lock 'kaspr-demo-b': a hash-checked install needs every dependency pinned/,
    );
  });

  test(`${installer}: a lock line that is not name==version algorithm:hex is refused before pip runs`, async (t) => {
    const { index, sandbox } = await sandboxWithIndex(t);
    for (const line of [
      'kaspr-demo-c==1.0 --hash=sha256:' + '0'.repeat(64),
      'kaspr-demo-c==1.0 sha256:' + '0'.repeat(63),
      'kaspr-demo-c==1.0 md5:' + '0'.repeat(32),
      'kaspr-demo-c>=1.0 sha256:' + '0'.repeat(64),
    ]) {
      const result = resultOf(
        await runInstaller(sandbox, {
          installer,
          hash: randomHash(),
          requirements: [],
          locked: [line],
          indexUrl: index.url,
        }),
      );
      assert.equal(result.errorType, 'invalid_input', line);
      assert.equal(result.attempts, 0, line);
    }
    assert.equal(index.requests.length, 0);
    assert.equal(existsSync(join(sandbox.volume, 'envs')), false);
  });
}
