// The install metrics, labelled by app and namespace (names and labels as the original operator's). Fed from the
// install ledger, so each install is counted once; the series of a deleted app are removed, so cardinality follows
// the apps that exist.
import { Counter, Histogram, type Registry } from 'prom-client';
import type { CountedInstall } from './install-ledger.ts';

/** Installs take seconds to many minutes. */
const durationBuckets = [1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 1200];

export class PackageMetrics {
  readonly #duration: Histogram<'app_name' | 'namespace'>;
  readonly #total: Counter<'app_name' | 'namespace' | 'result'>;
  readonly #errors: Counter<'app_name' | 'namespace' | 'error_type'>;
  /** The error types seen per app (`namespace/app`), so that its series can be removed exactly. */
  readonly #errorTypes = new Map<string, Set<string>>();

  constructor(registry: Registry) {
    const registers = [registry];
    this.#duration = new Histogram({
      name: 'kasprop_package_install_duration_seconds',
      help: 'Time the installer took for a successful install of Python packages (pip runs and publishing).',
      labelNames: ['app_name', 'namespace'],
      buckets: durationBuckets,
      registers,
    });
    this.#total = new Counter({
      name: 'kasprop_package_install_total',
      help: 'Installs of Python packages by result (success or failure); reuse of an installed cache is not counted.',
      labelNames: ['app_name', 'namespace', 'result'],
      registers,
    });
    this.#errors = new Counter({
      name: 'kasprop_package_install_errors_total',
      help: 'Failed installs of Python packages by error type.',
      labelNames: ['app_name', 'namespace', 'error_type'],
      registers,
    });
  }

  record(namespace: string, app: string, installs: readonly CountedInstall[]): void {
    const labels = { app_name: app, namespace };
    for (const install of installs) {
      this.#total.inc({ ...labels, result: install.result });
      if (install.result === 'success' && install.durationSeconds !== undefined) {
        this.#duration.observe(labels, install.durationSeconds);
      }
      if (install.result === 'failure') {
        const errorType = install.errorType ?? 'unknown';
        this.#errors.inc({ ...labels, error_type: errorType });
        const key = `${namespace}/${app}`;
        this.#errorTypes.set(key, (this.#errorTypes.get(key) ?? new Set()).add(errorType));
      }
    }
  }

  /** Drops the series of a deleted app (prom-client removes exact label sets only). */
  forget(namespace: string, app: string): void {
    const labels = { app_name: app, namespace };
    const key = `${namespace}/${app}`;
    this.#duration.remove(labels);
    for (const result of ['success', 'failure']) this.#total.remove({ ...labels, result });
    for (const errorType of this.#errorTypes.get(key) ?? []) this.#errors.remove({ ...labels, error_type: errorType });
    this.#errorTypes.delete(key);
  }
}
