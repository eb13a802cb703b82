// Counts each install exactly once, however often a pod's status shows it: the same termination message is seen
// on every resync and by every reconcile until the pod goes away. An install is identified by what the installer
// wrote (hash, installing pod, finish time); a kubelet-level failure by its pod and occurrence.
import type { InstallObservation } from './install-observation.ts';

export interface CountedInstall {
  readonly result: 'success' | 'failure';
  readonly errorType?: string;
  readonly durationSeconds?: number;
}

const keptPerApp = 512;

export class InstallLedger {
  readonly #seen = new Map<string, Set<string>>();
  readonly #since: number;

  /**
   * @param since RFC 3339 time this process began counting: results that finished before it were counted by
   *   whoever was running then (or by nobody, while no operator ran); counting them again would double them.
   */
  constructor(since: string) {
    this.#since = Date.parse(since);
  }

  /** The installs among `observations` not counted before, marked as counted. */
  record(appKey: string, observations: readonly InstallObservation[]): CountedInstall[] {
    const seen = this.#seen.get(appKey) ?? new Set<string>();
    this.#seen.set(appKey, seen);
    const counted: CountedInstall[] = [];
    for (const observation of observations) {
      const entry = countable(observation, this.#since);
      if (entry === undefined || seen.has(entry.key)) continue;
      seen.add(entry.key);
      counted.push(entry.install);
    }
    // Sets keep insertion order: dropping the oldest keys bounds memory without forgetting recent installs.
    for (const key of seen) {
      if (seen.size <= keptPerApp) break;
      seen.delete(key);
    }
    return counted;
  }

  forget(appKey: string): void {
    this.#seen.delete(appKey);
  }
}

function countable(
  observation: InstallObservation,
  since: number,
): { key: string; install: CountedInstall } | undefined {
  if (observation.kind === 'failed') {
    return { key: observation.occurrence, install: { result: 'failure', errorType: observation.errorType } };
  }
  if (observation.kind !== 'result') return undefined;
  const { result } = observation;
  // A pod that reused the cache did not install anything.
  if (result.source !== 'installed' || Date.parse(result.installTime) < since) return undefined;
  const key = `${result.hash}/${result.installedBy}/${result.installTime}`;
  return result.state === 'Ready'
    ? { key, install: { result: 'success', durationSeconds: result.durationSeconds } }
    : {
        key,
        install: {
          result: 'failure',
          errorType: result.errorType ?? 'unknown',
          durationSeconds: result.durationSeconds,
        },
      };
}
