// The operator installed by `helm install` of charts/kasprop on the real node, from the image tools/images builds
// (the chart's default image, kasprop:0.1.0, is that image's name), runs an app with packages to Ready. The chart's
// defaults, except its own names (the ClusterRole is cluster-wide, operator-pod.node.ts installs deploy/'s) and the
// watched namespace (so that it leaves other tests' apps alone).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import type { Deployment } from 'kubernetes-types/apps/v1.js';
import type { Pod } from 'kubernetes-types/core/v1.js';
import type { KubeObject } from '../../../src/runtime/kube/client.ts';
import { ResourceTypes } from '../../../src/runtime/kube/resources.ts';
import { helm } from '../../support/helm.ts';
import { connectCluster, createTestNamespace, installKasprAppCrd, waitFor } from '../../support/integration.ts';
import { createApp, kasprApp, waitForCondition, waitForPackages } from '../../support/kasprapps.ts';
import { kubectl } from '../../support/kubectl.ts';
import { startWheelIndex } from '../../support/wheel-index.ts';

const cluster = await connectCluster();
assert.equal(cluster.pods, 'node', 'this file runs only on a real node (test/support/run-tests.ts)');
await installKasprAppCrd(cluster.client);

const chart = resolve(import.meta.dirname, '../../../charts/kasprop');

test('helm install of the chart runs the operator on the node, and it takes an app with packages to Ready', async (t) => {
  const { client } = cluster;
  const apps = await createTestNamespace(t, cluster);
  const release = `kasprop-${randomBytes(3).toString('hex')}`;
  const kube = ['--kubeconfig', cluster.kubeconfigPath, '--namespace', release];
  t.after(async () => {
    await helm(['uninstall', release, ...kube, '--wait', '--timeout', '2m']).catch(() => undefined);
    await client.delete(ResourceTypes.Namespace, { name: release });
  });
  await helm([
    'install',
    release,
    chart,
    ...kube,
    '--create-namespace',
    '--set',
    `nameOverride=${release},watchNamespaces={${apps.name}}`,
    '--wait',
    '--timeout',
    '4m',
  ]);
  const deployment = await client.get<Deployment & KubeObject>(
    { apiVersion: 'apps/v1', kind: 'Deployment', plural: 'deployments', namespaced: true },
    { namespace: release, name: release },
  );
  assert.equal(deployment?.status?.readyReplicas, 2, 'helm --wait returned with both replicas Ready');

  const index = await startWheelIndex({ reachableAt: cluster.serverAddressForPods });
  t.after(() => index.close());
  await createApp(
    client,
    kasprApp(apps.name, 'charted', {
      pythonPackages: { indexUrl: index.url, trustedHosts: [index.host], packages: ['kaspr-demo-c==1.0'] },
    }),
  );
  const ready = await waitForPackages(
    client,
    apps.name,
    'charted',
    (s) => s.state === 'Ready',
    'Ready through the chart',
  );
  assert.ok(ready.installed?.includes('kaspr-demo-c==1.0'), JSON.stringify(ready.installed));
  await waitForCondition(client, apps.name, 'charted', 'Ready', (c) => c.status === 'True');

  // The chart's RoleBinding in the watched namespace was all it needed: nothing was refused.
  const pods = await waitFor(
    async () => {
      const list = await client.list<Pod & KubeObject>(ResourceTypes.Pod, {
        namespace: release,
        labelSelector: 'app.kubernetes.io/name=kasprop,app.kubernetes.io/component=operator',
      });
      return list.items.length === 2 ? list.items : undefined;
    },
    { message: 'the two operator pods' },
  );
  for (const pod of pods) {
    const log = await kubectl(cluster.kubeconfigPath, ['logs', '-n', release, pod.metadata?.name ?? '']);
    assert.doesNotMatch(log, /forbidden|403/i, `${pod.metadata?.name ?? ''} was refused something`);
  }
});
