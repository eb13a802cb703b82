// The operator as it is deployed: deploy/ rendered by `kubectl kustomize` (the real kustomize) and applied to the real
// cluster, running the image tools/images builds from the Dockerfile's layout, under deploy/'s ServiceAccount and
// RBAC. The one change is WATCH_NAMESPACES, set to the test's namespace so that it leaves other tests' apps alone.
// The image needs no override: the local build is named exactly as deploy/ references it (kasprop:0.1.0 is
// docker.io/library/kasprop:0.1.0), and IfNotPresent finds it imported.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import type { Deployment } from 'kubernetes-types/apps/v1.js';
import type { Lease } from 'kubernetes-types/coordination/v1.js';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { parseAllDocuments } from 'yaml';
import type { KubeObject } from '../../../src/runtime/kube/client.ts';
import { resourceTypeOf, ResourceTypes, type ResourceType } from '../../../src/runtime/kube/resources.ts';
import { kubectl } from '../../support/kubectl.ts';
import { operatorImage } from '../../support/images.ts';
import { connectCluster, createTestNamespace, installKasprAppCrd, waitFor } from '../../support/integration.ts';
import { createApp, getApp, kasprApp, setSpec, waitForPackages } from '../../support/kasprapps.ts';
import { startWheelIndex } from '../../support/wheel-index.ts';

const cluster = await connectCluster();
assert.equal(cluster.pods, 'node', 'this file runs only on a real node (test/support/run-tests.ts)');
await installKasprAppCrd(cluster.client);

const repo = resolve(import.meta.dirname, '../../..');
const operatorNamespace = 'kasprop-system';
const leaseName = 'kasprop-leader';
const selector = 'app.kubernetes.io/name=kasprop,app.kubernetes.io/component=operator';

/** The kinds deploy/ holds that ResourceTypes does not list. */
const extraTypes: ResourceType[] = [
  { apiVersion: 'apps/v1', kind: 'Deployment', plural: 'deployments', namespaced: true },
  { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', plural: 'poddisruptionbudgets', namespaced: true },
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', plural: 'roles', namespaced: true },
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', plural: 'rolebindings', namespaced: true },
];
const types = [...Object.values(ResourceTypes), ...extraTypes];
const deploymentType = extraTypes[0]!;

test('deploy/ runs the operator: two replicas pass their probes, one leads, and leadership moves when it goes', async (t) => {
  const { client } = cluster;
  const ns = await createTestNamespace(t, cluster);
  const objects = await renderDeploy();
  const deployment = objects.find((o) => o.kind === 'Deployment') as Deployment & KubeObject;
  const container = deployment.spec?.template.spec?.containers[0];
  assert.equal(container?.image, 'kasprop:0.1.0');
  assert.equal(`docker.io/library/${container.image}`, operatorImage, 'deploy/ names the image tools/images builds');
  container.env = container.env?.map((e) => (e.name === 'WATCH_NAMESPACES' ? { name: e.name, value: ns.name } : e));

  t.after(async () => {
    // Cluster-scoped objects and the namespace; the CRD stays, other files use it.
    for (const object of objects.filter((o) => o.kind === 'ClusterRole' || o.kind === 'ClusterRoleBinding')) {
      await client.delete(typeOf(object), { name: object.metadata?.name ?? '' });
    }
    await client.delete(ResourceTypes.Namespace, { name: operatorNamespace });
    await waitFor(async () => (await client.get(ResourceTypes.Namespace, { name: operatorNamespace })) === undefined, {
      timeoutMs: 120_000,
      message: `namespace ${operatorNamespace} deleted`,
    });
  });
  for (const object of objects) {
    await client.apply(typeOf(object), object, { fieldManager: 'kasprop-test-deploy', force: true });
  }

  // Both replicas start as uid 1000 on a read-only root file system and pass /healthz and /readyz.
  await waitFor(
    async () => {
      const current = await client.get<Deployment>(deploymentType, { namespace: operatorNamespace, name: 'kasprop' });
      return current?.status?.readyReplicas === 2;
    },
    { timeoutMs: 120_000, message: 'the kasprop Deployment with 2 ready replicas' },
  );
  const firstLeader = await leader();
  const pods = await operatorPods();
  assert.ok(
    pods.map((p) => p.metadata?.name).includes(firstLeader),
    `the leader ${firstLeader} is one of ${JSON.stringify(pods.map((p) => p.metadata?.name))}`,
  );
  for (const pod of pods) assert.equal(pod.spec?.serviceAccountName, 'kasprop');

  const index = await startWheelIndex({ reachableAt: cluster.serverAddressForPods });
  t.after(() => index.close());
  const source = { indexUrl: index.url, trustedHosts: [index.host] };
  await createApp(
    client,
    kasprApp(ns.name, 'managed', { pythonPackages: { ...source, packages: ['kaspr-demo-c==1.0'] } }),
  );
  const first = await waitForPackages(client, ns.name, 'managed', (s) => s.state === 'Ready', 'Ready through the pod');

  // The leader goes; the other replica takes the Lease, and a change made afterwards still converges.
  await client.delete(ResourceTypes.Pod, { namespace: operatorNamespace, name: firstLeader });
  const secondLeader = await waitFor(
    async () => {
      const holder = await leader();
      return holder !== firstLeader && holder !== '' ? holder : undefined;
    },
    { timeoutMs: 90_000, message: `another replica than ${firstLeader} to lead` },
  );
  assert.notEqual(secondLeader, firstLeader);
  const spec = (await getApp(client, ns.name, 'managed'))!.spec;
  await setSpec(client, ns.name, 'managed', {
    ...spec,
    pythonPackages: { ...source, packages: ['kaspr-demo-a==1.0'] },
  });
  const second = await waitForPackages(
    client,
    ns.name,
    'managed',
    (s) => s.state === 'Ready' && s.hash !== first.hash,
    'Ready on the new spec under the new leader',
  );
  assert.deepEqual(second.installed, ['kaspr-demo-a==1.0', 'kaspr-demo-b==2.0']);

  // deploy/'s RBAC was enough: neither replica was refused anything.
  for (const pod of await operatorPods()) {
    const log = await kubectl(cluster.kubeconfigPath, ['logs', '-n', operatorNamespace, pod.metadata?.name ?? '']);
    assert.doesNotMatch(log, /forbidden|403/i, `${pod.metadata?.name ?? ''} was refused something`);
  }
});

async function renderDeploy(): Promise<KubeObject[]> {
  const yaml = await kubectl(cluster.kubeconfigPath, ['kustomize', join(repo, 'deploy')]);
  return parseAllDocuments(yaml)
    .map((document) => document.toJS() as KubeObject | null)
    .filter((object): object is KubeObject => object !== null);
}

function typeOf(object: KubeObject): ResourceType {
  const type = resourceTypeOf(object, types);
  if (type === undefined)
    throw new Error(`deploy/ has a ${object.apiVersion ?? '?'} ${object.kind ?? '?'} this test cannot apply`);
  return type;
}

/** The leading pod's name: the Lease holder is `<pod>_<random>` (src/runtime/leader-election.ts). */
async function leader(): Promise<string> {
  const lease = await cluster.client.get<Lease>(ResourceTypes.Lease, { namespace: operatorNamespace, name: leaseName });
  return lease?.spec?.holderIdentity?.split('_')[0] ?? '';
}

async function operatorPods(): Promise<Pod[]> {
  const list = await cluster.client.list<Pod & KubeObject>(ResourceTypes.Pod, {
    namespace: operatorNamespace,
    labelSelector: selector,
  });
  return list.items.filter((p) => p.metadata?.deletionTimestamp === undefined);
}
