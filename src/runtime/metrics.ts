// Generic operator metrics on a registry the caller owns (the same one the app's own metrics live in, so /metrics
// serves both), under the names controller-runtime and client-go made standard, so dashboards and alerts written
// for any Go operator work here unchanged. Label sets stay small and bounded: controller, queue, lease, method,
// code and host names, never object names, which would make series grow with the cluster.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { systemClock, type Clock } from './clock.ts';
import type { RequestInfo } from './kube/client.ts';
import type { WorkerOutcome, WorkQueueMetrics } from './workqueue.ts';

/** controller-runtime's reconcile buckets, from 5 ms to a minute. */
const reconcileBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
/** client-go's work queue buckets: 10 ns to 1000 s in powers of ten. */
const workQueueBuckets = Array.from({ length: 12 }, (_, i) => 1e-8 * 10 ** i);

/** controller-runtime's `result` label: a planned requeue is `requeue_after` there. */
const resultLabel: Record<WorkerOutcome['result'], string> = {
  success: 'success',
  error: 'error',
  requeue: 'requeue_after',
};

/** What one work queue's metrics remember between calls: when each key was added, and taken. */
interface QueueTimes {
  readonly addedAt: Map<string, number>;
  readonly processingSince: Map<string, number>;
}

export interface RuntimeMetricsOptions {
  /** Measures queue wait and work time; a fake clock in tests. */
  readonly clock?: Clock;
}

export class RuntimeMetrics {
  readonly #clock: Clock;
  readonly #reconcileTotal: Counter<'controller' | 'result'>;
  readonly #reconcileTime: Histogram<'controller'>;
  readonly #reconcileErrors: Counter<'controller'>;
  readonly #activeWorkers: Gauge<'controller'>;
  readonly #maxConcurrentReconciles: Gauge<'controller'>;
  readonly #queueDepth: Gauge<'name'>;
  readonly #queueAdds: Counter<'name'>;
  readonly #queueDuration: Histogram<'name'>;
  readonly #workDuration: Histogram<'name'>;
  readonly #queueRetries: Counter<'name'>;
  readonly #restRequests: Counter<'code' | 'method' | 'host'>;
  readonly #queues = new Map<string, QueueTimes>();
  readonly #informers = new Map<string, { hasSynced(): boolean }>();
  readonly #leaders = new Map<string, { isLeader(): boolean }[]>();

  constructor(registry: Registry, { clock = systemClock }: RuntimeMetricsOptions = {}) {
    this.#clock = clock;
    const registers = [registry];
    this.#reconcileTotal = new Counter({
      name: 'controller_runtime_reconcile_total',
      help: 'Total number of reconciliations per controller (result: success, error, requeue_after).',
      labelNames: ['controller', 'result'],
      registers,
    });
    this.#reconcileTime = new Histogram({
      name: 'controller_runtime_reconcile_time_seconds',
      help: 'Length of time per reconciliation per controller.',
      labelNames: ['controller'],
      buckets: reconcileBuckets,
      registers,
    });
    this.#reconcileErrors = new Counter({
      name: 'controller_runtime_reconcile_errors_total',
      help: 'Total number of reconciliation errors per controller (retried with backoff).',
      labelNames: ['controller'],
      registers,
    });
    this.#activeWorkers = new Gauge({
      name: 'controller_runtime_active_workers',
      help: 'Number of currently used workers per controller.',
      labelNames: ['controller'],
      registers,
    });
    this.#maxConcurrentReconciles = new Gauge({
      name: 'controller_runtime_max_concurrent_reconciles',
      help: 'Maximum number of concurrent reconciles per controller.',
      labelNames: ['controller'],
      registers,
    });
    this.#queueDepth = new Gauge({
      name: 'workqueue_depth',
      help: 'Current depth of workqueue (keys waiting, not counting keys being processed or delayed).',
      labelNames: ['name'],
      registers,
    });
    this.#queueAdds = new Counter({
      name: 'workqueue_adds_total',
      help: 'Total number of adds handled by workqueue (repeated adds of a queued key are not counted).',
      labelNames: ['name'],
      registers,
    });
    this.#queueDuration = new Histogram({
      name: 'workqueue_queue_duration_seconds',
      help: 'How long in seconds an item stays in workqueue before being requested.',
      labelNames: ['name'],
      buckets: workQueueBuckets,
      registers,
    });
    this.#workDuration = new Histogram({
      name: 'workqueue_work_duration_seconds',
      help: 'How long in seconds processing an item from workqueue takes.',
      labelNames: ['name'],
      buckets: workQueueBuckets,
      registers,
    });
    this.#queueRetries = new Counter({
      name: 'workqueue_retries_total',
      help: 'Total number of retries handled by workqueue (adds after a failure, with backoff).',
      labelNames: ['name'],
      registers,
    });
    const queues = this.#queues;
    const now = (): number => clock.now();
    new Gauge({
      name: 'workqueue_unfinished_work_seconds',
      help: 'How many seconds of work has been done that is in progress and has not been observed by work_duration. Large values indicate stuck threads.',
      labelNames: ['name'],
      registers,
      collect() {
        const at = now();
        for (const [name, { processingSince }] of queues) {
          let total = 0;
          for (const since of processingSince.values()) total += at - since;
          this.set({ name }, total / 1000);
        }
      },
    });
    new Gauge({
      name: 'workqueue_longest_running_processor_seconds',
      help: 'How many seconds has the longest running processor for workqueue been running.',
      labelNames: ['name'],
      registers,
      collect() {
        const at = now();
        for (const [name, { processingSince }] of queues) {
          let longest = 0;
          for (const since of processingSince.values()) longest = Math.max(longest, at - since);
          this.set({ name }, longest / 1000);
        }
      },
    });
    this.#restRequests = new Counter({
      name: 'rest_client_requests_total',
      help: 'Number of HTTP requests to the Kubernetes API, partitioned by status code (<error> when none came), method, and host.',
      labelNames: ['code', 'method', 'host'],
      registers,
    });
    const leaders = this.#leaders;
    new Gauge({
      name: 'leader_election_master_status',
      help: 'Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master.',
      labelNames: ['name'],
      registers,
      collect() {
        for (const [name, electors] of leaders) this.set({ name }, electors.some((e) => e.isLeader()) ? 1 : 0);
      },
    });
    // No standard name exists for this one: client-go logs cache sync, it does not export it.
    const informers = this.#informers;
    new Gauge({
      name: 'kasprop_informer_synced',
      help: '1 once an informer has listed its resource, else 0.',
      labelNames: ['resource'],
      registers,
      collect() {
        for (const [resource, informer] of informers) this.set({ resource }, informer.hasSynced() ? 1 : 0);
      },
    });
  }

  /**
   * The `onStart` and `onResult` hooks of runWorkers for `workers` workers of `controller`: count and time every
   * reconcile, and how many workers are busy.
   */
  reconcileHooks(
    controller: string,
    workers: number,
  ): { onStart: () => void; onResult: (outcome: WorkerOutcome) => void } {
    this.#maxConcurrentReconciles.set({ controller }, workers);
    this.#activeWorkers.set({ controller }, 0);
    return {
      onStart: () => this.#activeWorkers.inc({ controller }),
      onResult: ({ result, durationMs }) => {
        this.#activeWorkers.dec({ controller });
        this.#reconcileTotal.inc({ controller, result: resultLabel[result] });
        this.#reconcileTime.observe({ controller }, durationMs / 1000);
        if (result === 'error') this.#reconcileErrors.inc({ controller });
      },
    };
  }

  /** The metrics sink of a WorkQueue named `name`, with client-go's bookkeeping of when keys were added and taken. */
  workQueue(name: string): WorkQueueMetrics {
    const times: QueueTimes = { addedAt: new Map(), processingSince: new Map() };
    this.#queues.set(name, times);
    this.#queueDepth.set({ name }, 0);
    return {
      added: (key) => {
        this.#queueAdds.inc({ name });
        if (!times.addedAt.has(key)) times.addedAt.set(key, this.#clock.now());
      },
      taken: (key) => {
        const now = this.#clock.now();
        const addedAt = times.addedAt.get(key);
        if (addedAt !== undefined) this.#queueDuration.observe({ name }, (now - addedAt) / 1000);
        times.addedAt.delete(key);
        times.processingSince.set(key, now);
      },
      done: (key) => {
        const since = times.processingSince.get(key);
        if (since !== undefined) this.#workDuration.observe({ name }, (this.#clock.now() - since) / 1000);
        times.processingSince.delete(key);
      },
      retried: () => this.#queueRetries.inc({ name }),
      depth: (length) => this.#queueDepth.set({ name }, length),
      shutDown: () => times.addedAt.clear(),
    };
  }

  /** An `onRequest` for KubeClient. A watch is a GET, as client-go counts it. */
  readonly observeRequest = (info: RequestInfo): void => {
    this.#restRequests.inc({
      code: info.status === 0 ? '<error>' : String(info.status),
      method: info.verb,
      host: info.host,
    });
  };

  /** Reports whether `informer` has synced, read at every scrape. */
  watchInformer(informer: { readonly resource: string; hasSynced(): boolean }): void {
    this.#informers.set(informer.resource, informer);
  }

  /** Reports whether `elector` holds the lease `name`, read at every scrape. */
  watchLeader(name: string, elector: { isLeader(): boolean }): void {
    const electors = this.#leaders.get(name) ?? [];
    electors.push(elector);
    this.#leaders.set(name, electors);
  }
}
