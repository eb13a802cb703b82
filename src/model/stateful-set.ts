// The StatefulSet that runs the app's pods. Replicas belong to the HPA (see hpa.ts); the pod template carries
// the settings hash and the packages hash, so a change of either rolls the pods.
import type { StatefulSet } from 'kubernetes-types/apps/v1.js';
import type {
  Container,
  EnvVar,
  PersistentVolumeClaim,
  PodSpec,
  Probe,
  Volume,
  VolumeMount,
} from 'kubernetes-types/core/v1.js';
import { defaults } from '../api/defaults.ts';
import type { ProbeSettings } from '../api/types.ts';
import { stringifyQuantities } from '../api/valid-app.ts';
import type { AppModel } from './app-model.ts';
import { mergeByKey, overrideByKey } from './merge.ts';
import { childMetadata } from './metadata.ts';
import {
  buildInstallContainer,
  bundleVolume,
  installerVolume,
  mainContainerPackages,
  packagesHashAnnotation,
  packagesVolume,
  type PackagesVolumeSource,
} from './python-packages.ts';
import { settingEnvName, settingsData, settingsHash, tableDir, webPort, webPortName } from './settings.ts';

export const mainContainerName = 'kaspr';

export interface StatefulSetOptions {
  /** Where the packages live in this reconcile; ignored without packages. */
  readonly packagesVolume: PackagesVolumeSource;
}

export function buildStatefulSet(model: AppModel, options: StatefulSetOptions): StatefulSet {
  const { spec } = model.app;
  const storage = spec.storage;
  const persistent = storage?.type === 'persistent-claim';
  const podTemplate = spec.template?.pod ?? {};
  const { metadata: podMetadata, volumes: templateVolumes, ...podSpecOverrides } = podTemplate;
  const plan = model.packages;

  const ownVolumes: Volume[] = [];
  if (!persistent) ownVolumes.push({ name: model.names.dataVolume, emptyDir: {} });
  if (plan) ownVolumes.push(packagesVolume(model, plan, options.packagesVolume), installerVolume(model));
  if (plan?.bundle !== undefined) ownVolumes.push(bundleVolume(plan.bundle));
  // Template volumes pass through as written (the apiserver validates them), except over the operator's own.
  const volumes = mergeByKey(ownVolumes, (templateVolumes ?? []) as unknown as Volume[], (v) => v.name);

  const annotations = {
    ...podMetadata?.annotations,
    ...(plan && { [packagesHashAnnotation]: plan.hash }),
  };
  const podSpec: PodSpec = {
    ...(podSpecOverrides as Partial<PodSpec>),
    serviceAccountName: model.names.serviceAccount,
    ...(plan && { initContainers: [buildInstallContainer(model, plan)] }),
    containers: [mainContainer(model)],
    ...(volumes.length > 0 && { volumes }),
  };

  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: childMetadata(model, model.names.statefulSet),
    spec: {
      // Only 0 is set here: an HPA cannot hold 0, and any other count is the HPA's to keep.
      ...(model.replicas === 0 && { replicas: 0 }),
      serviceName: model.names.headlessService,
      podManagementPolicy: 'Parallel',
      updateStrategy: { type: 'RollingUpdate' },
      selector: { matchLabels: { ...model.selector } },
      template: {
        metadata: {
          labels: { ...podMetadata?.labels, ...model.labels },
          ...(Object.keys(annotations).length > 0 && { annotations }),
        },
        spec: podSpec,
      },
      ...(persistent && {
        volumeClaimTemplates: [dataClaimTemplate(model)],
        persistentVolumeClaimRetentionPolicy: {
          whenDeleted: (storage.deleteClaim ?? defaults.storage.deleteClaim) ? 'Delete' : 'Retain',
          whenScaled: 'Retain',
        },
      }),
    },
  };
}

function mainContainer(model: AppModel): Container {
  const { spec } = model.app;
  const template = spec.template?.kasprContainer;
  const data = settingsData(model);
  const plan = model.packages;
  const templateEnv = (template?.env ?? []) as EnvVar[];
  const templatePythonPath = templateEnv.find((e) => e.name === 'PYTHONPATH');
  const packages = plan && mainContainerPackages(plan, templatePythonPath?.value);
  const podName = '$(POD_NAME)';

  const operatorEnv: EnvVar[] = [
    ...Object.keys(data).map((key) => ({
      name: key,
      valueFrom: { configMapKeyRef: { name: model.names.settingsConfigMap, key } },
    })),
  ];
  const passwordSecret = spec.authentication?.passwordSecret;
  if (passwordSecret?.secretName !== undefined && passwordSecret.passwordKey !== undefined) {
    operatorEnv.push({
      name: settingEnvName('kafka_auth_password'),
      valueFrom: { secretKeyRef: { name: passwordSecret.secretName, key: passwordSecret.passwordKey } },
    });
  }
  operatorEnv.push(
    // Static group membership: the pod name survives restarts, so a restarted pod rejoins without a rebalance.
    { name: settingEnvName('consumer_group_instance_id'), valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    {
      name: settingEnvName('web_host'),
      value: `${podName}.${model.names.headlessService}.${model.namespace}.svc.cluster.local`,
    },
    // Settings reach the container through configMapKeyRef, which a running pod never re-reads.
    { name: 'CONFIG_HASH', value: settingsHash(data) },
    ...(packages?.env ?? []),
  );
  // A template variable replaces the operator's of the same name, as a later duplicate did for the original
  // operator (the kubelet takes the last); a duplicate itself would make the apply fail. Template variables
  // come last, so they can refer to the operator's with $(NAME).
  const env = overrideByKey(
    operatorEnv,
    // With packages, a plain-value PYTHONPATH is folded into the operator's (above) instead of replacing it.
    packages && templatePythonPath?.value !== undefined
      ? templateEnv.filter((e) => e !== templatePythonPath)
      : templateEnv,
    (e) => e.name,
  );
  const volumeMounts = mergeByKey(
    [{ name: model.names.dataVolume, mountPath: tableDir }, ...(packages ? [packages.volumeMount] : [])],
    (template?.volumeMounts ?? []) as VolumeMount[],
    (m) => m.mountPath,
  );

  return {
    name: mainContainerName,
    image: model.image,
    imagePullPolicy: 'IfNotPresent',
    ports: [{ name: webPortName, containerPort: webPort }],
    env,
    ...(spec.resources !== undefined && { resources: stringifyQuantities(spec.resources) }),
    ...(spec.livenessProbe !== undefined && { livenessProbe: probe(spec.livenessProbe) }),
    ...(spec.readinessProbe !== undefined && { readinessProbe: probe(spec.readinessProbe) }),
    ...(template?.securityContext !== undefined && { securityContext: template.securityContext }),
    volumeMounts,
  };
}

function probe(settings: ProbeSettings): Probe {
  return { tcpSocket: { port: webPortName }, ...defaults.probe, ...settings };
}

function dataClaimTemplate(model: AppModel): PersistentVolumeClaim {
  const storage = model.app.spec.storage;
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name: model.names.dataVolume },
    spec: {
      accessModes: ['ReadWriteOnce'],
      resources: { requests: { storage: String(storage?.size) } },
      ...(storage?.class !== undefined && { storageClassName: storage.class }),
    },
  };
}
