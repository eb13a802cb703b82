import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ConfigMap } from 'kubernetes-types/core/v1.js';
import { Applier } from '../../src/runtime/applier.ts';
import { appliedHashAnnotation, objectHash, withAppliedHash } from '../../src/runtime/compare.ts';
import { KubeApiError, type Exchange, type ObjectRef, type RequestOptions } from '../../src/runtime/kube/client.ts';
import { ResourceTypes, type ResourceType } from '../../src/runtime/kube/resources.ts';

interface Sent {
  readonly verb: string;
  readonly path: string;
  readonly query?: unknown;
  readonly contentType?: string | undefined;
  readonly body?: unknown;
}

/** Records every request and answers with the next scripted reply. */
class FakeClient {
  readonly sent: Sent[] = [];
  readonly replies: (() => Exchange<unknown>)[] = [];

  async exchange<T>(options: RequestOptions): Promise<Exchange<T>> {
    await Promise.resolve();
    this.sent.push({
      verb: options.verb,
      path: options.path,
      query: options.query,
      contentType: options.contentType,
      body: options.body,
    });
    return this.#next() as Exchange<T>;
  }

  async delete(_type: ResourceType, ref: ObjectRef, options: { uid?: string } = {}): Promise<boolean> {
    await Promise.resolve();
    this.sent.push({ verb: 'DELETE', path: `${ref.namespace}/${ref.name}`, body: options });
    return this.#next().status === 200;
  }

  #next(): Exchange<unknown> {
    const reply = this.replies.shift();
    if (reply === undefined) throw new Error('no reply scripted');
    return reply();
  }
}

const desired: ConfigMap = {
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'settings', namespace: 'ns', labels: { app: 'a' } },
  data: { KEY: 'value' },
};

/** What the server holds after our apply of `object`. */
function liveOf(object: ConfigMap): ConfigMap {
  const applied = withAppliedHash(object, objectHash(object));
  return { ...applied, metadata: { ...applied.metadata, uid: 'u1', resourceVersion: '5' } };
}

describe('Applier.apply', () => {
  test('creates an absent object with server-side apply, forced, as kasprop, carrying the input hash', async () => {
    const client = new FakeClient();
    client.replies.push(() => ({ status: 201, body: liveOf(desired) }));
    const outcome = await new Applier(client).apply(ResourceTypes.ConfigMap, desired, undefined);
    assert.equal(outcome.result, 'created');
    assert.equal(outcome.reason, 'absent');
    assert.equal(outcome.object.metadata?.uid, 'u1');
    const sent = client.sent[0]!;
    assert.equal(sent.verb, 'PATCH');
    assert.equal(sent.path, '/api/v1/namespaces/ns/configmaps/settings');
    assert.deepEqual(sent.query, { fieldManager: 'kasprop', force: true });
    assert.equal(sent.contentType, 'application/apply-patch+yaml');
    const body = sent.body as ConfigMap;
    assert.equal(body.metadata?.annotations?.[appliedHashAnnotation], objectHash(desired));
    assert.deepEqual(body.data, desired.data);
    assert.equal(desired.metadata?.annotations, undefined, 'the desired object is not mutated');
  });

  test('sends nothing when the live object matches', async () => {
    const client = new FakeClient();
    const live = liveOf(desired);
    const outcome = await new Applier(client).apply(ResourceTypes.ConfigMap, desired, live);
    assert.deepEqual(outcome, { result: 'unchanged', object: live });
    assert.equal(client.sent.length, 0);
  });

  test('patches a changed object and a drifted one, saying why', async () => {
    const client = new FakeClient();
    const applier = new Applier(client);
    const changed: ConfigMap = { ...desired, data: { KEY: 'other' } };
    client.replies.push(() => ({ status: 200, body: liveOf(changed) }));
    const first = await applier.apply(ResourceTypes.ConfigMap, changed, liveOf(desired));
    assert.equal(first.result, 'patched');
    assert.equal(first.reason, 'changed');
    assert.deepEqual(first.object.data, { KEY: 'other' });

    const drifted = { ...liveOf(desired), data: { KEY: 'edited by hand' } };
    client.replies.push(() => ({ status: 200, body: liveOf(desired) }));
    const second = await applier.apply(ResourceTypes.ConfigMap, desired, drifted);
    assert.equal(second.result, 'patched');
    assert.equal(second.reason, 'drift at data.KEY');
  });

  test('a stale cache that does not show an existing object yet costs a patch, reported as such', async () => {
    const client = new FakeClient();
    client.replies.push(() => ({ status: 200, body: liveOf(desired) }));
    const outcome = await new Applier(client).apply(ResourceTypes.ConfigMap, desired, undefined);
    assert.equal(outcome.result, 'patched');
  });

  test('honours another field manager and annotation', async () => {
    const client = new FakeClient();
    client.replies.push(() => ({ status: 201, body: {} }));
    await new Applier(client, { fieldManager: 'other', hashAnnotation: 'x/hash' }).apply(
      ResourceTypes.ConfigMap,
      desired,
      undefined,
    );
    const sent = client.sent[0]!;
    assert.deepEqual(sent.query, { fieldManager: 'other', force: true });
    assert.ok((sent.body as ConfigMap).metadata?.annotations?.['x/hash']);
  });
});

describe('Applier.applyStatus', () => {
  const type: ResourceType = { apiVersion: 'example.io/v1', kind: 'Widget', plural: 'widgets', namespaced: true };
  interface Widget {
    apiVersion?: string;
    kind?: string;
    metadata?: { name?: string; namespace?: string; uid?: string };
    status?: { state?: string; error?: string };
  }
  const live: Widget = { metadata: { name: 'w', namespace: 'ns', uid: 'u9' }, status: { state: 'Failed', error: 'x' } };

  test('skips an identical status', async () => {
    const client = new FakeClient();
    const outcome = await new Applier(client).applyStatus(type, live, { state: 'Failed', error: 'x' });
    assert.equal(outcome.result, 'unchanged');
    assert.equal(client.sent.length, 0);
  });

  test('applies a changed status whole to the status subresource', async () => {
    const client = new FakeClient();
    client.replies.push(() => ({ status: 200, body: { ...live, status: { state: 'Ready' } } }));
    const outcome = await new Applier(client).applyStatus(type, live, { state: 'Ready' });
    assert.equal(outcome.result, 'patched');
    assert.deepEqual(outcome.object.status, { state: 'Ready' });
    const sent = client.sent[0]!;
    assert.equal(sent.path, '/apis/example.io/v1/namespaces/ns/widgets/w/status');
    assert.deepEqual(sent.body, {
      apiVersion: 'example.io/v1',
      kind: 'Widget',
      metadata: { name: 'w', namespace: 'ns' },
      status: { state: 'Ready' },
    });
  });
});

describe('Applier.deleteIfPresent', () => {
  const live: ConfigMap = { metadata: { name: 'c', namespace: 'ns', uid: 'u1' } };

  test('sends nothing for an absent object or one already being deleted', async () => {
    const client = new FakeClient();
    const applier = new Applier(client);
    assert.equal(await applier.deleteIfPresent(ResourceTypes.ConfigMap, undefined), 'unchanged');
    const deleting = { metadata: { ...live.metadata, deletionTimestamp: '2024-01-01T00:00:00Z' } };
    assert.equal(await applier.deleteIfPresent(ResourceTypes.ConfigMap, deleting), 'unchanged');
    assert.equal(client.sent.length, 0);
  });

  test('deletes with a uid precondition; gone or replaced objects are unchanged', async () => {
    const client = new FakeClient();
    const applier = new Applier(client);
    client.replies.push(() => ({ status: 200, body: undefined }));
    assert.equal(await applier.deleteIfPresent(ResourceTypes.ConfigMap, live), 'deleted');
    assert.deepEqual(client.sent[0]?.body, { propagationPolicy: 'Background', uid: 'u1' });
    client.replies.push(() => ({ status: 404, body: undefined }));
    assert.equal(await applier.deleteIfPresent(ResourceTypes.ConfigMap, live), 'unchanged');
    client.replies.push(() => {
      throw new KubeApiError(409, { reason: 'Conflict', message: 'Precondition failed: UID' }, 'conflict');
    });
    assert.equal(await applier.deleteIfPresent(ResourceTypes.ConfigMap, live), 'unchanged');
    client.replies.push(() => {
      throw new KubeApiError(403, { reason: 'Forbidden' }, 'forbidden');
    });
    await assert.rejects(applier.deleteIfPresent(ResourceTypes.ConfigMap, live), /forbidden/i);
  });
});
