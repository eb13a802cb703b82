// What one pod says about the install of its spec hash, read from pod status only (DESIGN decision 5: no exec,
// no Secret access). The installer's termination message is the primary source; the kubelet's own reasons cover
// what the installer cannot report (a missing Secret, an image that cannot be pulled, an OOM kill).
import type { ContainerStateTerminated, Pod } from 'kubernetes-types/core/v1.js';
import type { InstallResult } from '../packages/installer-contract.ts';
import { parseInstallResult } from '../packages/install-result.ts';
import { installContainerName, packagesHashAnnotation } from '../model/python-packages.ts';

interface Observed {
  readonly pod: string;
  /** The pod's uid: a pod of the same name made later is another pod, with installs of its own. */
  readonly uid: string;
  /** The spec hash of the pod (its template annotation): which install it speaks of. */
  readonly hash: string;
}

export type InstallObservation = Observed &
  (
    | { readonly kind: 'result'; readonly result: InstallResult }
    | {
        readonly kind: 'failed';
        readonly errorType: string;
        readonly error: string;
        /** Identifies this failure across observations, so it is counted once. */
        readonly occurrence: string;
      }
    | { readonly kind: 'installing' }
  );

const imageReasons = new Set(['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'ErrImageNeverPull']);

/** What the pod says about the install of its own spec hash; undefined for a pod without packages. */
export function observeInstall(pod: Pod): InstallObservation | undefined {
  const hash = pod.metadata?.annotations?.[packagesHashAnnotation];
  if (hash === undefined) return undefined;
  const name = pod.metadata?.name ?? '';
  const uid = pod.metadata?.uid ?? name;
  const status = pod.status?.initContainerStatuses?.find((s) => s.name === installContainerName);
  if (status === undefined) return { kind: 'installing', pod: name, uid, hash };

  const terminated = status.state?.terminated;
  if (terminated) return fromTermination(name, hash, uid, terminated);

  const waiting = status.state?.waiting;
  if (waiting?.reason === 'CreateContainerConfigError') {
    // e.g. `secret "pypi-credentials" not found`: the installer never ran, so only the kubelet can tell.
    return waitingFailure(name, hash, uid, 'configuration', waiting.message ?? waiting.reason);
  }
  if (waiting?.reason !== undefined && imageReasons.has(waiting.reason)) {
    return waitingFailure(name, hash, uid, 'image_pull', waiting.message ?? waiting.reason);
  }
  // Backing off or running again after a failed run: the install is failing until a run succeeds, so the status
  // stays Failed through the kubelet's retries instead of flapping to Installing and back on every restart.
  const last = status.lastState?.terminated;
  if (last !== undefined && last.exitCode !== 0) return fromTermination(name, hash, uid, last);
  return { kind: 'installing', pod: name, uid, hash };
}

const waitingFailure = (
  pod: string,
  hash: string,
  uid: string,
  errorType: string,
  error: string,
): InstallObservation => ({
  kind: 'failed',
  pod,
  uid,
  hash,
  errorType,
  error,
  occurrence: `${uid}/${errorType}`,
});

function fromTermination(
  pod: string,
  hash: string,
  uid: string,
  terminated: ContainerStateTerminated,
): InstallObservation {
  const { exitCode, reason } = terminated;
  const parsed = parseInstallResult(terminated.message ?? '');
  if (parsed.kind === 'result') return { kind: 'result', pod, uid, hash, result: parsed.result };
  const occurrence = `${uid}/${terminated.finishedAt ?? terminated.startedAt ?? ''}`;
  if (exitCode === 0) {
    // Success without a readable result cannot come from our installer; say so rather than guess.
    const error = `install-packages exited 0 without a result: ${parsed.reason}`;
    return { kind: 'failed', pod, uid, hash, errorType: 'unknown', error, occurrence };
  }
  const oom = reason === 'OOMKilled';
  const excerpt = parsed.excerpt !== '' ? `: ${parsed.excerpt}` : '';
  const what = oom ? 'was killed for exceeding its memory limit' : `exited ${exitCode}`;
  return {
    kind: 'failed',
    pod,
    uid,
    hash,
    errorType: oom ? 'out_of_memory' : 'unknown',
    error: `install-packages ${what}${excerpt}`,
    occurrence,
  };
}
