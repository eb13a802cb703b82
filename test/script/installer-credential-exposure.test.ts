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
  const index = await startWheelIndex({ auth: { username: USERNAME, password: PASSWORD }, vary: 'Authorization' });
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

test('an sdist whose build reads its ancestors’ /proc/<pid>/environ gets no password (pod runs as non-root)', async (t) => {
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
  chownTree(sandbox.root, NOBODY);
  const exit = await runInstaller(sandbox, {
    hash: randomHash(),
    requirements: ['kcase-probe==1.0'],
    indexUrl: index.url,
    username: USERNAME,
    password: PASSWORD,
    python: SYSTEM_PYTHON,
    runAs: NOBODY,
    extraEnv: { KCASE_PROBE_REPORT: report },
  });
  assert.equal(exit.code, 0, exit.stdout + exit.stderr);
  assert.deepEqual(resultOf(exit).installed, ['kcase-probe==1.0']);
  assert.ok(existsSync(report), 'the build backend ran');
  const builds = readFileSync(report, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { ancestors: { pid: number; environ?: string; error?: string }[] });
  assert.ok(builds.length > 0);
  for (const build of builds) {
    // pip's runner, then the installer (the container's main process): both must refuse the read.
    const [pipRunner, installer] = build.ancestors;
    assert.equal(pipRunner?.error, 'PermissionError', "pip's environment and memory are not readable");
    assert.equal(installer?.error, 'PermissionError', "the installer's environment is not readable");
    for (const ancestor of build.ancestors) {
      assert.ok(!(ancestor.environ ?? '').includes(PASSWORD), `pid ${String(ancestor.pid)} gave away the password`);
    }
  }
});
