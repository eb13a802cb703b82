// Offline bundles on the real node: an app whose locked packages come from a ConfigMap bundle, with offlineMode,
// reaches Ready; its container imports them; the wheel index of the run (running, reachable from the pods) is never
// asked. And whether the node mounts image volumes, which an `image` bundleSource needs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ConfigMap, Pod } from 'kubernetes-types/core/v1.js';
import { ResourceTypes } from '../../../src/runtime/kube/resources.ts';
import { mainContainerName } from '../../../src/model/stateful-set.ts';
import { kubectl } from '../../support/kubectl.ts';
import { appImage } from '../../support/images.ts';
import { connectCluster, installKasprAppCrd, waitFor, type Cluster } from '../../support/integration.ts';
import { createApp, kasprApp, readyReplicas, waitForPackages } from '../../support/kasprapps.ts';
import { startScenario } from '../../support/scenario.ts';
import { buildWheels, DEMO_PROJECTS } from '../../support/wheels.ts';

const cluster = await connectCluster();
assert.equal(cluster.pods, 'node', 'this file runs only on a real node (test/support/run-tests.ts)');
await installKasprAppCrd(cluster.client);

const wheels = buildWheels(DEMO_PROJECTS).filter((w) => /^kaspr_demo_[ab]-1\.0-/.test(w.filename));

test('an offline app with its locked packages in a ConfigMap bundle reaches Ready, imports them, asks no index', async (t) => {
  const { ns, client, packages, index } = await startScenario(t, cluster);
  assert.equal(wheels.length, 2);
  await client.create<ConfigMap>(ResourceTypes.ConfigMap, {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'wheels-1', namespace: ns.name },
    binaryData: Object.fromEntries(wheels.map((w) => [w.filename, Buffer.from(w.bytes).toString('base64')])),
  });
  const lock = wheels.map((w) => ({
    name: w.filename.startsWith('kaspr_demo_a') ? 'kaspr-demo-a' : 'kaspr-demo-b',
    version: '1.0',
    hashes: [{ algorithm: 'sha256' as const, digest: w.sha256 }],
  }));
  // The scenario's index settings stay in the spec: offline, none of them reaches the installer.
  const pythonPackages = packages(['kaspr-demo-a==1.0'], {
    packagesWithHashes: lock,
    requireHashes: true,
    bundleSource: { type: 'configmap', name: 'wheels-1' },
    offlineMode: true,
  });
  await createApp(client, kasprApp(ns.name, 'offline', { replicas: 2, pythonPackages }));
  const status = await waitForPackages(client, ns.name, 'offline', (s) => s.state === 'Ready', 'Ready', 180_000);
  assert.equal(status.installSource, 'bundle');
  assert.equal(status.hashVerified, true);
  assert.deepEqual(status.installed, ['kaspr-demo-a==1.0', 'kaspr-demo-b==1.0']);
  await waitFor(async () => (await readyReplicas(client, ns.name, 'offline')) === 2, {
    timeoutMs: 120_000,
    message: '2 ready replicas of offline',
  });
  for (const pod of ['offline-app-0', 'offline-app-1']) {
    assert.deepEqual(await importedBy(cluster, ns.name, pod), ['kaspr-demo-a==1.0', 'kaspr-demo-b==1.0']);
  }
  assert.deepEqual(index.requests, []);
});

test('image volumes: the node mounts an image read-only into a container', async (t) => {
  const { ns, client } = await startScenario(t, cluster);
  const volume = { name: 'bundle', image: { reference: appImage, pullPolicy: 'IfNotPresent' } };
  await client.create<Pod>(ResourceTypes.Pod, {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'image-volume', namespace: ns.name },
    spec: {
      restartPolicy: 'Never',
      containers: [
        {
          name: 'read',
          image: appImage,
          command: ['python3', '-c', 'import os; print(sorted(os.listdir("/bundle")))'],
          volumeMounts: [{ name: 'bundle', mountPath: '/bundle' }],
        },
      ],
      volumes: [volume],
    },
  });
  const pod = await waitFor(
    async () => {
      const found = await client.get<Pod>(ResourceTypes.Pod, { namespace: ns.name, name: 'image-volume' });
      const phase = found?.status?.phase;
      return phase === 'Succeeded' || phase === 'Failed' ? found : undefined;
    },
    { timeoutMs: 120_000, message: 'the image-volume pod finished' },
  );
  const log = await kubectl(cluster.kubeconfigPath, ['logs', '-n', ns.name, 'image-volume']);
  assert.equal(pod.status?.phase, 'Succeeded', JSON.stringify(pod.status));
  assert.match(log, /'usr'/);
});

async function importedBy(target: Cluster, namespace: string, pod: string): Promise<string[]> {
  return waitFor(
    async () => {
      const log = await kubectl(target.kubeconfigPath, ['logs', '-n', namespace, pod, '-c', mainContainerName]);
      if (!/distribution\(s\) imported/.test(log)) return undefined;
      return [...log.matchAll(/imported (\S+==\S+) from/g)].map((m) => m[1] ?? '').sort();
    },
    { timeoutMs: 30_000, message: `the import report of ${namespace}/${pod}` },
  );
}
