// Generic operator metrics on a registry the caller owns (the same one the app's own metrics live in, so /metrics
// serves both). Label sets stay small and bounded: controller, queue, resource, verb and code names, never object
// names, which would make series grow with the cluster.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { RequestInfo } from './kube/client.ts';
import type { WorkerOutcome, WorkQueueMetrics } from './workqueue.ts';

/** controller-runtime's reconcile buckets, from 5 ms to a minute. */
const reconcileBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export class RuntimeMetrics {
  readonly #reconcileTotal: Counter<'controller' | 'result'>;
  readonly #reconcileDuration: Histogram<'controller'>;
  readonly #reconcileErrors: Counter<'controller'>;
  readonly #queueDepth: Gauge<'name'>;
  readonly #queueAdds: Counter<'name'>;
  readonly #apiRequests: Counter<'verb' | 'code'>;
  readonly #informers = new Map<string, { hasSynced(): boolean }>();
  readonly #leaders: { isLeader(): boolean }[] = [];

  constructor(registry: Registry) {
    const registers = [registry];
    this.#reconcileTotal = new Counter({
      name: 'kasprop_reconcile_total',
      help: 'Reconciles by controller and result (success, error, requeue).',
      labelNames: ['controller', 'result'],
      registers,
    });
    this.#reconcileDuration = new Histogram({
      name: 'kasprop_reconcile_duration_seconds',
      help: 'Time spent in one reconcile.',
      labelNames: ['controller'],
      buckets: reconcileBuckets,
      registers,
    });
    this.#reconcileErrors = new Counter({
      name: 'kasprop_reconcile_errors_total',
      help: 'Reconciles that failed and were retried with backoff.',
      labelNames: ['controller'],
      registers,
    });
    this.#queueDepth = new Gauge({
      name: 'kasprop_workqueue_depth',
      help: 'Keys waiting in a work queue (not counting keys being processed or delayed).',
      labelNames: ['name'],
      registers,
    });
    this.#queueAdds = new Counter({
      name: 'kasprop_workqueue_adds_total',
      help: 'Keys that entered a work queue (repeated adds of a queued key are not counted).',
      labelNames: ['name'],
      registers,
    });
    this.#apiRequests = new Counter({
      name: 'kasprop_api_requests_total',
      help: 'Requests to the Kubernetes API by verb (WATCH for watches) and HTTP code (<error> when none came).',
      labelNames: ['verb', 'code'],
      registers,
    });
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
    const leaders = this.#leaders;
    new Gauge({
      name: 'kasprop_leader',
      help: '1 while this process holds the leader lease, else 0.',
      registers,
      collect() {
        this.set(leaders.some((elector) => elector.isLeader()) ? 1 : 0);
      },
    });
  }

  /** An `onResult` for runWorkers: counts and times every reconcile of `controller`. */
  reconcileObserver(controller: string): (outcome: WorkerOutcome) => void {
    return ({ result, durationMs }) => {
      this.#reconcileTotal.inc({ controller, result });
      this.#reconcileDuration.observe({ controller }, durationMs / 1000);
      if (result === 'error') this.#reconcileErrors.inc({ controller });
    };
  }

  /** The metrics sink of a WorkQueue named `name`. */
  workQueue(name: string): WorkQueueMetrics {
    this.#queueDepth.set({ name }, 0);
    return {
      added: () => this.#queueAdds.inc({ name }),
      depth: (length) => this.#queueDepth.set({ name }, length),
    };
  }

  /** An `onRequest` for KubeClient. */
  readonly observeRequest = (info: RequestInfo): void => {
    this.#apiRequests.inc({
      verb: info.watch ? 'WATCH' : info.verb,
      code: info.status === 0 ? '<error>' : String(info.status),
    });
  };

  /** Reports whether `informer` has synced, read at every scrape. */
  watchInformer(informer: { readonly resource: string; hasSynced(): boolean }): void {
    this.#informers.set(informer.resource, informer);
  }

  /** Reports whether `elector` leads, read at every scrape. */
  watchLeader(elector: { isLeader(): boolean }): void {
    this.#leaders.push(elector);
  }
}
