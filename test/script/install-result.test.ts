// parseInstallResult: what the operator will do with a termination message, from a real result to a log tail.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseInstallResult } from '../../src/packages/install-result.ts';

const ready = {
  formatVersion: 1,
  state: 'Ready',
  source: 'installed',
  hash: '2efd62389c3acb8e',
  installed: ['kaspr-demo-a==1.0', 'kaspr-demo-b==2.0'],
  installedTotal: 2,
  installedBy: 'app-0',
  installTime: '2026-11-26T10:06:14Z',
  durationSeconds: 1.102,
  pythonVersion: '3.11.7',
  attempts: 1,
  errorType: null,
  error: null,
  warnings: [],
  hashVerified: false,
  installSource: 'index',
};

test('a result document, with the trailing newline the installer writes', () => {
  assert.deepEqual(parseInstallResult(JSON.stringify(ready) + '\n'), { kind: 'result', result: ready });
});

test('hashVerified: as written, and false in the result of an installer from before the lock', () => {
  const verified = parseInstallResult(JSON.stringify({ ...ready, hashVerified: true }));
  assert.equal(verified.kind === 'result' && verified.result.hashVerified, true);
  const { hashVerified: _absent, installSource: _too, ...older } = ready;
  assert.deepEqual(parseInstallResult(JSON.stringify(older)), { kind: 'result', result: ready });
});

test('installSource: as written, and index in the result of an installer from before bundles', () => {
  for (const installSource of ['bundle', 'bundleAndIndex']) {
    const parsed = parseInstallResult(JSON.stringify({ ...ready, installSource }));
    assert.equal(parsed.kind === 'result' && parsed.result.installSource, installSource);
  }
  const forged = parseInstallResult(JSON.stringify({ ...ready, installSource: 'elsewhere' }));
  assert.equal(forged.kind === 'result' && forged.result.installSource, 'index');
});

test('the store counts are optional (installers from before the store write none) and checked when present', () => {
  const counted = { ...ready, fromStore: 1, downloaded: 1 };
  assert.deepEqual(parseInstallResult(JSON.stringify(counted)), { kind: 'result', result: counted });
  const parsed = parseInstallResult(JSON.stringify({ ...ready, fromStore: -1, downloaded: 'x' }));
  assert.equal(parsed.kind, 'unreadable');
  assert.match(parsed.reason, /fromStore, downloaded/);
});

test('a failure document', () => {
  const failed = { ...ready, state: 'Failed', installed: [], installedTotal: 0, errorType: 'network', error: 'x' };
  const parsed = parseInstallResult(JSON.stringify(failed));
  assert.equal(parsed.kind, 'result');
  assert.equal(parsed.result.errorType, 'network');
});

test('a log tail (FallbackToLogsOnError after a crash) is unreadable, with its last line as excerpt', () => {
  const parsed = parseInstallResult('kasprop: attempt 1/4: pip install\n  | Collecting numpy\nKilled\n');
  assert.deepEqual(parsed, {
    kind: 'unreadable',
    reason: 'the termination message is not an install result (the container log tail?)',
    excerpt: 'Killed',
  });
});

test('empty, non-object, other format versions and malformed fields are unreadable with a reason', () => {
  const cases: [string, RegExp][] = [
    ['', /empty/],
    ['   \n', /empty/],
    ['[1,2]', /not an object/],
    ['"Ready"', /not an object/],
    [JSON.stringify({ ...ready, formatVersion: 2 }), /format version 2/],
    [JSON.stringify({ ...ready, state: 'Done' }), /state/],
    [JSON.stringify({ ...ready, errorType: 'cosmic_rays' }), /errorType/],
    [JSON.stringify({ ...ready, installed: 'kaspr-demo-a==1.0', attempts: -1 }), /installed, attempts/],
  ];
  for (const [text, reason] of cases) {
    const parsed = parseInstallResult(text);
    assert.equal(parsed.kind, 'unreadable', text);
    assert.match(parsed.reason, reason);
  }
});

test('a long last line is shortened in the excerpt', () => {
  const parsed = parseInstallResult('x'.repeat(5000));
  assert.equal(parsed.kind, 'unreadable');
  assert.equal(parsed.excerpt.length, 300);
});
