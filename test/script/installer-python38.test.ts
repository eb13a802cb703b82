// The installer promises Python 3.8: parsing with feature_version=(3, 8) does not catch 3.9+ library calls, running
// it on a real 3.8 (with the older pip such images carry) does. The project's machines carry one (pyenv); elsewhere
// point KASPROP_TEST_PYTHON38 at one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { hashDirectory } from '../../src/packages/installer-contract.ts';
import { startWheelIndex } from '../support/wheel-index.ts';
import { createSandbox, randomHash, resultOf, runInstaller } from './installer-harness.ts';

function findPython38(): string | undefined {
  const pyenv = join(homedir(), '.pyenv', 'versions');
  const candidates = [
    process.env.KASPROP_TEST_PYTHON38,
    ...(existsSync(pyenv)
      ? readdirSync(pyenv)
          .filter((version) => version.startsWith('3.8.'))
          .map((version) => join(pyenv, version, 'bin', 'python3.8'))
      : []),
    '/usr/bin/python3.8',
    '/usr/local/bin/python3.8',
  ];
  return candidates.find((candidate) => {
    if (candidate === undefined || !existsSync(candidate)) return false;
    try {
      execFileSync(candidate, ['-m', 'pip', '--version'], { stdio: 'pipe' });
      return true;
    } catch {
      return false;
    }
  });
}

test('on Python 3.8 and its pip: install, reuse and a classified failure', async (t) => {
  const python = findPython38();
  assert.ok(python, 'no Python 3.8 with pip found: set KASPROP_TEST_PYTHON38 to one');
  const index = await startWheelIndex();
  const sandbox = await createSandbox();
  t.after(async () => {
    await index.close();
    await sandbox.cleanup();
  });
  const hash = randomHash();
  const settings = { hash, requirements: ['kaspr-demo-a==2.0'], indexUrl: index.url, python };
  const installed = await runInstaller(sandbox, settings);
  assert.equal(installed.code, 0, installed.stdout + installed.stderr);
  const result = resultOf(installed);
  assert.match(result.pythonVersion, /^3\.8\./);
  assert.deepEqual(result.installed, ['kaspr-demo-a==2.0', 'kaspr-demo-b==2.0']);
  const version = execFileSync(python, ['-c', 'import kaspr_demo_a; print(kaspr_demo_a.__version__)'], {
    encoding: 'utf8',
    env: { PATH: `${dirname(python)}:/usr/bin:/bin`, PYTHONPATH: hashDirectory(sandbox.volume, hash) },
  });
  assert.equal(version.trim(), '2.0');
  assert.equal(resultOf(await runInstaller(sandbox, settings)).source, 'cache');

  const missing = await runInstaller(sandbox, { ...settings, hash: randomHash(), requirements: ['kaspr-demo-nope'] });
  assert.equal(resultOf(missing).errorType, 'package_not_found');
});
