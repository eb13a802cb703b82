import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../src/runtime/kube/client.ts';
import { compareResourceVersions, FreshObjects } from '../../src/runtime/fresh-objects.ts';

const object = (resourceVersion: string, uid = 'u1', status = resourceVersion): KubeObject & { status: string } => ({
  metadata: { namespace: 'ns', name: 'app', uid, resourceVersion, managedFields: [{ manager: 'kasprop' }] },
  status,
});

test('resourceVersions compare as decimal integers (KEP-5504), and only those', () => {
  assert.equal(compareResourceVersions('99', '100'), -1);
  assert.equal(compareResourceVersions('100', '99'), 1);
  assert.equal(compareResourceVersions('120', '120'), 0);
  assert.equal(compareResourceVersions('121', '120'), 1);
  for (const [a, b] of [
    ['010', '9'],
    ['abc', '1'],
    ['', '1'],
    [undefined, '1'],
    ['1.5', '2'],
  ] as const) {
    assert.equal(compareResourceVersions(a, b), undefined, `${a} vs ${b}`);
  }
});

test('our own write is read instead of an older cached state, until the cache holds it', () => {
  const fresh = new FreshObjects<KubeObject & { status: string }>();
  fresh.remember(object('120'));
  assert.equal(fresh.freshest('ns/app', object('110'))?.status, '120', 'the cache lags: our write');
  assert.equal(fresh.freshest('ns/app', object('110'))?.metadata?.managedFields, undefined, 'kept slim');
  assert.equal(fresh.size, 1);
  fresh.observed(object('120'));
  assert.equal(fresh.size, 0, 'forgotten once the watch delivered it');
  assert.equal(fresh.freshest('ns/app', object('110'))?.status, '110', 'then the cache alone answers');
});

test('a newer cached state wins and drops the remembered one', () => {
  const fresh = new FreshObjects<KubeObject & { status: string }>();
  fresh.remember(object('120'));
  assert.equal(fresh.freshest('ns/app', object('130'))?.status, '130');
  assert.equal(fresh.size, 0);
});

test('an object recreated under the same name, one gone from the cache, or an incomparable version: the cache', () => {
  const fresh = new FreshObjects<KubeObject & { status: string }>();
  fresh.remember(object('120'));
  assert.equal(fresh.freshest('ns/app', object('110', 'u2'))?.status, '110', 'another uid');
  fresh.remember(object('120'));
  assert.equal(fresh.freshest('ns/app', undefined), undefined, 'deleted');
  fresh.remember(object('120'));
  assert.equal(fresh.freshest('ns/app', object('opaque'))?.status, 'opaque', 'not comparable');
  assert.equal(fresh.size, 0);
});

test('an older answer never replaces a newer one, and a state read from the server only counts if newer', () => {
  const fresh = new FreshObjects<KubeObject & { status: string }>();
  fresh.remember(object('130'));
  fresh.remember(object('120'));
  assert.equal(fresh.freshest('ns/app', object('110'))?.status, '130');
  const other = new FreshObjects<KubeObject & { status: string }>();
  other.rememberIfNewer(object('120'), object('120'));
  other.rememberIfNewer(object('120'), undefined);
  assert.equal(other.size, 0, 'nothing newer than the cache');
  other.rememberIfNewer(object('120'), object('110'));
  assert.equal(other.freshest('ns/app', object('110'))?.status, '120');
});
