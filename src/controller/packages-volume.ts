// Where the packages live this reconcile, and how the claim may change. Claims are mostly immutable and can only
// grow, so the desired claim is adjusted to what the apiserver will accept, with a warning for what is refused.
import type { Event, PersistentVolumeClaim } from 'kubernetes-types/core/v1.js';
import { parseQuantity } from '../kubernetes/quantity.ts';
import type { PackagesPlan } from '../model/app-model.ts';
import type { PackagesVolumeSource } from '../model/python-packages.ts';
import type { CacheMode } from './packages-status.ts';

export interface PackagesVolumeDecision {
  readonly source: PackagesVolumeSource;
  readonly cacheMode: CacheMode;
  readonly warnings: readonly string[];
}

const fallbackWarningStart = 'the packages claim';

/** Whether a status warning is the one that says the cache fell back to per-pod emptyDir. */
export const isFallbackWarning = (warning: string): boolean =>
  warning.startsWith(fallbackWarningStart) && warning.includes('cannot be provisioned');

/**
 * Falls back to per-pod emptyDir only on evidence that the claim cannot be provisioned (a ProvisioningFailed
 * event newer than its last successful state): a merely Pending claim may be waiting for its first consumer
 * (WaitForFirstConsumer), and taking its pods away would keep it pending forever.
 */
export function decidePackagesVolume(
  plan: PackagesPlan,
  claim: PersistentVolumeClaim | undefined,
  claimEvents: readonly Event[],
): PackagesVolumeDecision {
  if (!plan.cache.enabled) return { source: 'emptyDir', cacheMode: 'emptyDir', warnings: [] };
  if (claim === undefined || claim.status?.phase === 'Bound')
    return { source: 'claim', cacheMode: 'shared', warnings: [] };
  const failure = claimEvents
    .filter((e) => e.reason === 'ProvisioningFailed' && e.involvedObject.uid === claim.metadata?.uid)
    .sort((a, b) => eventTime(b).localeCompare(eventTime(a)))[0];
  if (failure === undefined) return { source: 'claim', cacheMode: 'shared', warnings: [] };
  return {
    source: 'emptyDir',
    cacheMode: 'emptyDir',
    warnings: [
      `${fallbackWarningStart} ${claim.metadata?.name ?? ''} cannot be provisioned (${failure.message ?? 'ProvisioningFailed'}); ` +
        'each pod installs into its own emptyDir until the claim binds',
    ],
  };
}

const eventTime = (e: Event): string => e.lastTimestamp ?? e.eventTime ?? e.metadata.creationTimestamp ?? '';

/**
 * The claim to apply given the live one: a smaller size is refused (claims cannot shrink), and access mode and
 * storage class, immutable after creation, stay as they are. Each refusal comes back as a warning.
 */
export function claimUpdate(
  desired: PersistentVolumeClaim,
  live: PersistentVolumeClaim | undefined,
): { claim: PersistentVolumeClaim; warnings: string[] } {
  if (live?.spec === undefined || desired.spec === undefined) return { claim: desired, warnings: [] };
  const warnings: string[] = [];
  const spec = { ...desired.spec };
  const wanted = desired.spec.resources?.requests?.storage;
  const current = live.spec.resources?.requests?.storage;
  if (
    wanted !== undefined &&
    current !== undefined &&
    (parseQuantity(wanted)?.nanos ?? 0n) < (parseQuantity(current)?.nanos ?? 0n)
  ) {
    warnings.push(
      `cache.size ${wanted} is smaller than the claim's ${current}; a claim cannot shrink, keeping ${current}`,
    );
    spec.resources = { ...spec.resources, requests: { ...spec.resources?.requests, storage: current } };
  }
  const liveModes = live.spec.accessModes ?? [];
  if (JSON.stringify(spec.accessModes) !== JSON.stringify(liveModes)) {
    warnings.push(
      `cache.accessMode ${spec.accessModes?.join(',') ?? ''} differs from the existing claim's ${liveModes.join(',')}; ` +
        'access modes cannot change: delete the claim to recreate it',
    );
    spec.accessModes = liveModes;
  }
  if (spec.storageClassName !== undefined && spec.storageClassName !== live.spec.storageClassName) {
    warnings.push(
      `cache.storageClass ${spec.storageClassName} differs from the existing claim's ${live.spec.storageClassName ?? '(default)'}; ` +
        'the storage class cannot change: delete the claim to recreate it',
    );
  }
  // A class the spec names stays as the claim has it; without one the cluster default filled it in, and leaving the
  // field out keeps it (a partial apply does not touch fields it does not name).
  if (spec.storageClassName !== undefined) spec.storageClassName = live.spec.storageClassName;
  return { claim: { ...desired, spec }, warnings };
}
