// What spec.pythonPackages adds to an app: the shared claim, the volume, the installer ConfigMap, the
// `install-packages` init container that runs the constant installer, and the main container's PYTHONPATH.
// Inputs reach the installer only as env vars (DESIGN decision 1); the command and args are the same for every app.
import type {
  ConfigMap,
  Container,
  EnvVar,
  PersistentVolumeClaim,
  Volume,
  VolumeMount,
} from 'kubernetes-types/core/v1.js';
import { posix } from 'node:path';
import {
  DEFAULT_PACKAGES_MOUNT_PATH,
  DEFAULT_TERMINATION_LOG_PATH,
  INSTALLER_ENV,
  INSTALLER_ENV_PREFIX,
  INSTALLER_MOUNT_PATH,
  BUNDLE_MOUNT_PATH,
  hashDirectory,
  hashSubPath,
} from '../packages/installer-contract.ts';
import { installerBootstrapPath, installerFiles, installerProgramPath } from '../packages/installer-files.ts';
import type { AppModel, PackagesPlan } from './app-model.ts';
import type { ValidBundleSource } from '../api/valid-app.ts';
import { componentLabel, pythonPackagesComponent } from './labels.ts';
import { mergeByKey } from './merge.ts';
import { childMetadata } from './metadata.ts';

export const installContainerName = 'install-packages';
export const packagesVolumeName = 'python-packages';
export const installerVolumeName = 'python-packages-installer';
export const bundleVolumeName = 'python-packages-bundle';
/** The installer ConfigMaps' component label: what tells them from the settings ConfigMap. */
export const installerComponent = 'python-packages-installer';
/** Pod-template annotation: a new hash is a new pod template, so the pods roll. */
export const packagesHashAnnotation = 'kaspr.io/python-packages-hash';

/**
 * Where the packages live for this reconcile: the shared claim, or a per-pod emptyDir (cache disabled, or the
 * claim cannot be provisioned, e.g. no ReadWriteMany storage; each pod then installs for itself).
 */
export type PackagesVolumeSource = 'claim' | 'emptyDir';

export const defaultPackagesVolumeSource = (plan: PackagesPlan): PackagesVolumeSource =>
  plan.cache.enabled ? 'claim' : 'emptyDir';

/** The standalone claim, or null when the app has no packages or the cache is disabled. */
export function buildPackagesClaim(model: AppModel): PersistentVolumeClaim | null {
  const plan = model.packages;
  if (plan === undefined || !plan.cache.enabled) return null;
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    // Owned (and so garbage-collected with the app) only while deleteClaim is true (DESIGN decision 7).
    metadata: childMetadata(model, model.names.packagesClaim, {
      extraLabels: { [componentLabel]: pythonPackagesComponent },
      owned: plan.cache.deleteClaim,
    }),
    spec: {
      accessModes: [plan.cache.accessMode],
      resources: { requests: { storage: plan.cache.size } },
      ...(plan.cache.storageClass !== undefined && { storageClassName: plan.cache.storageClass }),
    },
  };
}

export function packagesVolume(model: AppModel, plan: PackagesPlan, source: PackagesVolumeSource): Volume {
  return source === 'claim'
    ? { name: packagesVolumeName, persistentVolumeClaim: { claimName: model.names.packagesClaim } }
    : { name: packagesVolumeName, emptyDir: { sizeLimit: plan.cache.size } };
}

/**
 * The installer (bootstrap and program, about 60 KB), out of the pod spec, which every pod, ControllerRevision and
 * watch event would repeat. Named after its content and immutable: an operator with another installer makes another
 * ConfigMap, and the one the pods of an older revision mount stays until none of them is left
 * (controller/installer-config-maps.ts).
 */
export function buildInstallerConfigMap(model: AppModel): ConfigMap | null {
  if (model.packages === undefined) return null;
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: childMetadata(model, model.names.installerConfigMap, {
      extraLabels: { [componentLabel]: installerComponent },
    }),
    immutable: true,
    data: { ...installerFiles },
  };
}

/** Not optional: without it nothing could run, and the kubelet starts the pod as soon as the ConfigMap exists. */
export function installerVolume(model: AppModel): Volume {
  return { name: installerVolumeName, configMap: { name: model.names.installerConfigMap } };
}

/** core/v1 ImageVolumeSource (Kubernetes 1.31+), newer than the kubernetes-types this project builds with. */
interface ImageVolumeSource {
  readonly reference: string;
  readonly pullPolicy: 'Always' | 'Never' | 'IfNotPresent';
}

/**
 * The bundle's volume; only the init container mounts it, read-only. Not optional either: a pod whose bundle is
 * missing waits for it (the kubelet says which one in the pod's events) instead of failing the install.
 */
export function bundleVolume(bundle: ValidBundleSource): Volume {
  switch (bundle.type) {
    case 'configmap':
      return { name: bundleVolumeName, configMap: { name: bundle.name } };
    case 'secret':
      return { name: bundleVolumeName, secret: { secretName: bundle.name } };
    case 'pvc':
      return { name: bundleVolumeName, persistentVolumeClaim: { claimName: bundle.name, readOnly: true } };
    case 'image': {
      // The kubelet mounts image volumes read-only. IfNotPresent: an air-gapped node has the image preloaded.
      const volume: Volume & { image: ImageVolumeSource } = {
        name: bundleVolumeName,
        image: { reference: bundle.reference, pullPolicy: 'IfNotPresent' },
      };
      return volume;
    }
  }
}

/** The bundle directory the installer reads: the mount, or `path` under it. */
export function bundleDirectory(bundle: ValidBundleSource): string {
  return bundle.type === 'pvc' || bundle.type === 'image'
    ? posix.join(BUNDLE_MOUNT_PATH, bundle.path ?? '.')
    : BUNDLE_MOUNT_PATH;
}

export function buildInstallContainer(model: AppModel, plan: PackagesPlan): Container {
  const template = model.app.spec.template?.pythonPackagesInitContainer;
  return {
    name: installContainerName,
    // The app's own image: packages are installed by the Python that will import them.
    image: model.image,
    imagePullPolicy: 'IfNotPresent',
    command: ['/bin/sh'],
    args: [installerBootstrapPath, installerProgramPath],
    // The installer's inputs come from spec.pythonPackages only (validation refuses them in the template, and this
    // drops them should one get through): a template must not point the installer at another index or hash.
    env: mergeByKey(
      installerEnv(plan),
      ((template?.env ?? []) as EnvVar[]).filter((e) => !e.name.startsWith(INSTALLER_ENV_PREFIX)),
      (e) => e.name,
    ),
    resources: plan.resources,
    // The installer writes its JSON result there; if it dies first (OOM, image without python3) the log tail
    // stands in, so status can still say why.
    terminationMessagePath: DEFAULT_TERMINATION_LOG_PATH,
    terminationMessagePolicy: 'FallbackToLogsOnError',
    volumeMounts: mergeByKey(
      [
        { name: packagesVolumeName, mountPath: DEFAULT_PACKAGES_MOUNT_PATH },
        { name: installerVolumeName, mountPath: INSTALLER_MOUNT_PATH, readOnly: true },
        ...(plan.bundle !== undefined
          ? [{ name: bundleVolumeName, mountPath: BUNDLE_MOUNT_PATH, readOnly: true }]
          : []),
      ],
      (template?.volumeMounts ?? []) as VolumeMount[],
      (m) => m.mountPath,
    ),
  };
}

function installerEnv(plan: PackagesPlan): EnvVar[] {
  const value = (name: string, text: string): EnvVar => ({ name, value: text });
  const env: EnvVar[] = [
    value(INSTALLER_ENV.hash, plan.hash),
    value(INSTALLER_ENV.requirements, plan.requirements.join('\n')),
  ];
  if (plan.locked.length > 0) env.push(value(INSTALLER_ENV.locked, plan.locked.join('\n')));
  if (plan.bundle !== undefined) env.push(value(INSTALLER_ENV.bundleDir, bundleDirectory(plan.bundle)));
  // Only when not the default, so that the pod template of every app installed by pip stays as it was.
  if (plan.installer !== 'pip') env.push(value(INSTALLER_ENV.installer, plan.installer));
  // Offline, no index setting reaches the pod at all (nor the credentials Secret, which then need not exist).
  if (plan.offline) {
    env.push(value(INSTALLER_ENV.offline, 'true'));
  } else {
    env.push(...indexEnv(plan));
  }
  env.push(
    value(INSTALLER_ENV.retries, String(plan.installPolicy.retries)),
    value(INSTALLER_ENV.timeoutSeconds, String(plan.installPolicy.timeoutSeconds)),
    value(INSTALLER_ENV.onFailure, plan.installPolicy.onFailure),
    { name: INSTALLER_ENV.podName, valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    value(INSTALLER_ENV.dir, DEFAULT_PACKAGES_MOUNT_PATH),
    // Said explicitly, with terminationMessagePath below, so that the two cannot drift apart.
    value(INSTALLER_ENV.terminationLog, DEFAULT_TERMINATION_LOG_PATH),
  );
  return env;
}

function indexEnv(plan: PackagesPlan): EnvVar[] {
  const value = (name: string, text: string): EnvVar => ({ name, value: text });
  const env: EnvVar[] = [];
  if (plan.indexUrl !== undefined) env.push(value(INSTALLER_ENV.indexUrl, plan.indexUrl));
  if (plan.extraIndexUrls.length > 0) env.push(value(INSTALLER_ENV.extraIndexUrls, plan.extraIndexUrls.join('\n')));
  if (plan.trustedHosts.length > 0) env.push(value(INSTALLER_ENV.trustedHosts, plan.trustedHosts.join('\n')));
  if (plan.credentials !== undefined) {
    const { secretName, usernameKey, passwordKey } = plan.credentials;
    env.push(
      { name: INSTALLER_ENV.indexUsername, valueFrom: { secretKeyRef: { name: secretName, key: usernameKey } } },
      { name: INSTALLER_ENV.indexPassword, valueFrom: { secretKeyRef: { name: secretName, key: passwordKey } } },
    );
  }
  return env;
}

/**
 * The main container sees only its own install, read-only: the volume's `envs/<hash>` mounted (subPath) where
 * PYTHONPATH names it, ahead of whatever PYTHONPATH the template gives as a plain value (a template PYTHONPATH would
 * otherwise replace it). The pip cache, markers, results, pod records and lock stay the installer's business: the app
 * (and whatever it imports) can read none of them.
 */
export function mainContainerPackages(
  plan: PackagesPlan,
  templatePythonPath: string | undefined,
): { env: EnvVar[]; volumeMount: VolumeMount } {
  const packages = hashDirectory(DEFAULT_PACKAGES_MOUNT_PATH, plan.hash);
  return {
    env: [{ name: 'PYTHONPATH', value: templatePythonPath ? `${packages}:${templatePythonPath}` : packages }],
    volumeMount: {
      name: packagesVolumeName,
      mountPath: packages,
      subPath: hashSubPath(plan.hash),
      readOnly: true,
    },
  };
}
