// Gauges of the apps' state, read from their status at every scrape (kube-state-metrics style), so that "apps not
// Ready" and "apps installing longer than their timeout" can be graphed and alerted on without a second exporter.
// Nothing is stored: the series of a deleted app disappear with it.
import { Gauge, type Registry } from 'prom-client';
import { defaults } from '../api/defaults.ts';
import type { KasprApp } from '../api/types.ts';
import type { Clock } from '../runtime/clock.ts';

export interface AppSample {
  readonly labels: { readonly app_name: string; readonly namespace: string };
  /** 1 when the Ready condition is True. */
  readonly ready: number;
  /** status.pythonPackages.state, when the app has packages. */
  readonly packagesState?: string;
  /** While installing: seconds since PythonPackagesReady turned False. */
  readonly installingSeconds?: number;
  /** The longest the installer's pip runs may take: (retries + 1) * timeout, for apps with packages. */
  readonly installTimeoutSeconds?: number;
}

export const packagesStates = ['Installing', 'Ready', 'Failed'] as const;

/** What the gauges say about `app` at `nowMs` (pure). */
export function appSample(app: KasprApp, nowMs: number): AppSample {
  const labels = { app_name: app.metadata.name, namespace: app.metadata.namespace ?? '' };
  const conditions = app.status?.conditions ?? [];
  const ready = conditions.some((c) => c.type === 'Ready' && c.status === 'True') ? 1 : 0;
  const packages = app.spec.pythonPackages;
  if (packages === undefined) return { labels, ready };
  const policy = packages.installPolicy ?? {};
  const installTimeoutSeconds =
    ((policy.retries ?? defaults.pythonPackages.installPolicy.retries) + 1) *
    (policy.timeout ?? defaults.pythonPackages.installPolicy.timeout);
  const packagesState = app.status?.pythonPackages?.state;
  const since = conditions.find((c) => c.type === 'PythonPackagesReady' && c.status === 'False')?.lastTransitionTime;
  const installingSeconds =
    packagesState === 'Installing' && since !== undefined ? Math.max(0, (nowMs - Date.parse(since)) / 1000) : undefined;
  return {
    labels,
    ready,
    installTimeoutSeconds,
    ...(packagesState !== undefined && { packagesState }),
    ...(installingSeconds !== undefined && !Number.isNaN(installingSeconds) && { installingSeconds }),
  };
}

/** Registers the gauges; `apps` is read at every scrape (empty on a standby, whose figures would repeat the leader's). */
export function registerAppMetrics(registry: Registry, apps: () => readonly KasprApp[], clock: Clock): void {
  const registers = [registry];
  const samples = (): AppSample[] => apps().map((app) => appSample(app, clock.now()));
  const labelNames = ['app_name', 'namespace'] as const;
  new Gauge({
    name: 'kasprop_app_ready',
    help: "1 while the KasprApp's Ready condition is True, else 0.",
    labelNames,
    registers,
    collect() {
      this.reset();
      for (const s of samples()) this.set(s.labels, s.ready);
    },
  });
  new Gauge({
    name: 'kasprop_package_install_state',
    help: 'status.pythonPackages.state of the KasprApp: 1 for its current state (Installing, Ready, Failed), else 0.',
    labelNames: [...labelNames, 'state'],
    registers,
    collect() {
      this.reset();
      for (const s of samples()) {
        if (s.packagesState === undefined) continue;
        for (const state of packagesStates) this.set({ ...s.labels, state }, s.packagesState === state ? 1 : 0);
      }
    },
  });
  new Gauge({
    name: 'kasprop_package_installing_seconds',
    help: 'While the packages of a KasprApp are Installing: seconds since its PythonPackagesReady condition turned False.',
    labelNames,
    registers,
    collect() {
      this.reset();
      for (const s of samples()) if (s.installingSeconds !== undefined) this.set(s.labels, s.installingSeconds);
    },
  });
  new Gauge({
    name: 'kasprop_package_install_timeout_seconds',
    help: 'The longest the pip runs of one install may take: (installPolicy.retries + 1) * installPolicy.timeout.',
    labelNames,
    registers,
    collect() {
      this.reset();
      for (const s of samples()) {
        if (s.installTimeoutSeconds !== undefined) this.set(s.labels, s.installTimeoutSeconds);
      }
    },
  });
}
