// Every child of a KasprApp, declared once, in apply order: `kasprop render` prints what these build, and the
// reconciler's steps (controller/steps.ts) apply exactly these, adjusted only where the live object demands it.
// Dependencies come first (the ServiceAccount and ConfigMaps before the pods that use them, the claim before the
// StatefulSet that mounts it, the StatefulSet before the HPA that scales it).
import type { ObjectMeta } from 'kubernetes-types/meta/v1.js';
import type { AppModel } from './app-model.ts';
import { buildSettingsConfigMap } from './config-map.ts';
import { buildHpa } from './hpa.ts';
import type { ChildNames } from './names.ts';
import {
  buildInstallerConfigMap,
  buildPackagesClaim,
  defaultPackagesVolumeSource,
  type PackagesVolumeSource,
} from './python-packages.ts';
import { buildServiceAccount } from './service-account.ts';
import { buildHeadlessService, buildService } from './services.ts';
import { buildStatefulSet } from './stateful-set.ts';

/** A child as built: always with apiVersion, kind and metadata, typed loosely enough for every kind. */
export interface DesiredObject {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata?: ObjectMeta;
}

export interface BuildOptions {
  /** Where the packages live: the reconciler decides from the claim's state; a rendering assumes the claim binds. */
  readonly packagesVolume: PackagesVolumeSource;
}

/** One child: its kind, the name it lives under, and how it is built (null: the app should not have it). */
export interface ChildDeclaration {
  /** The reconcile step's name in logs. */
  readonly id: string;
  readonly apiVersion: string;
  readonly kind: string;
  name(names: ChildNames): string;
  build(model: AppModel, options: BuildOptions): DesiredObject | null;
}

export const childDeclarations = [
  {
    id: 'service-account',
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    name: (n) => n.serviceAccount,
    build: buildServiceAccount,
  },
  {
    id: 'settings-config-map',
    apiVersion: 'v1',
    kind: 'ConfigMap',
    name: (n) => n.settingsConfigMap,
    build: buildSettingsConfigMap,
  },
  { id: 'service', apiVersion: 'v1', kind: 'Service', name: (n) => n.service, build: buildService },
  {
    id: 'headless-service',
    apiVersion: 'v1',
    kind: 'Service',
    name: (n) => n.headlessService,
    build: buildHeadlessService,
  },
  {
    id: 'installer-config-map',
    apiVersion: 'v1',
    kind: 'ConfigMap',
    name: (n) => n.installerConfigMap,
    build: buildInstallerConfigMap,
  },
  {
    // Kept during an emptyDir fallback: the claim may still bind, and then the pods return to it.
    id: 'packages-claim',
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    name: (n) => n.packagesClaim,
    build: buildPackagesClaim,
  },
  {
    id: 'stateful-set',
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    name: (n) => n.statefulSet,
    build: (model, options) => buildStatefulSet(model, options),
  },
  { id: 'hpa', apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', name: (n) => n.hpa, build: buildHpa },
] as const satisfies readonly ChildDeclaration[];

export type ChildId = (typeof childDeclarations)[number]['id'];

/** What `kasprop render` prints: every child the app should have, assuming the packages claim binds. */
export function buildChildren(model: AppModel, options?: BuildOptions): DesiredObject[] {
  const plan = model.packages;
  const resolved = options ?? { packagesVolume: plan ? defaultPackagesVolumeSource(plan) : 'claim' };
  return childDeclarations.flatMap((child): DesiredObject[] => {
    const object = (child as ChildDeclaration).build(model, resolved);
    return object === null ? [] : [object];
  });
}
