import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/runtime/clock.ts';
import { KubeTransportError } from '../../src/runtime/kube/client.ts';
import { ApiConnectivity } from '../../src/runtime/kube/connectivity.ts';
import {
  ExponentialRateLimiter,
  exponentialBackoffMs,
  runWorkers,
  WorkQueue,
  type WorkerOutcome,
} from '../../src/runtime/workqueue.ts';

/** Polls `condition` on every turn of the event loop until it holds or the deadline passes. */
async function waitFor(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** A promise with its resolver outside, to hold a handler until the test lets it go. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open = (): void => undefined;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

describe('backoff math', () => {
  test('doubles from the base and stops at the cap', () => {
    assert.deepEqual(
      [0, 1, 2, 3, 10].map((failures) => exponentialBackoffMs(failures, 5, 300_000)),
      [5, 10, 20, 40, 5120],
    );
    assert.equal(exponentialBackoffMs(16, 5, 300_000), 300_000);
    assert.equal(exponentialBackoffMs(5000, 5, 300_000), 300_000);
  });

  test('the rate limiter counts failures per key and forgets them', () => {
    const limiter = new ExponentialRateLimiter({ baseMs: 5, maxMs: 1000 });
    assert.deepEqual([limiter.when('a'), limiter.when('a'), limiter.when('a')], [5, 10, 20]);
    assert.equal(limiter.when('b'), 5);
    assert.equal(limiter.numRequeues('a'), 3);
    limiter.forget('a');
    assert.equal(limiter.numRequeues('a'), 0);
    assert.equal(limiter.when('a'), 5);
    for (let i = 0; i < 20; i++) limiter.when('c');
    assert.equal(limiter.when('c'), 1000);
  });
});

describe('work queue', () => {
  test('dedupes keys that are queued and hands them out in order', async () => {
    const queue = new WorkQueue();
    queue.add('a');
    queue.add('b');
    queue.add('a');
    assert.equal(queue.length, 2);
    assert.equal(await queue.get(), 'a');
    assert.equal(await queue.get(), 'b');
    assert.equal(queue.length, 0);
  });

  test('a key added while processing is not handed out again until done, then exactly once', async () => {
    const queue = new WorkQueue();
    queue.add('a');
    assert.equal(await queue.get(), 'a');
    assert.equal(queue.isProcessing('a'), true);
    queue.add('a');
    queue.add('a');
    assert.equal(queue.length, 0, 'a dirty key being processed is not queued');
    let second: string | undefined;
    void queue.get().then((key) => (second = key));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(second, undefined, 'no second worker gets the key while the first holds it');
    queue.done('a');
    await waitFor(() => second === 'a', 'the dirty key to be handed out after done');
    assert.equal(queue.length, 0);
    queue.done('a');
    assert.equal(queue.length, 0, 'a key not added again is not requeued');
  });

  test('a pending get is woken by an add', async () => {
    const queue = new WorkQueue();
    const next = queue.get();
    queue.add('x');
    assert.equal(await next, 'x');
  });

  test('addAfter waits on the clock and coalesces to the earliest time', async () => {
    const clock = new ManualClock();
    const queue = new WorkQueue({ clock });
    queue.addAfter('a', 100);
    queue.addAfter('a', 50);
    queue.addAfter('a', 200);
    assert.equal(clock.pending, 1, 'one timer per key');
    await clock.advance(49);
    assert.equal(queue.length, 0);
    await clock.advance(1);
    assert.equal(queue.length, 1);
    assert.equal(await queue.get(), 'a');
    queue.done('a');
    await clock.advance(1000);
    assert.equal(queue.length, 0, 'the later requests were folded into the earlier one');
    queue.addAfter('b', 0);
    assert.equal(queue.length, 1, 'no delay means an immediate add');
  });

  test('addRateLimited backs off per key; forget resets', async () => {
    const clock = new ManualClock();
    const queue = new WorkQueue({ clock, rateLimiter: new ExponentialRateLimiter({ baseMs: 10, maxMs: 1000 }) });
    const delays: number[] = [];
    for (let i = 0; i < 3; i++) {
      const start = clock.now();
      queue.addRateLimited('a');
      while (queue.length === 0) await clock.advance(1);
      delays.push(clock.now() - start);
      assert.equal(await queue.get(), 'a');
      queue.done('a');
    }
    assert.deepEqual(delays, [10, 20, 40]);
    assert.equal(queue.numRequeues('a'), 3);
    queue.forget('a');
    assert.equal(queue.numRequeues('a'), 0);
  });

  test('shutDown stops adds and gets, drops delayed adds and waits for keys being processed', async () => {
    const clock = new ManualClock();
    const queue = new WorkQueue({ clock });
    queue.add('a');
    queue.add('b');
    assert.equal(await queue.get(), 'a');
    queue.addAfter('c', 100);
    const waiting = new WorkQueue();
    const pending = waiting.get();
    void waiting.shutDown();
    assert.equal(await pending, undefined, 'a waiting get is released');

    let drained = false;
    const shutdown = queue.shutDown().then(() => (drained = true));
    assert.equal(clock.pending, 0, 'delayed adds are cancelled');
    assert.equal(await queue.get(), undefined, 'queued keys are not handed out');
    queue.add('d');
    assert.equal(queue.length, 0);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(drained, false, 'shutDown waits for the key being processed');
    queue.add('a');
    queue.done('a');
    await shutdown;
    assert.equal(drained, true);
    assert.equal(queue.length, 0, 'a key made dirty during shutdown is not requeued');
  });

  test('reports adds, takes, dones, retries and depth to its metrics sink, as client-go does', async () => {
    const calls: string[] = [];
    let depth = -1;
    const queue = new WorkQueue({
      rateLimiter: new ExponentialRateLimiter({ baseMs: 1 }),
      metrics: {
        added: (key) => calls.push(`added ${key}`),
        taken: (key) => calls.push(`taken ${key}`),
        done: (key) => calls.push(`done ${key}`),
        retried: () => calls.push('retried'),
        depth: (n) => (depth = n),
        shutDown: () => calls.push('shutDown'),
      },
    });
    queue.add('a');
    queue.add('a');
    queue.add('b');
    assert.deepEqual(calls.splice(0), ['added a', 'added b'], 'a repeated add of a queued key is not counted');
    assert.equal(depth, 2);
    const key = await queue.get();
    assert.equal(depth, 1);
    queue.add('a');
    queue.done('a');
    queue.done('a');
    assert.deepEqual(
      calls.splice(0),
      [`taken ${key}`, 'added a', 'done a'],
      'an add while processing counts; a second done does not',
    );
    queue.addRateLimited('c');
    assert.deepEqual(calls.splice(0), ['retried']);
    await queue.shutDown();
    assert.deepEqual(calls.splice(0), ['shutDown']);
  });

  test('the urgent lane is handed out first, and an urgent add moves a queued key there', async () => {
    const queue = new WorkQueue();
    for (const key of ['a', 'b', 'c', 'd']) queue.add(key);
    queue.add('bad', 'urgent');
    queue.add('c', 'urgent');
    queue.add('c');
    assert.equal(queue.length, 5, 'a moved key is counted once');
    const order: string[] = [];
    for (let i = 0; i < 5; i++) order.push((await queue.get())!);
    assert.equal(queue.length, 0);
    assert.deepEqual(order, ['bad', 'c', 'a', 'b', 'd'], 'c is handed out once, from the urgent lane');
  });

  test('a key added urgently while processing goes to the urgent lane when done', async () => {
    const queue = new WorkQueue();
    queue.add('bad');
    assert.equal(await queue.get(), 'bad');
    queue.add('a');
    queue.add('bad', 'urgent');
    queue.done('bad');
    assert.equal(await queue.get(), 'bad');
    assert.equal(await queue.get(), 'a');
  });

  test('keeps order across many keys (the head index compacts)', async () => {
    const queue = new WorkQueue();
    for (let i = 0; i < 5000; i++) queue.add(`k${i}`);
    for (let i = 0; i < 5000; i++) {
      const key = await queue.get();
      assert.equal(key, `k${i}`);
      queue.done(key);
    }
    assert.equal(queue.length, 0);
  });
});

describe('runWorkers', () => {
  test('never runs one key in two workers, and processes every key after its last add', async () => {
    const queue = new WorkQueue();
    const controller = new AbortController();
    const active = new Set<string>();
    const lastAdd = new Map<string, number>();
    const lastStart = new Map<string, number>();
    let tick = 0;
    let overlaps = 0;
    let maxParallel = 0;
    const workers = runWorkers(
      queue,
      4,
      async (key) => {
        if (active.has(key)) overlaps++;
        active.add(key);
        maxParallel = Math.max(maxParallel, active.size);
        lastStart.set(key, ++tick);
        await new Promise((resolve) => setImmediate(resolve));
        await new Promise((resolve) => setImmediate(resolve));
        active.delete(key);
        return undefined;
      },
      controller.signal,
    );
    const keys = ['a', 'b', 'c', 'd', 'e', 'f'];
    for (let round = 0; round < 200; round++) {
      const key = keys[round % keys.length]!;
      lastAdd.set(key, ++tick);
      queue.add(key);
      if (round % 3 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    await waitFor(
      () => keys.every((key) => (lastStart.get(key) ?? 0) > (lastAdd.get(key) ?? 0)) && active.size === 0,
      'every key to be processed after its last add',
    );
    controller.abort();
    await workers;
    assert.equal(overlaps, 0);
    assert.ok(maxParallel > 1, `workers ran in parallel (max ${maxParallel})`);
  });

  test('runs up to `count` handlers at once; onStart and onResult bracket each run', async () => {
    const queue = new WorkQueue();
    const controller = new AbortController();
    const hold = gate();
    let running = 0;
    let busy = 0;
    const workers = runWorkers(
      queue,
      3,
      async () => {
        running++;
        await hold.promise;
        running--;
        return undefined;
      },
      controller.signal,
      { onStart: () => busy++, onResult: () => busy-- },
    );
    for (const key of ['a', 'b', 'c', 'd']) queue.add(key);
    await waitFor(() => running === 3, 'three handlers to run');
    assert.equal(busy, 3);
    assert.equal(queue.length, 1);
    hold.open();
    await waitFor(() => running === 0 && queue.length === 0, 'all keys to be handled');
    assert.equal(busy, 0);
    controller.abort();
    await workers;
  });

  test('a throwing handler is retried with backoff; success forgets; requeueAfter forgets and delays', async () => {
    const clock = new ManualClock();
    const queue = new WorkQueue({ clock, rateLimiter: new ExponentialRateLimiter({ baseMs: 100, maxMs: 10_000 }) });
    const controller = new AbortController();
    const outcomes: WorkerOutcome[] = [];
    let calls = 0;
    const workers = runWorkers(
      queue,
      2,
      (key) => {
        calls++;
        if (key === 'flaky' && calls <= 2) throw new Error(`failure ${calls}`);
        if (key === 'poll') return { requeueAfter: 1000 };
        return undefined;
      },
      controller.signal,
      { clock, onResult: (outcome) => outcomes.push(outcome) },
    );
    queue.add('flaky');
    await waitFor(() => outcomes.length === 1, 'the first failure');
    assert.equal(outcomes[0]!.result, 'error');
    assert.match(String(outcomes[0]!.error), /failure 1/);
    assert.equal(queue.numRequeues('flaky'), 1);
    await clock.advance(99);
    assert.equal(outcomes.length, 1, 'not retried before the backoff');
    await clock.advance(1);
    await waitFor(() => outcomes.length === 2, 'the second failure');
    assert.equal(queue.numRequeues('flaky'), 2);
    await clock.advance(199);
    assert.equal(outcomes.length, 2);
    await clock.advance(1);
    await waitFor(() => outcomes.length === 3, 'the success');
    assert.equal(outcomes[2]!.result, 'success');
    assert.equal(queue.numRequeues('flaky'), 0, 'success forgets the failures');

    queue.add('poll');
    await waitFor(() => outcomes.length === 4, 'the poll');
    assert.equal(outcomes[3]!.result, 'requeue');
    assert.equal(queue.numRequeues('poll'), 0, 'a planned requeue is not a failure');
    await clock.advance(999);
    assert.equal(outcomes.length, 4);
    await clock.advance(1);
    await waitFor(() => outcomes.length === 5, 'the requeued poll');
    controller.abort();
    await workers;
    assert.equal(clock.pending, 0, 'shutdown cancelled the pending requeue');
  });

  test('no answer from the apiserver: every worker waits for the probe, and the key is not backed off', async () => {
    const clock = new ManualClock();
    let serverUp = false;
    const probes: boolean[] = [];
    // The probe's stand-in for a GET: answers (reports `answered`) only once the test says the server is up.
    const connectivity: ApiConnectivity = new ApiConnectivity({
      clock,
      backoff: { initialMs: 100, maxMs: 400 },
      probe: () => {
        probes.push(serverUp);
        if (serverUp) connectivity.answered();
        return Promise.resolve();
      },
    });
    const queue = new WorkQueue({ clock });
    const controller = new AbortController();
    const outcomes: WorkerOutcome[] = [];
    const handled: string[] = [];
    const workers = runWorkers(
      queue,
      2,
      (key) => {
        handled.push(key);
        if (!serverUp) {
          connectivity.unreachable();
          throw new KubeTransportError({ verb: 'PATCH', path: `/${key}` }, new Error('connect ECONNREFUSED'));
        }
        return undefined;
      },
      controller.signal,
      { clock, connectivity, onResult: (outcome) => outcomes.push(outcome) },
    );
    for (const key of ['a', 'b', 'c']) queue.add(key);
    await waitFor(() => outcomes.length === 2, 'the two reconciles in flight to fail');
    assert.equal(connectivity.reachable, false);
    await clock.advance(100 + 200 + 400 + 400);
    assert.deepEqual(probes, [false, false, false, false], 'one probe per backoff step, capped at 400 ms');
    assert.equal(handled.length, 2, 'no reconcile starts while the server does not answer');
    assert.equal(queue.numRequeues('a') + queue.numRequeues('b'), 0, 'the keys are not backed off');

    serverUp = true;
    await clock.advance(400);
    await waitFor(() => outcomes.length === 5, 'every key reconciled once the server answers');
    assert.deepEqual(
      outcomes.slice(2).map((o) => o.result),
      ['success', 'success', 'success'],
    );
    assert.deepEqual([...handled].sort(), ['a', 'a', 'b', 'b', 'c']);
    controller.abort();
    await workers;
    connectivity.close();
  });

  test('abort lets the current handler finish, with the signal aborted, and then resolves', async () => {
    const queue = new WorkQueue();
    const controller = new AbortController();
    const hold = gate();
    let sawAbort = false;
    let finished = false;
    const workers = runWorkers(
      queue,
      2,
      async (_key, signal) => {
        await hold.promise;
        sawAbort = signal.aborted;
        finished = true;
        return undefined;
      },
      controller.signal,
    );
    queue.add('a');
    queue.add('b');
    queue.add('c');
    await waitFor(() => queue.length === 1, 'two keys taken');
    controller.abort();
    let resolved = false;
    void workers.then(() => (resolved = true));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(resolved, false, 'workers wait for their handlers');
    hold.open();
    await workers;
    assert.equal(finished, true);
    assert.equal(sawAbort, true);
  });

  test('accepts handlers declared to return Promise<void>', async () => {
    const queue = new WorkQueue();
    const controller = new AbortController();
    const seen: string[] = [];
    async function reconcile(key: string): Promise<void> {
      await Promise.resolve();
      seen.push(key);
    }
    const workers = runWorkers(queue, 1, reconcile, controller.signal);
    queue.add('a');
    await waitFor(() => seen.length === 1, 'the handler');
    controller.abort();
    await workers;
  });
});
