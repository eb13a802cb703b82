// A private index behind basic auth. The password goes to that index and nowhere else: not into any process's argv,
// not into pip's environment, not into the output, the result or any file the installer leaves.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { pipCacheDirectory, type PackageInstaller } from '../../src/packages/installer-contract.ts';
import { startWheelIndex } from '../support/wheel-index.ts';
import {
  createSandbox,
  descendants,
  filesUnder,
  randomHash,
  resultOf,
  startInstaller,
  type InstallerExit,
  type Sandbox,
  INSTALLERS,
} from './installer-harness.ts';

const USERNAME = 'kaspr-reader';
const PASSWORD = 'p@ss:w/rd%#&?x';
const WRONG_PASSWORD = 'n0t/the%p@ss#&';
// How pip's command line (`python3 -c <runner>`) starts: the first line of the installer's constant pip runner.
const PIP_RUNNER_START = 'import json, os, runpy, sys\n';

function forms(username: string, password: string): string[] {
  const encoded = encodeURIComponent(password);
  return [
    password,
    encoded,
    encoded.replace(/%2F/g, '/'),
    encoded.toLowerCase(),
    Buffer.from(`${username}:${password}`).toString('base64'),
  ];
}

interface Observed {
  exit: InstallerExit;
  /** Every process command line seen under the installer while it ran. */
  argvLeaks: string[];
  /** Environments of pip processes that carried a secret. */
  environLeaks: string[];
}

/** Runs the installer while sampling /proc, as anyone on the node could, for the secret in argv and pip's env. */
async function observe(sandbox: Sandbox, url: string, password: string, tool: PackageInstaller): Promise<Observed> {
  const secrets = [...forms(USERNAME, PASSWORD), ...forms(USERNAME, password)];
  const installer = startInstaller(sandbox, {
    installer: tool,
    hash: randomHash(),
    requirements: ['kaspr-demo-a==1.0'],
    indexUrl: url,
    username: USERNAME,
    password,
    trustedHosts: [new URL(url).host],
  });
  const argvLeaks: string[] = [];
  const environLeaks: string[] = [];
  let pipSeen = 0;
  const stopSampling = new AbortController();
  const sampler = (async () => {
    while (!stopSampling.signal.aborted) {
      for (const pid of [installer.pid, ...descendants(installer.pid)]) {
        try {
          const cmdline = readFileSync(`/proc/${String(pid)}/cmdline`, 'utf8');
          if (secrets.some((secret) => cmdline.includes(secret))) argvLeaks.push(cmdline);
          // The installer has the Secret in its env by design (secretKeyRef), and so has a child between fork and
          // exec; pip, once it runs, must not. Reading the command line again shows the environ read was pip's.
          const environ = readFileSync(`/proc/${String(pid)}/environ`, 'utf8');
          // pip's runner (`python3 -c <runner>`), or uv (`uv pip install ...`).
          const pip = (line: string): boolean =>
            tool === 'pip'
              ? line.split('\0')[2]?.startsWith(PIP_RUNNER_START) === true
              : line.split('\0')[0]?.endsWith('/uv') === true && line.split('\0').includes('install');
          if (pip(cmdline) && pip(readFileSync(`/proc/${String(pid)}/cmdline`, 'utf8'))) {
            pipSeen += 1;
            if (secrets.some((secret) => environ.includes(secret))) environLeaks.push(environ);
          }
        } catch {
          // Exited meanwhile.
        }
      }
      await sleep(5);
    }
  })();
  const exit = await installer.exited;
  stopSampling.abort();
  await sampler;
  assert.ok(pipSeen > 0, 'the sampler saw pip running');
  return { exit, argvLeaks, environLeaks };
}

function assertNoSecretAnywhere(sandbox: Sandbox, observed: Observed, password: string): void {
  const secrets = [...forms(USERNAME, PASSWORD), ...forms(USERNAME, password)];
  assert.deepEqual(observed.argvLeaks, [], 'no argv carries the password');
  assert.deepEqual(observed.environLeaks, [], "pip's environment does not carry the password");
  const { stdout, stderr, message } = observed.exit;
  for (const secret of secrets) {
    assert.ok(!stdout.includes(secret) && !stderr.includes(secret), 'the output does not show the password');
    assert.ok(!message.includes(secret), 'the result does not carry the password');
  }
  const files = filesUnder(sandbox.root);
  assert.ok(files.length > 0, 'the scan found the files the installer left');
  for (const file of files) {
    for (const secret of secrets) {
      assert.ok(!file.content.includes(secret), `${file.path} does not contain the password`);
    }
  }
}

for (const installer of INSTALLERS) {
  test(`${installer}: basic auth: the right credentials install; the password is in no argv, env, output, result or file`, async (t) => {
    const index = await startWheelIndex({ auth: { username: USERNAME, password: PASSWORD }, delayMs: 100 });
    const sandbox = await createSandbox();
    t.after(async () => {
      await index.close();
      await sandbox.cleanup();
    });
    const observed = await observe(sandbox, index.url, PASSWORD, installer);
    assert.equal(observed.exit.code, 0, observed.exit.stdout + observed.exit.stderr);
    assert.equal(resultOf(observed.exit).state, 'Ready');
    assert.ok(
      index.requests.length > 0 && index.requests.every((r) => r.authorized),
      'every request carried the credentials',
    );
    assert.deepEqual(readdirSync(pipCacheDirectory(sandbox.volume)), [], 'with credentials pip keeps no cache there');
    assertNoSecretAnywhere(sandbox, observed, PASSWORD);
  });

  test(`${installer}: basic auth: wrong credentials give authentication, and still leak nothing`, async (t) => {
    const index = await startWheelIndex({ auth: { username: USERNAME, password: PASSWORD } });
    const sandbox = await createSandbox();
    t.after(async () => {
      await index.close();
      await sandbox.cleanup();
    });
    const observed = await observe(sandbox, index.url, WRONG_PASSWORD, installer);
    assert.equal(observed.exit.code, 1);
    const result = resultOf(observed.exit);
    assert.equal(result.state, 'Failed');
    assert.equal(result.errorType, 'authentication');
    assert.match(result.error!, /401/);
    assertNoSecretAnywhere(sandbox, observed, WRONG_PASSWORD);
  });
}
