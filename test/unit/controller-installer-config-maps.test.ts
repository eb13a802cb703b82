// The retention rule of installer ConfigMaps: an operator upgrade mid-rollout must leave the old revision's pods the
// installer they mount, also a pod of that revision the StatefulSet controller recreates before the rollout ends.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { StatefulSet } from 'kubernetes-types/apps/v1.js';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { slimPod } from '../../src/controller/cluster-view.ts';
import { unusedInstallerConfigMaps } from '../../src/controller/installer-config-maps.ts';
import type { KubeObject } from '../../src/runtime/kube/client.ts';

const installer = (name: string): KubeObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, labels: { 'kaspr.io/app': 'orders', 'kaspr.io/component': 'python-packages-installer' } },
});
const settings: KubeObject = {
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'orders-app-config', labels: { 'kaspr.io/app': 'orders' } },
};
const mounting = (configMap: string) => ({
  volumes: [{ name: 'python-packages-installer', configMap: { name: configMap } }],
});

/** A StatefulSet whose template mounts `configMap`, `generation` seen or not, rolled out to the update revision or not. */
function statefulSet(
  configMap: string,
  { observed = true, rolledOut = true }: { observed?: boolean; rolledOut?: boolean } = {},
): StatefulSet {
  return {
    metadata: { name: 'orders-app', generation: 2 },
    spec: { selector: {}, serviceName: 'orders-app', template: { spec: { containers: [], ...mounting(configMap) } } },
    status: {
      replicas: 2,
      observedGeneration: observed ? 2 : 1,
      currentRevision: rolledOut ? 'orders-app-new' : 'orders-app-old',
      updateRevision: 'orders-app-new',
    },
  };
}
const pod = (configMap: string): Pod => ({
  metadata: { name: 'orders-app-0' },
  spec: { containers: [], ...mounting(configMap) },
});
const names = (objects: readonly KubeObject[]): (string | undefined)[] => objects.map((o) => o.metadata?.name);

describe('installer ConfigMaps no pod uses', () => {
  const configMaps = [settings, installer('orders-app-installer-old'), installer('orders-app-installer-new')];

  test('the desired one and the settings ConfigMap always stay', () => {
    const unused = unusedInstallerConfigMaps({
      desired: 'orders-app-installer-new',
      configMaps,
      statefulSet: statefulSet('orders-app-installer-new'),
      pods: [pod('orders-app-installer-new')],
    });
    assert.deepEqual(names(unused), ['orders-app-installer-old']);
  });

  test('nothing goes while the rollout is under way: a pod of the old revision may be recreated', () => {
    for (const options of [{ rolledOut: false }, { observed: false }]) {
      const unused = unusedInstallerConfigMaps({
        desired: 'orders-app-installer-new',
        configMaps,
        statefulSet: statefulSet('orders-app-installer-new', options),
        // Between the deletion of an old pod and its recreation no pod names the old ConfigMap.
        pods: [pod('orders-app-installer-new')],
      });
      assert.deepEqual(names(unused), [], JSON.stringify(options));
    }
  });

  test('a StatefulSet the controller has not seen yet (no status) keeps everything', () => {
    const fresh = { ...statefulSet('orders-app-installer-new'), status: undefined } as StatefulSet;
    const unused = unusedInstallerConfigMaps({
      desired: 'orders-app-installer-new',
      configMaps,
      statefulSet: fresh,
      pods: [],
    });
    assert.deepEqual(names(unused), []);
  });

  test('the cached StatefulSet (before this reconcile applied the new template) keeps what it mounts', () => {
    const unused = unusedInstallerConfigMaps({
      desired: 'orders-app-installer-new',
      configMaps,
      statefulSet: statefulSet('orders-app-installer-old'),
      pods: [pod('orders-app-installer-old')],
    });
    assert.deepEqual(names(unused), []);
  });

  test('a live pod still mounting an older installer keeps it after the rollout (a terminating pod, a slow cache)', () => {
    const older = installer('orders-app-installer-older');
    const unused = unusedInstallerConfigMaps({
      desired: 'orders-app-installer-new',
      configMaps: [...configMaps, older],
      statefulSet: statefulSet('orders-app-installer-new'),
      pods: [pod('orders-app-installer-new'), pod('orders-app-installer-old')],
    });
    assert.deepEqual(names(unused), ['orders-app-installer-older']);
  });

  test('without packages every installer goes once the rollout without them is done', () => {
    const withoutInstaller: StatefulSet = {
      ...statefulSet('x'),
      spec: { selector: {}, serviceName: 'orders-app', template: { spec: { containers: [] } } },
    };
    assert.deepEqual(
      names(unusedInstallerConfigMaps({ desired: undefined, configMaps, statefulSet: withoutInstaller, pods: [] })),
      ['orders-app-installer-old', 'orders-app-installer-new'],
    );
    assert.deepEqual(
      names(unusedInstallerConfigMaps({ desired: undefined, configMaps, statefulSet: undefined, pods: [] })),
      ['orders-app-installer-old', 'orders-app-installer-new'],
      'no StatefulSet and no pod: nothing can mount them',
    );
  });
});

test('the pod cache keeps which ConfigMaps a pod mounts, and nothing else of its spec', () => {
  const slim = slimPod({
    metadata: { name: 'orders-app-0' },
    spec: {
      containers: [{ name: 'kaspr', image: 'kaspr', args: ['x'.repeat(10_000)] }],
      volumes: [
        { name: 'python-packages', persistentVolumeClaim: { claimName: 'orders-app-python-packages' } },
        { name: 'python-packages-installer', configMap: { name: 'orders-app-installer-new', defaultMode: 0o644 } },
      ],
    },
  });
  assert.deepEqual(slim.spec, {
    containers: [],
    volumes: [{ name: 'python-packages-installer', configMap: { name: 'orders-app-installer-new' } }],
  });
});
