// Which installer ConfigMaps of an app may go. Each is named after the installer program it holds
// (model/python-packages.ts), so an operator with a new program leaves the previous one behind, and the pods of the
// StatefulSet's older revision still mount it: until the rollout has replaced them all, the StatefulSet controller
// even recreates a deleted pod of that revision from the older template. So nothing goes while a rollout is under way
// (or not yet seen by the controller), and afterwards only what neither the StatefulSet nor a live pod names.
import type { StatefulSet } from 'kubernetes-types/apps/v1.js';
import type { PodSpec } from 'kubernetes-types/core/v1.js';
import { componentLabel } from '../model/labels.ts';
import { installerComponent } from '../model/python-packages.ts';
import type { KubeObject } from '../runtime/kube/client.ts';

export interface InstallerConfigMapsInput {
  /** The installer ConfigMap the app should have now; undefined without packages. */
  readonly desired: string | undefined;
  /** The app's ConfigMaps, from the cache. */
  readonly configMaps: readonly KubeObject[];
  readonly statefulSet: StatefulSet | undefined;
  /** The app's pods, from the cache: their specs need only the ConfigMap volumes (cluster-view.ts keeps those). */
  readonly pods: readonly { readonly spec?: Pick<PodSpec, 'volumes'> }[];
}

export function unusedInstallerConfigMaps({
  desired,
  configMaps,
  statefulSet,
  pods,
}: InstallerConfigMapsInput): KubeObject[] {
  const candidates = configMaps.filter(
    (c) => c.metadata?.labels?.[componentLabel] === installerComponent && c.metadata.name !== desired,
  );
  if (candidates.length === 0 || (statefulSet !== undefined && !rolledOut(statefulSet))) return [];
  const inUse = new Set([
    ...configMapsMounted(statefulSet?.spec?.template.spec),
    ...pods.flatMap((pod) => configMapsMounted(pod.spec)),
  ]);
  return candidates.filter((c) => !inUse.has(c.metadata?.name ?? ''));
}

/**
 * The controller has seen the StatefulSet's latest template and every pod runs it: no pod of an older revision is
 * left, and none will be created again.
 */
function rolledOut(statefulSet: StatefulSet): boolean {
  const status = statefulSet.status;
  return (
    status !== undefined &&
    status.observedGeneration === statefulSet.metadata?.generation &&
    status.updateRevision !== undefined &&
    status.currentRevision === status.updateRevision
  );
}

function configMapsMounted(spec: Pick<PodSpec, 'volumes'> | undefined): string[] {
  return (spec?.volumes ?? []).flatMap((v) => (v.configMap?.name === undefined ? [] : [v.configMap.name]));
}
