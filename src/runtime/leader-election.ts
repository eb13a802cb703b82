// Lease-based leader election (coordination.k8s.io/v1), the algorithm of client-go's leaderelection package:
// only the holder of an unexpired Lease reconciles, so two replicas never write against each other.
// - A candidate judges expiry by ITS OWN clock: the lease counts as held until the record has stayed unchanged for
//   leaseDuration since this process last saw it change. Clocks of different machines are never compared.
// - Writes carry the resourceVersion they were based on, so two candidates racing for an expired lease cannot both win.
// - The leader renews every retryPeriod; if it cannot renew within renewDeadline (< leaseDuration, so it stops
//   before anyone else may start) it has lost, and the leading signal aborts at once.
// - A renewal is one PUT of the Lease as last written (client-go's optimistic fast path): its resourceVersion proves
//   nobody wrote since. Only when that PUT fails does the leader read the Lease again (the slow path).
// - On clean shutdown it releases the lease (empty holder, 1 s duration; client-go's ReleaseOnCancel), so a standby
//   takes over in one retry period instead of a whole lease duration.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Lease, LeaseSpec } from 'kubernetes-types/coordination/v1.js';
import type { KubeClient } from './kube/client.ts';
import { isNotFound } from './kube/client.ts';
import { resourcePath, ResourceTypes } from './kube/resources.ts';
import { sleep, systemClock, type Clock } from './clock.ts';
import { silentLogger, type Logger } from './logger.ts';

/** The fields of a Lease that election reads and writes; times are clock milliseconds. */
export interface LeaseRecord {
  /** Empty when released. */
  readonly holderIdentity: string;
  readonly leaseDurationSeconds: number;
  readonly acquireTime: number;
  readonly renewTime: number;
  readonly leaseTransitions: number;
}

/** What a candidate does with the lease it just read (undefined: there is none). */
export type ElectionAction = 'create' | 'acquire' | 'renew' | 'wait';

/**
 * The election decision, as client-go's tryAcquireOrRenew: create a missing lease; renew our own; take a released
 * one; take another holder's only once its record has not changed for its lease duration, measured from
 * `observedAt` (when this process saw the record change, on its own clock); otherwise wait.
 */
export function electionAction(
  observed: LeaseRecord | undefined,
  observedAt: number,
  now: number,
  identity: string,
): ElectionAction {
  if (observed === undefined) return 'create';
  if (observed.holderIdentity === identity) return 'renew';
  if (observed.holderIdentity === '') return 'acquire';
  return observedAt + observed.leaseDurationSeconds * 1000 > now ? 'wait' : 'acquire';
}

/** The record to write for `action`: a renewal keeps acquireTime and transitions; a takeover counts one more. */
export function nextRecord(
  action: Exclude<ElectionAction, 'wait'>,
  observed: LeaseRecord | undefined,
  identity: string,
  leaseDurationSeconds: number,
  now: number,
): LeaseRecord {
  if (action === 'renew' && observed !== undefined) {
    return { ...observed, holderIdentity: identity, leaseDurationSeconds, renewTime: now };
  }
  return {
    holderIdentity: identity,
    leaseDurationSeconds,
    acquireTime: now,
    renewTime: now,
    leaseTransitions: observed === undefined ? 0 : observed.leaseTransitions + 1,
  };
}

/** The record a leader writes on clean shutdown, as client-go's release(): no holder, and expired in a second. */
export function releasedRecord(observed: LeaseRecord, now: number): LeaseRecord {
  return {
    holderIdentity: '',
    leaseDurationSeconds: 1,
    acquireTime: now,
    renewTime: now,
    leaseTransitions: observed.leaseTransitions,
  };
}

/** Whether two records differ in anything: any change, even a renewal, restarts the expiry countdown. */
export function sameRecord(a: LeaseRecord | undefined, b: LeaseRecord | undefined): boolean {
  return (
    a === b ||
    (a !== undefined &&
      b !== undefined &&
      a.holderIdentity === b.holderIdentity &&
      a.leaseDurationSeconds === b.leaseDurationSeconds &&
      a.acquireTime === b.acquireTime &&
      a.renewTime === b.renewTime &&
      a.leaseTransitions === b.leaseTransitions)
  );
}

export function recordOf(spec: LeaseSpec | undefined): LeaseRecord {
  return {
    holderIdentity: spec?.holderIdentity ?? '',
    leaseDurationSeconds: spec?.leaseDurationSeconds ?? 0,
    acquireTime: spec?.acquireTime !== undefined ? Date.parse(spec.acquireTime) : 0,
    renewTime: spec?.renewTime !== undefined ? Date.parse(spec.renewTime) : 0,
    leaseTransitions: spec?.leaseTransitions ?? 0,
  };
}

export function specOf(record: LeaseRecord): LeaseSpec {
  return {
    holderIdentity: record.holderIdentity,
    leaseDurationSeconds: record.leaseDurationSeconds,
    acquireTime: microTime(record.acquireTime),
    renewTime: microTime(record.renewTime),
    leaseTransitions: record.leaseTransitions,
  };
}

/** RFC 3339 with microseconds, the MicroTime format the Lease API requires. */
function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/Z$/, '000Z');
}

/** `<pod name or hostname>_<random>`: unique per process, and still says which pod leads. */
export function defaultIdentity(env: NodeJS.ProcessEnv = process.env): string {
  return `${env.POD_NAME ?? hostname()}_${randomUUID().slice(0, 8)}`;
}

export type LeaseClient = Pick<KubeClient, 'request'>;

export interface LeaderElectionOptions {
  readonly client: LeaseClient;
  /** Where the Lease lives: usually the operator's own namespace. */
  readonly namespace: string;
  readonly name: string;
  /** Default `defaultIdentity()`. */
  readonly identity?: string;
  /** How long a lease is valid without renewal; default 15 s. */
  readonly leaseDurationMs?: number;
  /** How long the leader keeps trying to renew before it gives up leading; default 10 s. */
  readonly renewDeadlineMs?: number;
  /** Pause between attempts to acquire or renew; default 2 s. */
  readonly retryPeriodMs?: number;
  /** Release the lease when `run`'s signal aborts; default true. */
  readonly releaseOnCancel?: boolean;
  /**
   * Runs while we lead: reconcile until `signal` aborts, then return (or resolve) once the last write is done.
   * The lease is kept (renewed) until then, so the next leader never overlaps with our writes on clean shutdown.
   */
  readonly onStartedLeading: (signal: AbortSignal) => Promise<void> | void;
  /** Called once leading has ended (lost or released), after onStartedLeading has returned. */
  readonly onStoppedLeading?: () => void;
  /** Called when the holder seen in the lease changes (including to ourselves). */
  readonly onNewLeader?: (identity: string) => void;
  readonly clock?: Clock;
  readonly random?: () => number;
  readonly logger?: Logger;
}

/** Jitter of the acquire loop, client-go's JitterFactor: wait retryPeriod * (1 + 1.2 * random). */
const jitterFactor = 1.2;

type Attempt = 'held' | 'held-by-other' | 'failed';

export class LeaderElector {
  readonly identity: string;
  readonly #options: LeaderElectionOptions;
  readonly #client: LeaseClient;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #logger: Logger;
  readonly #leaseDurationMs: number;
  readonly #renewDeadlineMs: number;
  readonly #retryPeriodMs: number;
  #observed: LeaseRecord | undefined;
  #observedAt = 0;
  /** The Lease as last read or written: its resourceVersion makes the next PUT a compare-and-swap. */
  #lease: Lease | undefined;
  #leader: string | undefined;
  #isLeader = false;

  constructor(options: LeaderElectionOptions) {
    this.#options = options;
    this.#client = options.client;
    this.identity = options.identity ?? defaultIdentity();
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? Math.random;
    this.#leaseDurationMs = options.leaseDurationMs ?? 15_000;
    this.#renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
    this.#retryPeriodMs = options.retryPeriodMs ?? 2_000;
    this.#logger = (options.logger ?? silentLogger).child({
      lease: `${options.namespace}/${options.name}`,
      identity: this.identity,
    });
    // client-go's checks: the leader must give up before others may take over, and must get several tries first.
    if (this.#leaseDurationMs <= this.#renewDeadlineMs)
      throw new Error('leaseDuration must be greater than renewDeadline');
    if (this.#renewDeadlineMs <= jitterFactor * this.#retryPeriodMs) {
      throw new Error(`renewDeadline must be greater than ${jitterFactor} * retryPeriod`);
    }
    if (this.#leaseDurationMs < 1000)
      throw new Error('leaseDuration must be at least 1 s (the Lease stores whole seconds)');
  }

  isLeader(): boolean {
    return this.#isLeader;
  }

  /** The holder last seen in the lease, if any. */
  leader(): string | undefined {
    return this.#leader;
  }

  /**
   * Campaigns until elected or `signal` aborts; once elected, runs onStartedLeading and renews the lease until
   * leadership ends: lost (the leading signal aborts at once), or `signal` aborted (the leading signal aborts,
   * the lease is kept until onStartedLeading has returned, then released). Resolves when it is all over, after
   * onStoppedLeading. It does not campaign again: after a loss, exit the process (as kube-controller-manager
   * does) or call run again with fresh state.
   */
  async run(signal: AbortSignal): Promise<void> {
    if (!(await this.#acquire(signal))) return;
    if (signal.aborted) {
      await this.#release();
      return;
    }
    this.#isLeader = true;
    this.#logger.info('became leader');
    const leading = new AbortController();
    const workEnded = new AbortController();
    const work = (async () => {
      try {
        await this.#options.onStartedLeading(leading.signal);
      } catch (error) {
        this.#logger.error('onStartedLeading failed; giving up leadership', { error });
      } finally {
        workEnded.abort();
      }
    })();

    const lost = await this.#renewWhileLeading(signal, leading, workEnded.signal);
    leading.abort();
    this.#isLeader = false;
    await work;
    if (!lost && this.#options.releaseOnCancel !== false) await this.#release();
    this.#logger.info(lost ? 'lost leadership' : 'stopped leading');
    this.#options.onStoppedLeading?.();
  }

  /** Renews until the lease is lost (returns true) or the work has ended (returns false). */
  async #renewWhileLeading(signal: AbortSignal, leading: AbortController, workEnded: AbortSignal): Promise<boolean> {
    let lastRenew = this.#clock.now();
    for (;;) {
      // Shutdown: tell the work to stop, but keep the lease until it has.
      if (signal.aborted) leading.abort();
      const wake = leading.signal.aborted ? workEnded : AbortSignal.any([workEnded, signal]);
      await sleep(this.#clock, this.#retryPeriodMs, wake);
      if (workEnded.aborted) return false;
      if (signal.aborted && !leading.signal.aborted) continue;
      const remaining = lastRenew + this.#renewDeadlineMs - this.#clock.now();
      const attempt = await this.#tryAcquireOrRenew(Math.max(1, remaining), undefined);
      if (attempt === 'held') {
        lastRenew = this.#clock.now();
        continue;
      }
      // Another holder in the lease proves we are no longer leader: stop now rather than at the deadline
      // (client-go waits for the deadline; two leaders for those seconds is what election exists to prevent).
      if (attempt === 'held-by-other') {
        this.#logger.warn('lease taken over by another holder', { holder: this.#leader });
        return true;
      }
      if (this.#clock.now() - lastRenew >= this.#renewDeadlineMs) {
        this.#logger.warn('could not renew the lease within the renew deadline', {
          renewDeadlineMs: this.#renewDeadlineMs,
        });
        return true;
      }
    }
  }

  async #acquire(signal: AbortSignal): Promise<boolean> {
    for (;;) {
      if (signal.aborted) return false;
      const attempt = await this.#tryAcquireOrRenew(this.#renewDeadlineMs, signal);
      if (attempt === 'held') return true;
      await sleep(this.#clock, this.#retryPeriodMs * (1 + jitterFactor * this.#random()), signal);
    }
  }

  async #tryAcquireOrRenew(timeoutMs: number, signal: AbortSignal | undefined): Promise<Attempt> {
    const deadline = this.#clock.now() + timeoutMs;
    const remaining = (): number => Math.max(1, deadline - this.#clock.now());
    if (this.#holdsValidLease()) {
      try {
        await this.#renewOptimistically(timeoutMs, signal);
        return 'held';
      } catch (error) {
        this.#logger.debug('optimistic renewal failed; reading the lease', { error });
      }
    }
    try {
      const lease = await this.#getLease(remaining(), signal);
      this.#lease = lease;
      const now = this.#clock.now();
      const observed = lease !== undefined ? recordOf(lease.spec) : undefined;
      this.#observe(observed, now);
      const action = electionAction(observed, this.#observedAt, now, this.identity);
      if (action === 'wait') return 'held-by-other';
      const record = nextRecord(action, observed, this.identity, Math.ceil(this.#leaseDurationMs / 1000), now);
      this.#lease =
        lease === undefined
          ? await this.#client.request<Lease>({
              verb: 'POST',
              path: resourcePath(ResourceTypes.Lease, { namespace: this.#options.namespace }),
              body: {
                apiVersion: 'coordination.k8s.io/v1',
                kind: 'Lease',
                metadata: { name: this.#options.name, namespace: this.#options.namespace },
                spec: specOf(record),
              } satisfies Lease,
              timeoutMs: remaining(),
              signal,
            })
          : await this.#put(lease, record, remaining(), signal);
      this.#observe(record, this.#clock.now());
      return 'held';
    } catch (error) {
      this.#logger.debug('lease attempt failed', { error });
      return 'failed';
    }
  }

  /** client-go's IsLeader and isLeaseValid: the last record we saw or wrote is ours and has not expired. */
  #holdsValidLease(): boolean {
    return (
      this.#lease !== undefined &&
      this.#observed?.holderIdentity === this.identity &&
      this.#observedAt + this.#observed.leaseDurationSeconds * 1000 > this.#clock.now()
    );
  }

  /** The fast path: one PUT of the renewed record over the Lease as we last wrote it; 409 if anyone wrote since. */
  async #renewOptimistically(timeoutMs: number, signal: AbortSignal | undefined): Promise<void> {
    const lease = this.#lease;
    if (lease === undefined) throw new Error('no lease to renew');
    const record = nextRecord(
      'renew',
      this.#observed,
      this.identity,
      Math.ceil(this.#leaseDurationMs / 1000),
      this.#clock.now(),
    );
    this.#lease = await this.#put(lease, record, timeoutMs, signal);
    this.#observe(record, this.#clock.now());
  }

  /** Writes `record` over `lease`; the resourceVersion in its metadata makes this a compare-and-swap. */
  #put(lease: Lease, record: LeaseRecord, timeoutMs: number, signal: AbortSignal | undefined): Promise<Lease> {
    return this.#client.request<Lease>({
      verb: 'PUT',
      path: resourcePath(ResourceTypes.Lease, { namespace: this.#options.namespace, name: this.#options.name }),
      body: { ...lease, spec: specOf(record) },
      timeoutMs,
      signal,
    });
  }

  async #getLease(timeoutMs: number, signal: AbortSignal | undefined): Promise<Lease | undefined> {
    try {
      return await this.#client.request<Lease>({
        verb: 'GET',
        path: resourcePath(ResourceTypes.Lease, { namespace: this.#options.namespace, name: this.#options.name }),
        timeoutMs,
        signal,
      });
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  #observe(record: LeaseRecord | undefined, now: number): void {
    if (sameRecord(record, this.#observed)) return;
    this.#observed = record;
    this.#observedAt = now;
    const holder = record?.holderIdentity;
    if (holder !== undefined && holder !== '' && holder !== this.#leader) {
      this.#leader = holder;
      this.#options.onNewLeader?.(holder);
    }
  }

  /**
   * Gives the lease up if we still hold it, as client-go's release(): one PUT over the Lease as we last wrote it,
   * which fails if anyone wrote since (then it is not ours to release). Failures only cost the standby a lease
   * duration.
   */
  async #release(): Promise<void> {
    const lease = this.#lease;
    if (lease === undefined || this.#observed?.holderIdentity !== this.identity) return;
    try {
      const record = releasedRecord(this.#observed, this.#clock.now());
      this.#lease = await this.#put(lease, record, this.#renewDeadlineMs, undefined);
      this.#observe(record, this.#clock.now());
      this.#logger.info('released the lease');
    } catch (error) {
      this.#logger.warn('could not release the lease', { error });
    }
  }
}
