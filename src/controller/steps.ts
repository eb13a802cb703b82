// The reconcile of a KasprApp's children as named, ordered steps (after Strimzi): one step per child declared in
// model/children.ts, in its order, building exactly what `kasprop render` prints, adjusted only where the live object
// demands it (a claim cannot shrink). Each reports created, patched, unchanged or deleted.
import type { PersistentVolumeClaim } from 'kubernetes-types/core/v1.js';
import type { AppModel } from '../model/app-model.ts';
import { childDeclarations, type ChildDeclaration, type ChildId } from '../model/children.ts';
import type { ChildNames } from '../model/names.ts';
import type { KubeObject } from '../runtime/kube/client.ts';
import { ResourceTypes, resourceTypeOf, type ResourceType } from '../runtime/kube/resources.ts';
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
  readonly name: ChildId;
  readonly type: ResourceType;
  childName(names: ChildNames): string;
  desired(context: StepContext): StepDesired;
  /** With no desired object: whether the live one goes. Only the claim may have to stay. */
  deleteWhenUnwanted?(context: StepContext): boolean;
}

/** Where the reconciler departs from the declaration's object, because of what the live one allows. */
interface LiveAdjustment {
  readonly adjust?: (desired: KubeObject, live: KubeObject | undefined) => StepDesired;
  readonly deleteWhenUnwanted?: (context: StepContext) => boolean;
}

const adjustments: { readonly [id in ChildId]?: LiveAdjustment } = {
  'packages-claim': {
    adjust: (desired, live) => {
      const { claim, warnings } = claimUpdate(
        desired as PersistentVolumeClaim,
        live as PersistentVolumeClaim | undefined,
      );
      return { object: claim, warnings };
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
};

const knownTypes: readonly ResourceType[] = Object.values(ResourceTypes);

function step(declaration: ChildDeclaration & { readonly id: ChildId }): ChildStep {
  const type = resourceTypeOf(declaration, knownTypes);
  if (type === undefined) throw new Error(`child ${declaration.id}: no resource type ${declaration.kind}`);
  const adjustment = adjustments[declaration.id];
  return {
    name: declaration.id,
    type,
    childName: (names) => declaration.name(names),
    desired: (context) => {
      const object = declaration.build(context.model, { packagesVolume: context.packagesVolume.source });
      if (object === null || adjustment?.adjust === undefined) return { object };
      return adjustment.adjust(object, context.live);
    },
    ...(adjustment?.deleteWhenUnwanted && { deleteWhenUnwanted: adjustment.deleteWhenUnwanted }),
  };
}

/** One step per declared child (model/children.ts), in the declaration's order. */
export const childSteps: readonly ChildStep[] = childDeclarations.map(step);

/** The child types, each once, in the order the steps first use them: the types the operator watches and applies. */
export const childTypes: readonly ResourceType[] = [...new Set(childSteps.map((s) => s.type))];
