// Wires the KasprApp controller onto the runtime: informers run from the start (a warm standby takes over with
// full caches), workers run only while this instance leads, and /readyz reports ready once the caches are synced.
import type { Registry } from 'prom-client';
import { KasprAppResource, type KasprApp } from '../api/types.ts';
import { validateKasprApp } from '../api/validation.ts';
import type { OperatorSettings } from '../model/operator-settings.ts';
import { Applier } from '../runtime/applier.ts';
import { systemClock } from '../runtime/clock.ts';
import { FreshObjects } from '../runtime/fresh-objects.ts';
import { startHttpServer, type RuntimeHttpServer } from '../runtime/http-server.ts';
import { isTransportError, type KubeClient } from '../runtime/kube/client.ts';
import { objectKey } from '../runtime/informer.ts';
import { LeaderElector } from '../runtime/leader-election.ts';
import type { Logger } from '../runtime/logger.ts';
import { RuntimeMetrics } from '../runtime/metrics.ts';
import { runWorkers, WorkQueue, type Lane } from '../runtime/workqueue.ts';
import { registerAppMetrics } from './app-metrics.ts';
import { ClusterView } from './cluster-view.ts';
import { EventRecorder } from './event-recorder.ts';
import { InstallLedger } from './install-ledger.ts';
import { PackageMetrics } from './package-metrics.ts';
import { KasprAppReconciler } from './reconciler.ts';

export const controllerName = 'kasprapp';

// Cached app objects are replaced, never mutated, on every change: the verdict of one object holds for its life.
const validity = new WeakMap<KasprApp, boolean>();
function isValid(app: KasprApp): boolean {
  let valid = validity.get(app);
  if (valid === undefined) {
    valid = validateKasprApp(app).ok;
    validity.set(app, valid);
  }
  return valid;
}

export interface LeaderElectionSettings {
  readonly namespace: string;
  readonly name: string;
  readonly identity: string;
  readonly leaseDurationMs?: number;
  readonly renewDeadlineMs?: number;
  readonly retryPeriodMs?: number;
}

export interface OperatorOptions {
  readonly client: KubeClient;
  readonly registry: Registry;
  readonly runtimeMetrics: RuntimeMetrics;
  readonly logger: Logger;
  readonly settings: OperatorSettings;
  /** Namespaces to watch; undefined or empty means all. */
  readonly namespaces?: readonly string[] | undefined;
  readonly workers: number;
  /** Undefined: this instance is the only one and reconciles at once. */
  readonly leaderElection?: LeaderElectionSettings | undefined;
  readonly http?: { readonly port: number; readonly host?: string } | undefined;
  /** How often every KasprApp is reconciled even without a change; default 10 minutes. */
  readonly resyncPeriodMs?: number;
}

export interface RunningOperator {
  readonly http: RuntimeHttpServer | undefined;
  /** Resolves when the operator has stopped: `shutdown` (asked to) or `lost-lease` (must exit, as kube-controller-manager does). */
  readonly done: Promise<'shutdown' | 'lost-lease'>;
}

export async function startOperator(options: OperatorOptions, shutdown: AbortSignal): Promise<RunningOperator> {
  const { client, registry, runtimeMetrics, logger } = options;
  const packageMetrics = new PackageMetrics(registry);
  const view = new ClusterView({
    client,
    namespaces: options.namespaces,
    resyncPeriodMs: options.resyncPeriodMs ?? 10 * 60_000,
    logger,
  });
  let queue: WorkQueue | undefined;
  // The app gauges are the leader's, as the install counters are: a standby's would repeat them.
  let leading = false;
  registerAppMetrics(registry, () => (leading ? view.apps.list() : []), systemClock);
  // An invalid spec is judged without any request: it takes the urgent lane, so its condition and event come within
  // seconds however long the queue of valid apps is.
  const laneOf = (key: string): Lane => {
    const app = view.apps.getByKey(key);
    return app !== undefined && !isValid(app) ? 'urgent' : 'normal';
  };
  view.onChange((key) => queue?.add(key, laneOf(key)));
  const freshApps = new FreshObjects<KasprApp>();
  view.apps.addHandlers({
    onAdd: (app) => freshApps.observed(app),
    onUpdate: (_, app) => freshApps.observed(app),
    onDelete: (app) => freshApps.forget(objectKey(app)),
  });
  for (const informer of view.informers) runtimeMetrics.watchInformer(informer);
  view.start();

  const http =
    options.http &&
    (await startHttpServer({
      ...options.http,
      registry,
      logger,
      healthChecks: { informers: () => view.informers.every((i) => i.stats().running) || 'an informer stopped' },
      readinessChecks: { caches: () => view.synced() || 'caches are not synced yet' },
    }));

  const identity = options.leaderElection?.identity ?? 'kasprop';
  const events = new EventRecorder(client, identity, logger);
  const applier = new Applier(client);
  // One for the process, not per term: what it counted in an earlier term and could not record yet stays counted.
  const ledger = new InstallLedger();

  const lead = async (signal: AbortSignal): Promise<void> => {
    if (!(await view.waitForSync(signal))) return;
    if (options.leaderElection !== undefined) await readAppsAfterHandOver(client, view, freshApps, options, signal);
    const reconciler = new KasprAppReconciler({
      view,
      freshApps,
      applier,
      events,
      metrics: packageMetrics,
      ledger,
      settings: options.settings,
      logger,
    });
    queue = new WorkQueue({ metrics: runtimeMetrics.workQueue(controllerName) });
    leading = true;
    for (const app of view.apps.list()) {
      queue.add(`${app.metadata.namespace ?? ''}/${app.metadata.name}`, isValid(app) ? 'normal' : 'urgent');
    }
    logger.info('reconciling', { apps: view.apps.list().length, workers: options.workers });
    const hooks = runtimeMetrics.reconcileHooks(controllerName, options.workers);
    try {
      await runWorkers(queue, options.workers, (key, s) => reconciler.reconcile(key, s), signal, {
        connectivity: client.connectivity,
        onStart: hooks.onStart,
        onResult: (outcome) => {
          hooks.onResult(outcome);
          if (outcome.result === 'error' && isTransportError(outcome.error)) {
            logger.warn('apiserver unreachable; every worker waits until it answers', { app: outcome.key });
          } else if (outcome.result === 'error') {
            logger.warn('reconcile failed; retrying with backoff', { app: outcome.key, error: String(outcome.error) });
          }
        },
      });
    } finally {
      queue = undefined;
      leading = false;
    }
  };

  const stopped = async (reason: 'shutdown' | 'lost-lease'): Promise<'shutdown' | 'lost-lease'> => {
    await view.stop();
    await http?.close();
    return reason;
  };

  let done: Promise<'shutdown' | 'lost-lease'>;
  if (options.leaderElection === undefined) {
    done = lead(shutdown).then(() => stopped('shutdown'));
  } else {
    let lost = false;
    const elector = new LeaderElector({
      client,
      ...options.leaderElection,
      logger,
      onStartedLeading: async (signal) => {
        logger.info('leading', { identity });
        await lead(signal);
      },
      onStoppedLeading: () => {
        lost = !shutdown.aborted;
        logger.info(lost ? 'lost the lease; stopping' : 'released the lease', { identity });
      },
      onNewLeader: (leader) => logger.info('leader', { leader }),
    });
    runtimeMetrics.watchLeader(options.leaderElection.name, elector);
    done = elector.run(shutdown).then(() => stopped(lost ? 'lost-lease' : 'shutdown'));
  }
  return { http, done };
}

/**
 * A standby's cache may not show the previous leader's last status writes yet (its watch can lag them): the apps
 * read once from the server, page by page, so no first reconcile of this term computes from a status older than
 * those and repeats a transition or its event. A failure leaves the cache alone in charge, as before.
 */
async function readAppsAfterHandOver(
  client: KubeClient,
  view: ClusterView,
  freshApps: FreshObjects<KasprApp>,
  { namespaces, logger }: Pick<OperatorOptions, 'namespaces' | 'logger'>,
  signal: AbortSignal,
): Promise<void> {
  try {
    for (const namespace of namespaces?.length ? namespaces : [undefined]) {
      let next: string | undefined;
      do {
        const page = await client.list<KasprApp>(KasprAppResource, { namespace, limit: 100, continue: next }, signal);
        for (const app of page.items) freshApps.rememberIfNewer(app, view.apps.getByKey(objectKey(app)));
        next = page.metadata.continue || undefined;
      } while (next !== undefined);
    }
  } catch (error) {
    if (signal.aborted) return;
    logger.warn('could not read the apps after taking the lead; reconciling from the cache', { error: String(error) });
  }
}
