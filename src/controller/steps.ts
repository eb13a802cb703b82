// The reconcile of a KasprApp's children as named, ordered steps (after Strimzi): each step reconciles one child
// from its desired state (or null: it should not exist) and reports created, patched, unchanged or deleted.
// Order matters: what the pods use exists before the StatefulSet that starts them, and the StatefulSet before
// the HPA that scales it.
import type { PersistentVolumeClaim } from 'kubernetes-types/core/v1.js';
import type { AppModel } from '../model/app-model.ts';
import { buildSettingsConfigMap } from '../model/config-map.ts';
import { buildHpa } from '../model/hpa.ts';
import type { ChildNames } from '../model/names.ts';
import { buildPackagesClaim } from '../model/python-packages.ts';
import { buildServiceAccount } from '../model/service-account.ts';
import { buildHeadlessService, buildService } from '../model/services.ts';
import { buildStatefulSet } from '../model/stateful-set.ts';
import type { KubeObject } from '../runtime/kube/client.ts';
import { ResourceTypes, type ResourceType } from '../runtime/kube/resources.ts';
import type { PackagesVolumeDecision } from './packages-volume.ts';
import { claimUpdate } from './packages-volume.ts';

export interface StepContext {
  readonly model: AppModel;
  readonly packagesVolume: PackagesVolumeDecision;
  /** The live child of this step (from the informer cache), if any. */
  readonly live: KubeObject | undefined;
}

export interface StepDesired {
  readonly object: KubeObject | null;
  /** What the step had to refuse or adjust, for status warnings and events. */
  readonly warnings?: readonly string[];
}

export interface ChildStep {
  readonly name: string;
  readonly type: ResourceType;
  childName(names: ChildNames): string;
  desired(context: StepContext): StepDesired;
  /** With no desired object: whether the live one goes. Only the claim may have to stay. */
  deleteWhenUnwanted?(context: StepContext): boolean;
}

const always =
  (build: (model: AppModel) => KubeObject) =>
  (context: StepContext): StepDesired => ({
    object: build(context.model),
  });

export const childSteps: readonly ChildStep[] = [
  {
    name: 'service-account',
    type: ResourceTypes.ServiceAccount,
    childName: (n) => n.serviceAccount,
    desired: always(buildServiceAccount),
  },
  {
    name: 'settings-config-map',
    type: ResourceTypes.ConfigMap,
    childName: (n) => n.settingsConfigMap,
    desired: always(buildSettingsConfigMap),
  },
  { name: 'service', type: ResourceTypes.Service, childName: (n) => n.service, desired: always(buildService) },
  {
    name: 'headless-service',
    type: ResourceTypes.Service,
    childName: (n) => n.headlessService,
    desired: always(buildHeadlessService),
  },
  {
    name: 'packages-claim',
    type: ResourceTypes.PersistentVolumeClaim,
    childName: (n) => n.packagesClaim,
    desired: ({ model, live }) => {
      const claim = buildPackagesClaim(model);
      if (claim === null) return { object: null };
      const { claim: adjusted, warnings } = claimUpdate(claim, live as PersistentVolumeClaim | undefined);
      return { object: adjusted, warnings };
    },
    // deleteClaim decides; once pythonPackages is gone the spec no longer says, and the claim's ownerReference
    // (present exactly while deleteClaim was true) still does. An operator with the feature turned off keeps it:
    // turning the feature back on must find the cache where it was.
    deleteWhenUnwanted: ({ model, live }) => {
      if (model.packagesIgnored) return false;
      if (model.packages !== undefined) return model.packages.cache.deleteClaim;
      return (live?.metadata?.ownerReferences ?? []).some(
        (o) => o.controller === true && o.uid === model.app.metadata.uid,
      );
    },
  },
  {
    name: 'stateful-set',
    type: ResourceTypes.StatefulSet,
    childName: (n) => n.statefulSet,
    desired: ({ model, packagesVolume }) => ({
      object: buildStatefulSet(model, { packagesVolume: packagesVolume.source }),
    }),
  },
  {
    name: 'hpa',
    type: ResourceTypes.HorizontalPodAutoscaler,
    childName: (n) => n.hpa,
    desired: ({ model }) => ({ object: buildHpa(model) }),
  },
];
