// The controller ownerReference that lets the garbage collector delete children with their KasprApp
// (DESIGN decision 7).
import type { OwnerReference } from 'kubernetes-types/meta/v1.js';
import { kasprAppApiVersion, kasprAppKind } from '../api/types.ts';
import type { AppModel } from './app-model.ts';

/**
 * Absent when the KasprApp has no uid yet (`kasprop render` of a file): a made-up uid would make the garbage
 * collector delete the children of an applied rendering.
 */
export function ownerReferences(model: AppModel): OwnerReference[] | undefined {
  const uid = model.app.metadata.uid;
  if (uid === undefined) return undefined;
  return [
    {
      apiVersion: kasprAppApiVersion,
      kind: kasprAppKind,
      name: model.name,
      uid,
      controller: true,
      blockOwnerDeletion: true,
    },
  ];
}
