// Inputs that used to fail late, vaguely or silently: each now fails once, before or at its first pip run, as
// `invalid_input` with a message saying what to change; and a refused password is never silent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startWheelIndex } from '../support/wheel-index.ts';
import { callInstaller, createSandbox, randomHash, resultOf, runInstaller } from './installer-harness.ts';

const USERNAME = 'kaspr-reader';
const PASSWORD = 'S3cr3t-P4ssw0rd';

test('markers pip crashes on (deep nesting, ~= against a non-version): invalid_input after one attempt', async (t) => {
  const index = await startWheelIndex();
  const sandbox = await createSandbox();
  t.after(async () => {
    await index.close();
    await sandbox.cleanup();
  });
  const markers = [
    `kaspr-demo-c; ${'('.repeat(120)}python_version >= "3"${')'.repeat(120)}`,
    'kaspr-demo-c; platform_release ~= "a"',
  ];
  for (const requirement of markers) {
    const exit = await runInstaller(sandbox, {
      hash: randomHash(),
      requirements: [requirement],
      indexUrl: index.url,
      retries: 2,
    });
    const result = resultOf(exit);
    assert.equal(result.errorType, 'invalid_input', `${requirement.slice(0, 40)}: ${String(result.error)}`);
    assert.equal(result.attempts, 1, 'a deterministic failure is not retried');
  }
});

test('a requirement pip skipped without a marker of its own is found missing', () => {
  const missing = callInstaller('OUTPUT = [missing_projects(lines, installed) for lines, installed in INPUT]', [
    [["kcase-gamma @ http://h.example/kcase_gamma-0.5-py3-none-any.whl;extra=='x'"], []],
    [['git+https://h.example/x.git@v1#egg=Some_Project'], ['other==1.0']],
    [['kaspr-demo-c; python_version < "3"', 'kcase-a @ https://h.example/a.whl ; extra == "x"'], []],
    [
      ['Kaspr_Demo.C==1.0', 'kaspr-demo-a[extra]>=1'],
      ['kaspr-demo-c==1.0', 'Kaspr_Demo_A==2.0'],
    ],
  ]);
  assert.deepEqual(missing, [['kcase-gamma'], ['some-project'], [], []]);
});

test("pip's internal [present-rich] tag does not reach the error", () => {
  const evidence = callInstaller('OUTPUT = classify_pip_failure(INPUT, False)', [
    '2026-01-01T00:00:00,000 ERROR: [present-rich] No matching distribution found for kaspr-demo-x',
  ]);
  assert.deepEqual(evidence, ['package_not_found', 'No matching distribution found for kaspr-demo-x']);
});

test('credentials that cannot work are refused before pip runs, saying what to fix in the Secret', async (t) => {
  const index = await startWheelIndex({ auth: { username: USERNAME, password: PASSWORD } });
  const sandbox = await createSandbox();
  t.after(async () => {
    await index.close();
    await sandbox.cleanup();
  });
  const cases: [string, string, RegExp][] = [
    ['a short password', 'e', /shorter than 8 characters/],
    ['a trailing newline', `${PASSWORD}\n`, /ends with whitespace or a newline.*--from-file/],
    ['non-ASCII', 'pässwörd-é-long', /non-ASCII or control characters/],
  ];
  for (const [what, password, reason] of cases) {
    const exit = await runInstaller(sandbox, {
      hash: randomHash(),
      requirements: ['kaspr-demo-c'],
      indexUrl: index.url,
      username: USERNAME,
      password,
    });
    const result = resultOf(exit);
    assert.equal(result.errorType, 'invalid_input', what);
    assert.match(result.error ?? '', reason, what);
    assert.equal(result.attempts, 0, `${what}: refused before pip ran`);
    assert.ok(!(result.error ?? '').includes('****'), `${what}: the message is not garbled by scrubbing`);
  }
  assert.equal(index.requests.length, 0);
});

test('a wrong password while an extra index has the packages: Ready, with a warning naming the refusal', async (t) => {
  const privateIndex = await startWheelIndex({ auth: { username: USERNAME, password: PASSWORD } });
  const publicIndex = await startWheelIndex();
  const sandbox = await createSandbox();
  t.after(async () => {
    await privateIndex.close();
    await publicIndex.close();
    await sandbox.cleanup();
  });
  const exit = await runInstaller(sandbox, {
    hash: randomHash(),
    requirements: ['kaspr-demo-c==1.0'],
    indexUrl: privateIndex.url,
    extraIndexUrls: [publicIndex.url],
    username: USERNAME,
    password: 'not-the-password',
  });
  const result = resultOf(exit);
  assert.equal(result.state, 'Ready', exit.stdout);
  assert.ok(
    result.warnings.some((w) => /the index refused the credentials \(.*401.*\).*check the credentials Secret/.test(w)),
    JSON.stringify(result.warnings),
  );
  assert.ok(!result.warnings.join(' ').includes('not-the-password'));
});

test('a volume written by root, then a pod with another runAsUser: the error names the owner and the fix', async (t) => {
  const index = await startWheelIndex();
  const sandbox = await createSandbox();
  t.after(async () => {
    await index.close();
    await sandbox.cleanup();
  });
  chmodSync(sandbox.volume, 0o777);
  assert.equal(
    (await runInstaller(sandbox, { hash: randomHash(), requirements: ['kaspr-demo-c'], indexUrl: index.url })).code,
    0,
  );
  const nobody = 65534;
  for (const dir of [sandbox.root, sandbox.home, sandbox.tmp, sandbox.work]) chownSync(dir, nobody, nobody);
  const exit = await runInstaller(sandbox, {
    hash: randomHash(),
    requirements: ['kaspr-demo-b'],
    indexUrl: index.url,
    python: '/usr/bin/python3',
    runAs: nobody,
  });
  const result = resultOf(exit);
  assert.equal(result.state, 'Failed');
  assert.match(
    result.error ?? '',
    /Permission denied: '.*\/\.lock': owned by uid 0, while this installer runs as uid 65534 .*runAsUser.*fsGroup/,
  );
  assert.ok(readdirSync(join(sandbox.volume, 'envs')).length === 1, 'the earlier install is untouched');
});
