// What goes wrong, and how it shows: a project that does not exist, an invalid spec, a missing credentials
// Secret, a cluster without ReadWriteMany storage.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../src/runtime/kube/client.ts';
import { ResourceTypes } from '../../src/runtime/kube/resources.ts';
import { connectCluster, installKasprAppCrd, waitFor } from '../support/integration.ts';
import { startScenario } from '../support/scenario.ts';
import {
  appEvents,
  createApp,
  getApp,
  kasprApp,
  setSpec,
  waitForCondition,
  waitForPackages,
} from '../support/kasprapps.ts';

const cluster = await connectCluster();
await installKasprAppCrd(cluster.client);
// A storage class that refuses ReadWriteMany is what one real node cannot show: its local volumes share every mode.
const simulated = await connectCluster({ pods: 'simulator' });
if (simulated !== cluster) await installKasprAppCrd(simulated.client);

test('a project that does not exist: Failed with its error type, counted in the metrics; fixed, it recovers', async (t) => {
  const { ns, client, operator, packages } = await startScenario(t, cluster);
  await createApp(client, kasprApp(ns.name, 'nope', { pythonPackages: packages(['kaspr-demo-missing==1.0']) }));
  const failed = await waitForPackages(client, ns.name, 'nope', (s) => s.state === 'Failed', 'Failed');
  assert.equal(failed.errorType, 'package_not_found');
  assert.match(failed.error ?? '', /kaspr-demo-missing/);
  await waitForCondition(
    client,
    ns.name,
    'nope',
    'PythonPackagesReady',
    (c) => c.status === 'False' && c.reason === 'InstallFailed',
  );
  await waitFor(
    async () => (await appEvents(client, ns.name, 'nope')).some((e) => e.reason === 'PackagesInstallFailed'),
    {
      message: 'a PackagesInstallFailed event',
    },
  );
  const labels = `app_name="nope",namespace="${ns.name}"`;
  await waitFor(
    async () =>
      (await operator.metrics()).includes(
        `kasprop_package_install_errors_total{${labels},error_type="package_not_found"}`,
      ),
    {
      message: 'the error counted',
    },
  );

  const spec = (await getApp(client, ns.name, 'nope'))!.spec;
  await setSpec(client, ns.name, 'nope', { ...spec, pythonPackages: packages(['kaspr-demo-c==1.0']) });
  const fixed = await waitForPackages(client, ns.name, 'nope', (s) => s.state === 'Ready', 'Ready after the fix');
  assert.deepEqual(fixed.installed, ['kaspr-demo-c==1.0']);
  await waitForCondition(client, ns.name, 'nope', 'Ready', (c) => c.status === 'True');
});

test('an invalid spec: a condition and an event name the field; existing children are left untouched', async (t) => {
  const { ns, client, packages } = await startScenario(t, cluster);
  await createApp(client, kasprApp(ns.name, 'bad', { pythonPackages: packages(['kaspr-demo-c==1.0']) }));
  await waitForPackages(client, ns.name, 'bad', (s) => s.state === 'Ready', 'Ready');
  await waitForCondition(client, ns.name, 'bad', 'Ready', (c) => c.status === 'True');
  // What the operator writes: every object whole, and of the StatefulSet its spec (generation) and metadata; its
  // status is the StatefulSet controller's and follows the pods (on a real node, a while after the app is Ready).
  const versions = async () => {
    const kinds = [
      ResourceTypes.ConfigMap,
      ResourceTypes.Service,
      ResourceTypes.StatefulSet,
      ResourceTypes.PersistentVolumeClaim,
    ];
    const lists = await Promise.all(kinds.map((type) => cluster.client.list<KubeObject>(type, { namespace: ns.name })));
    return Object.fromEntries(
      lists.flatMap((l, i) =>
        l.items.map((o) => [
          `${kinds[i]!.kind}/${o.metadata?.name}`,
          kinds[i] === ResourceTypes.StatefulSet
            ? JSON.stringify([o.metadata?.generation, o.metadata?.labels, o.metadata?.annotations])
            : o.metadata?.resourceVersion,
        ]),
      ),
    );
  };
  const before = await versions();

  // The apiserver accepts it (a string is a string); only the operator knows it is not a requirement.
  const spec = (await getApp(client, ns.name, 'bad'))!.spec;
  await setSpec(client, ns.name, 'bad', {
    ...spec,
    pythonPackages: packages(['requests; touch /tmp/x']),
  });
  const condition = await waitForCondition(client, ns.name, 'bad', 'Ready', (c) => c.reason === 'InvalidSpec');
  assert.equal(condition.status, 'False');
  assert.match(
    condition.message ?? '',
    /^spec\.pythonPackages\.packages\[0\]: invalid requirement "requests; touch \/tmp\/x": /,
  );
  await waitFor(async () => (await appEvents(client, ns.name, 'bad')).find((e) => e.reason === 'InvalidSpec'), {
    message: 'an InvalidSpec event',
  });
  assert.deepEqual(await versions(), before, 'no child changed');
  const app = await getApp(client, ns.name, 'bad');
  assert.equal(app?.status?.observedGeneration, app?.metadata.generation);
});

test('a missing credentials Secret is Failed with that reason, and recovers when the Secret appears', async (t) => {
  const password = 'p@ss:w/rd%#&';
  const { ns, client, packages } = await startScenario(t, cluster, {
    index: { auth: { username: 'reader', password } },
  });
  await createApp(
    client,
    kasprApp(ns.name, 'auth', {
      pythonPackages: packages(['kaspr-demo-c==1.0'], { credentials: { secretRef: { name: 'index-credentials' } } }),
    }),
  );
  const failed = await waitForPackages(client, ns.name, 'auth', (s) => s.state === 'Failed', 'Failed');
  assert.equal(failed.errorType, 'configuration');
  assert.match(failed.error ?? '', /secret "index-credentials" not found/);

  await client.create(ResourceTypes.Secret, {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'index-credentials', namespace: ns.name },
    stringData: { username: 'reader', password },
  } as KubeObject);
  const ready = await waitForPackages(client, ns.name, 'auth', (s) => s.state === 'Ready', 'Ready with the Secret');
  assert.deepEqual(ready.installed, ['kaspr-demo-c==1.0']);
  assert.ok(
    !JSON.stringify(await getApp(client, ns.name, 'auth')).includes(password),
    'the password is nowhere in the app',
  );
});

test('no ReadWriteMany storage: per-pod emptyDir with a warning naming the cause', async (t) => {
  const { ns, client, packages } = await startScenario(t, simulated, { simulator: { refuseReadWriteMany: true } });
  await createApp(client, kasprApp(ns.name, 'norwx', { replicas: 2, pythonPackages: packages(['kaspr-demo-c==1.0']) }));
  const status = await waitForPackages(
    client,
    ns.name,
    'norwx',
    (s) => s.state === 'Ready' && s.cacheMode === 'emptyDir',
    'Ready on emptyDir',
  );
  assert.equal(status.warnings?.length, 1);
  assert.match(
    status.warnings[0] ?? '',
    /the packages claim norwx-app-python-packages cannot be provisioned \(.*ReadWriteMany.*\); each pod installs into its own emptyDir/,
  );
  await waitFor(async () => (await appEvents(client, ns.name, 'norwx')).some((e) => e.reason === 'CacheFallback'), {
    message: 'a CacheFallback event',
  });
  await waitForCondition(client, ns.name, 'norwx', 'Ready', (c) => c.status === 'True');
});
