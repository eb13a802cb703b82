import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ConfigMap } from 'kubernetes-types/core/v1.js';
import { ManualClock } from '../../src/runtime/clock.ts';
import {
  backoffDelayMs,
  diffRelist,
  dropManagedFields,
  Informer,
  objectKey,
  type InformerOptions,
} from '../../src/runtime/informer.ts';
import {
  KubeApiError,
  KubeTransportError,
  type ListOptions,
  type ObjectList,
  type Query,
  type WatchEvent,
} from '../../src/runtime/kube/client.ts';
import { ResourceTypes, type ResourceType } from '../../src/runtime/kube/resources.ts';
import { ApiConnectivity } from '../../src/runtime/kube/connectivity.ts';

async function waitFor(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

interface Stream {
  readonly namespace: string | undefined;
  readonly queue: WatchEvent<ConfigMap>[];
  wake: () => void;
  error?: Error;
  closed: boolean;
}

/**
 * An in-memory API server for one resource type: objects, a change log with resourceVersions, compaction (watching
 * from before it answers 410), paginated LIST, and WATCH streams that can be broken, closed or left silent.
 */
class FakeServer {
  rv = 100;
  readonly objects = new Map<string, ConfigMap>();
  readonly log: { rv: number; event: WatchEvent<ConfigMap> }[] = [];
  compactedBefore = 0;
  readonly lists: ListOptions[] = [];
  readonly watches: Query[] = [];
  readonly listErrors: Error[] = [];
  readonly watchErrors: Error[] = [];
  readonly streams = new Set<Stream>();
  expireContinueTokens = false;

  put(namespace: string, name: string, value: string): ConfigMap {
    const object: ConfigMap = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        namespace,
        name,
        resourceVersion: String(++this.rv),
        managedFields: [{ manager: 'test', operation: 'Apply' }],
      },
      data: { value },
    };
    const type = this.objects.has(`${namespace}/${name}`) ? 'MODIFIED' : 'ADDED';
    this.objects.set(`${namespace}/${name}`, object);
    this.#publish({ type, object });
    return object;
  }

  remove(namespace: string, name: string): void {
    const object = this.objects.get(`${namespace}/${name}`);
    if (object === undefined) throw new Error('no such object');
    this.objects.delete(`${namespace}/${name}`);
    this.#publish({
      type: 'DELETED',
      object: { ...object, metadata: { ...object.metadata, resourceVersion: String(++this.rv) } },
    });
  }

  bookmark(): void {
    for (const stream of this.streams) {
      stream.queue.push({ type: 'BOOKMARK', object: { metadata: { resourceVersion: String(this.rv) } } });
      stream.wake();
    }
  }

  breakWatches(error: Error): void {
    for (const stream of this.streams) {
      stream.error = error;
      stream.wake();
    }
  }

  closeWatches(): void {
    for (const stream of this.streams) {
      stream.closed = true;
      stream.wake();
    }
  }

  /** Forgets history: watching from any resourceVersion before now answers 410 Gone. */
  compact(): void {
    this.compactedBefore = this.rv;
  }

  list<T>(_type: ResourceType, options: ListOptions = {}, _signal?: AbortSignal): Promise<ObjectList<T>> {
    this.lists.push(options);
    const error = this.listErrors.shift();
    if (error !== undefined) return Promise.reject(error);
    if (options.continue !== undefined && this.expireContinueTokens) {
      return Promise.reject(new KubeApiError(410, { reason: 'Expired', message: 'continue token expired' }, 'gone'));
    }
    const all = [...this.objects.values()]
      .filter((object) => options.namespace === undefined || object.metadata?.namespace === options.namespace)
      .sort((a, b) => objectKey(a).localeCompare(objectKey(b)))
      // LIST items come without apiVersion and kind.
      .map(({ apiVersion: _a, kind: _k, ...item }) => structuredClone(item));
    const start = Number(options.continue ?? 0);
    const end = options.limit !== undefined ? start + options.limit : all.length;
    const items = all.slice(start, end) as T[];
    const more = end < all.length ? String(end) : undefined;
    return Promise.resolve({ metadata: { resourceVersion: String(this.rv), continue: more }, items });
  }

  async *watch<T>(path: string, query: Query, signal?: AbortSignal): AsyncGenerator<WatchEvent<T>> {
    await Promise.resolve();
    this.watches.push(query);
    const namespace = /\/namespaces\/([^/]+)\//.exec(path)?.[1];
    const from = Number(query.resourceVersion);
    if (from < this.compactedBefore) {
      throw new KubeApiError(410, { reason: 'Expired', message: `too old resource version: ${from}` }, 'gone');
    }
    const error = this.watchErrors.shift();
    if (error !== undefined) throw error;
    const stream: Stream = {
      namespace,
      queue: this.log
        .filter(
          (entry) =>
            entry.rv > from && (namespace === undefined || entry.event.object.metadata?.namespace === namespace),
        )
        .map((entry) => entry.event),
      wake: () => undefined,
      closed: false,
    };
    this.streams.add(stream);
    try {
      for (;;) {
        const event = stream.queue.shift();
        if (event !== undefined) {
          yield structuredClone(event) as WatchEvent<T>;
          continue;
        }
        if (stream.error !== undefined) throw stream.error;
        if (stream.closed || signal?.aborted === true) return;
        await new Promise<void>((resolve) => {
          stream.wake = resolve;
          signal?.addEventListener('abort', () => resolve(), { once: true });
        });
      }
    } finally {
      this.streams.delete(stream);
    }
  }

  #publish(event: WatchEvent<ConfigMap>): void {
    this.log.push({ rv: this.rv, event });
    for (const stream of this.streams) {
      if (stream.namespace !== undefined && stream.namespace !== event.object.metadata?.namespace) continue;
      stream.queue.push(event);
      stream.wake();
    }
  }
}

type Seen = [string, string, string?];

function setup(overrides: Partial<InformerOptions<ConfigMap>> = {}): {
  server: FakeServer;
  clock: ManualClock;
  informer: Informer<ConfigMap>;
  seen: Seen[];
} {
  const server = new FakeServer();
  const clock = new ManualClock();
  const informer = new Informer<ConfigMap>({
    client: server,
    type: ResourceTypes.ConfigMap,
    clock,
    random: () => 0.5,
    ...overrides,
  });
  const seen: Seen[] = [];
  const value = (object: ConfigMap): string => object.data?.value ?? '';
  informer.addHandlers({
    onAdd: (object) => seen.push(['add', objectKey(object), value(object)]),
    onUpdate: (old, object) => seen.push(['update', objectKey(object), `${value(old)}->${value(object)}`]),
    onDelete: (object) => seen.push(['delete', objectKey(object)]),
  });
  return { server, clock, informer, seen };
}

describe('informer helpers', () => {
  test('objectKey and dropManagedFields', () => {
    assert.equal(objectKey({ metadata: { namespace: 'ns', name: 'a' } }), 'ns/a');
    assert.equal(objectKey({ metadata: { name: 'node1' } }), 'node1');
    const object: ConfigMap = { metadata: { name: 'a', managedFields: [{ manager: 'x' }] }, data: { k: 'v' } };
    assert.deepEqual(dropManagedFields(object), { metadata: { name: 'a' }, data: { k: 'v' } });
    assert.ok(object.metadata?.managedFields, 'the original is untouched');
  });

  test('diffRelist finds adds, changes and deletes, and ignores the unchanged', () => {
    const cm = (name: string, rv: string): ConfigMap => ({ metadata: { namespace: 'n', name, resourceVersion: rv } });
    const cached = new Map([
      ['n/same', cm('same', '1')],
      ['n/changed', cm('changed', '2')],
      ['n/gone', cm('gone', '3')],
    ]);
    const diff = diffRelist(cached, [cm('same', '1'), cm('changed', '9'), cm('new', '10')]);
    assert.deepEqual(
      diff.added.map((o) => o.metadata?.name),
      ['new'],
    );
    assert.deepEqual(
      diff.updated.map((u) => [u.old.metadata?.resourceVersion, u.new.metadata?.resourceVersion]),
      [['2', '9']],
    );
    assert.deepEqual(
      diff.deleted.map((o) => o.metadata?.name),
      ['gone'],
    );
  });

  test('backoff doubles, caps, and jitters within [delay/2, delay]', () => {
    assert.equal(
      backoffDelayMs(0, 800, 30_000, () => 0),
      400,
    );
    assert.equal(
      backoffDelayMs(0, 800, 30_000, () => 1),
      800,
    );
    assert.equal(
      backoffDelayMs(3, 800, 30_000, () => 1),
      6400,
    );
    assert.equal(
      backoffDelayMs(10, 800, 30_000, () => 1),
      30_000,
    );
    assert.equal(
      backoffDelayMs(10, 800, 30_000, () => 0),
      15_000,
    );
    assert.equal(
      backoffDelayMs(10_000, 800, 30_000, () => 0.5),
      22_500,
    );
  });
});

describe('Informer', () => {
  test('lists (paginated), then watches with bookmarks and a random timeout, delivering adds, updates and deletes', async () => {
    const { server, informer, seen } = setup({ pageSize: 2 });
    for (const name of ['a', 'b', 'c', 'd', 'e']) server.put('ns', name, '1');
    informer.start();
    assert.equal(await informer.waitForSync(), true);
    assert.equal(informer.hasSynced(), true);
    assert.deepEqual(
      server.lists.map((l) => [l.limit, l.continue]),
      [
        [2, undefined],
        [2, '2'],
        [2, '4'],
      ],
    );
    assert.deepEqual(
      seen.map(([kind, key]) => `${kind} ${key}`),
      ['add ns/a', 'add ns/b', 'add ns/c', 'add ns/d', 'add ns/e'],
    );
    const cached = informer.get('ns', 'a')!;
    assert.equal(cached.kind, 'ConfigMap', 'listed items get their kind back');
    assert.equal(cached.apiVersion, 'v1');
    assert.equal(cached.metadata?.managedFields, undefined, 'managedFields are dropped by default');

    await waitFor(() => server.streams.size === 1, 'the watch');
    const query = server.watches[0]!;
    assert.equal(query.resourceVersion, '105');
    assert.equal(query.allowWatchBookmarks, true);
    assert.ok(Number(query.timeoutSeconds) >= 300 && Number(query.timeoutSeconds) <= 600);

    seen.length = 0;
    let cachedDuringHandler: ConfigMap | undefined;
    informer.addHandlers({
      onUpdate: (_old, object) => (cachedDuringHandler = informer.get('ns', object.metadata!.name!)),
    });
    server.put('ns', 'f', '1');
    server.put('ns', 'a', '2');
    server.remove('ns', 'b');
    await waitFor(() => seen.length === 3, 'three events');
    assert.deepEqual(seen, [
      ['add', 'ns/f', '1'],
      ['update', 'ns/a', '1->2'],
      ['delete', 'ns/b'],
    ]);
    assert.equal(cachedDuringHandler?.data?.value, '2', 'handlers see the updated cache');
    assert.equal(informer.get('ns', 'b'), undefined);
    assert.deepEqual(informer.list('ns').map(objectKey).sort(), ['ns/a', 'ns/c', 'ns/d', 'ns/e', 'ns/f']);
    assert.equal(informer.stats().objects, 5);
    await informer.stop();
  });

  test('late handlers get the cache replayed as adds', async () => {
    const { server, informer } = setup();
    server.put('ns', 'a', '1');
    informer.start();
    await informer.waitForSync();
    const late: string[] = [];
    informer.addHandlers({ onAdd: (object) => late.push(objectKey(object)) });
    assert.deepEqual(late, ['ns/a']);
    await informer.stop();
  });

  test('after a network error it backs off and re-watches from the last resourceVersion (a bookmark counts), without relisting', async () => {
    const { server, clock, informer, seen } = setup({ backoff: { initialMs: 1000, maxMs: 8000 } });
    server.put('ns', 'a', '1');
    informer.start();
    await waitFor(() => server.streams.size === 1, 'the watch');
    server.put('other', 'x', '1');
    server.bookmark();
    await waitFor(() => informer.stats().events === 2, 'the event and the bookmark');
    server.breakWatches(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }));
    await waitFor(() => informer.stats().failures === 1, 'the failure');
    assert.match(informer.stats().lastError?.message ?? '', /ECONNRESET/);
    assert.equal(server.watches.length, 1, 'no retry before the backoff');
    await clock.advance(750); // backoff 1000 ms with jitter 0.5 -> 750 ms
    await waitFor(() => server.streams.size === 1, 'the new watch');
    assert.equal(server.watches[1]!.resourceVersion, String(server.rv), 'resumes from the bookmark');
    assert.equal(server.lists.length, 1, 'no relist');
    server.put('ns', 'a', '2');
    await waitFor(() => seen.length === 3, 'the update after the restart');
    assert.deepEqual(seen.at(-1), ['update', 'ns/a', '1->2']);
    await informer.stop();
  });

  test('backoff grows with consecutive failures and resets after a healthy watch', async () => {
    const { server, clock, informer } = setup({ backoff: { initialMs: 1000, maxMs: 3000 } });
    server.listErrors.push(new Error('connect ECONNREFUSED'), new Error('connect ECONNREFUSED'), new Error('HTTP 503'));
    informer.start();
    await waitFor(() => informer.stats().failures === 1, 'first failure');
    await clock.advance(749);
    assert.equal(server.lists.length, 1);
    await clock.advance(1);
    await waitFor(() => informer.stats().failures === 2, 'second failure');
    await clock.advance(1499);
    assert.equal(server.lists.length, 2);
    await clock.advance(1);
    await waitFor(() => informer.stats().failures === 3, 'third failure');
    await clock.advance(2249); // capped at 3000 -> 2250
    assert.equal(server.lists.length, 3);
    await clock.advance(1);
    assert.equal(await informer.waitForSync(), true);
    await waitFor(() => server.streams.size === 1, 'the watch');
    server.put('ns', 'a', '1');
    await waitFor(() => informer.stats().events === 1, 'an event');
    server.breakWatches(new Error('boom'));
    await waitFor(() => informer.stats().failures === 4, 'failure after a healthy watch');
    await clock.advance(750);
    await waitFor(() => server.streams.size === 1, 'the watch again, after the base delay');
    await informer.stop();
  });

  test('while the server does not answer it waits for the connectivity probe, and relists the moment it answers', async () => {
    const clock = new ManualClock();
    // The probe never gets an answer here; the test reports the server's return itself, as any answered request would.
    const connectivity = new ApiConnectivity({ clock, probe: () => Promise.resolve() });
    const { server, informer } = setup({ clock, connectivity, backoff: { initialMs: 1000, maxMs: 30_000 } });
    const refused = (): Error => {
      connectivity.unreachable();
      return new KubeTransportError({ verb: 'GET', path: '/api/v1/configmaps' }, new Error('connect ECONNREFUSED'));
    };
    server.listErrors.push(refused());
    informer.start();
    await waitFor(() => informer.stats().failures === 1, 'the refused list');
    await clock.advance(60_000);
    assert.equal(server.lists.length, 1, 'no list of its own while the server is unreachable');
    connectivity.answered();
    assert.equal(await informer.waitForSync(), true, 'relisted at once, without waiting out a backoff');
    assert.equal(server.lists.length, 2);
    await informer.stop();
    connectivity.close();
  });

  test('410 Gone relists at once, and the relist diff misses no delete made while disconnected', async () => {
    const { server, clock, informer, seen } = setup({ backoff: { initialMs: 1000, maxMs: 1000 } });
    server.put('ns', 'keep', '1');
    server.put('ns', 'change', '1');
    server.put('ns', 'drop', '1');
    informer.start();
    await waitFor(() => server.streams.size === 1, 'the watch');
    // Disconnected: the watch breaks, and while we are away objects change and history is compacted.
    server.breakWatches(new Error('socket hang up'));
    await waitFor(() => informer.stats().failures === 1, 'the disconnect');
    server.put('ns', 'change', '2');
    server.remove('ns', 'drop');
    server.put('ns', 'new', '1');
    server.compact();
    seen.length = 0;
    await clock.advance(750);
    // The re-watch meets the compaction (410) and relists without waiting for another backoff.
    await waitFor(() => server.lists.length === 2 && server.streams.size === 1, 'the relist and the new watch');
    assert.equal(informer.stats().expired, 1);
    assert.deepEqual(
      seen.sort((a, b) => a[1].localeCompare(b[1])),
      [
        ['update', 'ns/change', '1->2'],
        ['delete', 'ns/drop'],
        ['add', 'ns/new', '1'],
      ],
    );
    assert.deepEqual(informer.list().map(objectKey).sort(), ['ns/change', 'ns/keep', 'ns/new']);
    assert.equal(server.watches.at(-1)!.resourceVersion, String(server.rv), 'watches from the relist');
    await informer.stop();
  });

  test('a continue token that expires mid-list falls back to one full list', async () => {
    const { server, informer } = setup({ pageSize: 1 });
    server.put('ns', 'a', '1');
    server.put('ns', 'b', '1');
    server.expireContinueTokens = true;
    informer.start();
    assert.equal(await informer.waitForSync(), true);
    assert.deepEqual(
      server.lists.map((l) => [l.limit, l.continue]),
      [
        [1, undefined],
        [1, '1'],
        [undefined, undefined],
      ],
    );
    assert.equal(informer.list().length, 2);
    await informer.stop();
  });

  test('a silent watch is restarted by the watchdog', async () => {
    const { server, clock, informer } = setup({ watchSilenceMs: 10_000 });
    informer.start();
    await waitFor(() => server.streams.size === 1, 'the watch');
    await clock.advance(9_999);
    assert.equal(informer.stats().watchdogRestarts, 0);
    server.bookmark();
    await waitFor(() => informer.stats().events === 1, 'the bookmark');
    await clock.advance(9_999);
    assert.equal(informer.stats().watchdogRestarts, 0, 'a bookmark re-arms the watchdog');
    await clock.advance(1);
    await waitFor(() => informer.stats().watchdogRestarts === 1, 'the watchdog');
    assert.match(informer.stats().lastError?.message ?? '', /silent/);
    await clock.advance(1000);
    await waitFor(() => server.streams.size === 1 && server.watches.length === 2, 'the new watch');
    assert.equal(server.lists.length, 1, 'the restart resumes the watch, no relist');
    await informer.stop();
  });

  test('a watch the server ends normally is resumed at once', async () => {
    const { server, informer } = setup();
    informer.start();
    await waitFor(() => server.streams.size === 1, 'the watch');
    server.bookmark();
    await waitFor(() => informer.stats().events === 1, 'the bookmark');
    server.closeWatches();
    await waitFor(() => server.watches.length === 2 && server.streams.size === 1, 'the resumed watch');
    assert.equal(informer.stats().failures, 0);
    await informer.stop();
  });

  test('resync re-delivers every cached object, to onResync or else as an update', async () => {
    const { server, clock, informer, seen } = setup({ resyncPeriodMs: 60_000 });
    server.put('ns', 'a', '1');
    server.put('ns', 'b', '1');
    const resynced: string[] = [];
    informer.addHandlers({ onResync: (object) => resynced.push(objectKey(object)) });
    informer.start();
    await informer.waitForSync();
    seen.length = 0;
    await clock.advance(60_000);
    assert.deepEqual(resynced.sort(), ['ns/a', 'ns/b']);
    assert.deepEqual(seen, [
      ['update', 'ns/a', '1->1'],
      ['update', 'ns/b', '1->1'],
    ]);
    await clock.advance(60_000);
    assert.equal(resynced.length, 4);
    await informer.stop();
    assert.equal(clock.pending, 0, 'stop cancels the resync timer');
  });

  test('one LIST+WATCH per namespace; a relist of one namespace leaves the others alone', async () => {
    const { server, informer, seen } = setup({ namespaces: ['a', 'b'] });
    server.put('a', 'x', '1');
    server.put('b', 'y', '1');
    server.put('c', 'z', '1');
    informer.start();
    await informer.waitForSync();
    await waitFor(() => server.streams.size === 2, 'two watches');
    assert.deepEqual(server.lists.map((l) => l.namespace).sort(), ['a', 'b']);
    assert.deepEqual(informer.list().map(objectKey).sort(), ['a/x', 'b/y']);
    server.put('c', 'z', '2');
    server.put('b', 'y', '2');
    await waitFor(() => seen.length === 3, 'the update in b');
    assert.deepEqual(seen.at(-1), ['update', 'b/y', '1->2']);
    await informer.stop();
  });

  test('indexes answer byIndex and follow updates and deletes', async () => {
    const { server, informer } = setup({ indexers: { value: (object) => [object.data?.value ?? ''] } });
    server.put('ns', 'a', 'red');
    server.put('ns', 'b', 'red');
    informer.start();
    await informer.waitForSync();
    assert.deepEqual(informer.byIndex('value', 'red').map(objectKey).sort(), ['ns/a', 'ns/b']);
    await waitFor(() => server.streams.size === 1, 'the watch');
    server.put('ns', 'a', 'blue');
    server.remove('ns', 'b');
    await waitFor(() => informer.get('ns', 'b') === undefined, 'the delete');
    assert.deepEqual(informer.byIndex('value', 'red'), []);
    assert.deepEqual(informer.byIndex('value', 'blue').map(objectKey), ['ns/a']);
    assert.throws(() => informer.byIndex('nope', 'x'), /no index/);
    await informer.stop();
  });

  test('a throwing handler does not stop the others or the informer', async () => {
    const { server, informer, seen } = setup();
    informer.addHandlers({
      onAdd: () => {
        throw new Error('handler bug');
      },
    });
    server.put('ns', 'a', '1');
    informer.start();
    await informer.waitForSync();
    await waitFor(() => server.streams.size === 1, 'the watch');
    server.put('ns', 'b', '1');
    await waitFor(() => seen.length === 2, 'both adds');
    await informer.stop();
  });

  test('nothing is delivered after stop, and waitForSync answers false', async () => {
    const { server, informer, seen } = setup();
    server.listErrors.push(new Error('down'));
    informer.start();
    const synced = informer.waitForSync();
    await waitFor(() => informer.stats().failures === 1, 'the failure');
    await informer.stop();
    assert.equal(await synced, false);
    assert.equal(informer.stats().running, false);
    server.put('ns', 'a', '1');
    assert.deepEqual(seen, []);
    assert.equal(server.streams.size, 0);
  });

  test('waitForSync honours its signal', async () => {
    const { server, informer } = setup();
    server.listErrors.push(new Error('down'));
    informer.start();
    const controller = new AbortController();
    const synced = informer.waitForSync(controller.signal);
    controller.abort();
    assert.equal(await synced, false);
    await informer.stop();
  });
});
