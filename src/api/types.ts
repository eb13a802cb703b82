// The KasprApp resource as TypeScript sees it. Field types come from the CRD (generated); this module adds the
// envelope and the identity of the resource type.
import type { ObjectMeta } from 'kubernetes-types/meta/v1.js';
import type { KasprAppSpec, KasprAppStatus } from './generated/kasprapp.ts';

export type * from './generated/kasprapp.ts';

export const kasprAppApiVersion = 'kaspr.io/v1alpha1';
export const kasprAppKind = 'KasprApp';

export interface KasprApp {
  apiVersion: typeof kasprAppApiVersion;
  kind: typeof kasprAppKind;
  metadata: ObjectMeta & { name: string; namespace?: string };
  spec: KasprAppSpec;
  status?: KasprAppStatus;
}

export const KasprAppResource = {
  apiVersion: kasprAppApiVersion,
  kind: kasprAppKind,
  plural: 'kasprapps',
  namespaced: true,
} as const;
