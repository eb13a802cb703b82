// A spec change is a new hash: a new directory, switched to by the new pods only, while the old pods keep theirs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { hashDirectory, markerPath, preparedResultPath, stagingRoot } from '../../src/packages/installer-contract.ts';
import { startWheelIndex } from '../support/wheel-index.ts';
import {
  createSandbox,
  PYTHON,
  pythonWith,
  randomHash,
  resultOf,
  runInstaller,
  startInstaller,
  waitFor,
  type Sandbox,
} from './installer-harness.ts';

// Stands in for the main container of an old pod: it imported v1 at start and re-imports on every input line,
// including a submodule it never loaded before, so it really reads the directory again.
const OLD_POD = `
import importlib, sys
import kaspr_demo_a
print("started", kaspr_demo_a.__version__, flush=True)
for _ in sys.stdin:
    importlib.invalidate_caches()
    a = importlib.reload(kaspr_demo_a)
    release = importlib.import_module("kaspr_demo_a.release")
    b = importlib.import_module("kaspr_demo_b")
    print(a.__version__, release.VERSION, b.__version__, flush=True)
    del sys.modules["kaspr_demo_a.release"]
`;

function oldPod(dir: string): { ask(): Promise<string>; started: Promise<string>; stop(): void } {
  const child = spawn(PYTHON, ['-c', OLD_POD], {
    env: { PATH: `${dirname(PYTHON)}:/usr/bin:/bin`, PYTHONPATH: dir },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async (): Promise<string> => {
    const line = await lines.next();
    if (line.done === true) throw new Error('the old pod exited');
    return line.value;
  };
  return {
    started: next(),
    ask: () => {
      child.stdin.write('check\n');
      return next();
    },
    stop: () => child.kill('SIGKILL'),
  };
}

async function install(sandbox: Sandbox, url: string, hash: string, requirements: string[]): Promise<void> {
  const exit = await runInstaller(sandbox, { hash, requirements, indexUrl: url });
  assert.equal(exit.code, 0, exit.stdout + exit.stderr);
  assert.equal(resultOf(exit).source, 'installed');
}

test('v1 -> v2: old pods keep importing v1 while v2 installs, v2 is a real upgrade, only the newest three stay', async (t) => {
  const index = await startWheelIndex();
  const sandbox = await createSandbox();
  const v1 = randomHash();
  const v2 = randomHash();
  const v1Dir = hashDirectory(sandbox.volume, v1);
  await install(sandbox, index.url, v1, ['kaspr-demo-a==1.0', 'kaspr-demo-b==1.0']);
  const pod = oldPod(v1Dir);
  t.after(async () => {
    pod.stop();
    await index.close();
    await sandbox.cleanup();
  });
  assert.equal(await pod.started, 'started 1.0');

  index.update({ delayMs: 300, affects: (path) => path.startsWith('/files/') });
  const upgrade = startInstaller(sandbox, { hash: v2, requirements: ['kaspr-demo-a==2.0'], indexUrl: index.url });
  await waitFor('v2 to download', () =>
    index.requests.some((r) => r.path === '/files/kaspr_demo_a-2.0-py3-none-any.whl'),
  );
  assert.equal(await pod.ask(), '1.0 1.0 1.0', 'during the v2 install');
  const upgraded = await upgrade.exited;
  assert.equal(upgraded.code, 0, upgraded.stdout + upgraded.stderr);
  assert.equal(await pod.ask(), '1.0 1.0 1.0', 'after the v2 install');
  assert.equal(pythonWith(v1Dir, 'import kaspr_demo_a; print(kaspr_demo_a.__version__)'), '1.0');

  const v2Dir = hashDirectory(sandbox.volume, v2);
  assert.equal(
    pythonWith(v2Dir, 'import kaspr_demo_a, kaspr_demo_b; print(kaspr_demo_a.__version__, kaspr_demo_b.__version__)'),
    '2.0 2.0',
  );
  assert.deepEqual(resultOf(upgraded).installed, ['kaspr-demo-a==2.0', 'kaspr-demo-b==2.0']);
  assert.doesNotMatch(upgraded.stdout, /already exists/);
  index.update({ delayMs: 0 });

  const v3 = randomHash();
  const v4 = randomHash();
  await install(sandbox, index.url, v3, ['kaspr-demo-c==1.0']);
  await install(sandbox, index.url, v4, ['kaspr-demo-a==2.0', 'kaspr-demo-c==1.0']);
  const kept = [v2, v3, v4].sort();
  assert.deepEqual(readdirSync(hashDirectory(sandbox.volume, '')).sort(), kept);
  for (const hash of kept)
    assert.ok(existsSync(markerPath(sandbox.volume, hash)) && existsSync(preparedResultPath(sandbox.volume, hash)));
  assert.equal(existsSync(markerPath(sandbox.volume, v1)), false);
  assert.equal(existsSync(preparedResultPath(sandbox.volume, v1)), false);
  assert.deepEqual(readdirSync(stagingRoot(sandbox.volume)), []);

  // A rollback to a kept revision reuses its install; one to a collected revision installs it again.
  assert.equal(
    resultOf(await runInstaller(sandbox, { hash: v2, requirements: ['kaspr-demo-a==2.0'], indexUrl: index.url }))
      .source,
    'cache',
  );
  await install(sandbox, index.url, v1, ['kaspr-demo-a==1.0', 'kaspr-demo-b==1.0']);
  assert.deepEqual(readdirSync(hashDirectory(sandbox.volume, '')).sort(), [v1, v3, v4].sort());
});
