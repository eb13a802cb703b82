// The informer against a real kube-apiserver: list+watch delivers what happens, and after an outage whose history
// the server no longer has (410 Gone), the relist brings the cache back without missing a delete.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { suite, test } from 'node:test';
import type { ConfigMap, Event as CoreEvent } from 'kubernetes-types/core/v1.js';
import { Informer, objectKey, type InformerClient } from '../../src/runtime/informer.ts';
import {
  KubeClient,
  type KubeObject,
  type ListOptions,
  type ObjectList,
  type Query,
  type WatchEvent,
} from '../../src/runtime/kube/client.ts';
import { loadKubeConfigFile } from '../../src/runtime/kube/config.ts';
import type { ResourceType } from '../../src/runtime/kube/resources.ts';
import { ResourceTypes } from '../../src/runtime/kube/resources.ts';
import { connectCluster, createTestNamespace, waitFor } from '../support/integration.ts';
import { testRootEnv } from '../support/processes.ts';

const cluster = await connectCluster();

const label = 'runtime-informer-test';

function event(namespace: string, name: string, message: string): CoreEvent {
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { namespace, name, labels: { [label]: 'yes' } },
    involvedObject: { apiVersion: 'v1', kind: 'ConfigMap', namespace, name: 'subject' },
    reason: 'RuntimeTest',
    type: 'Normal',
    message,
  };
}

function configMap(namespace: string, name: string, value: string): ConfigMap {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { namespace, name, labels: { [label]: 'yes' } },
    data: { value },
  };
}

/** The real client, plus an outage: while it lasts, open watches are cut and every new request fails to connect. */
class FaultyClient implements InformerClient {
  readonly #client: KubeClient;
  readonly #open = new Set<AbortController>();
  outage = false;
  readonly watchVersions: string[] = [];

  constructor(client: KubeClient) {
    this.#client = client;
  }

  list<T extends KubeObject>(type: ResourceType, options?: ListOptions, signal?: AbortSignal): Promise<ObjectList<T>> {
    if (this.outage) return Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1'));
    return this.#client.list(type, options, signal);
  }

  async *watch<T>(path: string, query: Query, signal?: AbortSignal): AsyncGenerator<WatchEvent<T>> {
    if (this.outage) throw new Error('connect ECONNREFUSED 127.0.0.1');
    this.watchVersions.push(String(query.resourceVersion));
    const cut = new AbortController();
    this.#open.add(cut);
    try {
      const combined = signal !== undefined ? AbortSignal.any([signal, cut.signal]) : cut.signal;
      for await (const event of this.#client.watch<T>(path, query, combined)) yield event;
      if (cut.signal.aborted) throw new Error('read ECONNRESET');
    } finally {
      this.#open.delete(cut);
    }
  }

  /** Starts an outage: open watches are cut and new requests fail. */
  disconnect(): void {
    this.outage = true;
    for (const cut of this.#open) cut.abort();
  }
}

/**
 * The run's etcd, found through its command line: the launcher does not expose it, and compaction (which the
 * apiserver itself only does every 5 minutes) is the one way to make the real server answer 410 Gone now.
 * The data directory is inside this run's temp root, so no other etcd can match.
 */
function etcdUrl(): string {
  const root = process.env[testRootEnv];
  assert.ok(root, `${testRootEnv} is set by the test support`);
  for (const pid of readdirSync('/proc').filter((entry) => /^\d+$/.test(entry))) {
    let args: string[];
    try {
      args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (!args.some((arg) => arg.startsWith(`--data-dir=${root}`))) continue;
    const listen = args.find((arg) => arg.startsWith('--listen-client-urls='));
    if (listen !== undefined) return listen.slice('--listen-client-urls='.length).split(',')[0]!;
  }
  return assert.fail(`no etcd with its data under ${root}`);
}

/** Compacts etcd's history up to now, through its JSON gateway; returns the revision compacted to. */
async function compactEtcd(): Promise<number> {
  const url = etcdUrl();
  const post = async (path: string, body: unknown): Promise<unknown> => {
    const response = await fetch(`${url}${path}`, { method: 'POST', body: JSON.stringify(body) });
    assert.equal(response.status, 200, `etcd ${path}: ${await response.clone().text()}`);
    return response.json();
  };
  const range = (await post('/v3/kv/range', { key: Buffer.from('/').toString('base64') })) as {
    header: { revision: string };
  };
  await post('/v3/kv/compaction', { revision: range.header.revision, physical: true });
  return Number(range.header.revision);
}

suite('informer on a real apiserver', { concurrency: true }, () => {
  test('list+watch delivers adds, updates and deletes, in order, to handlers and cache', async (t) => {
    const { name: namespace, client } = await createTestNamespace(t, cluster);
    await client.create(ResourceTypes.ConfigMap, configMap(namespace, 'before', '1'));
    const informer = new Informer<ConfigMap>({
      client,
      type: ResourceTypes.ConfigMap,
      namespaces: [namespace],
      labelSelector: `${label}=yes`,
    });
    const seen: string[] = [];
    informer.addHandlers({
      onAdd: (o) => seen.push(`add ${o.metadata?.name}=${o.data?.value}`),
      onUpdate: (old, o) => seen.push(`update ${o.metadata?.name} ${old.data?.value}->${o.data?.value}`),
      onDelete: (o) => seen.push(`delete ${o.metadata?.name}`),
    });
    informer.start();
    t.after(() => informer.stop());
    assert.equal(await informer.waitForSync(AbortSignal.timeout(30_000)), true);
    assert.deepEqual(seen, ['add before=1']);
    assert.equal(informer.get(namespace, 'before')?.metadata?.managedFields, undefined);

    await client.create(ResourceTypes.ConfigMap, configMap(namespace, 'a', '1'));
    await client.patch(ResourceTypes.ConfigMap, { namespace, name: 'a' }, { data: { value: '2' } });
    await client.delete(ResourceTypes.ConfigMap, { namespace, name: 'before' });
    // Not selected by the label: never seen.
    await client.create(ResourceTypes.ConfigMap, { metadata: { namespace, name: 'unlabelled' }, data: {} });
    await waitFor(() => seen.length >= 4, { message: () => `four events, saw ${JSON.stringify(seen)}` });
    assert.deepEqual(seen, ['add before=1', 'add a=1', 'update a 1->2', 'delete before']);
    assert.deepEqual(informer.list(namespace).map(objectKey), [`${namespace}/a`]);
    assert.equal(informer.get(namespace, 'a')?.data?.value, '2');
    assert.equal(informer.stats().synced, true);
  });

  // Events, because the apiserver keeps no watch cache for them: their watches are served by etcd, so once etcd's
  // history is compacted, resuming a watch from before the compaction gets the real 410 Gone, as after a long outage.
  test('after an outage and a 410 Gone, the relist brings back every change, deletes included', async (t) => {
    const { name: namespace } = await createTestNamespace(t, cluster);
    const admin = cluster.client;
    const real = new KubeClient(loadKubeConfigFile(cluster.kubeconfigPath));
    t.after(() => real.close());
    const faulty = new FaultyClient(real);
    const type = ResourceTypes.CoreEvent;
    for (const name of ['keep', 'change', 'drop']) await admin.create(type, event(namespace, name, '1'));
    const informer = new Informer<CoreEvent>({
      client: faulty,
      type,
      namespaces: [namespace],
      labelSelector: `${label}=yes`,
      backoff: { initialMs: 50, maxMs: 200 },
    });
    const seen: string[] = [];
    informer.addHandlers({
      onAdd: (o) => seen.push(`add ${o.metadata.name}`),
      onUpdate: (old, o) => seen.push(`update ${o.metadata.name} ${old.message}->${o.message}`),
      onDelete: (o) => seen.push(`delete ${o.metadata.name}`),
    });
    informer.start();
    t.after(() => informer.stop());
    assert.equal(await informer.waitForSync(AbortSignal.timeout(30_000)), true);
    await waitFor(() => faulty.watchVersions.length === 1, { message: 'the first watch' });
    seen.length = 0;

    faulty.disconnect();
    await waitFor(() => informer.stats().failures >= 2, { message: 'failed reconnects during the outage' });
    await admin.patch(type, { namespace, name: 'change' }, { message: '2' });
    await admin.delete(type, { namespace, name: 'drop' });
    await admin.create(type, event(namespace, 'new', '1'));
    assert.deepEqual(seen, [], 'nothing is seen during the outage');
    // History up to now is compacted away: the informer's resumed watch asks for part of it.
    const compactedTo = await compactEtcd();
    const resumeFrom = faulty.watchVersions.at(-1);
    assert.ok(Number(resumeFrom) < compactedTo, `the informer will resume from ${resumeFrom}, before ${compactedTo}`);
    faulty.outage = false;

    await waitFor(() => informer.stats().expired >= 1 && seen.length >= 3, {
      message: () => `the 410 and the relist, saw ${JSON.stringify(seen)} and ${JSON.stringify(informer.stats())}`,
    });
    assert.deepEqual(seen.sort(), ['add new', 'delete drop', 'update change 1->2']);
    assert.equal(informer.stats().lists, 2, 'one relist');
    const truth = await admin.list<CoreEvent>(type, { namespace, labelSelector: `${label}=yes` });
    assert.deepEqual(
      informer.list(namespace).map(objectKey).sort(),
      truth.items.map(objectKey).sort(),
      'the cache equals the server',
    );

    // And it follows the server again from the relist on.
    await admin.patch(type, { namespace, name: 'keep' }, { message: '3' });
    await waitFor(() => informer.get(namespace, 'keep')?.message === '3', { message: 'the update after recovery' });
  });
});
