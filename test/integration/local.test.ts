// The README's main command: `npm start` is `kasprop local`; with --until-ready it exits once the basic example is
// Ready, which is what a person running it sees happen. It starts a control plane of its own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { standInsNote, untilReadyNote } from '../../src/cli/local.ts';
import { podsEnv, spawnTracked, testRootEnv } from '../support/processes.ts';

const repo = resolve(import.meta.dirname, '../..');

const realNode = process.env[podsEnv] === 'node';

test('kasprop local applies the basic example and shows it going Installing -> Ready, then cleans up', async () => {
  const cwd = mkdtempSync(join(process.env[testRootEnv] ?? tmpdir(), 'local-'));
  const output: string[] = [];
  const local = spawnTracked(
    process.execPath,
    [join(repo, 'src/cli/main.ts'), 'local', '--until-ready', '-f', join(repo, 'examples/python-packages/basic.yaml')],
    // As a person's shell would run it: their PATH (python3 with pip), nothing from the test run; where the run has
    // no real node, kasprop local is told so rather than trying one itself.
    {
      cwd,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...(!realNode && { [podsEnv]: 'simulator' }) },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    },
  );
  local.child.stdout?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  local.child.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  const exit = await local.exited;
  const text = output.join('');
  assert.equal(exit.code, 0, text);
  if (realNode) {
    assert.match(text, /Pods run in REAL CONTAINERS/);
    // The installing init container's log as it is written (either pod may win the lock), and at the end the app
    // container's own report of its imports.
    assert.match(text, /^\[enrich-app-\d install-packages\] kasprop: installing 2 requirement\(s\) for [0-9a-f]{16} /m);
    assert.match(
      text,
      /^\[enrich-app-0 kaspr\] kaspr-standin: imported python-dateutil==2\.8 from \/packages\/envs\//m,
    );
    assert.match(text, /^\[enrich-app-0 kaspr\] kaspr-standin: imported requests==2\.31\.0 from \/packages\/envs\//m);
  } else {
    assert.match(text, /init containers run as LOCAL PROCESSES/);
  }
  assert.match(text, /enrich: packages Installing\n/);
  assert.match(text, /enrich: packages Ready: python-dateutil==2\.8, requests==2\.31\.0 \(installed by enrich-app-\d/);
  assert.match(text, /ready: enrich\n/);
  assert.ok(
    text.includes(`${untilReadyNote}\n`),
    'says that --until-ready removes the cluster the kubectl line is for',
  );
  assert.ok(text.includes(`${standInsNote}\n`), 'says that the installed packages are stand-ins');
  assert.ok(text.indexOf('packages Installing') < text.indexOf('packages Ready'), 'Installing comes before Ready');
});
