// status.pythonPackages for the current spec hash, from what the pods report. Pure: the same pods and previous
// status always give the same status, so a resync that finds nothing new writes nothing.
import type { PythonPackagesStatus } from '../api/types.ts';
import type { InstallResult } from '../packages/installer-contract.ts';
import type { InstallObservation } from './install-observation.ts';
import { capList, capText, MAX_ERROR_CHARS } from './message-limits.ts';

/** `shared`: one claim for all pods; `emptyDir`: each pod installs into its own volume. */
export type CacheMode = 'shared' | 'emptyDir';

export interface PackagesStatusInput {
  readonly hash: string;
  readonly cacheMode: CacheMode;
  /** What the app's pods report (observeInstall), whatever their hash: only this hash's reports count. */
  readonly observations: readonly InstallObservation[];
  readonly previous?: PythonPackagesStatus | undefined;
  /** Warnings from the operator itself (e.g. why the cache fell back to emptyDir). */
  readonly warnings: readonly string[];
}

export function packagesStatus(input: PackagesStatusInput): PythonPackagesStatus {
  const observations = input.observations.filter((o) => o.hash === input.hash);
  const ready = observations.filter(
    (o): o is Extract<InstallObservation, { kind: 'result' }> => o.kind === 'result' && o.result.state === 'Ready',
  );
  const failures = observations.flatMap(failureOf);
  const base = { hash: input.hash, cacheMode: input.cacheMode };

  // One Ready result means the packages of this spec install: on a shared cache they are on the volume for every
  // pod, and with per-pod volumes every new pod installs the same set. Once Ready, a hash stays Ready while pods
  // come and go (new pods installing, or none at all) unless one of them fails.
  const previousReady =
    input.previous?.hash === input.hash && input.previous.state === 'Ready' ? input.previous : undefined;
  const isReady = failures.length === 0 && (ready.length > 0 || previousReady !== undefined);

  if (isReady) {
    const install = newestInstall(ready.map((o) => o.result));
    if (install === undefined && previousReady !== undefined) {
      return { ...previousReady, ...base, warnings: capList(input.warnings) };
    }
    return install === undefined ? installing(base, input.warnings) : readyStatus(base, install, input.warnings);
  }
  const failure = failures[0];
  if (failure !== undefined)
    return { ...base, state: 'Failed', installed: [], ...failure, warnings: capList(input.warnings) };
  return installing(base, input.warnings);
}

type FailureFields = Pick<
  PythonPackagesStatus,
  'errorType' | 'error' | 'installedBy' | 'lastInstallTime' | 'installDuration'
>;

function failureOf(observation: InstallObservation): FailureFields[] {
  if (observation.kind === 'failed') {
    return [{ errorType: observation.errorType, error: observation.error, installedBy: observation.pod }];
  }
  if (observation.kind === 'result' && observation.result.state === 'Failed') {
    const { result } = observation;
    return [
      {
        errorType: result.errorType ?? 'unknown',
        error: capText(result.error ?? 'the install failed', MAX_ERROR_CHARS),
        installedBy: result.installedBy,
        lastInstallTime: result.installTime,
        installDuration: formatDuration(result.durationSeconds),
      },
    ];
  }
  return [];
}

function installing(base: { hash: string; cacheMode: CacheMode }, warnings: readonly string[]): PythonPackagesStatus {
  return { ...base, state: 'Installing', installed: [], warnings: capList(warnings) };
}

function readyStatus(
  base: { hash: string; cacheMode: CacheMode },
  result: InstallResult,
  warnings: readonly string[],
): PythonPackagesStatus {
  const truncated =
    result.installed.length < result.installedTotal
      ? [
          `installed lists ${result.installed.length} of ${result.installedTotal} distributions (the result must fit in 4 KiB)`,
        ]
      : [];
  return {
    ...base,
    state: 'Ready',
    installed: [...result.installed],
    installedTotal: result.installedTotal,
    ...(result.fromStore !== undefined && { fromStore: result.fromStore }),
    ...(result.downloaded !== undefined && { downloaded: result.downloaded }),
    lastInstallTime: result.installTime,
    installDuration: formatDuration(result.durationSeconds),
    installedBy: result.installedBy,
    hashVerified: result.hashVerified,
    installSource: result.installSource,
    warnings: capList([...warnings, ...result.warnings, ...truncated]),
  };
}

/** All Ready results of a shared cache describe the same install; per-pod installs report the latest. */
function newestInstall(results: readonly InstallResult[]): InstallResult | undefined {
  return [...results].sort((a, b) => b.installTime.localeCompare(a.installTime))[0];
}

/**
 * `N distributions` for a Ready status: every installed distribution, also when `installed` was cut short. A
 * status written by an operator from before `installedTotal` has only the list to count.
 */
export function installedCount(status: PythonPackagesStatus): string {
  const count = status.installedTotal ?? status.installed?.length ?? 0;
  return `${count} ${count === 1 ? 'distribution' : 'distributions'}`;
}

export const formatDuration = (seconds: number): string => `${seconds.toFixed(1)}s`;
