// A converged operator is quiet: resyncs and restarts send no mutating request and change nothing it wrote,
// and with two instances only the leader writes. Every core is kept busy (cpu-hog.ts) from before the app is
// created: a lagging watch is what makes a reconcile see a status older than the operator's own last write, and a
// quiet operator on an idle machine may only be a late one.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { Event, Pod } from 'kubernetes-types/core/v1.js';
import type { KubeObject, RequestInfo } from '../../src/runtime/kube/client.ts';
import { ResourceTypes, type ResourceType } from '../../src/runtime/kube/resources.ts';
import { startCpuHog } from '../support/cpu-hog.ts';
import { KasprAppResource } from '../../src/api/types.ts';
import { connectCluster, createTestNamespace, installKasprAppCrd, waitFor } from '../support/integration.ts';
import { startTestOperator, type TestOperator, type TestOperatorOptions } from '../support/operator.ts';
import { startScenario } from '../support/scenario.ts';
import {
  appEvents,
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

/**
 * kind/name -> what the operator (field manager `kasprop`) last wrote to the app and each child, and when. Not the
 * resourceVersion: other controllers keep writing the status of some children after convergence (the HPA controller
 * its conditions, on a loaded machine late), which is no write of ours.
 */
async function operatorWrites(namespace: string): Promise<Record<string, string>> {
  const lists = await Promise.all(watched.map((type) => cluster.client.list<KubeObject>(type, { namespace })));
  return Object.fromEntries(
    lists.flatMap((list, i) =>
      list.items.map((o) => [
        `${watched[i]!.kind}/${o.metadata?.name}`,
        JSON.stringify((o.metadata?.managedFields ?? []).filter((entry) => entry.manager === 'kasprop')),
      ]),
    ),
  );
}

async function successfulReconciles(operator: TestOperator): Promise<number> {
  const match = /controller_runtime_reconcile_total\{controller="kasprapp",result="success"\} (\d+)/.exec(
    await operator.metrics(),
  );
  return Number(match?.[1] ?? 0);
}

/** Busy processes on every core until the test ends. */
function loadMachine(t: TestContext): void {
  const hog = startCpuHog();
  t.after(() => hog.stop());
}

/** The reasons of the app's events, sorted: each transition of one install is recorded exactly once. */
async function eventReasons(namespace: string, name: string): Promise<string[]> {
  return (await appEvents(cluster.client, namespace, name)).map((e) => e.reason).sort();
}

const oneInstall = ['ClaimCreated', 'PackagesInstalled', 'PackagesInstalling'];

async function convergedApp(t: TestContext, operatorOptions: Partial<TestOperatorOptions> = {}) {
  loadMachine(t);
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

test('after convergence, resyncs send no mutating request and change nothing the operator wrote', async (t) => {
  const { ns, operator } = await convergedApp(t, { resyncPeriodMs: 300 });
  const writes = operator.mutatingRequests().length;
  const written = await operatorWrites(ns.name);
  const reconciles = await successfulReconciles(operator);
  await waitFor(async () => (await successfulReconciles(operator)) >= reconciles + 5, {
    message: 'five more reconciles (resyncs)',
  });
  assert.deepEqual(
    operator
      .mutatingRequests()
      .slice(writes)
      .map((r) => `${r.verb} ${r.path}`),
    [],
  );
  assert.deepEqual(await operatorWrites(ns.name), written);
  assert.deepEqual(await eventReasons(ns.name, 'calm'), oneInstall);
  assert.match(
    await operator.metrics(),
    new RegExp(`kasprop_package_install_total\\{app_name="calm",namespace="${ns.name}",result="success"\\} 1\\n`),
  );
});

test('restarting the operator changes nothing', async (t) => {
  const { ns, operator } = await convergedApp(t);
  await operator.stop();
  const written = await operatorWrites(ns.name);
  const restarted = await startTestOperator(cluster, { namespaces: [ns.name] });
  await waitFor(async () => (await successfulReconciles(restarted)) >= 1, {
    message: 'the restarted operator to reconcile',
  });
  assert.deepEqual(
    restarted.mutatingRequests().map((r) => `${r.verb} ${r.path}`),
    [],
  );
  assert.deepEqual(await operatorWrites(ns.name), written);
  assert.deepEqual(await eventReasons(ns.name, 'calm'), oneInstall);
  // The status records the install as counted: the first operator counted it, the restarted one does not again.
  assert.doesNotMatch(await restarted.metrics(), /kasprop_package_install_total\{/);
});

/** The app's pod whose installer has finished successfully, once there is one. */
async function finishedInstall(namespace: string): Promise<Pod | undefined> {
  const pods = await cluster.client.list<Pod>(ResourceTypes.Pod, { namespace });
  return pods.items.find((pod) =>
    pod.status?.initContainerStatuses?.some(
      (s) => s.name === 'install-packages' && s.state?.terminated?.exitCode === 0,
    ),
  );
}

const installCount = (namespace: string) =>
  new RegExp(`kasprop_package_install_total\\{app_name="late",namespace="${namespace}",result="success"\\} 1\\n`);

test('an install that finished while no operator ran is counted and reported once by the next one', async (t) => {
  loadMachine(t);
  // Slow answers: the install is still running when the first operator stops.
  const { ns, operator, packages } = await startScenario(t, cluster, { index: { delayMs: 1_500 } });
  await createApp(cluster.client, kasprApp(ns.name, 'late', { pythonPackages: packages(['kaspr-demo-c==1.0']) }));
  await waitForPackages(cluster.client, ns.name, 'late', (s) => s.state === 'Installing', 'Installing');
  await operator.stop();
  assert.doesNotMatch(
    await operator.registry.metrics(),
    /kasprop_package_install_total\{/,
    'the first operator counted nothing',
  );

  const pod = await waitFor(() => finishedInstall(ns.name), { timeoutMs: 180_000, message: 'the install to finish' });
  const unseen = (await getApp(cluster.client, ns.name, 'late'))!;
  assert.equal(unseen.status?.pythonPackages?.state, 'Installing', 'no operator saw the install finish');
  assert.equal(unseen.status.countedInstalls, undefined);

  const next = await startTestOperator(cluster, { namespaces: [ns.name] });
  const ready = await waitForPackages(cluster.client, ns.name, 'late', (s) => s.state === 'Ready', 'Ready');
  assert.equal(ready.installedBy, pod.metadata?.name);
  assert.match(await next.metrics(), installCount(ns.name));
  assert.deepEqual(await eventReasons(ns.name, 'late'), oneInstall);
  const counted = (await getApp(cluster.client, ns.name, 'late'))!.status?.countedInstalls;
  assert.deepEqual(counted, [`${pod.metadata?.uid}/${ready.lastInstallTime}`]);
  // Converged before it stops, so that the one after it has nothing left to write.
  await waitForCondition(cluster.client, ns.name, 'late', 'Ready', (c) => c.status === 'True');
  await waitForCondition(cluster.client, ns.name, 'late', 'Progressing', (c) => c.status === 'False');
  await next.stop();

  // The one after it finds the install recorded as counted: it counts nothing, writes nothing, records no event.
  const third = await startTestOperator(cluster, { namespaces: [ns.name] });
  await waitFor(async () => (await successfulReconciles(third)) >= 1, { message: 'the third operator to reconcile' });
  assert.doesNotMatch(await third.metrics(), /kasprop_package_install_total\{/);
  assert.deepEqual(
    third.mutatingRequests().map((r) => `${r.verb} ${r.path}`),
    [],
  );
  assert.deepEqual(await eventReasons(ns.name, 'late'), oneInstall);
});

test('a ClaimCreated the stopped operator did not record is recorded by the next one, once', async (t) => {
  const { ns, operator } = await convergedApp(t);
  await operator.stop();
  // What an operator leaves when it dies after creating the claim and before any reconcile saw it: the status
  // says a claim is wanted (no uid yet) and no ClaimCreated was recorded.
  const app = (await getApp(cluster.client, ns.name, 'calm'))!;
  const claimName = app.status?.packagesClaim?.name;
  assert.ok(app.status?.packagesClaim?.uid !== undefined && claimName !== undefined, 'the status records the claim');
  await cluster.client.apply(
    KasprAppResource,
    {
      apiVersion: app.apiVersion,
      kind: app.kind,
      metadata: { name: 'calm', namespace: ns.name },
      status: { ...app.status, packagesClaim: { name: claimName } },
    },
    { fieldManager: 'kasprop', subresource: 'status' },
  );
  const events = await cluster.client.list<Event & { metadata: object }>(ResourceTypes.CoreEvent, {
    namespace: ns.name,
    fieldSelector: 'involvedObject.name=calm,reason=ClaimCreated',
  });
  assert.equal(events.items.length, 1);
  await cluster.client.delete(ResourceTypes.CoreEvent, { namespace: ns.name, name: events.items[0]!.metadata.name! });

  const restarted = await startTestOperator(cluster, { namespaces: [ns.name], resyncPeriodMs: 300 });
  await waitFor(async () => (await getApp(cluster.client, ns.name, 'calm'))?.status?.packagesClaim?.uid, {
    message: 'the restarted operator to record the claim in the status',
  });
  const reconciles = await successfulReconciles(restarted);
  await waitFor(async () => (await successfulReconciles(restarted)) >= reconciles + 5, {
    message: 'five more reconciles (resyncs)',
  });
  assert.deepEqual(await eventReasons(ns.name, 'calm'), oneInstall);
  assert.deepEqual(
    restarted.mutatingRequests().map((r) => `${r.verb} ${r.path}`),
    [
      `POST /api/v1/namespaces/${ns.name}/events`,
      `PATCH /apis/kaspr.io/v1alpha1/namespaces/${ns.name}/kasprapps/calm/status`,
    ],
  );
});

test('with two instances only the leader writes, and the other takes over when it stops', async (t) => {
  loadMachine(t);
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
  assert.deepEqual(await eventReasons(ns.name, 'led'), oneInstall);
  // The install was counted by the first leader, and the status says so: the second does not count it again (the
  // new pod reused the installed cache, which is no install).
  assert.match(
    await first.registry.metrics(),
    new RegExp(`kasprop_package_install_total\\{app_name="led",namespace="${ns.name}",result="success"\\} 1\\n`),
  );
  assert.doesNotMatch(await second.metrics(), /kasprop_package_install_total\{/);
});
