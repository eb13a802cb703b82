// Counts each install exactly once, however often a pod's status shows it and whichever operator sees it: the
// same termination message is seen on every resync, by every reconcile and by every leader until the pod goes away.
// What was counted is state, like everything else an event or a count derives from: the app's
// `status.countedInstalls` lists the installs counted so far (while their pods exist), so a new leader counts exactly
// those its predecessors did not, among them an install that finished while no operator ran. The ledger's memory
// covers only the moment between counting and the status write that records it (a write that fails is retried).
import type { InstallObservation } from './install-observation.ts';

export interface CountedInstall {
  readonly result: 'success' | 'failure';
  readonly errorType?: string;
  readonly durationSeconds?: number;
}

export interface LedgerEntry {
  /** The installs among the observations not counted before, now counted. */
  readonly installs: CountedInstall[];
  /** The record for `status.countedInstalls`: the given one unless this pass counted something it lacks. */
  readonly counted: readonly string[] | undefined;
}

const keptPerApp = 512;

export class InstallLedger {
  readonly #seen = new Map<string, Set<string>>();

  /**
   * @param counted the app's `status.countedInstalls` as last written: installs listed there are not counted again.
   */
  record(
    appKey: string,
    observations: readonly InstallObservation[],
    counted: readonly string[] | undefined,
  ): LedgerEntry {
    const seen = this.#seen.get(appKey) ?? new Set<string>();
    this.#seen.set(appKey, seen);
    const recorded = new Set(counted);
    const installs: CountedInstall[] = [];
    const unrecorded: string[] = [];
    for (const observation of observations) {
      const entry = countable(observation);
      if (entry === undefined || recorded.has(entry.key)) continue;
      unrecorded.push(entry.key);
      // Counted by this process already, but the status write that records it has not happened (or failed).
      if (seen.has(entry.key)) continue;
      seen.add(entry.key);
      installs.push(entry.install);
    }
    // Sets keep insertion order: dropping the oldest keys bounds memory without forgetting recent installs.
    for (const key of seen) {
      if (seen.size <= keptPerApp) break;
      seen.delete(key);
    }
    return {
      installs,
      counted: unrecorded.length === 0 ? counted : nextRecord(counted ?? [], unrecorded, observations),
    };
  }

  forget(appKey: string): void {
    this.#seen.delete(appKey);
  }
}

/**
 * The record grown by `added`, without the entries of pods that are gone (a pod never comes back, so its installs
 * cannot be seen again). Pruned only when something is added, so a pod going away costs no status write.
 */
function nextRecord(
  previous: readonly string[],
  added: readonly string[],
  observations: readonly InstallObservation[],
): string[] {
  const live = new Set(observations.map((o) => o.uid));
  return [...previous.filter((key) => live.has(podOf(key))), ...added];
}

/** Every key starts with the pod's uid: `<uid>/<finish time>` or `<uid>/<error type>`. */
const podOf = (key: string): string => key.slice(0, key.indexOf('/'));

function countable(observation: InstallObservation): { key: string; install: CountedInstall } | undefined {
  if (observation.kind === 'failed') {
    return { key: observation.occurrence, install: { result: 'failure', errorType: observation.errorType } };
  }
  if (observation.kind !== 'result') return undefined;
  const { result } = observation;
  // A pod that reused the cache did not install anything.
  if (result.source !== 'installed') return undefined;
  // One pod's init container runs are seconds apart at least (the kubelet's back-off), so its uid and the finish
  // time name one run.
  const key = `${observation.uid}/${result.installTime}`;
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
