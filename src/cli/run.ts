// `kasprop run`: the operator. Configuration comes from flags, with environment variables as defaults so that a
// Deployment can set either; everything is checked before anything starts.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { ParseArgsOptionsConfig } from 'node:util';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { operatorSettingsFromEnv } from '../model/operator-settings.ts';
import { startOperator } from '../controller/operator.ts';
import {
  inClusterConfig,
  kubeconfigPaths,
  loadKubeConfig,
  loadKubeConfigFile,
  type KubeConfig,
} from '../runtime/kube/config.ts';
import { KubeClient } from '../runtime/kube/client.ts';
import { defaultIdentity } from '../runtime/leader-election.ts';
import { createLogger, parseLogLevel } from '../runtime/logger.ts';
import { RuntimeMetrics } from '../runtime/metrics.ts';
import type { CommandIo } from './validate.ts';

export const runOptions = {
  options: {
    kubeconfig: { type: 'string' },
    context: { type: 'string' },
    namespaces: { type: 'string' },
    workers: { type: 'string' },
    'metrics-port': { type: 'string' },
    'metrics-host': { type: 'string' },
    'leader-elect': { type: 'string' },
    'leader-election-namespace': { type: 'string' },
    'log-level': { type: 'string' },
    'resync-period': { type: 'string' },
  },
  help: `  --kubeconfig PATH            kubeconfig to use; default: the files of KUBECONFIG merged as kubectl does, else
                               in-cluster, else ~/.kube/config (tokens, token files and exec plugins work)
  --context NAME               kubeconfig context (default: the current one)
  --namespaces NS[,NS...]      namespaces to watch (env WATCH_NAMESPACES); default: all
  --workers N                  concurrent reconciles (env KASPROP_WORKERS); default 4
  --metrics-port PORT          port of /metrics, /healthz, /readyz (env METRICS_PORT); default 8080, 0 = any
  --metrics-host HOST          address to listen on (env METRICS_HOST); default 0.0.0.0
  --leader-elect true|false    run leader election (env LEADER_ELECT); default true
  --leader-election-namespace NS
                               where the Lease lives (env POD_NAMESPACE); default: the kubeconfig namespace
  --log-level LEVEL            debug, info, warn or error (env LOG_LEVEL); default info
  --resync-period SECONDS      reconcile every KasprApp this often even without a change (env RESYNC_PERIOD); default 600
  Operator settings: PYTHON_PACKAGES_ENABLED=false ignores spec.pythonPackages (with a warning).`,
} as const satisfies { options: ParseArgsOptionsConfig; help: string };

type RunValues = Partial<Record<keyof typeof runOptions.options, string>>;

export interface RunConfig {
  readonly kube: KubeConfig;
  readonly namespaces: readonly string[] | undefined;
  readonly workers: number;
  readonly metricsPort: number;
  readonly metricsHost: string;
  readonly leaderElect: boolean;
  readonly leaseNamespace: string;
  readonly logLevel: ReturnType<typeof parseLogLevel>;
  readonly resyncPeriodSeconds: number;
}

export function parseRunConfig(values: RunValues, env: NodeJS.ProcessEnv): RunConfig {
  // kubectl's order: --kubeconfig alone; else every file of KUBECONFIG, merged; else in-cluster; else ~/.kube/config.
  const kubeconfigListed = (env.KUBECONFIG ?? '') !== '';
  const defaultPath = join(homedir(), '.kube', 'config');
  const kube =
    values.kubeconfig !== undefined
      ? loadKubeConfigFile(values.kubeconfig, values.context)
      : kubeconfigListed
        ? loadKubeConfig(kubeconfigPaths(env), values.context)
        : env.KUBERNETES_SERVICE_HOST !== undefined
          ? inClusterConfig(env)
          : existsSync(defaultPath)
            ? loadKubeConfigFile(defaultPath, values.context)
            : fail('no cluster: give --kubeconfig, set KUBECONFIG, or run in a pod');
  const namespaces = (values.namespaces ?? env.WATCH_NAMESPACES ?? '')
    .split(',')
    .map((n) => n.trim())
    .filter((n) => n !== '');
  return {
    kube,
    namespaces: namespaces.length > 0 ? namespaces : undefined,
    workers: integer('--workers', values.workers ?? env.KASPROP_WORKERS ?? '4', 1, 64),
    metricsPort: integer('--metrics-port', values['metrics-port'] ?? env.METRICS_PORT ?? '8080', 0, 65535),
    metricsHost: values['metrics-host'] ?? env.METRICS_HOST ?? '0.0.0.0',
    leaderElect: boolean('--leader-elect', values['leader-elect'] ?? env.LEADER_ELECT ?? 'true'),
    leaseNamespace: values['leader-election-namespace'] ?? env.POD_NAMESPACE ?? kube.namespace,
    logLevel: parseLogLevel(values['log-level'] ?? env.LOG_LEVEL ?? 'info'),
    resyncPeriodSeconds: integer('--resync-period', values['resync-period'] ?? env.RESYNC_PERIOD ?? '600', 1, 86_400),
  };
}

function fail(message: string): never {
  throw new Error(message);
}

function integer(flag: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max)
    fail(`${flag} must be an integer from ${min} to ${max}, not ${JSON.stringify(text)}`);
  return value;
}

function boolean(flag: string, text: string): boolean {
  if (text === 'true' || text === 'false') return text === 'true';
  return fail(`${flag} must be true or false, not ${JSON.stringify(text)}`);
}

/** Runs until SIGTERM or SIGINT (exit 0) or a lost lease (exit 1, so the pod restarts as a standby). */
export async function runCommand(values: RunValues, io: CommandIo, env: NodeJS.ProcessEnv): Promise<number> {
  const config = parseRunConfig(values, env);
  const settings = operatorSettingsFromEnv(env);
  const logger = createLogger({ sink: process.stderr, level: config.logLevel, fields: { component: 'kasprop' } });
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const runtimeMetrics = new RuntimeMetrics(registry);
  const client = new KubeClient(config.kube, { onRequest: runtimeMetrics.observeRequest, userAgent: 'kasprop' });

  const shutdown = new AbortController();
  const stop = (signal: string): void => {
    logger.info('shutting down', { signal });
    shutdown.abort();
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));

  const operator = await startOperator(
    {
      client,
      registry,
      runtimeMetrics,
      logger,
      settings,
      namespaces: config.namespaces,
      workers: config.workers,
      leaderElection: config.leaderElect
        ? { namespace: config.leaseNamespace, name: 'kasprop-leader', identity: defaultIdentity(env) }
        : undefined,
      http: { port: config.metricsPort, host: config.metricsHost },
      resyncPeriodMs: config.resyncPeriodSeconds * 1000,
    },
    shutdown.signal,
  );
  logger.info('started', {
    server: config.kube.server,
    namespaces: config.namespaces ?? 'all',
    metrics: operator.http?.url,
    leaderElection: config.leaderElect,
    pythonPackagesEnabled: settings.pythonPackagesEnabled,
  });
  io.err(`kasprop: serving /metrics, /healthz and /readyz on ${operator.http?.url ?? '(none)'}`);
  const reason = await operator.done;
  client.close();
  return reason === 'lost-lease' ? 1 : 0;
}
