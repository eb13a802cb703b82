// Runs the real operator (startOperator, as `kasprop run` does) inside a test process, against the run's control
// plane, watching the test's namespaces. Its client records every request, so tests can count mutating ones.
import { after } from 'node:test';
import { Registry } from 'prom-client';
import { startOperator, type LeaderElectionSettings, type RunningOperator } from '../../src/controller/operator.ts';
import { defaultOperatorSettings, type OperatorSettings } from '../../src/model/operator-settings.ts';
import { KubeClient, type RequestInfo } from '../../src/runtime/kube/client.ts';
import { loadKubeConfigFile, type KubeConfig } from '../../src/runtime/kube/config.ts';
import { createLogger, type LogLevel } from '../../src/runtime/logger.ts';
import { RuntimeMetrics } from '../../src/runtime/metrics.ts';
import type { Cluster } from './integration.ts';

/** A request the operator sent, with when its answer (or failure) came, on `performance.now()`'s clock. */
export interface TimedRequest extends RequestInfo {
  readonly endedAt: number;
}

export interface TestOperator {
  readonly requests: readonly TimedRequest[];
  /** Requests that change something: every verb but GET (watches are GETs). */
  mutatingRequests(): TimedRequest[];
  readonly registry: Registry;
  readonly running: RunningOperator;
  metrics(): Promise<string>;
  /** Stops it (as SIGTERM would) and waits until it has stopped. */
  stop(): Promise<'shutdown' | 'lost-lease'>;
}

export interface TestOperatorOptions {
  readonly namespaces: readonly string[];
  readonly leaderElection?: LeaderElectionSettings;
  readonly settings?: OperatorSettings;
  readonly workers?: number;
  readonly logLevel?: LogLevel;
  readonly resyncPeriodMs?: number;
  /**
   * Whom the operator connects as; default the run's admin kubeconfig. E.g. a ServiceAccount's token (with the
   * server and CA only, no client certificate), to run it under the RBAC of deploy/.
   */
  readonly kubeConfig?: KubeConfig;
}

export async function startTestOperator(cluster: Cluster, options: TestOperatorOptions): Promise<TestOperator> {
  const requests: TimedRequest[] = [];
  const registry = new Registry();
  const runtimeMetrics = new RuntimeMetrics(registry);
  const client = new KubeClient(options.kubeConfig ?? loadKubeConfigFile(cluster.kubeconfigPath), {
    onRequest: (info) => {
      requests.push({ ...info, endedAt: performance.now() });
      runtimeMetrics.observeRequest(info);
    },
  });
  const logger = createLogger({
    sink: { write: (line: string) => process.env.KASPROP_TEST_OPERATOR_LOGS === '1' && process.stderr.write(line) },
    level: options.logLevel ?? 'debug',
  });
  const shutdown = new AbortController();
  const running = await startOperator(
    {
      client,
      registry,
      runtimeMetrics,
      logger,
      settings: options.settings ?? defaultOperatorSettings,
      namespaces: options.namespaces,
      workers: options.workers ?? 2,
      leaderElection: options.leaderElection,
      http: { port: 0, host: '127.0.0.1' },
      resyncPeriodMs: options.resyncPeriodMs,
    },
    shutdown.signal,
  );
  let stopped: Promise<'shutdown' | 'lost-lease'> | undefined;
  const stop = (): Promise<'shutdown' | 'lost-lease'> => {
    stopped ??= (async () => {
      shutdown.abort();
      const reason = await running.done;
      client.close();
      return reason;
    })();
    return stopped;
  };
  after(stop);
  return {
    requests,
    mutatingRequests: () => requests.filter((r) => r.verb !== 'GET'),
    registry,
    running,
    metrics: async () => {
      const url = running.http?.url;
      if (url === undefined) throw new Error('the operator serves no metrics');
      return (await fetch(`${url}/metrics`)).text();
    },
    stop,
  };
}
