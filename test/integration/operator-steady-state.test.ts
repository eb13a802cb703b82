// A converged operator is quiet: resyncs and restarts send no mutating request and change no resourceVersion,
// and with two instances only the leader writes.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject, RequestInfo } from '../../src/runtime/kube/client.ts';
import { ResourceTypes, type ResourceType } from '../../src/runtime/kube/resources.ts';
import { KasprAppResource } from '../../src/api/types.ts';
import { connectCluster, createTestNamespace, installKasprAppCrd, waitFor } from '../support/integration.ts';
import { startTestOperator, type TestOperator, type TestOperatorOptions } from '../support/operator.ts';
import { startScenario } from '../support/scenario.ts';
import {
  createApp,
  getApp,
  imagePath,
  kasprApp,
  setSpec,
  waitForCondition,
  waitForPackages,
} from '../support/kasprapps.ts';
import { startWheelIndex } from '../support/wheel-index.ts';

const cluster = await connectCluster();
await installKasprAppCrd(cluster.client);

const watched: readonly ResourceType[] = [
  KasprAppResource,
  ResourceTypes.ServiceAccount,
  ResourceTypes.ConfigMap,
  ResourceTypes.Service,
  ResourceTypes.PersistentVolumeClaim,
  ResourceTypes.StatefulSet,
  ResourceTypes.HorizontalPodAutoscaler,
];

/** kind/name -> resourceVersion of the app and its children. */
async function resourceVersions(namespace: string): Promise<Record<string, string | undefined>> {
  const lists = await Promise.all(watched.map((type) => cluster.client.list<KubeObject>(type, { namespace })));
  return Object.fromEntries(
    lists.flatMap((list, i) =>
      list.items.map((o) => [`${watched[i]!.kind}/${o.metadata?.name}`, o.metadata?.resourceVersion]),
    ),
  );
}

async function successfulReconciles(operator: TestOperator): Promise<number> {
  const match = /controller_runtime_reconcile_total\{controller="kasprapp",result="success"\} (\d+)/.exec(
    await operator.metrics(),
  );
  return Number(match?.[1] ?? 0);
}

async function convergedApp(t: TestContext, operatorOptions: Partial<TestOperatorOptions> = {}) {
  const { ns, operator, packages } = await startScenario(t, cluster, { operator: operatorOptions });
  await createApp(
    cluster.client,
    kasprApp(ns.name, 'calm', { replicas: 2, pythonPackages: packages(['kaspr-demo-c==1.0']) }),
  );
  await waitForPackages(cluster.client, ns.name, 'calm', (s) => s.state === 'Ready', 'Ready');
  await waitForCondition(cluster.client, ns.name, 'calm', 'Ready', (c) => c.status === 'True');
  await waitForCondition(cluster.client, ns.name, 'calm', 'Progressing', (c) => c.status === 'False');
  return { ns, operator };
}

const notLease = (r: RequestInfo): boolean => !r.path.includes('/leases/');

test('after convergence, resyncs send no mutating request and change no resourceVersion', async (t) => {
  const { ns, operator } = await convergedApp(t, { resyncPeriodMs: 300 });
  const writes = operator.mutatingRequests().length;
  const versions = await resourceVersions(ns.name);
  const reconciles = await successfulReconciles(operator);
  await waitFor(async () => (await successfulReconciles(operator)) >= reconciles + 5, {
    message: 'five more reconciles (resyncs)',
  });
  assert.deepEqual(operator.mutatingRequests().slice(writes), []);
  assert.deepEqual(await resourceVersions(ns.name), versions);
});

test('restarting the operator changes nothing', async (t) => {
  const { ns, operator } = await convergedApp(t);
  await operator.stop();
  const versions = await resourceVersions(ns.name);
  const restarted = await startTestOperator(cluster, { namespaces: [ns.name] });
  await waitFor(async () => (await successfulReconciles(restarted)) >= 1, {
    message: 'the restarted operator to reconcile',
  });
  assert.deepEqual(restarted.mutatingRequests(), []);
  assert.deepEqual(await resourceVersions(ns.name), versions);
});

test('with two instances only the leader writes, and the other takes over when it stops', async (t) => {
  const ns = await createTestNamespace(t, cluster, { path: imagePath });
  const index = await startWheelIndex({ reachableAt: cluster.serverAddressForPods });
  t.after(() => index.close());
  const election = (identity: string) => ({
    namespace: ns.name,
    name: 'kasprop-leader',
    identity,
    leaseDurationMs: 3_000,
    renewDeadlineMs: 2_000,
    retryPeriodMs: 500,
  });
  const first = await startTestOperator(cluster, { namespaces: [ns.name], leaderElection: election('first') });
  await waitFor(
    async () =>
      (await cluster.client.get(ResourceTypes.Lease, { namespace: ns.name, name: 'kasprop-leader' })) !== undefined,
    {
      message: 'the first instance to take the lease',
    },
  );
  const second = await startTestOperator(cluster, { namespaces: [ns.name], leaderElection: election('second') });
  await createApp(
    cluster.client,
    kasprApp(ns.name, 'led', {
      pythonPackages: { packages: ['kaspr-demo-c==1.0'], indexUrl: index.url, trustedHosts: [index.host] },
    }),
  );
  await waitForPackages(cluster.client, ns.name, 'led', (s) => s.state === 'Ready', 'Ready');
  assert.ok(first.mutatingRequests().filter(notLease).length > 0, 'the leader wrote');
  assert.deepEqual(second.mutatingRequests().filter(notLease), [], 'the standby wrote nothing');

  await first.stop();
  const spec = (await getApp(cluster.client, ns.name, 'led'))!.spec;
  await setSpec(cluster.client, ns.name, 'led', { ...spec, replicas: 2 });
  await waitForCondition(
    cluster.client,
    ns.name,
    'led',
    'Ready',
    (c) => c.status === 'True' && c.message === '2/2 pods ready',
  );
  assert.ok(second.mutatingRequests().filter(notLease).length > 0, 'the new leader wrote');
});
