// The installer's shipped form and its contract: the generated constants are current, the program is Python 3.8 code
// that fits in one argv string, and the env names, defaults, error types and volume layout are the contract's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GENERATED_PATH, renderFromFiles } from '../../scripts/gen-installer-source.ts';
import {
  DEFAULT_PACKAGES_MOUNT_PATH,
  DEFAULT_TERMINATION_LOG_PATH,
  hashDirectory,
  INSTALL_ERROR_TYPES,
  INSTALLER_ENV,
  INSTALLER_ENV_DEFAULTS,
  lockPath,
  markerPath,
  MAX_RESULT_BYTES,
  pipCacheDirectory,
  distributionStoreDirectory,
  podRecordsDirectory,
  preparedResultPath,
  PREVIOUS_HASHES_KEPT,
  RESULT_FORMAT_VERSION,
  stagingRoot,
} from '../../src/packages/installer-contract.ts';
import { INSTALLER_BOOTSTRAP, INSTALLER_PROGRAM } from '../../src/packages/installer-source.generated.ts';
import { installerFiles } from '../../src/packages/installer-files.ts';
import {
  callInstaller,
  createSandbox,
  installerCommand,
  PYTHON,
  randomHash,
  resultOf,
  runInstaller,
} from './installer-harness.ts';

test('the generated source is what `npm run gen:installer` writes now', async () => {
  assert.equal(
    readFileSync(GENERATED_PATH, 'utf8'),
    await renderFromFiles(),
    'src/packages/installer-source.generated.ts is stale: run `npm run gen:installer`',
  );
});

test('the program parses as Python 3.8 and the bootstrap as POSIX sh (dash)', () => {
  const parsed = execFileSync(
    PYTHON,
    ['-c', 'import ast, sys; ast.parse(sys.stdin.read(), feature_version=(3, 8)); print("ok")'],
    { input: INSTALLER_PROGRAM, encoding: 'utf8' },
  );
  assert.equal(parsed.trim(), 'ok');
  // dash is the strictest common /bin/sh: bash would accept bash-isms.
  execFileSync(existsSync('/bin/dash') ? '/bin/dash' : '/bin/sh', ['-n'], { input: INSTALLER_BOOTSTRAP });
});

// The program reaches the pods as a file of the installer ConfigMap (design decision 12), no longer in an argv: what
// bounds it is a ConfigMap's data, 1 MiB. Its size per app is also etcd's (`npm run bench -- operator` prints it).
test("the installer's files fit one ConfigMap (its data is capped at 1 MiB)", () => {
  const bytes = Object.values(installerFiles).reduce((sum, text) => sum + Buffer.byteLength(text), 0);
  assert.ok(bytes < 1024 * 1024, `${String(bytes)} bytes`);
});

test('the installer uses exactly the env names of the contract', () => {
  const used = new Set(
    [...(INSTALLER_PROGRAM + INSTALLER_BOOTSTRAP).matchAll(/KASPR_PACKAGES_[A-Z_]+/g)].map((m) => m[0]),
  );
  assert.deepEqual([...used].sort(), Object.values(INSTALLER_ENV).sort());
});

test('defaults, limits, error types and the volume layout agree with the contract', () => {
  const root = '/mnt/volume';
  const hash = 'abcdef0123456789';
  const program = callInstaller(
    `
layout = Layout(INPUT["root"], INPUT["hash"])
error_types = sorted(set([kind for kind, _ in FAILURE_PATTERNS] + ["invalid_input", "pip_unavailable", "unknown"]))
OUTPUT = {
    "defaults": {"retries": DEFAULT_RETRIES, "timeoutSeconds": DEFAULT_TIMEOUT_SECONDS, "onFailure": DEFAULT_ON_FAILURE},
    "dir": DEFAULT_DIR, "terminationLog": DEFAULT_TERMINATION_LOG, "formatVersion": FORMAT_VERSION,
    "maxResultBytes": MAX_RESULT_BYTES, "previousKept": PREVIOUS_HASHES_KEPT, "errorTypes": error_types,
    "hashDir": layout.hash_dir, "marker": layout.marker, "result": layout.prepared_result, "lock": layout.lock,
    "staging": layout.staging, "cache": layout.pip_cache, "pods": layout.pods,
    "store": layout.store,
}
`,
    { root, hash },
  );
  assert.deepEqual(program, {
    defaults: INSTALLER_ENV_DEFAULTS,
    dir: DEFAULT_PACKAGES_MOUNT_PATH,
    terminationLog: DEFAULT_TERMINATION_LOG_PATH,
    formatVersion: RESULT_FORMAT_VERSION,
    maxResultBytes: MAX_RESULT_BYTES,
    previousKept: PREVIOUS_HASHES_KEPT,
    errorTypes: [...INSTALL_ERROR_TYPES].sort(),
    hashDir: hashDirectory(root, hash),
    marker: markerPath(root, hash),
    result: preparedResultPath(root, hash),
    lock: lockPath(root),
    staging: stagingRoot(root),
    cache: pipCacheDirectory(root),
    pods: podRecordsDirectory(root),
    store: distributionStoreDirectory(root),
  });
  assert.match(INSTALLER_BOOTSTRAP, /"\$d\/\.installed-\$h"/, 'the bootstrap checks the marker of the contract');
  assert.match(INSTALLER_BOOTSTRAP, /"\$d\/\.result-\$h"/, 'the bootstrap reads the prepared result of the contract');
  assert.match(INSTALLER_BOOTSTRAP, /"\$d\/envs\/\$h"/, 'the bootstrap checks the hash directory of the contract');
  assert.match(INSTALLER_BOOTSTRAP, /"\$d\/\.pods\/\$p"/, 'the bootstrap writes the pod record of the contract');
});

test('the fast path needs no program from PATH: with the marker present it runs on shell builtins alone', async (t) => {
  const sandbox = await createSandbox();
  t.after(() => sandbox.cleanup());
  const hash = randomHash();
  const prepared = '{"formatVersion":1,"state":"Ready","source":"cache"}';
  await mkdir(hashDirectory(sandbox.volume, hash), { recursive: true });
  await writeFile(preparedResultPath(sandbox.volume, hash), prepared + '\n');
  await writeFile(markerPath(sandbox.volume, hash), '{}\n');
  const terminationLog = join(sandbox.root, 'termination-log');
  const [shell, ...args] = installerCommand(sandbox);
  const output = execFileSync(shell!, args, {
    env: {
      PATH: '/nonexistent',
      [INSTALLER_ENV.hash]: hash,
      [INSTALLER_ENV.dir]: sandbox.volume,
      [INSTALLER_ENV.terminationLog]: terminationLog,
    },
    encoding: 'utf8',
  });
  assert.match(output, /ready/);
  assert.equal(readFileSync(terminationLog, 'utf8'), prepared + '\n');
});

test('without the marker the bootstrap hands over to python3 (an invalid hash included)', async (t) => {
  const sandbox = await createSandbox();
  t.after(() => sandbox.cleanup());
  const exit = await runInstaller(sandbox, { hash: 'NOT-A-HASH', requirements: ['kaspr-demo-a'] });
  assert.equal(exit.code, 1);
  const result = resultOf(exit);
  assert.equal(result.errorType, 'invalid_input');
  assert.equal(result.hash, '');
});

test('without its program file (no installer ConfigMap mounted) the bootstrap says so and exits 2', async (t) => {
  const sandbox = await createSandbox();
  t.after(() => sandbox.cleanup());
  const [shell, bootstrap] = installerCommand(sandbox);
  const missing = join(sandbox.root, 'nowhere', 'installer.py');
  const run = spawnSync(shell!, [bootstrap!, missing], {
    env: { PATH: '/usr/bin:/bin', [INSTALLER_ENV.hash]: randomHash(), [INSTALLER_ENV.dir]: sandbox.volume },
    encoding: 'utf8',
  });
  assert.equal(run.status, 2);
  assert.equal(
    run.stderr,
    `kasprop: the installer program ${missing} is missing: is the installer ConfigMap mounted whole?\n`,
  );
});
