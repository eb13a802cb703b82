// A rate-limited work queue with client-go's semantics (k8s.io/client-go/util/workqueue), the piece that makes a
// level-triggered controller correct under concurrency:
// - a key is queued at most once however often it is added (events for one object collapse into one reconcile);
// - a key is never handed to two workers at once: a key added while it is being processed is marked dirty and
//   queued again when the worker calls `done`, so the change that arrived mid-reconcile is never lost;
// - failures back off per key, exponentially, so one broken object cannot starve the others;
// - an urgent lane is handed out before the normal one, for work that must not wait behind a backlog (a bad spec
//   is reported within seconds, whatever else is queued);
// - workers stop taking keys while the apiserver does not answer, and the key that found out is not blamed for it.
import { systemClock, type Clock, type TimerHandle } from './clock.ts';
import { isTransportError } from './kube/client.ts';
import type { ConnectivityGate } from './kube/connectivity.ts';

/** Decides how long a key waits before its next retry, from how often it has failed. */
export interface RateLimiter {
  /** The delay before the next retry of `key`; counts one more failure. */
  when(key: string): number;
  /** Clears the failure history of `key` (it succeeded, or no longer exists). */
  forget(key: string): void;
  numRequeues(key: string): number;
}

/** `baseMs * 2^failures`, capped at `maxMs`: the delay after `failures` earlier failures (0 for the first retry). */
export function exponentialBackoffMs(failures: number, baseMs: number, maxMs: number): number {
  // 2^1024 is Infinity, which Math.min handles; capping the exponent keeps the arithmetic finite anyway.
  return Math.min(maxMs, baseMs * 2 ** Math.min(failures, 64));
}

export interface ExponentialRateLimiterOptions {
  /** First retry delay; default 5 ms (client-go's default). */
  readonly baseMs?: number;
  /** Longest delay; default 5 min (client-go uses 1000 s; an operator should not wait that long to retry). */
  readonly maxMs?: number;
}

/** Per-key exponential backoff, as client-go's ItemExponentialFailureRateLimiter. */
export class ExponentialRateLimiter implements RateLimiter {
  readonly #baseMs: number;
  readonly #maxMs: number;
  readonly #failures = new Map<string, number>();

  constructor({ baseMs = 5, maxMs = 5 * 60_000 }: ExponentialRateLimiterOptions = {}) {
    this.#baseMs = baseMs;
    this.#maxMs = maxMs;
  }

  when(key: string): number {
    const failures = this.#failures.get(key) ?? 0;
    this.#failures.set(key, failures + 1);
    return exponentialBackoffMs(failures, this.#baseMs, this.#maxMs);
  }

  forget(key: string): void {
    this.#failures.delete(key);
  }

  numRequeues(key: string): number {
    return this.#failures.get(key) ?? 0;
  }
}

/** Where a queue reports what happens to its keys, as client-go's queue does; see RuntimeMetrics.workQueue. */
export interface WorkQueueMetrics {
  /** `key` entered the queue (adds of a key already queued are not counted, as in client-go). */
  added(key: string): void;
  /** A worker took `key`. */
  taken(key: string): void;
  /** The worker that took `key` is done with it. */
  done(key: string): void;
  /** A key failed and is added again after its backoff. */
  retried(): void;
  depth(length: number): void;
  /** The queue dropped its keys. */
  shutDown(): void;
}

export interface WorkQueueOptions {
  readonly rateLimiter?: RateLimiter;
  readonly clock?: Clock;
  readonly metrics?: WorkQueueMetrics;
}

/** Keys of the urgent lane are handed out before any key of the normal one. */
export type Lane = 'urgent' | 'normal';

/** One lane's keys in order. An entry is stale (skipped) once its key was taken, or moved to the urgent lane. */
interface LaneQueue {
  readonly entries: string[];
  head: number;
}

export class WorkQueue {
  /** Keys ready to be handed out, per lane. */
  readonly #lanes: Record<Lane, LaneQueue> = { urgent: { entries: [], head: 0 }, normal: { entries: [], head: 0 } };
  /** The lane each ready key is queued in; its size is the queue's length. Every key here is also in #dirty. */
  readonly #queued = new Map<string, Lane>();
  /** Keys that need processing: queued, or added again while being processed. */
  readonly #dirty = new Set<string>();
  /** Keys a worker holds between `get` and `done`. */
  readonly #processing = new Set<string>();
  /** Keys added urgently while being processed: queued in the urgent lane when their worker is done. */
  readonly #urgentWhenDone = new Set<string>();
  /** Delayed adds: each key waits at most once, for the earliest time asked. */
  readonly #waiting = new Map<string, { readonly at: number; readonly timer: TimerHandle }>();
  readonly #getters: ((key: string | undefined) => void)[] = [];
  readonly #drained: (() => void)[] = [];
  readonly #rateLimiter: RateLimiter;
  readonly #clock: Clock;
  readonly #metrics: WorkQueueMetrics | undefined;
  #shuttingDown = false;

  constructor({ rateLimiter = new ExponentialRateLimiter(), clock = systemClock, metrics }: WorkQueueOptions = {}) {
    this.#rateLimiter = rateLimiter;
    this.#clock = clock;
    this.#metrics = metrics;
  }

  /**
   * Queues `key` unless it is already queued; a key being processed is queued again once its worker is done.
   * An urgent add of a key queued in the normal lane moves it to the urgent lane.
   */
  add(key: string, lane: Lane = 'normal'): void {
    if (this.#shuttingDown) return;
    if (this.#dirty.has(key)) {
      if (lane === 'urgent') this.#promote(key);
      return;
    }
    this.#dirty.add(key);
    this.#metrics?.added(key);
    if (this.#processing.has(key)) {
      if (lane === 'urgent') this.#urgentWhenDone.add(key);
      return;
    }
    this.#enqueue(key, lane);
    this.#handOut();
  }

  /**
   * Adds `key` after `ms`. A key already waiting keeps the earlier of the two times, so repeated requeues of an
   * object coalesce instead of piling up timers.
   */
  addAfter(key: string, ms: number): void {
    if (this.#shuttingDown) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const at = this.#clock.now() + ms;
    const waiting = this.#waiting.get(key);
    if (waiting !== undefined) {
      if (waiting.at <= at) return;
      this.#clock.clearTimeout(waiting.timer);
    }
    const timer = this.#clock.setTimeout(() => {
      this.#waiting.delete(key);
      this.add(key);
    }, ms);
    this.#waiting.set(key, { at, timer });
  }

  /** Adds `key` after its rate limiter's delay, counting one more failure of it. */
  addRateLimited(key: string): void {
    if (this.#shuttingDown) return;
    this.#metrics?.retried();
    this.addAfter(key, this.#rateLimiter.when(key));
  }

  /** Clears the failure history of `key`: call it when `key` succeeded, so its next failure starts from the base delay. */
  forget(key: string): void {
    this.#rateLimiter.forget(key);
  }

  numRequeues(key: string): number {
    return this.#rateLimiter.numRequeues(key);
  }

  /** Keys ready to be handed out (not counting keys being processed or waiting for a delayed add). */
  get length(): number {
    return this.#queued.size;
  }

  get shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  /** Whether a worker currently holds `key`. */
  isProcessing(key: string): boolean {
    return this.#processing.has(key);
  }

  /**
   * The next key, which the caller now holds until it calls `done(key)`; waits while the queue is empty.
   * Resolves to undefined once the queue is shut down.
   */
  get(): Promise<string | undefined> {
    if (this.#shuttingDown) return Promise.resolve(undefined);
    if (this.length > 0) return Promise.resolve(this.#take());
    return new Promise((resolve) => this.#getters.push(resolve));
  }

  /** Releases a key taken with `get`; if it was added meanwhile, it is queued again. */
  done(key: string): void {
    if (!this.#processing.delete(key)) return;
    this.#metrics?.done(key);
    const lane: Lane = this.#urgentWhenDone.delete(key) ? 'urgent' : 'normal';
    if (this.#dirty.has(key) && !this.#shuttingDown) {
      this.#enqueue(key, lane);
      this.#handOut();
    }
    if (this.#processing.size === 0) this.#drained.splice(0).forEach((resolve) => resolve());
  }

  /**
   * Stops the queue: adds are ignored from now on, pending delayed adds are dropped, waiting and future `get`s
   * resolve to undefined, and keys still queued are not handed out. Resolves once every key being processed is done.
   *
   * Unlike client-go, queued keys are dropped rather than drained: the queue shuts down on SIGTERM or on a lost
   * lease, where the next leader (or the next start) reconciles everything from current state anyway, and finishing
   * a backlog would only delay the lease release.
   */
  shutDown(): Promise<void> {
    if (!this.#shuttingDown) {
      this.#shuttingDown = true;
      for (const { timer } of this.#waiting.values()) this.#clock.clearTimeout(timer);
      this.#waiting.clear();
      for (const lane of Object.values(this.#lanes)) {
        lane.entries.length = 0;
        lane.head = 0;
      }
      this.#queued.clear();
      this.#urgentWhenDone.clear();
      this.#metrics?.depth(0);
      this.#metrics?.shutDown();
      this.#getters.splice(0).forEach((resolve) => resolve(undefined));
    }
    if (this.#processing.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#drained.push(resolve));
  }

  #handOut(): void {
    while (this.#getters.length > 0 && this.length > 0) {
      const getter = this.#getters.shift();
      getter?.(this.#take());
    }
    this.#metrics?.depth(this.length);
  }

  #enqueue(key: string, lane: Lane): void {
    this.#queued.set(key, lane);
    this.#lanes[lane].entries.push(key);
  }

  #promote(key: string): void {
    const lane = this.#queued.get(key);
    if (lane === undefined) {
      // Dirty but not queued: it is being processed, and goes to the urgent lane once done.
      this.#urgentWhenDone.add(key);
    } else if (lane === 'normal') {
      // Its entry in the normal lane becomes stale and is skipped when reached.
      this.#enqueue(key, 'urgent');
    }
  }

  /** The next ready key: the urgent lane first. Only called when `length > 0`. */
  #take(): string {
    const key = this.#next('urgent') ?? this.#next('normal');
    if (key === undefined) throw new Error('the work queue has no ready key');
    this.#queued.delete(key);
    this.#dirty.delete(key);
    this.#processing.add(key);
    this.#metrics?.taken(key);
    this.#metrics?.depth(this.length);
    return key;
  }

  /** Pops the lane's first entry that is still its key's place in the queue. */
  #next(name: Lane): string | undefined {
    const lane = this.#lanes[name];
    while (lane.head < lane.entries.length) {
      const key = lane.entries[lane.head] as string;
      lane.head++;
      // Compact now and then instead of shifting on every take, which is O(n) per key.
      if (lane.head > 1024 && lane.head * 2 > lane.entries.length) {
        lane.entries.splice(0, lane.head);
        lane.head = 0;
      }
      if (this.#queued.get(key) === name) return key;
    }
    return undefined;
  }
}

/** What a handler may ask for besides success: to see the key again after a delay (e.g. to poll progress). */
export interface HandlerResult {
  readonly requeueAfter?: number;
}

/**
 * Handles one key; returning nothing means success. `Promise<void>` is accepted so that a reconciler declared
 * `async (key): Promise<void>` needs no wrapper.
 */
export type Handler = (
  key: string,
  signal: AbortSignal,
) => Promise<HandlerResult | undefined> | Promise<void> | HandlerResult | undefined;

export interface WorkerOutcome {
  readonly key: string;
  readonly result: 'success' | 'error' | 'requeue';
  readonly durationMs: number;
  /** What the handler threw, when result is 'error'. */
  readonly error?: unknown;
}

export interface RunWorkersOptions {
  /** Called before every handler run (a worker became busy). */
  readonly onStart?: () => void;
  /** Called after every handler run: metrics and logs hang here. */
  readonly onResult?: (outcome: WorkerOutcome) => void;
  readonly clock?: Clock;
  /**
   * The apiserver's reachability (KubeClient.connectivity). While it does not answer, no worker starts a key; a
   * handler that failed because it got no answer has its key queued again without a backoff of its own.
   */
  readonly connectivity?: ConnectivityGate;
}

/**
 * Runs `count` workers that take keys from `queue` and call `handler(key, signal)`, until `signal` aborts.
 * A handler that throws is retried with `addRateLimited`; one that succeeds gets `forget`; one that returns
 * `{ requeueAfter }` gets `forget` and `addAfter` (controller-runtime's semantics: a planned requeue is not a
 * failure and must not grow the backoff).
 *
 * With `connectivity`, a worker holds its next key until the apiserver answers (see RunWorkersOptions).
 *
 * When `signal` aborts the queue is shut down; `handler` sees the same signal, so it can abandon its requests.
 * Resolves once every worker has finished its current key.
 */
export async function runWorkers(
  queue: WorkQueue,
  count: number,
  handler: Handler,
  signal: AbortSignal,
  { onStart, onResult, clock = systemClock, connectivity }: RunWorkersOptions = {},
): Promise<void> {
  const stop = (): void => void queue.shutDown();
  if (signal.aborted) stop();
  else signal.addEventListener('abort', stop, { once: true });

  const worker = async (): Promise<void> => {
    for (;;) {
      const key = await queue.get();
      if (key === undefined) return;
      if (connectivity !== undefined && !(await connectivity.whenReachable(signal))) {
        queue.done(key);
        return;
      }
      try {
        onStart?.();
      } catch {
        // As for onResult below: a broken hook must not kill a worker.
      }
      const started = clock.now();
      let outcome: WorkerOutcome;
      try {
        // void and undefined are the same value at run time; both mean plain success.
        const result = (await handler(key, signal)) as HandlerResult | undefined;
        const requeueAfter = result?.requeueAfter;
        queue.forget(key);
        if (requeueAfter !== undefined) {
          queue.addAfter(key, requeueAfter);
          outcome = { key, result: 'requeue', durationMs: clock.now() - started };
        } else {
          outcome = { key, result: 'success', durationMs: clock.now() - started };
        }
      } catch (error) {
        // The whole controller waits for the server (above); the key itself did nothing wrong.
        if (connectivity !== undefined && isTransportError(error)) queue.add(key);
        else queue.addRateLimited(key);
        outcome = { key, result: 'error', durationMs: clock.now() - started, error };
      } finally {
        queue.done(key);
      }
      try {
        onResult?.(outcome);
      } catch {
        // A broken metrics or log hook must not kill a worker: the queue would silently lose throughput.
      }
    }
  };

  try {
    await Promise.all(Array.from({ length: Math.max(1, count) }, worker));
  } finally {
    signal.removeEventListener('abort', stop);
  }
}
