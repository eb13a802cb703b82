// Where the index password could still be found besides pip's argv, env and output (installer-credentials.test.ts):
// pip's HTTP cache on the shared volume, and the environment or memory of the installer and pip, which any code the
// install runs (an sdist's build backend) could read through /proc.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pipCacheDirectory } from '../../src/packages/installer-contract.ts';
import { startWheelIndex } from '../support/wheel-index.ts';
import { createSandbox, filesUnder, randomHash, resultOf, runInstaller, type Sandbox } from './installer-harness.ts';
import { buildProbeSdist } from './probe-sdist.ts';

const USERNAME = 'kaspr-reader';
const PASSWORD = 'S3cr3t-P4ssw0rd';
const BASIC = Buffer.from(`${USERNAME}:${PASSWORD}`).toString('base64');
// The uid a pod with `runAsUser: 65534` runs as; the image's python must be reachable by it.
const NOBODY = 65534;
const SYSTEM_PYTHON = '/usr/bin/python3';

function chownTree(path: string, uid: number): void {
  chownSync(path, uid, uid);
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    if (entry.isDirectory()) chownTree(join(path, entry.name), uid);
    else chownSync(join(path, entry.name), uid, uid);
  }
}

function secretsIn(sandbox: Sandbox): string[] {
  return filesUnder(sandbox.volume)
    .filter((file) => file.content.includes(BASIC) || file.content.includes(PASSWORD))
    .map((file) => file.path);
}

test('an index answering `Vary: Authorization`: the password is in no file of the volume, no HTTP cache is kept', async (t) => {
  const index = await startWheelIndex({
    auth: { username: USERNAME, password: PASSWORD },
    vary: 'Authorization',
    cacheHeaders: true,
  });
  const sandbox = await createSandbox();
  t.after(async () => {
    await index.close();
    await sandbox.cleanup();
  });
  // What an earlier installer version may have left: an HTTP cache entry holding the Authorization header.
  const leftover = join(pipCacheDirectory(sandbox.volume), 'http', 'a', 'entry');
  mkdirSync(join(leftover, '..'), { recursive: true });
  writeFileSync(leftover, `Authorization: Basic ${BASIC}`);
  const exit = await runInstaller(sandbox, {
    hash: randomHash(),
    requirements: ['kaspr-demo-a==1.0'],
    indexUrl: index.url,
    username: USERNAME,
    password: PASSWORD,
  });
  assert.equal(exit.code, 0, exit.stdout + exit.stderr);
  assert.equal(resultOf(exit).state, 'Ready');
  assert.ok(
    index.requests.some((r) => r.outcome === 200 && r.path.startsWith('/files/')),
    'wheels were downloaded',
  );
  assert.deepEqual(secretsIn(sandbox), [], 'no file on the volume holds the password or base64(user:password)');
  assert.deepEqual(readdirSync(pipCacheDirectory(sandbox.volume)), [], 'the old HTTP cache is gone, no new one');
});

interface Ancestor {
  readonly pid: number;
  readonly environ?: string;
  readonly error?: string;
  /** Bytes of writable memory read, or the error that stopped the read. */
  readonly memory: number | string;
}

/** Installs the probe sdist from a private index and returns what each of its builds saw of its ancestors. */
async function probeBuilds(
  t: { after(fn: () => Promise<void>): void },
  runAs: 'nobody' | 'root',
): Promise<Ancestor[][]> {
  const index = await startWheelIndex({
    auth: { username: USERNAME, password: PASSWORD },
    files: [buildProbeSdist()],
  });
  const sandbox = await createSandbox();
  t.after(async () => {
    await index.close();
    await sandbox.cleanup();
  });
  const report = join(sandbox.root, 'probe-report.jsonl');
  if (runAs === 'nobody') chownTree(sandbox.root, NOBODY);
  const exit = await runInstaller(sandbox, {
    hash: randomHash(),
    requirements: ['kcase-probe==1.0'],
    indexUrl: index.url,
    username: USERNAME,
    password: PASSWORD,
    extraEnv: { KCASE_PROBE_REPORT: report },
    // A container's root has no CAP_SYS_PTRACE by default; the test runner's root has it.
    ...(runAs === 'nobody'
      ? { python: SYSTEM_PYTHON, runAs: NOBODY }
      : { wrapper: ['setpriv', '--bounding-set', '-sys_ptrace', '--'] }),
  });
  assert.equal(exit.code, 0, exit.stdout + exit.stderr);
  assert.deepEqual(resultOf(exit).installed, ['kcase-probe==1.0']);
  assert.ok(existsSync(report), 'the build backend ran');
  const builds = readFileSync(report, 'utf8')
    .trim()
    .split('\n')
    .map((line) => (JSON.parse(line) as { ancestors: Ancestor[] }).ancestors);
  assert.ok(builds.length > 0);
  return builds;
}

test('an sdist build reading its ancestors through /proc gets no password (pod runs as non-root)', async (t) => {
  for (const ancestors of await probeBuilds(t, 'nobody')) {
    // pip's runner, then the installer (the container's main process): both refuse environment and memory.
    for (const [what, ancestor] of [
      ["pip's runner", ancestors[0]],
      ['the installer', ancestors[1]],
    ] as const) {
      assert.equal(ancestor?.error, 'PermissionError', `${what}: environment not readable`);
      assert.equal(ancestor.memory, 'PermissionError', `${what}: memory not readable`);
    }
    for (const ancestor of ancestors) {
      assert.ok(!(ancestor.environ ?? '').includes(PASSWORD), `pid ${String(ancestor.pid)} gave away the password`);
    }
  }
});

test('the same as root without CAP_SYS_PTRACE: memory refused, the environment shows no password', async (t) => {
  for (const ancestors of await probeBuilds(t, 'root')) {
    const [pipRunner, installer] = ancestors;
    assert.equal(
      pipRunner?.memory,
      'PermissionError',
      "pip's memory (the index URL with the password) is not readable",
    );
    assert.equal(installer?.memory, 'PermissionError', "the installer's memory is not readable");
    // Root may read a non-dumpable process's environ file: the installer blanked the Secret's values in it.
    assert.match(installer.environ ?? '', /KASPR_PACKAGES_INDEX_PASSWORD=\*+\0/);
    for (const ancestor of ancestors) {
      assert.ok(!(ancestor.environ ?? '').includes(PASSWORD), `pid ${String(ancestor.pid)} gave away the password`);
    }
  }
});
