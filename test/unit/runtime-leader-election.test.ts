import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Lease } from 'kubernetes-types/coordination/v1.js';
import {
  defaultIdentity,
  electionAction,
  LeaderElector,
  type LeaderElectionOptions,
  nextRecord,
  recordOf,
  releasedRecord,
  sameRecord,
  specOf,
  type LeaseRecord,
} from '../../src/runtime/leader-election.ts';
import { KubeApiError, type RequestOptions } from '../../src/runtime/kube/client.ts';
import { ManualClock } from '../../src/runtime/clock.ts';

const held = (holderIdentity: string, renewTime = 1000): LeaseRecord => ({
  holderIdentity,
  leaseDurationSeconds: 15,
  acquireTime: 500,
  renewTime,
  leaseTransitions: 3,
});

describe('election decisions', () => {
  test('create a missing lease, renew our own, take a released one', () => {
    assert.equal(electionAction(undefined, 0, 0, 'me'), 'create');
    assert.equal(electionAction(held('me'), 0, 100_000, 'me'), 'renew');
    assert.equal(electionAction(held(''), 100_000, 100_000, 'me'), 'acquire');
  });

  test("another holder's lease counts as held for its duration after WE last saw it change, whatever its times say", () => {
    // The record's renewTime is ancient by our clock, but we only just observed it: clocks are never compared.
    assert.equal(electionAction(held('other', 0), 50_000, 50_000, 'me'), 'wait');
    assert.equal(electionAction(held('other', 0), 50_000, 64_999, 'me'), 'wait');
    assert.equal(electionAction(held('other', 0), 50_000, 65_000, 'me'), 'acquire');
  });

  test('renewal keeps acquireTime and transitions; takeover counts a transition', () => {
    assert.deepEqual(nextRecord('renew', held('me'), 'me', 15, 9000), { ...held('me'), renewTime: 9000 });
    assert.deepEqual(nextRecord('acquire', held('other'), 'me', 15, 9000), {
      holderIdentity: 'me',
      leaseDurationSeconds: 15,
      acquireTime: 9000,
      renewTime: 9000,
      leaseTransitions: 4,
    });
    assert.equal(nextRecord('create', undefined, 'me', 15, 9000).leaseTransitions, 0);
  });

  test('release empties the holder and shortens the lease to a second', () => {
    assert.deepEqual(releasedRecord(held('me'), 7000), {
      holderIdentity: '',
      leaseDurationSeconds: 1,
      acquireTime: 7000,
      renewTime: 7000,
      leaseTransitions: 3,
    });
  });

  test('any change to the record restarts the countdown', () => {
    assert.equal(sameRecord(held('a'), held('a')), true);
    assert.equal(sameRecord(held('a', 1), held('a', 2)), false);
    assert.equal(sameRecord(undefined, undefined), true);
    assert.equal(sameRecord(held('a'), undefined), false);
  });

  test('Lease spec round trip with MicroTime', () => {
    const spec = specOf(held('me', Date.UTC(2025, 0, 2, 3, 4, 5, 678)));
    assert.equal(spec.renewTime, '2025-01-02T03:04:05.678000Z');
    assert.deepEqual(recordOf(spec), held('me', Date.UTC(2025, 0, 2, 3, 4, 5, 678)));
    assert.deepEqual(recordOf(undefined), {
      holderIdentity: '',
      leaseDurationSeconds: 0,
      acquireTime: 0,
      renewTime: 0,
      leaseTransitions: 0,
    });
  });

  test('identity: pod name or hostname, plus a random suffix', () => {
    assert.match(defaultIdentity({ POD_NAME: 'kasprop-0' }), /^kasprop-0_[0-9a-f]{8}$/);
    assert.notEqual(defaultIdentity({ POD_NAME: 'p' }), defaultIdentity({ POD_NAME: 'p' }));
  });
});

/** A Lease store with resourceVersion checks, as the API server keeps it. */
class FakeLeaseApi {
  lease: Lease | undefined;
  rv = 1;
  failing = false;
  readonly writes: string[] = [];
  /** Every request, as `VERB holder` for writes and `GET` for reads, failed or not. */
  readonly requests: string[] = [];

  /** Another client's write: a new resourceVersion, as the API server gives every write. */
  overwrite(spec: Lease['spec']): void {
    this.lease = { ...this.lease, spec, metadata: { ...this.lease?.metadata, resourceVersion: String(++this.rv) } };
  }

  request<T>(options: RequestOptions): Promise<T> {
    const body = options.body as Lease | undefined;
    this.requests.push(options.verb === 'GET' ? 'GET' : `${options.verb} ${body?.spec?.holderIdentity ?? ''}`);
    if (this.failing) return Promise.reject(new Error('connect ECONNREFUSED'));
    if (options.verb === 'GET') {
      if (this.lease === undefined) return Promise.reject(new KubeApiError(404, { reason: 'NotFound' }, 'not found'));
      return Promise.resolve(structuredClone(this.lease) as T);
    }
    if (body === undefined) return Promise.reject(new Error(`${options.verb} without a body`));
    if (options.verb === 'POST' && this.lease !== undefined) {
      return Promise.reject(new KubeApiError(409, { reason: 'AlreadyExists' }, 'exists'));
    }
    if (options.verb === 'PUT' && body.metadata?.resourceVersion !== this.lease?.metadata?.resourceVersion) {
      return Promise.reject(new KubeApiError(409, { reason: 'Conflict' }, 'conflict'));
    }
    this.writes.push(`${options.verb} ${body.spec?.holderIdentity ?? ''}`);
    this.lease = { ...body, metadata: { ...body.metadata, resourceVersion: String(++this.rv) } };
    return Promise.resolve(structuredClone(this.lease) as T);
  }
}

/** Moves the manual clock in small steps until `condition` holds; fails after `maxMs` of clock time. */
async function advanceUntil(
  clock: ManualClock,
  condition: () => boolean,
  what: string,
  maxMs = 60_000,
): Promise<number> {
  const start = clock.now();
  while (!condition()) {
    if (clock.now() - start > maxMs) assert.fail(`clock time ran out waiting for ${what}`);
    await clock.advance(50);
  }
  return clock.now() - start;
}

describe('LeaderElector (in-memory lease, manual clock)', () => {
  // client-go's timings.
  const timings = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 };

  /** An elector for the lease ns/kasprop on the in-memory API and the manual clock, as `me` unless told otherwise. */
  const newElector = (
    api: FakeLeaseApi,
    clock: ManualClock,
    options: Pick<LeaderElectionOptions, 'onStartedLeading'> & Partial<LeaderElectionOptions>,
  ): LeaderElector =>
    new LeaderElector({ client: api, namespace: 'ns', name: 'kasprop', identity: 'me', clock, ...timings, ...options });

  /** Work that lasts until leadership is lost, then calls `onLoss`. */
  const leadUntilLost =
    (onLoss: () => void = () => undefined) =>
    (signal: AbortSignal): Promise<void> =>
      new Promise<void>((resolve) =>
        signal.addEventListener(
          'abort',
          () => {
            onLoss();
            resolve();
          },
          { once: true },
        ),
      );

  test('rejects timings where the leader could not give up in time', () => {
    const base = { client: new FakeLeaseApi(), namespace: 'ns', name: 'l', onStartedLeading: () => undefined };
    assert.throws(() => new LeaderElector({ ...base, leaseDurationMs: 10_000, renewDeadlineMs: 10_000 }), /greater/);
    assert.throws(() => new LeaderElector({ ...base, renewDeadlineMs: 2_000, retryPeriodMs: 2_000 }), /greater/);
  });

  test('creates the lease, renews it, and releases it after the work has returned', async () => {
    const api = new FakeLeaseApi();
    const clock = new ManualClock();
    const shutdown = new AbortController();
    const order: string[] = [];
    const elector = newElector(api, clock, {
      onStartedLeading: async (signal) => {
        order.push('started');
        await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
        order.push(`work saw abort, holder still ${api.lease?.spec?.holderIdentity}`);
      },
      onStoppedLeading: () => order.push('stopped'),
    });
    const running = elector.run(shutdown.signal);
    await advanceUntil(clock, () => elector.isLeader(), 'leadership');
    assert.deepEqual(api.writes, ['POST me']);
    await clock.advance(2_000);
    assert.deepEqual(api.writes, ['POST me', 'PUT me'], 'renewed after one retry period');
    await clock.advance(2_000 * 3);
    shutdown.abort();
    await running;
    assert.deepEqual(
      api.requests,
      ['GET', 'POST me', 'PUT me', 'PUT me', 'PUT me', 'PUT me', 'PUT '],
      'one GET to campaign, then one PUT per renewal and one to release',
    );
    assert.deepEqual(order, ['started', 'work saw abort, holder still me', 'stopped']);
    assert.deepEqual([api.lease?.spec?.holderIdentity, api.lease?.spec?.leaseDurationSeconds], ['', 1], 'released');
    assert.equal(elector.isLeader(), false);
  });

  test('a standby waits a full lease duration on its own clock, and takes a released lease at once', async () => {
    const api = new FakeLeaseApi();
    const clock = new ManualClock();
    api.lease = {
      metadata: { name: 'kasprop', namespace: 'ns', resourceVersion: '1' },
      spec: specOf(held('other', 0)),
    };
    const standby = newElector(api, clock, { identity: 'standby', random: () => 0, onStartedLeading: () => undefined });
    const stop = new AbortController();
    const running = standby.run(stop.signal);
    // The work returns at once, so the lease is taken and then released within one step: watch the writes.
    const waited = await advanceUntil(clock, () => api.writes.includes('PUT standby'), 'the takeover');
    assert.ok(waited >= 15_000 && waited <= 17_050, `took over after ${waited} ms`);
    await running;
    assert.deepEqual(
      [api.lease.spec?.leaseTransitions, api.lease.spec?.holderIdentity],
      [4, ''],
      'one more transition; released when the work returned',
    );

    api.lease = { ...api.lease, spec: specOf({ ...releasedRecord(held('other'), 0), renewTime: 1 }) };
    const fast = newElector(api, clock, { identity: 'fast', onStartedLeading: () => undefined });
    const fastRun = fast.run(stop.signal);
    const quick = await advanceUntil(clock, () => api.writes.includes('PUT fast'), 'the takeover');
    assert.ok(quick <= 50, `took a released lease at once (${quick} ms)`);
    await fastRun;
  });

  test('aborts the leading signal when renewals fail past the renew deadline, before the lease expires', async () => {
    const api = new FakeLeaseApi();
    const clock = new ManualClock();
    let lost = false;
    const elector = newElector(api, clock, { onStartedLeading: leadUntilLost(() => (lost = true)) });
    const running = elector.run(new AbortController().signal);
    await advanceUntil(clock, () => elector.isLeader(), 'leadership');
    const lastRenew = clock.now();
    api.failing = true;
    const took = await advanceUntil(clock, () => lost, 'the loss');
    await running;
    assert.ok(took >= 10_000 - 50 && took < 15_000, `gave up after ${took} ms, within the lease duration`);
    assert.ok(clock.now() - lastRenew < 15_000);
  });

  test('a renewal refused as stale reads the lease again and renews over what it read', async () => {
    const api = new FakeLeaseApi();
    const clock = new ManualClock();
    const stop = new AbortController();
    const elector = newElector(api, clock, { onStartedLeading: leadUntilLost() });
    const running = elector.run(stop.signal);
    await advanceUntil(clock, () => elector.isLeader(), 'leadership');
    // Our own record, written again by someone else (say our PUT whose answer was lost): same holder, new version.
    api.overwrite(api.lease?.spec);
    api.requests.length = 0;
    await clock.advance(2_000);
    assert.deepEqual(api.requests, ['PUT me', 'GET', 'PUT me'], 'the fast path, its 409, then the slow path');
    assert.equal(elector.isLeader(), true);
    api.requests.length = 0;
    await clock.advance(2_000);
    assert.deepEqual(api.requests, ['PUT me'], 'back on the fast path');
    stop.abort();
    await running;
  });

  test('stops leading at the next renewal when another holder took the lease, and does not release it', async () => {
    const api = new FakeLeaseApi();
    const clock = new ManualClock();
    let lost = false;
    const elector = newElector(api, clock, { onStartedLeading: leadUntilLost(() => (lost = true)) });
    const running = elector.run(new AbortController().signal);
    await advanceUntil(clock, () => elector.isLeader(), 'leadership');
    api.overwrite({ ...api.lease?.spec, holderIdentity: 'thief' });
    const took = await advanceUntil(clock, () => lost, 'the loss');
    await running;
    assert.ok(took <= 2_050, `noticed at the next renewal (${took} ms)`);
    assert.equal(elector.leader(), 'thief');
    assert.equal(api.lease?.spec?.holderIdentity, 'thief');
  });
});
