// The operator on the real control plane, with pods run by the simulator and packages from the local index:
// install to Ready, updates, cache reuse across replicas, the state sequence and the install metrics.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { ResourceTypes } from '../../src/runtime/kube/resources.ts';
import { connectCluster, installKasprAppCrd, waitFor } from '../support/integration.ts';
import { startScenario } from '../support/scenario.ts';
import {
  createApp,
  getApp,
  kasprApp,
  readyReplicas,
  recordPackageStates,
  setSpec,
  waitForCondition,
  waitForPackages,
} from '../support/kasprapps.ts';

const cluster = await connectCluster();
await installKasprAppCrd(cluster.client);

test('basic install: Installing then Ready, with the installed versions and the installing pod', async (t) => {
  const { ns, client, packages } = await startScenario(t, cluster, { index: { delayMs: 300 } });

  // Every state the status passes through, in order, from a watch of the KasprApp.
  const watching = new AbortController();
  t.after(() => watching.abort());
  const { states, done } = recordPackageStates(client, ns.name, 'basic', watching.signal);

  await createApp(client, kasprApp(ns.name, 'basic', { pythonPackages: packages(['kaspr-demo-a==1.0']) }));
  const status = await waitForPackages(client, ns.name, 'basic', (s) => s.state === 'Ready', 'packages Ready');
  assert.deepEqual(status.installed, ['kaspr-demo-a==1.0', 'kaspr-demo-b==2.0']);
  assert.equal(status.installedBy, 'basic-app-0');
  assert.equal(status.cacheMode, 'shared');
  assert.match(status.installDuration ?? '', /^\d+\.\ds$/);
  assert.ok(status.lastInstallTime);
  await waitForCondition(
    client,
    ns.name,
    'basic',
    'PythonPackagesReady',
    (c) => c.status === 'True' && c.reason === 'Installed',
  );
  await waitForCondition(client, ns.name, 'basic', 'Ready', (c) => c.status === 'True');
  assert.equal(await readyReplicas(client, ns.name, 'basic'), 1);
  watching.abort();
  await done;
  assert.deepEqual(states, ['Installing', 'Ready']);
});

test('a package update rolls the pods and reaches Ready with the new versions', async (t) => {
  const { ns, client, packages } = await startScenario(t, cluster);
  await createApp(client, kasprApp(ns.name, 'upd', { replicas: 2, pythonPackages: packages(['kaspr-demo-a==1.0']) }));
  const first = await waitForPackages(client, ns.name, 'upd', (s) => s.state === 'Ready', 'v1 Ready');
  await waitFor(async () => (await readyReplicas(client, ns.name, 'upd')) === 2, {
    timeoutMs: 60_000,
    message: '2 pods ready',
  });

  const app = (await getApp(client, ns.name, 'upd'))!;
  await setSpec(client, ns.name, 'upd', { ...app.spec, pythonPackages: packages(['kaspr-demo-a==2.0']) });
  const second = await waitForPackages(
    client,
    ns.name,
    'upd',
    (s) => s.state === 'Ready' && s.hash !== first.hash,
    'v2 Ready',
  );
  assert.deepEqual(second.installed, ['kaspr-demo-a==2.0', 'kaspr-demo-b==2.0']);
  // Every pod now runs the new spec: the rollout replaced them.
  await waitFor(
    async () => {
      const pods = await client.list<Pod & { metadata: object }>(ResourceTypes.Pod, { namespace: ns.name });
      const hashes = pods.items.map((p) => p.metadata.annotations?.['kaspr.io/python-packages-hash']);
      return pods.items.length === 2 && hashes.every((h) => h === second.hash);
    },
    { timeoutMs: 90_000, message: 'both pods on the new hash' },
  );
  await waitForCondition(client, ns.name, 'upd', 'Ready', (c) => c.status === 'True');
});

test('3 replicas install once; scaling to 6 installs nothing more; the metrics count one install', async (t) => {
  const { ns, index, client, operator, packages } = await startScenario(t, cluster);
  await createApp(client, kasprApp(ns.name, 'scale', { replicas: 3, pythonPackages: packages(['kaspr-demo-c==1.0']) }));
  await waitForPackages(client, ns.name, 'scale', (s) => s.state === 'Ready', 'Ready');
  await waitFor(async () => (await readyReplicas(client, ns.name, 'scale')) === 3, {
    timeoutMs: 60_000,
    message: '3 pods ready',
  });
  assert.equal(index.pageRequests('kaspr-demo-c'), 1, 'pip ran once');

  const app = (await getApp(client, ns.name, 'scale'))!;
  await setSpec(client, ns.name, 'scale', { ...app.spec, replicas: 6 });
  await waitFor(async () => (await readyReplicas(client, ns.name, 'scale')) === 6, {
    timeoutMs: 90_000,
    message: '6 pods ready',
  });
  await waitForCondition(
    client,
    ns.name,
    'scale',
    'Ready',
    (c) => c.status === 'True' && c.message === '6/6 pods ready',
  );
  assert.equal(index.pageRequests('kaspr-demo-c'), 1, 'no pod installed again');

  const metrics = await operator.metrics();
  const labels = `app_name="scale",namespace="${ns.name}"`;
  assert.match(metrics, new RegExp(`kasprop_package_install_total\\{${labels},result="success"\\} 1\\n`));
  assert.match(metrics, new RegExp(`kasprop_package_install_duration_seconds_count\\{${labels}\\} 1\\n`));
  assert.doesNotMatch(metrics, new RegExp(`kasprop_package_install_total\\{${labels},result="failure"\\}`));
});
