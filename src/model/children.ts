// Every child of a KasprApp in apply order: what `kasprop render` prints and what the reconciler's steps apply
// one by one. Dependencies come first (the ServiceAccount and ConfigMap before the pods that use them, the claim
// before the StatefulSet that mounts it, the StatefulSet before the HPA that scales it).
import type { ObjectMeta } from 'kubernetes-types/meta/v1.js';
import type { AppModel } from './app-model.ts';
import { buildSettingsConfigMap } from './config-map.ts';
import { buildHpa } from './hpa.ts';
import { buildPackagesClaim, defaultPackagesVolumeSource, type PackagesVolumeSource } from './python-packages.ts';
import { buildServiceAccount } from './service-account.ts';
import { buildHeadlessService, buildService } from './services.ts';
import { buildStatefulSet } from './stateful-set.ts';

/** A child as built: always with apiVersion, kind and metadata, typed loosely enough for every kind. */
export interface DesiredObject {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata?: ObjectMeta;
}

export function buildChildren(model: AppModel, packagesVolume?: PackagesVolumeSource): DesiredObject[] {
  const plan = model.packages;
  const source = packagesVolume ?? (plan ? defaultPackagesVolumeSource(plan) : 'claim');
  const children: (DesiredObject | null)[] = [
    buildServiceAccount(model),
    buildSettingsConfigMap(model),
    buildService(model),
    buildHeadlessService(model),
    // Kept during an emptyDir fallback: the claim may still bind, and then the pods return to it.
    buildPackagesClaim(model),
    buildStatefulSet(model, { packagesVolume: source }),
    buildHpa(model),
  ];
  return children.filter((child): child is DesiredObject => child !== null);
}
