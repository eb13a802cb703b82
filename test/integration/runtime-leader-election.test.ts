// Leader election on a real Lease: one leader at a time, one request per renewal, a fast handover on release, and a
// leader that stops at once when its lease is taken or when it cannot renew, before anyone else may start.
import assert from 'node:assert/strict';
import { suite, test, type TestContext } from 'node:test';
import type { Lease } from 'kubernetes-types/coordination/v1.js';
import { LeaderElector, type LeaseClient } from '../../src/runtime/leader-election.ts';
import type { RequestOptions } from '../../src/runtime/kube/client.ts';
import { ResourceTypes } from '../../src/runtime/kube/resources.ts';
import { connectCluster, createTestNamespace, waitFor } from '../support/integration.ts';

const cluster = await connectCluster();

// Short, but in client-go's proportions (15 / 10 / 2).
const timings = { leaseDurationMs: 3_000, renewDeadlineMs: 2_000, retryPeriodMs: 400 };

/** The admin client, unless partitioned: then every request fails as an unreachable server would. */
class PartitionableClient implements LeaseClient {
  partitioned = false;
  /** The verb of every request sent (or refused by the partition). */
  readonly verbs: string[] = [];

  request<T>(options: RequestOptions): Promise<T> {
    this.verbs.push(options.verb);
    if (this.partitioned) return Promise.reject(new Error('connect ECONNREFUSED'));
    return cluster.client.request<T>(options);
  }
}

interface Candidate {
  readonly name: string;
  readonly elector: LeaderElector;
  readonly client: PartitionableClient;
  readonly shutdown: AbortController;
  /** Resolves when run() has returned. */
  readonly done: Promise<void>;
  /** Wall-clock times (performance.now()) of the events of this candidate. */
  readonly times: { started?: number; aborted?: number; stopped?: number };
}

/** Starts a candidate; it leads until its leading signal aborts (its work stops at once, as a controller's would). */
function candidate(t: TestContext, namespace: string, name: string, leading: Set<string>): Candidate {
  const client = new PartitionableClient();
  const shutdown = new AbortController();
  const times: Candidate['times'] = {};
  const elector = new LeaderElector({
    client,
    namespace,
    name: 'kasprop-leader',
    identity: name,
    ...timings,
    onStartedLeading: (signal) => {
      times.started = performance.now();
      leading.add(name);
      return new Promise<void>((resolve) => {
        signal.addEventListener(
          'abort',
          () => {
            times.aborted = performance.now();
            leading.delete(name);
            resolve();
          },
          { once: true },
        );
      });
    },
    onStoppedLeading: () => {
      times.stopped = performance.now();
    },
  });
  const done = elector.run(shutdown.signal);
  t.after(async () => {
    shutdown.abort();
    await done;
  });
  return { name, elector, client, shutdown, done, times };
}

/** Samples, every 5 ms until the test ends, whether two candidates lead at once. */
function watchOverlap(t: TestContext, leading: Set<string>): { overlaps: () => number } {
  let overlaps = 0;
  const timer = setInterval(() => {
    if (leading.size > 1) overlaps++;
  }, 5);
  t.after(() => clearInterval(timer));
  return { overlaps: () => overlaps };
}

async function holder(namespace: string): Promise<string | undefined> {
  const lease = await cluster.client.get<Lease>(ResourceTypes.Lease, { namespace, name: 'kasprop-leader' });
  return lease?.spec?.holderIdentity;
}

suite('leader election on a real Lease', { concurrency: true }, () => {
  test('one of two leads; on release the other takes over well within a lease duration', async (t) => {
    const { name: namespace } = await createTestNamespace(t, cluster);
    const leading = new Set<string>();
    const overlap = watchOverlap(t, leading);
    const a = candidate(t, namespace, 'a', leading);
    const b = candidate(t, namespace, 'b', leading);
    const first = await waitFor(() => (leading.size === 1 ? [...leading][0] : undefined), {
      message: 'a leader',
    });
    const [leader, standby] = first === 'a' ? [a, b] : [b, a];
    assert.equal(await holder(namespace), leader.name);
    // After a renewal, still the same single leader.
    await waitFor(
      async () => {
        const lease = await cluster.client.get<Lease>(ResourceTypes.Lease, { namespace, name: 'kasprop-leader' });
        return lease?.spec?.renewTime !== lease?.spec?.acquireTime;
      },
      { message: 'a renewal' },
    );
    assert.equal(standby.elector.isLeader(), false);
    await waitFor(() => standby.elector.leader() === leader.name, { message: 'the standby to see who leads' });

    const released = performance.now();
    leader.shutdown.abort();
    await leader.done;
    await waitFor(() => standby.times.started, { message: 'the standby to take over' });
    const handover = (standby.times.started ?? 0) - released;
    assert.ok(
      handover < timings.leaseDurationMs,
      `took over in ${Math.round(handover)} ms, without waiting for expiry`,
    );
    assert.ok((leader.times.stopped ?? Infinity) <= (standby.times.started ?? 0), 'the old leader had stopped first');
    assert.equal(await holder(namespace), standby.name);
    assert.equal(overlap.overlaps(), 0, 'never two leaders at once');
  });

  test('a leader renews with one PUT per retry period and releases with one more, as client-go does', async (t) => {
    const { name: namespace } = await createTestNamespace(t, cluster);
    const a = candidate(t, namespace, 'a', new Set());
    await waitFor(() => a.elector.isLeader(), { message: 'a to lead' });
    const renewTimes = new Set<string>();
    a.client.verbs.length = 0;
    await waitFor(
      async () => {
        const lease = await cluster.client.get<Lease>(ResourceTypes.Lease, { namespace, name: 'kasprop-leader' });
        if (lease?.spec?.renewTime !== undefined) renewTimes.add(lease.spec.renewTime);
        return renewTimes.size >= 4;
      },
      { message: 'four renewals' },
    );
    a.shutdown.abort();
    await a.done;
    const puts = a.client.verbs.filter((verb) => verb === 'PUT').length;
    assert.deepEqual(
      a.client.verbs,
      Array<string>(puts).fill('PUT'),
      'renewals and the release send no GET: the Lease as last written carries the resourceVersion',
    );
    assert.ok(puts >= 4, `${puts} PUTs: at least three renewals and the release`);
    assert.equal(await holder(namespace), '', 'released');
  });

  test('a leader whose lease is taken over stops at its next renewal and does not release', async (t) => {
    const { name: namespace } = await createTestNamespace(t, cluster);
    const leading = new Set<string>();
    const a = candidate(t, namespace, 'a', leading);
    await waitFor(() => a.elector.isLeader(), { message: 'a to lead' });
    const lease = await cluster.client.get<Lease>(ResourceTypes.Lease, { namespace, name: 'kasprop-leader' });
    const now = new Date().toISOString().replace(/Z$/, '000Z');
    const stolenAt = performance.now();
    await cluster.client.replace(ResourceTypes.Lease, {
      ...lease,
      spec: { ...lease?.spec, holderIdentity: 'thief', renewTime: now, acquireTime: now, leaseDurationSeconds: 60 },
    });
    await a.done;
    const reaction = (a.times.aborted ?? Infinity) - stolenAt;
    assert.ok(reaction < timings.retryPeriodMs * 2 + 1_000, `stopped ${Math.round(reaction)} ms after the theft`);
    assert.equal(a.elector.isLeader(), false);
    assert.equal(await holder(namespace), 'thief', 'a lost lease is not released');
  });

  test('a partitioned leader stops before its lease expires, and only then does the standby start', async (t) => {
    const { name: namespace } = await createTestNamespace(t, cluster);
    const leading = new Set<string>();
    const overlap = watchOverlap(t, leading);
    const a = candidate(t, namespace, 'a', leading);
    await waitFor(() => a.elector.isLeader(), { message: 'a to lead' });
    const b = candidate(t, namespace, 'b', leading);
    await waitFor(() => b.elector.leader() === 'a', { message: 'b to see a as the leader' });

    const cut = performance.now();
    a.client.partitioned = true;
    await a.done;
    const lostAfter = (a.times.aborted ?? Infinity) - cut;
    assert.ok(
      lostAfter <= timings.renewDeadlineMs + timings.retryPeriodMs + 500,
      `a gave up after ${Math.round(lostAfter)} ms`,
    );
    await waitFor(() => b.times.started, { timeoutMs: 30_000, message: 'b to take over the expired lease' });
    assert.ok((a.times.aborted ?? Infinity) < (b.times.started ?? 0), 'a stopped before b started');
    assert.ok(
      (b.times.started ?? 0) - cut >= timings.leaseDurationMs - timings.retryPeriodMs,
      'b waited for the expiry',
    );
    assert.equal(await holder(namespace), 'b');
    assert.equal(overlap.overlaps(), 0, 'never two leaders at once');
  });
});
