// What goes wrong, and how it shows: a project that does not exist, an invalid spec, a missing credentials
// Secret, a cluster without ReadWriteMany storage, a file that differs from the lock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../src/runtime/kube/client.ts';
import { ResourceTypes } from '../../src/runtime/kube/resources.ts';
import { connectCluster, installKasprAppCrd, waitFor } from '../support/integration.ts';
import { startScenario } from '../support/scenario.ts';
import { buildWheel, buildWheels, DEMO_PROJECTS } from '../support/wheels.ts';
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

test('a locked app is Ready and hash-verified; a file that differs from its lock is hash_mismatch, counted', async (t) => {
  const genuine = new Map(buildWheels(DEMO_PROJECTS).map((wheel) => [wheel.filename, wheel]));
  const lockOf = (name: string, filename: string) => ({
    name,
    version: '1.0',
    hashes: [{ algorithm: 'sha256' as const, digest: genuine.get(filename)?.sha256 ?? '' }],
  });
  // The index serves other bytes under kaspr-demo-c 1.0's file name (and says so honestly in its #sha256).
  const tampered = buildWheel('kaspr-demo-c', { version: '1.0', payloadBytes: 16 });
  const { ns, client, operator, packages } = await startScenario(t, cluster, {
    index: { projects: DEMO_PROJECTS.filter((p) => p.name !== 'kaspr-demo-c'), files: [tampered] },
  });
  const locked = packages(['kaspr-demo-a==1.0'], {
    packagesWithHashes: [
      lockOf('kaspr-demo-a', 'kaspr_demo_a-1.0-py3-none-any.whl'),
      lockOf('kaspr-demo-b', 'kaspr_demo_b-1.0-py3-none-any.whl'),
    ],
    requireHashes: true,
  });
  await createApp(client, kasprApp(ns.name, 'locked', { pythonPackages: locked }));
  const c = lockOf('kaspr-demo-c', 'kaspr_demo_c-1.0-py3-none-any.whl');
  const { packages: _loose, ...indexSettings } = packages([]);
  await createApp(
    client,
    kasprApp(ns.name, 'tampered', { pythonPackages: { ...indexSettings, packagesWithHashes: [c] } }),
  );

  const ready = await waitForPackages(client, ns.name, 'locked', (s) => s.state === 'Ready', 'Ready');
  assert.deepEqual(ready.installed, ['kaspr-demo-a==1.0', 'kaspr-demo-b==1.0']);
  assert.equal(ready.hashVerified, true);
  assert.equal(ready.installSource, 'index');

  const failed = await waitForPackages(client, ns.name, 'tampered', (s) => s.state === 'Failed', 'Failed');
  assert.equal(failed.errorType, 'hash_mismatch');
  assert.ok(failed.error?.includes(`has sha256:${tampered.sha256}, not the digest`), failed.error);
  assert.ok(failed.error?.includes(`(sha256:${c.hashes[0]?.digest ?? '?'})`), failed.error);
  const labels = `app_name="tampered",namespace="${ns.name}"`;
  await waitFor(
    async () =>
      (await operator.metrics()).includes(`kasprop_package_install_errors_total{${labels},error_type="hash_mismatch"}`),
    { message: 'the hash_mismatch counted' },
  );
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
