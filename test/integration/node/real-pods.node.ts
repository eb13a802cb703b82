// What only a real node shows: the installer in a container of the app image on a real volume, the app container
// importing what it installed, the fast path on restart and scale-up, recovery from a kill -9 mid-install, the
// read-only mount, an image without pip, the installer's log through `kubectl logs`, and the pods of an older
// revision starting from their own installer ConfigMap during an operator upgrade. Run by run-tests.ts only
// when the run has a real node (the file name keeps it out of the simulator's selection).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StatefulSet } from 'kubernetes-types/apps/v1.js';
import type { ConfigMap, Pod } from 'kubernetes-types/core/v1.js';
import { ResourceTypes } from '../../../src/runtime/kube/resources.ts';
import type { KubeObject } from '../../../src/runtime/kube/client.ts';
import { installerProgramPath } from '../../../src/packages/installer-files.ts';
import { childNames } from '../../../src/model/names.ts';
import { mainContainerName } from '../../../src/model/stateful-set.ts';
import { kubectl } from '../../support/kubectl.ts';
import { fetchUv } from '../../support/uv.ts';
import { UV_VERSION } from '../../../src/packages/installer-contract.ts';
import { appImageWithoutPip } from '../../support/images.ts';
import { connectCluster, installKasprAppCrd, waitFor, type Cluster } from '../../support/integration.ts';
import { createApp, getApp, kasprApp, readyReplicas, setSpec, waitForPackages } from '../../support/kasprapps.ts';
import { startScenario } from '../../support/scenario.ts';
import { startTestOperator } from '../../support/operator.ts';

const cluster = await connectCluster();
assert.equal(cluster.pods, 'node', 'this file runs only on a real node (test/support/run-tests.ts)');
await installKasprAppCrd(cluster.client);

const installContainer = 'install-packages';

test('the app container imports exactly what the init container installed, and the new version after a change', async (t) => {
  const { ns, client, packages, index } = await startScenario(t, cluster);
  await createApp(
    client,
    kasprApp(ns.name, 'imports', { replicas: 2, pythonPackages: packages(['kaspr-demo-a==1.0']) }),
  );
  const first = await waitForPackages(client, ns.name, 'imports', (s) => s.state === 'Ready', 'v1 Ready');
  await waitForReplicas(cluster, ns.name, 'imports', 2);
  for (const pod of ['imports-app-0', 'imports-app-1']) {
    assert.deepEqual(await importedBy(cluster, ns.name, pod), ['kaspr-demo-a==1.0', 'kaspr-demo-b==2.0']);
  }
  // One pip run for both pods: the second pod found the install on the shared claim.
  assert.equal(index.pageRequests('kaspr-demo-a'), 1);

  const app = (await getApp(client, ns.name, 'imports'))!;
  await setSpec(client, ns.name, 'imports', { ...app.spec, pythonPackages: packages(['kaspr-demo-a==2.0']) });
  const second = await waitForPackages(
    client,
    ns.name,
    'imports',
    (s) => s.state === 'Ready' && s.hash !== first.hash,
    'v2 Ready',
  );
  await waitFor(async () => (await podsOnHash(cluster, ns.name, second.hash ?? '')).length === 2, {
    timeoutMs: 120_000,
    message: 'both pods rolled to the new spec',
  });
  await waitForReplicas(cluster, ns.name, 'imports', 2);
  for (const pod of ['imports-app-0', 'imports-app-1']) {
    assert.deepEqual(await importedBy(cluster, ns.name, pod), ['kaspr-demo-a==2.0', 'kaspr-demo-b==2.0']);
  }
  // Each revision has its own directory: the old one is still there for a rollback.
  const claim = await ns.claimDirectory('imports-app-python-packages');
  assert.deepEqual(readdirSync(join(claim, 'envs')).sort(), [first.hash, second.hash].sort());
});

test('installer: uv on an image without uv: pip puts uv on the claim from the index, uv installs, the app imports it', async (t) => {
  const uv = fetchUv();
  const { ns, client, packages, index } = await startScenario(t, cluster, { index: { files: [uv.wheel] } });
  await createApp(
    client,
    kasprApp(ns.name, 'uv', { replicas: 1, pythonPackages: { ...packages(['kaspr-demo-a==1.0']), installer: 'uv' } }),
  );
  const status = await waitForPackages(client, ns.name, 'uv', (s) => s.state === 'Ready', 'Ready with uv');
  assert.deepEqual(status.installed, ['kaspr-demo-a==1.0', 'kaspr-demo-b==2.0']);
  await waitForReplicas(cluster, ns.name, 'uv', 1);
  assert.deepEqual(await importedBy(cluster, ns.name, 'uv-app-0'), ['kaspr-demo-a==1.0', 'kaspr-demo-b==2.0']);
  assert.equal(index.requests.filter((r) => r.path === `/files/${uv.wheel.filename}`).length, 1);
  const claim = await ns.claimDirectory('uv-app-python-packages');
  assert.deepEqual(readdirSync(join(claim, '.tools')), [`uv-${UV_VERSION}`]);
  assert.ok(readdirSync(join(claim, '.uv-cache')).length > 0, "uv's cache is on the claim");
});

test('a pod restart and a scale-up take the fast path: no pip run, the result comes from the cache', async (t) => {
  const { ns, client, packages, index } = await startScenario(t, cluster);
  await createApp(client, kasprApp(ns.name, 'fast', { replicas: 1, pythonPackages: packages(['kaspr-demo-c==1.0']) }));
  await waitForPackages(client, ns.name, 'fast', (s) => s.state === 'Ready', 'Ready');
  await waitForReplicas(cluster, ns.name, 'fast', 1);
  const pipRuns = index.pageRequests('kaspr-demo-c');
  assert.equal(pipRuns, 1);

  const before = await client.get<Pod>(ResourceTypes.Pod, { namespace: ns.name, name: 'fast-app-0' });
  await client.delete(ResourceTypes.Pod, { namespace: ns.name, name: 'fast-app-0' });
  await waitFor(
    async () => {
      const pod = await client.get<Pod>(ResourceTypes.Pod, { namespace: ns.name, name: 'fast-app-0' });
      return pod?.metadata?.uid !== before?.metadata?.uid && isReady(pod) ? pod : undefined;
    },
    { timeoutMs: 60_000, message: 'fast-app-0 recreated and ready' },
  );
  assert.equal(installSource(await podOf(cluster, ns.name, 'fast-app-0')), 'cache');

  const app = (await getApp(client, ns.name, 'fast'))!;
  await setSpec(client, ns.name, 'fast', { ...app.spec, replicas: 2 });
  await waitForReplicas(cluster, ns.name, 'fast', 2);
  assert.equal(installSource(await podOf(cluster, ns.name, 'fast-app-1')), 'cache');
  assert.equal(index.pageRequests('kaspr-demo-c'), pipRuns, 'no pip run after the first install');
  assert.deepEqual(await importedBy(cluster, ns.name, 'fast-app-1'), ['kaspr-demo-c==1.0']);
});

test('kill -9 of the installer mid-install: the init container restarts and the install completes', async (t) => {
  // A slow index keeps pip busy long enough to be killed while it downloads.
  const { ns, client, packages } = await startScenario(t, cluster, { index: { delayMs: 3_000 } });
  await createApp(client, kasprApp(ns.name, 'killed', { pythonPackages: packages(['kaspr-demo-a==1.0']) }));
  const installer = await waitFor(() => installerProcess('killed-app-0'), {
    timeoutMs: 60_000,
    message: 'the installer running in the init container',
  });
  process.kill(installer, 'SIGKILL');

  const status = await waitForPackages(client, ns.name, 'killed', (s) => s.state === 'Ready', 'Ready after the kill');
  assert.deepEqual(status.installed, ['kaspr-demo-a==1.0', 'kaspr-demo-b==2.0']);
  const pod = await podOf(cluster, ns.name, 'killed-app-0');
  const init = pod.status?.initContainerStatuses?.find((c) => c.name === installContainer);
  assert.ok((init?.restartCount ?? 0) >= 1, `the killed init container was restarted: ${JSON.stringify(init)}`);
  // What the killed run left (its staging directory) is gone; only the finished install is there.
  const claim = await ns.claimDirectory('killed-app-python-packages');
  assert.deepEqual(readdirSync(join(claim, 'envs')), [status.hash]);
  assert.deepEqual(readdirSync(join(claim, '.staging')), []);
  assert.deepEqual(await importedBy(cluster, ns.name, 'killed-app-0'), ['kaspr-demo-a==1.0', 'kaspr-demo-b==2.0']);
});

test('the app container cannot write the packages volume', async (t) => {
  const { ns, client, packages } = await startScenario(t, cluster);
  await createApp(client, kasprApp(ns.name, 'ro', { pythonPackages: packages(['kaspr-demo-c==1.0']) }));
  const status = await waitForPackages(client, ns.name, 'ro', (s) => s.state === 'Ready', 'Ready');
  await waitForReplicas(cluster, ns.name, 'ro', 1);
  const write = kubectl(cluster.kubeconfigPath, [
    'exec',
    '-n',
    ns.name,
    'ro-app-0',
    '-c',
    mainContainerName,
    '--',
    'python3',
    '-c',
    'import sys; open(sys.argv[1], "w")',
    `/packages/envs/${status.hash ?? ''}/planted.py`,
  ]);
  await assert.rejects(write, (error: { stderr?: string }) => {
    assert.match(error.stderr ?? '', /Read-only file system/);
    return true;
  });
});

test('an image without pip fails with its own error type, and says why', async (t) => {
  const { ns, client, packages } = await startScenario(t, cluster);
  await createApp(
    client,
    kasprApp(ns.name, 'nopip', { image: appImageWithoutPip, pythonPackages: packages(['kaspr-demo-c==1.0']) }),
  );
  const failed = await waitForPackages(client, ns.name, 'nopip', (s) => s.state === 'Failed', 'Failed');
  assert.equal(failed.errorType, 'pip_unavailable');
  assert.match(failed.error ?? '', /has no pip module/);
});

test("the installer's log is readable with kubectl logs -c install-packages", async (t) => {
  const { ns, client, packages } = await startScenario(t, cluster);
  await createApp(client, kasprApp(ns.name, 'logs', { pythonPackages: packages(['kaspr-demo-c==1.0']) }));
  await waitForPackages(client, ns.name, 'logs', (s) => s.state === 'Ready', 'Ready');
  const log = await kubectl(cluster.kubeconfigPath, ['logs', '-n', ns.name, 'logs-app-0', '-c', installContainer]);
  assert.match(
    log,
    /^kasprop: installing 1 requirement\(s\) for [0-9a-f]{16} from http:\/\/10\.244\.0\.1:\d+\/simple\/ with pip$/m,
  );
  assert.match(log, /^ {2}\| Successfully installed kaspr-demo-c-1\.0$/m);
  assert.match(log, /^kasprop: pip install of the 1 chosen file\(s\), without an index$/m);
  assert.match(
    log,
    /^kasprop: installed 1 distribution\(s\) in [\d.]+s \(0 from the store, 1 downloaded\): kaspr-demo-c==1\.0$/m,
  );
});

test('an operator upgrade mid-rollout: pods of the old revision start from their installer, kept until the rollout ends', async (t) => {
  const { ns, client, packages, operator } = await startScenario(t, cluster);
  const names = childNames('upgrade');
  await createApp(
    client,
    kasprApp(ns.name, 'upgrade', { replicas: 2, pythonPackages: packages(['kaspr-demo-c==1.0']) }),
  );
  await waitForPackages(client, ns.name, 'upgrade', (s) => s.state === 'Ready', 'Ready');
  await waitForReplicas(cluster, ns.name, 'upgrade', 2);
  await operator.stop();

  // The cluster as the previous operator release left it: its own installer ConfigMap (another digest), which the
  // StatefulSet's pods run from. Its content is this installer's: what matters is the name the pods mount.
  const current = await client.get<ConfigMap & KubeObject>(ResourceTypes.ConfigMap, {
    namespace: ns.name,
    name: names.installerConfigMap,
  });
  assert.ok(current?.metadata);
  const previous = `${names.component}-installer-0000000000`;
  await client.create<ConfigMap & KubeObject>(ResourceTypes.ConfigMap, {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: previous,
      namespace: ns.name,
      labels: current.metadata.labels,
      ownerReferences: current.metadata.ownerReferences,
    },
    immutable: true,
    data: current.data,
  });
  await client.delete(ResourceTypes.ConfigMap, { namespace: ns.name, name: names.installerConfigMap });
  const statefulSetRef = {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: names.statefulSet, namespace: ns.name },
  };
  await client.apply(
    ResourceTypes.StatefulSet,
    {
      ...statefulSetRef,
      spec: { template: { spec: { volumes: [{ name: 'python-packages-installer', configMap: { name: previous } }] } } },
    },
    { fieldManager: 'previous-operator' },
  );
  const rolledOut = (s: StatefulSet | undefined): boolean => {
    const status = s?.status;
    return (
      status !== undefined &&
      status.observedGeneration === s?.metadata?.generation &&
      status.currentRevision === status.updateRevision &&
      status.updatedReplicas === 2 &&
      status.readyReplicas === 2
    );
  };
  const statefulSet = () =>
    client.get<StatefulSet & KubeObject>(ResourceTypes.StatefulSet, { namespace: ns.name, name: names.statefulSet });
  await waitFor(async () => rolledOut(await statefulSet()), {
    timeoutMs: 120_000,
    message: 'both pods on the previous installer',
  });
  // A rollout that stops half-way: pods below ordinal 1 stay on the revision they run.
  await client.apply(
    ResourceTypes.StatefulSet,
    { ...statefulSetRef, spec: { updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 1 } } } },
    { fieldManager: 'rollout-hold' },
  );

  // The new operator: its installer ConfigMap, and a rollout to it that holds at pod 1.
  const upgraded = await startTestOperator(cluster, { namespaces: [ns.name] });
  t.after(() => upgraded.stop());
  await waitFor(
    async () => {
      const pod = await client.get<Pod>(ResourceTypes.Pod, { namespace: ns.name, name: 'upgrade-app-1' });
      return isReady(pod) && installerOf(pod) === names.installerConfigMap;
    },
    { timeoutMs: 120_000, message: 'upgrade-app-1 on the new installer' },
  );
  // The old revision's pod goes (a node drain, an eviction): the StatefulSet controller recreates it from the old
  // revision, and it must start, which it cannot without its installer ConfigMap.
  const before = await podOf(cluster, ns.name, 'upgrade-app-0');
  assert.equal(installerOf(before), previous);
  await client.delete(ResourceTypes.Pod, { namespace: ns.name, name: 'upgrade-app-0' });
  const recreated = await waitFor(
    async () => {
      const pod = await client.get<Pod>(ResourceTypes.Pod, { namespace: ns.name, name: 'upgrade-app-0' });
      return pod?.metadata?.uid !== before.metadata?.uid && isReady(pod) ? pod : undefined;
    },
    { timeoutMs: 120_000, message: 'upgrade-app-0 recreated on the old revision and ready' },
  );
  assert.equal(installerOf(recreated), previous);
  assert.equal(installSource(recreated), 'cache');
  assert.ok(
    await client.get(ResourceTypes.ConfigMap, { namespace: ns.name, name: previous }),
    'the old installer stays while the rollout is under way',
  );

  // The rollout completes: the old installer goes.
  await client.apply(
    ResourceTypes.StatefulSet,
    { ...statefulSetRef, spec: { updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 0 } } } },
    { fieldManager: 'rollout-hold' },
  );
  await waitFor(
    async () => (await client.get(ResourceTypes.ConfigMap, { namespace: ns.name, name: previous })) === undefined,
    {
      timeoutMs: 180_000,
      message: 'the old installer ConfigMap deleted after the rollout',
    },
  );
  const done = await statefulSet();
  assert.ok(rolledOut(done), JSON.stringify(done?.status));
  for (const pod of ['upgrade-app-0', 'upgrade-app-1']) {
    assert.equal(installerOf(await podOf(cluster, ns.name, pod)), names.installerConfigMap, pod);
  }
});

// ---- helpers -------------------------------------------------------------------------------------------------------

/** The distributions the app container reported importing (the stand-in image's log), sorted. */
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

async function podOf(target: Cluster, namespace: string, name: string): Promise<Pod> {
  const pod = await target.client.get<Pod>(ResourceTypes.Pod, { namespace, name });
  if (pod === undefined) throw new Error(`no pod ${namespace}/${name}`);
  return pod;
}

async function podsOnHash(target: Cluster, namespace: string, hash: string): Promise<Pod[]> {
  const pods = await target.client.list<Pod & { metadata: NonNullable<Pod['metadata']> }>(ResourceTypes.Pod, {
    namespace,
  });
  return pods.items.filter((p) => p.metadata.annotations?.['kaspr.io/python-packages-hash'] === hash && isReady(p));
}

async function waitForReplicas(target: Cluster, namespace: string, app: string, count: number): Promise<void> {
  await waitFor(async () => (await readyReplicas(target.client, namespace, app)) === count, {
    timeoutMs: 120_000,
    message: `${count} ready replicas of ${namespace}/${app}`,
  });
}

/** The installer ConfigMap a pod mounts. */
function installerOf(pod: Pod | undefined): string | undefined {
  return pod?.spec?.volumes?.find((v) => v.name === 'python-packages-installer')?.configMap?.name;
}

function isReady(pod: Pod | undefined): boolean {
  return pod?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
}

/** `installed` or `cache`, from the init container's termination message as the kubelet reported it. */
function installSource(pod: Pod): string | undefined {
  const message = pod.status?.initContainerStatuses?.find((c) => c.name === installContainer)?.state?.terminated
    ?.message;
  return message === undefined ? undefined : (JSON.parse(message) as { source?: string }).source;
}

/**
 * The pid (as this machine sees it) of the installer program running in a pod, once pip runs below it: the python3
 * whose environment has the installer's contract and the pod's host name.
 */
function installerProcess(pod: string): number | undefined {
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const [command, separator, program] = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
      if (command !== 'python3' || separator !== '--' || program !== installerProgramPath) continue;
      const environment = readFileSync(`/proc/${name}/environ`, 'utf8').split('\0');
      if (!environment.includes(`HOSTNAME=${pod}`) || !environment.some((e) => e.startsWith('KASPR_PACKAGES_HASH='))) {
        continue;
      }
      if (readFileSync(`/proc/${name}/task/${name}/children`, 'utf8').trim() !== '') return Number(name);
    } catch {
      // Exited meanwhile.
    }
  }
  return undefined;
}
