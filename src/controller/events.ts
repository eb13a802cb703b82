// Events on the KasprApp, derived from status transitions rather than from reconciles: a reconcile may run a
// hundred times for one install, a transition happens once (and survives operator restarts, being in the status).
import type { PersistentVolumeClaim } from 'kubernetes-types/core/v1.js';
import type { KasprAppStatus, PackagesClaimStatus } from '../api/types.ts';
import { summarize, VALIDATE_HINT } from './message-limits.ts';
import { installedCount } from './packages-status.ts';
import { isFallbackWarning } from './packages-volume.ts';

export interface AppEvent {
  readonly type: 'Normal' | 'Warning';
  readonly reason: string;
  readonly message: string;
}

export function packagesEvents(previous: KasprAppStatus | undefined, next: KasprAppStatus): AppEvent[] {
  const before = previous?.pythonPackages;
  const after = next.pythonPackages;
  if (after === undefined) return [];
  const changed = before?.hash !== after.hash || before?.state !== after.state;
  if (!changed) return [];
  switch (after.state) {
    case 'Ready':
      return [
        {
          type: 'Normal',
          reason: 'PackagesInstalled',
          message: `${installedCount(after)} for spec hash ${after.hash ?? ''} installed by ${after.installedBy ?? 'a pod'} in ${after.installDuration ?? '?'}`,
        },
      ];
    case 'Failed':
      return [
        {
          type: 'Warning',
          reason: 'PackagesInstallFailed',
          message: `spec hash ${after.hash ?? ''}: ${after.errorType ?? 'unknown'}: ${after.error ?? ''}`,
        },
      ];
    case 'Installing':
      return before?.hash !== after.hash
        ? [
            {
              type: 'Normal',
              reason: 'PackagesInstalling',
              message: `installing packages for spec hash ${after.hash ?? ''}`,
            },
          ]
        : [];
    default:
      return [];
  }
}

/** Once, when the operator starts ignoring the app's pythonPackages (PYTHON_PACKAGES_ENABLED=false). */
export function packagesDisabledEvents(previous: KasprAppStatus | undefined, next: KasprAppStatus): AppEvent[] {
  const reason = (status: KasprAppStatus | undefined) =>
    status?.conditions?.find((c) => c.type === 'PythonPackagesReady')?.reason;
  const condition = next.conditions?.find((c) => c.type === 'PythonPackagesReady');
  if (condition?.reason !== 'Disabled' || reason(previous) === 'Disabled') return [];
  return [{ type: 'Warning', reason: 'PythonPackagesDisabled', message: condition.message ?? '' }];
}

/** The validation warnings of a spec generation, once, on its first reconcile. */
export function specWarningEvents(
  previous: KasprAppStatus | undefined,
  generation: number | undefined,
  warnings: readonly string[],
): AppEvent[] {
  if (warnings.length === 0 || previous?.observedGeneration === generation) return [];
  return [{ type: 'Warning', reason: 'SpecWarnings', message: summarize(warnings, VALIDATE_HINT) }];
}

export function invalidSpecEvent(messages: readonly string[]): AppEvent {
  return { type: 'Warning', reason: 'InvalidSpec', message: summarize(messages, VALIDATE_HINT) };
}

/** When the cache falls back to per-pod emptyDir (its claim cannot be provisioned), and when it comes back. */
export function fallbackEvents(previous: KasprAppStatus | undefined, next: KasprAppStatus): AppEvent[] {
  const fellBack = (status: KasprAppStatus | undefined): string | undefined =>
    status?.pythonPackages?.cacheMode === 'emptyDir'
      ? status.pythonPackages.warnings?.find(isFallbackWarning)
      : undefined;
  const before = fellBack(previous);
  const after = fellBack(next);
  if (after !== undefined && before === undefined)
    return [{ type: 'Warning', reason: 'CacheFallback', message: after }];
  if (before !== undefined && after === undefined && next.pythonPackages?.cacheMode === 'shared') {
    return [
      {
        type: 'Normal',
        reason: 'CacheRestored',
        message: 'the packages claim is bound; pods use the shared cache again',
      },
    ];
  }
  return [];
}

export interface ClaimInput {
  readonly previous: KasprAppStatus | undefined;
  /** The name of the app's packages claim. */
  readonly name: string;
  /** Whether the spec asks for the claim (pythonPackages with the cache enabled). */
  readonly wanted: boolean;
  /** The claim as the cache shows it. */
  readonly live: PersistentVolumeClaim | undefined;
  /** The app's creationTimestamp. */
  readonly appCreated: string | undefined;
}

/**
 * status.packagesClaim, the claim as last seen, and the ClaimCreated/ClaimDeleted events of its change. Derived
 * from the cached claim like every other event from the status: a create whose answer was lost, or an operator that
 * died before recording the event, leaves the change to be seen by the next reconcile. A wanted claim not seen yet is
 * recorded without uid, so the claim that appears later is one this app's operator created.
 */
export function packagesClaimTransition(input: ClaimInput): {
  readonly record: PackagesClaimStatus | undefined;
  readonly events: AppEvent[];
} {
  const { previous, name, wanted, live } = input;
  const before = previous?.packagesClaim;
  const uid = live?.metadata?.deletionTimestamp === undefined ? live?.metadata?.uid : undefined;
  if (uid !== undefined) {
    const record = { name, uid };
    if (before?.uid === uid) return { record, events: [] };
    // Recorded silently: a claim older than the app (kept by an app of the same name before it, with deleteClaim
    // false), or the claim of an app whose status an operator from before this field wrote.
    const adopted =
      (live?.metadata?.creationTimestamp ?? '') < (input.appCreated ?? '') ||
      (before === undefined && previous?.pythonPackages !== undefined);
    const events: AppEvent[] = adopted
      ? []
      : [{ type: 'Normal', reason: 'ClaimCreated', message: `python packages claim ${name} created` }];
    return { record, events };
  }
  // Gone, or being deleted (pods still using it keep it until they go).
  const deleted: AppEvent[] =
    before?.uid !== undefined
      ? [{ type: 'Normal', reason: 'ClaimDeleted', message: `python packages claim ${before.name} deleted` }]
      : [];
  return { record: wanted ? { name } : undefined, events: deleted };
}
