// A client-go style informer for one resource type: LIST, then WATCH from the list's resourceVersion, feeding an
// in-memory cache and handlers. The operator reads only this cache, so it must never silently miss a change:
// - every error (network, 5xx, apiserver restart) restarts the watch from the last resourceVersion, after an
//   exponential backoff with jitter, so a fleet of operators does not hammer a recovering apiserver in lockstep;
// - 410 Gone (the resourceVersion was compacted away) relists, and the relist is DIFFED against the cache, so an
//   object deleted while we were disconnected produces a delete, not a silently stale cache entry;
// - a watchdog restarts a watch that has been silent too long (a half-open connection gives no error at all);
// - periodic resync re-delivers every cached object, the safety net of a level-triggered controller;
// - while the apiserver does not answer at all, the informer waits for the client's connectivity probe instead of
//   retrying on its own, and relists as soon as the server answers again, not at the end of a grown backoff.
import type { KubeClient, KubeObject, ObjectList, Query, WatchEvent } from './kube/client.ts';
import { isGone, isTransportError } from './kube/client.ts';
import type { ConnectivityGate } from './kube/connectivity.ts';
import { resourcePath, type ResourceType } from './kube/resources.ts';
import { sleep, systemClock, type Clock, type TimerHandle } from './clock.ts';
import { silentLogger, type Logger } from './logger.ts';
import type { Semaphore } from './semaphore.ts';

export type InformerClient = Pick<KubeClient, 'list' | 'watch'>;

/**
 * Callbacks run synchronously, after the cache has been updated (so `informer.get` already sees the change).
 * They should only enqueue work: a slow handler delays every later event of this informer.
 */
export interface InformerHandlers<T> {
  onAdd?(object: T): void;
  onUpdate?(oldObject: T, newObject: T): void;
  /** The last state known: the deleted object from the watch, or the cached one when a relist found it gone. */
  onDelete?(object: T): void;
  /** Periodic resync of a cached object; without it, resync calls onUpdate(object, object) as client-go does. */
  onResync?(object: T): void;
}

export interface BackoffOptions {
  /** Delay after the first failure; default 800 ms (client-go's reflector). */
  readonly initialMs?: number;
  /** Longest delay; default 30 s. */
  readonly maxMs?: number;
}

export interface InformerOptions<T extends KubeObject> {
  readonly client: InformerClient;
  readonly type: ResourceType;
  /**
   * Namespaces to watch, one LIST+WATCH each; undefined or empty means all namespaces with one cluster-wide watch.
   * Ignored for cluster-scoped types.
   */
  readonly namespaces?: readonly string[];
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  /** Applied to every object before it is cached and handed out; default `dropManagedFields`. */
  readonly transform?: (object: T) => T;
  /** Secondary indexes: name -> function giving the index values of an object; query with `byIndex`. */
  readonly indexers?: Readonly<Record<string, (object: T) => readonly string[]>>;
  /** Re-deliver every cached object this often; undefined or 0 turns resync off. */
  readonly resyncPeriodMs?: number;
  /** Bounds of the random server-side watch timeout, in seconds; default [300, 600] like client-go. */
  readonly watchTimeoutSeconds?: readonly [number, number];
  /**
   * Restart a watch that delivered neither an event nor a bookmark for this long; default 5 min. The apiserver
   * sends bookmarks about once a minute on busy types; an idle type costs one cheap re-watch per period.
   */
  readonly watchSilenceMs?: number;
  readonly backoff?: BackoffOptions;
  /** Where a request that got no answer waits for the server (KubeClient.connectivity); without it, the backoff. */
  readonly connectivity?: ConnectivityGate;
  /** Shared by the informers whose LISTs should not run at once (see semaphore.ts); default: no limit. */
  readonly listSlots?: Semaphore;
  /** LIST page size; default 500. */
  readonly pageSize?: number;
  readonly clock?: Clock;
  /** Random numbers in [0, 1), for jitter; injectable for tests. */
  readonly random?: () => number;
  readonly logger?: Logger;
}

export interface InformerStats {
  /** e.g. "statefulsets.apps", "pods". */
  readonly resource: string;
  readonly running: boolean;
  readonly synced: boolean;
  readonly objects: number;
  /** LIST rounds: the initial list of each namespace, then one per relist. */
  readonly lists: number;
  /** 410 Gone answers, each followed by a relist. */
  readonly expired: number;
  readonly watches: number;
  /** Watch events received, bookmarks included. */
  readonly events: number;
  /** Failures followed by a backoff (any error other than a first 410). */
  readonly failures: number;
  readonly watchdogRestarts: number;
  readonly lastError?: { readonly message: string; readonly at: number };
  /** Clock time of the last event or bookmark. */
  readonly lastEventAt?: number;
}

/** Why a watch was restarted by the watchdog; reported as the informer's last error. */
export class WatchSilentError extends Error {
  constructor(ms: number) {
    super(`watch silent for ${ms} ms (no event, no bookmark); restarting it`);
    this.name = 'WatchSilentError';
  }
}

/** The cache key: `namespace/name`, or `name` for cluster-scoped objects (client-go's MetaNamespaceKeyFunc). */
export function objectKey(object: KubeObject): string {
  const meta = object.metadata ?? {};
  const name = meta.name ?? '';
  return meta.namespace !== undefined && meta.namespace !== '' ? `${meta.namespace}/${name}` : name;
}

/** Drops `metadata.managedFields`: often half an object's size, and nothing an operator reads. */
export function dropManagedFields<T extends KubeObject>(object: T): T {
  if (object.metadata?.managedFields === undefined) return object;
  const { managedFields: _managedFields, ...metadata } = object.metadata;
  return { ...object, metadata };
}

export interface RelistDiff<T> {
  readonly added: readonly T[];
  readonly updated: readonly { readonly old: T; readonly new: T }[];
  readonly deleted: readonly T[];
}

/**
 * What changed between the cached objects of a scope and a fresh LIST of it: objects new to the cache, objects
 * whose resourceVersion changed, and cached objects the list no longer has (deleted while we were not watching).
 */
export function diffRelist<T extends KubeObject>(cached: ReadonlyMap<string, T>, listed: readonly T[]): RelistDiff<T> {
  const added: T[] = [];
  const updated: { old: T; new: T }[] = [];
  const seen = new Set<string>();
  for (const object of listed) {
    const key = objectKey(object);
    seen.add(key);
    const old = cached.get(key);
    if (old === undefined) added.push(object);
    else if (old.metadata?.resourceVersion !== object.metadata?.resourceVersion) updated.push({ old, new: object });
  }
  const deleted = [...cached].filter(([key]) => !seen.has(key)).map(([, object]) => object);
  return { added, updated, deleted };
}

/**
 * The delay before retry number `failures` (0-based): `initialMs * 2^failures` capped at `maxMs`, then "equal
 * jitter" (a uniform value in [delay/2, delay]), so retries spread out but never exceed the cap.
 */
export function backoffDelayMs(failures: number, initialMs: number, maxMs: number, random: () => number): number {
  const delay = Math.min(maxMs, initialMs * 2 ** Math.min(failures, 64));
  return delay / 2 + (random() * delay) / 2;
}

const namespaceIndex = '\u0000namespace';
const minWatchMs = 1_000;

interface Loop {
  readonly namespace: string | undefined;
  /** Where the next watch starts: the last event's (or list's) resourceVersion; undefined means relist. */
  resourceVersion: string | undefined;
  /** Consecutive failures; reset by any watch event. */
  failures: number;
  /** A 410 was answered since the last watch event: another one means something is wrong, so back off. */
  expired: boolean;
  synced: boolean;
}

export class Informer<T extends KubeObject> {
  readonly type: ResourceType;
  readonly resource: string;
  readonly #client: InformerClient;
  readonly #options: InformerOptions<T>;
  readonly #transform: (object: T) => T;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #logger: Logger;
  readonly #cache = new Map<string, T>();
  readonly #indexers: ReadonlyMap<string, (object: T) => readonly string[]>;
  readonly #indexes = new Map<string, Map<string, Set<string>>>();
  readonly #handlers = new Set<InformerHandlers<T>>();
  readonly #loops: Loop[];
  readonly #stop = new AbortController();
  readonly #syncWaiters = new Set<(synced: boolean) => void>();
  #running: Promise<void>[] = [];
  #started = false;
  #resyncTimer: TimerHandle | undefined;
  #stats = { lists: 0, expired: 0, watches: 0, events: 0, failures: 0, watchdogRestarts: 0 };
  #lastError: { message: string; at: number } | undefined;
  #lastEventAt: number | undefined;

  constructor(options: InformerOptions<T>) {
    this.#options = options;
    this.#client = options.client;
    this.type = options.type;
    const group = options.type.apiVersion.includes('/') ? options.type.apiVersion.split('/')[0] : '';
    this.resource = group === '' ? options.type.plural : `${options.type.plural}.${group}`;
    this.#transform = options.transform ?? dropManagedFields;
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? Math.random;
    this.#logger = (options.logger ?? silentLogger).child({ informer: this.resource });
    const namespaces =
      options.type.namespaced && (options.namespaces?.length ?? 0) > 0 ? options.namespaces : [undefined];
    this.#loops = [...new Set(namespaces)].map((namespace) => ({
      namespace,
      resourceVersion: undefined,
      failures: 0,
      expired: false,
      synced: false,
    }));
    this.#indexers = new Map([
      [namespaceIndex, (object: T) => [object.metadata?.namespace ?? '']],
      ...Object.entries(options.indexers ?? {}),
    ]);
    for (const name of this.#indexers.keys()) this.#indexes.set(name, new Map());
  }

  /**
   * Registers handlers. Objects already cached are delivered to them as adds (as client-go does for late
   * handlers), so registering before or after `start` sees the same stream. Returns the unregister function.
   */
  addHandlers(handlers: InformerHandlers<T>): () => void {
    this.#handlers.add(handlers);
    if (!this.#stop.signal.aborted) {
      for (const object of this.#cache.values()) this.#call(() => handlers.onAdd?.(object));
    }
    return () => {
      this.#handlers.delete(handlers);
    };
  }

  /** Starts listing and watching, in the background; an informer starts once. Errors never end it: see stats(). */
  start(): void {
    if (this.#started) throw new Error(`informer ${this.resource} was already started`);
    this.#started = true;
    const signal = this.#stop.signal;
    this.#running = this.#loops.map((loop) => this.#run(loop, signal));
    this.#scheduleResync();
  }

  /** Stops every request and timer; resolves when all have ended. No handler is called once stop() was called. */
  async stop(): Promise<void> {
    this.#stop.abort();
    if (this.#resyncTimer !== undefined) this.#clock.clearTimeout(this.#resyncTimer);
    this.#resyncTimer = undefined;
    for (const resolve of this.#syncWaiters) resolve(false);
    this.#syncWaiters.clear();
    await Promise.all(this.#running);
  }

  /** Whether every namespace has been listed once; stays true across later relists (the cache stays usable). */
  hasSynced(): boolean {
    return this.#loops.every((loop) => loop.synced);
  }

  /** Resolves true once synced, false if the informer stops or `signal` aborts first. */
  waitForSync(signal?: AbortSignal): Promise<boolean> {
    if (this.hasSynced()) return Promise.resolve(true);
    if (this.#stop.signal.aborted || signal?.aborted === true) return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = (synced: boolean): void => {
        this.#syncWaiters.delete(done);
        signal?.removeEventListener('abort', onAbort);
        resolve(synced);
      };
      const onAbort = (): void => done(false);
      this.#syncWaiters.add(done);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** The cached object, or undefined. Cached objects are shared: never mutate them. */
  get(namespace: string | undefined, name: string): T | undefined {
    return this.#cache.get(namespace !== undefined && namespace !== '' ? `${namespace}/${name}` : name);
  }

  getByKey(key: string): T | undefined {
    return this.#cache.get(key);
  }

  /** Cached objects, of one namespace if given (from an index, not a scan). */
  list(namespace?: string): T[] {
    return namespace === undefined ? [...this.#cache.values()] : this.byIndex(namespaceIndex, namespace);
  }

  /** Cached objects whose indexer (see InformerOptions.indexers) gave `value`. */
  byIndex(indexName: string, value: string): T[] {
    const index = this.#indexes.get(indexName);
    if (index === undefined) throw new Error(`informer ${this.resource} has no index ${JSON.stringify(indexName)}`);
    const keys = index.get(value);
    if (keys === undefined) return [];
    const objects: T[] = [];
    for (const key of keys) {
      const object = this.#cache.get(key);
      if (object !== undefined) objects.push(object);
    }
    return objects;
  }

  stats(): InformerStats {
    return {
      resource: this.resource,
      running: this.#started && !this.#stop.signal.aborted,
      synced: this.hasSynced(),
      objects: this.#cache.size,
      ...this.#stats,
      ...(this.#lastError !== undefined ? { lastError: this.#lastError } : {}),
      ...(this.#lastEventAt !== undefined ? { lastEventAt: this.#lastEventAt } : {}),
    };
  }

  async #run(loop: Loop, signal: AbortSignal): Promise<void> {
    while (!this.#stopped()) {
      try {
        loop.resourceVersion ??= await this.#relist(loop, signal);
        if (this.#stopped()) break;
        await this.#watch(loop, loop.resourceVersion, signal);
      } catch (error) {
        if (this.#stopped()) break;
        this.#lastError = { message: error instanceof Error ? error.message : String(error), at: this.#clock.now() };
        if (isGone(error)) {
          this.#stats.expired++;
          loop.resourceVersion = undefined;
          // A 410 is routine (compaction, or a long disconnect) and proves the server answers: relist at once.
          // Only a second one without a watch event in between backs off.
          if (!loop.expired) {
            loop.expired = true;
            this.#logger.info('resourceVersion expired; relisting', { namespace: loop.namespace });
            continue;
          }
        }
        if (error instanceof WatchSilentError) this.#stats.watchdogRestarts++;
        const connectivity = this.#options.connectivity;
        if (isTransportError(error) && connectivity !== undefined && !connectivity.reachable) {
          // The probe is the backoff: one request per delay for the whole client, whatever the number of informers.
          this.#stats.failures++;
          this.#logger.warn('apiserver unreachable; waiting for it to answer', { namespace: loop.namespace, error });
          await connectivity.whenReachable(signal);
          continue;
        }
        const delay = backoffDelayMs(
          loop.failures,
          this.#options.backoff?.initialMs ?? 800,
          this.#options.backoff?.maxMs ?? 30_000,
          this.#random,
        );
        loop.failures++;
        this.#stats.failures++;
        this.#logger.warn('list/watch failed; retrying', {
          namespace: loop.namespace,
          error,
          retryInMs: Math.round(delay),
          failures: loop.failures,
        });
        await sleep(this.#clock, delay, signal);
      }
    }
  }

  /** A method, not `signal.aborted` inline: the type checker would take the value as fixed across awaits. */
  #stopped(): boolean {
    return this.#stop.signal.aborted;
  }

  /** Lists the loop's scope (paginated, each item prepared), diffs it into the cache, and returns the list's resourceVersion. */
  async #relist(loop: Loop, signal: AbortSignal): Promise<string> {
    const slots = this.#options.listSlots;
    const list = await (slots === undefined
      ? this.#listAll(loop.namespace, signal)
      : slots.run(() => this.#listAll(loop.namespace, signal)));
    const { resourceVersion } = list.metadata;
    if (resourceVersion === undefined || resourceVersion === '') {
      throw new Error(`list ${this.resource}: the answer has no resourceVersion`);
    }
    this.#stats.lists++;
    const scope =
      loop.namespace === undefined
        ? this.#cache
        : new Map(this.byIndex(namespaceIndex, loop.namespace).map((object) => [objectKey(object), object]));
    const diff = diffRelist(scope, list.items);
    for (const object of diff.deleted) {
      this.#remove(objectKey(object));
      this.#emit((h) => h.onDelete?.(object));
    }
    for (const object of diff.added) {
      this.#store(object);
      this.#emit((h) => h.onAdd?.(object));
    }
    for (const change of diff.updated) {
      this.#store(change.new);
      this.#emit((h) => h.onUpdate?.(change.old, change.new));
    }
    if (!loop.synced) {
      loop.synced = true;
      if (this.hasSynced()) {
        for (const resolve of this.#syncWaiters) resolve(true);
        this.#syncWaiters.clear();
      }
    }
    return resourceVersion;
  }

  async #listAll(namespace: string | undefined, signal: AbortSignal): Promise<ObjectList<T>> {
    const base = {
      namespace,
      labelSelector: this.#options.labelSelector,
      fieldSelector: this.#options.fieldSelector,
    };
    const items: T[] = [];
    let next: string | undefined;
    for (;;) {
      let page: ObjectList<T>;
      try {
        page = await this.#client.list<T>(
          this.type,
          { ...base, limit: this.#options.pageSize ?? 500, continue: next },
          signal,
        );
      } catch (error) {
        // The continue token expired mid-list (compaction): the only consistent answer left is one unpaged list.
        if (next !== undefined && isGone(error)) {
          const whole = await this.#client.list<T>(this.type, base, signal);
          return { metadata: whole.metadata, items: whole.items.map((item) => this.#prepare(item)) };
        }
        throw error;
      }
      // Prepared page by page: a relist (after an apiserver restart, every informer at once) then holds the slim
      // objects beside the cache, not every raw page with its managedFields until the last one arrives.
      for (const item of page.items) items.push(this.#prepare(item));
      next = page.metadata.continue || undefined;
      if (next === undefined) return { metadata: { resourceVersion: page.metadata.resourceVersion }, items };
    }
  }

  /**
   * Watches from `resourceVersion` until the server ends the watch, keeping `loop.resourceVersion` at the last
   * event, so that whatever ends the watch, the next one resumes where this one stopped.
   */
  async #watch(loop: Loop, resourceVersion: string, stopSignal: AbortSignal): Promise<void> {
    const silenceMs = this.#options.watchSilenceMs ?? 5 * 60_000;
    const [minTimeout, maxTimeout] = this.#options.watchTimeoutSeconds ?? [300, 600];
    const watchdog = new AbortController();
    const signal = AbortSignal.any([stopSignal, watchdog.signal]);
    // Mutated by the timer callback, hence an object: a `let` would look constant to the type checker.
    const state: { silent: boolean; timer: TimerHandle | undefined } = { silent: false, timer: undefined };
    const arm = (): void => {
      if (state.timer !== undefined) this.#clock.clearTimeout(state.timer);
      state.timer = this.#clock.setTimeout(() => {
        state.silent = true;
        watchdog.abort();
      }, silenceMs);
    };
    const query: Query = {
      resourceVersion,
      allowWatchBookmarks: true,
      timeoutSeconds: minTimeout + Math.floor(this.#random() * (maxTimeout - minTimeout + 1)),
      labelSelector: this.#options.labelSelector,
      fieldSelector: this.#options.fieldSelector,
    };
    const path = resourcePath(this.type, { namespace: loop.namespace });
    const started = this.#clock.now();
    let events = 0;
    this.#stats.watches++;
    arm();
    try {
      for await (const event of this.#client.watch<T>(path, query, signal)) {
        if (this.#stopped()) break;
        arm();
        events++;
        loop.failures = 0;
        loop.expired = false;
        this.#stats.events++;
        this.#lastEventAt = this.#clock.now();
        loop.resourceVersion = this.#handle(event) ?? loop.resourceVersion;
      }
    } catch (error) {
      if (!state.silent) throw error;
    } finally {
      if (state.timer !== undefined) this.#clock.clearTimeout(state.timer);
    }
    if (this.#stopped()) return;
    if (state.silent) throw new WatchSilentError(silenceMs);
    // A watch the server closes at once, again and again, would otherwise be a hot loop.
    if (events === 0 && this.#clock.now() - started < minWatchMs) {
      throw new Error(`watch ${this.resource} closed immediately without events`);
    }
  }

  /** Applies one watch event to the cache and handlers; returns its resourceVersion. */
  #handle(event: WatchEvent<T>): string | undefined {
    if (event.type === 'BOOKMARK') return event.object.metadata?.resourceVersion;
    const object = this.#prepare(event.object);
    const key = objectKey(object);
    const old = this.#cache.get(key);
    if (event.type === 'DELETED') {
      this.#remove(key);
      this.#emit((h) => h.onDelete?.(object));
    } else if (old === undefined) {
      this.#store(object);
      this.#emit((h) => h.onAdd?.(object));
    } else if (old.metadata?.resourceVersion !== object.metadata?.resourceVersion) {
      this.#store(object);
      this.#emit((h) => h.onUpdate?.(old, object));
    }
    // Otherwise the event repeats what the cache holds (a watch resumed from an older resourceVersion replays
    // history): nothing to deliver.
    return object.metadata?.resourceVersion;
  }

  #prepare(object: T): T {
    // LIST answers leave apiVersion and kind out of their items; watch events carry them. Make both look alike.
    const typed =
      object.kind === undefined ? { ...object, apiVersion: this.type.apiVersion, kind: this.type.kind } : object;
    return this.#transform(typed);
  }

  #store(object: T): void {
    const key = objectKey(object);
    const old = this.#cache.get(key);
    if (old !== undefined) this.#unindex(key, old);
    this.#cache.set(key, object);
    for (const [name, indexer] of this.#indexers) {
      const index = this.#indexes.get(name);
      for (const value of indexer(object)) {
        let keys = index?.get(value);
        if (keys === undefined) {
          keys = new Set();
          index?.set(value, keys);
        }
        keys.add(key);
      }
    }
  }

  #remove(key: string): void {
    const old = this.#cache.get(key);
    if (old === undefined) return;
    this.#unindex(key, old);
    this.#cache.delete(key);
  }

  #unindex(key: string, object: T): void {
    for (const [name, indexer] of this.#indexers) {
      const index = this.#indexes.get(name);
      for (const value of indexer(object)) {
        const keys = index?.get(value);
        keys?.delete(key);
        if (keys?.size === 0) index?.delete(value);
      }
    }
  }

  #scheduleResync(): void {
    const period = this.#options.resyncPeriodMs ?? 0;
    if (period <= 0 || this.#stop.signal.aborted) return;
    this.#resyncTimer = this.#clock.setTimeout(() => {
      if (this.hasSynced()) {
        for (const object of [...this.#cache.values()]) {
          this.#emit((h) => (h.onResync !== undefined ? h.onResync(object) : h.onUpdate?.(object, object)));
        }
      }
      this.#scheduleResync();
    }, period);
  }

  #emit(deliver: (handlers: InformerHandlers<T>) => void): void {
    if (this.#stop.signal.aborted) return;
    for (const handlers of this.#handlers) this.#call(() => deliver(handlers));
  }

  #call(deliver: () => void): void {
    try {
      deliver();
    } catch (error) {
      // One broken handler must not stop the cache from following the server, nor starve the other handlers.
      this.#logger.error('informer handler threw', { error });
    }
  }
}
