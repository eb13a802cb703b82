// Lifecycle of what pythonPackages adds: removing and re-adding it, deleting the app (garbage collection and
// deleteClaim), storage class and size, and two apps side by side.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import type { StatefulSet } from 'kubernetes-types/apps/v1.js';
import type { PersistentVolumeClaim } from 'kubernetes-types/core/v1.js';
import { KasprAppResource } from '../../src/api/types.ts';
import type { KubeClient } from '../../src/runtime/kube/client.ts';
import { ResourceTypes, type ResourceType } from '../../src/runtime/kube/resources.ts';
import { connectCluster, installKasprAppCrd, waitFor } from '../support/integration.ts';
import { startTestOperator } from '../support/operator.ts';
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

const get = <T>(client: KubeClient, type: ResourceType, namespace: string, name: string) =>
  client.get<T & { metadata?: object }>(type, { namespace, name }) as Promise<T | undefined>;

const initContainers = async (client: KubeClient, namespace: string, app: string) =>
  (await get<StatefulSet>(client, ResourceTypes.StatefulSet, namespace, `${app}-app`))?.spec?.template.spec
    ?.initContainers ?? [];

test('removing pythonPackages deletes the claim and the init container; adding it back restores them', async (t) => {
  const { ns, client, packages } = await startScenario(t, cluster);
  await createApp(client, kasprApp(ns.name, 'toggle', { pythonPackages: packages(['kaspr-demo-c==1.0']) }));
  await waitForPackages(client, ns.name, 'toggle', (s) => s.state === 'Ready', 'Ready');
  assert.ok(await get(client, ResourceTypes.PersistentVolumeClaim, ns.name, 'toggle-app-python-packages'));
  assert.equal((await initContainers(client, ns.name, 'toggle')).length, 1);

  const withPackages = (await getApp(client, ns.name, 'toggle'))!.spec;
  const { pythonPackages: _removed, ...without } = withPackages;
  await setSpec(client, ns.name, 'toggle', without);
  await waitFor(
    async () =>
      (await initContainers(client, ns.name, 'toggle')).length === 0 &&
      (await get(client, ResourceTypes.PersistentVolumeClaim, ns.name, 'toggle-app-python-packages')) === undefined,
    { timeoutMs: 60_000, message: 'init container and claim removed' },
  );
  await waitFor(async () => (await getApp(client, ns.name, 'toggle'))?.status?.pythonPackages === undefined, {
    message: 'status.pythonPackages removed',
  });

  // The claim's events derive from the claim against status.packagesClaim: each change once.
  const claimEvents = async (): Promise<string[]> =>
    (await appEvents(client, ns.name, 'toggle'))
      .map((e) => e.reason)
      .filter((r) => r.startsWith('Claim'))
      .sort();
  await waitFor(async () => (await claimEvents()).includes('ClaimDeleted'), { message: 'a ClaimDeleted event' });
  assert.deepEqual(await claimEvents(), ['ClaimCreated', 'ClaimDeleted']);

  await setSpec(client, ns.name, 'toggle', withPackages);
  await waitForPackages(client, ns.name, 'toggle', (s) => s.state === 'Ready', 'Ready again');
  assert.equal((await initContainers(client, ns.name, 'toggle')).length, 1);
  const claim = await get<PersistentVolumeClaim>(
    client,
    ResourceTypes.PersistentVolumeClaim,
    ns.name,
    'toggle-app-python-packages',
  );
  assert.ok(claim);
  await waitFor(
    async () => (await getApp(client, ns.name, 'toggle'))?.status?.packagesClaim?.uid === claim.metadata?.uid,
    { message: 'status.packagesClaim to record the new claim' },
  );
  assert.deepEqual(await claimEvents(), ['ClaimCreated', 'ClaimCreated', 'ClaimDeleted']);
});

test('deleting the app removes every child through the garbage collector; deleteClaim false keeps the claim', async (t) => {
  const { ns, client, packages } = await startScenario(t, cluster);
  await createApp(client, kasprApp(ns.name, 'gone', { pythonPackages: packages(['kaspr-demo-c==1.0']) }));
  await createApp(
    client,
    kasprApp(ns.name, 'kept', {
      pythonPackages: packages(['kaspr-demo-c==1.0'], { cache: { deleteClaim: false } }),
    }),
  );
  await waitForPackages(client, ns.name, 'gone', (s) => s.state === 'Ready', 'gone Ready');
  await waitForPackages(client, ns.name, 'kept', (s) => s.state === 'Ready', 'kept Ready');
  const keptClaim = await get<PersistentVolumeClaim>(
    client,
    ResourceTypes.PersistentVolumeClaim,
    ns.name,
    'kept-app-python-packages',
  );
  assert.equal(keptClaim?.metadata?.ownerReferences, undefined);

  const children: [ResourceType, string][] = [
    [ResourceTypes.ServiceAccount, 'app'],
    [ResourceTypes.ConfigMap, 'app-config'],
    [ResourceTypes.Service, 'app-api'],
    [ResourceTypes.Service, 'app'],
    [ResourceTypes.StatefulSet, 'app'],
    [ResourceTypes.HorizontalPodAutoscaler, 'app-hpa'],
    [ResourceTypes.PersistentVolumeClaim, 'app-python-packages'],
  ];
  for (const app of ['gone', 'kept']) await client.delete(KasprAppResource, { namespace: ns.name, name: app });
  await waitFor(
    async () => {
      const left = await Promise.all(children.map(([type, suffix]) => get(client, type, ns.name, `gone-${suffix}`)));
      return left.every((object) => object === undefined);
    },
    { timeoutMs: 60_000, message: 'every child of gone deleted' },
  );
  await waitFor(async () => (await get(client, ResourceTypes.StatefulSet, ns.name, 'kept-app')) === undefined, {
    timeoutMs: 60_000,
    message: 'kept-app StatefulSet deleted',
  });
  const claim = await get<PersistentVolumeClaim>(
    client,
    ResourceTypes.PersistentVolumeClaim,
    ns.name,
    'kept-app-python-packages',
  );
  assert.ok(claim, 'the deleteClaim: false claim outlives its app');
  assert.equal(claim.metadata?.deletionTimestamp, undefined);
});

test('storage class and size are applied, and a size increase is patched', async (t) => {
  const { ns, index, client, packages } = await startScenario(t, cluster);
  const cache = { storageClass: 'standard', size: '300Mi' };
  await createApp(client, kasprApp(ns.name, 'sized', { pythonPackages: packages(['kaspr-demo-c==1.0'], { cache }) }));
  await waitForPackages(client, ns.name, 'sized', (s) => s.state === 'Ready', 'Ready');
  const claim = await get<PersistentVolumeClaim>(
    client,
    ResourceTypes.PersistentVolumeClaim,
    ns.name,
    'sized-app-python-packages',
  );
  assert.equal(claim?.spec?.storageClassName, 'standard');
  assert.equal(claim.spec.resources?.requests?.storage, '300Mi');
  assert.deepEqual(claim.spec.accessModes, ['ReadWriteMany']);

  const spec = (await getApp(client, ns.name, 'sized'))!.spec;
  await setSpec(client, ns.name, 'sized', {
    ...spec,
    pythonPackages: { ...spec.pythonPackages!, cache: { ...cache, size: '1Gi' } },
  });
  await waitFor(
    async () => {
      const grown = await get<PersistentVolumeClaim>(
        client,
        ResourceTypes.PersistentVolumeClaim,
        ns.name,
        'sized-app-python-packages',
      );
      return grown?.spec?.resources?.requests?.storage === '1Gi' && grown.status?.capacity?.storage === '1Gi';
    },
    { timeoutMs: 60_000, message: 'the claim grown to 1Gi' },
  );
  // The size is not part of the spec hash: growing the cache reinstalls nothing.
  const status = await waitForPackages(client, ns.name, 'sized', (s) => s.state === 'Ready', 'still Ready');
  assert.equal(index.pageRequests('kaspr-demo-c'), 1);
  assert.ok(status.hash);

  // A smaller size is refused with a warning; the claim keeps its size.
  await setSpec(client, ns.name, 'sized', {
    ...spec,
    pythonPackages: { ...spec.pythonPackages!, cache: { ...cache, size: '100Mi' } },
  });
  const warned = await waitForPackages(
    client,
    ns.name,
    'sized',
    (s) => (s.warnings ?? []).some((w) => w.includes('cannot shrink')),
    'shrink warning',
  );
  assert.deepEqual(warned.warnings, [
    "cache.size 100Mi is smaller than the claim's 1Gi; a claim cannot shrink, keeping 1Gi",
  ]);
});

test('two apps stay isolated: their own claims, hashes and packages', async (t) => {
  const { ns, client, packages } = await startScenario(t, cluster);
  await createApp(client, kasprApp(ns.name, 'left', { pythonPackages: packages(['kaspr-demo-a==1.0']) }));
  await createApp(client, kasprApp(ns.name, 'right', { pythonPackages: packages(['kaspr-demo-c==1.0']) }));
  const left = await waitForPackages(client, ns.name, 'left', (s) => s.state === 'Ready', 'left Ready');
  const right = await waitForPackages(client, ns.name, 'right', (s) => s.state === 'Ready', 'right Ready');
  assert.notEqual(left.hash, right.hash);
  assert.deepEqual(left.installed, ['kaspr-demo-a==1.0', 'kaspr-demo-b==2.0']);
  assert.deepEqual(right.installed, ['kaspr-demo-c==1.0']);
  const envs = async (claim: string) => readdirSync(`${await ns.claimDirectory(claim)}/envs`);
  assert.deepEqual(await envs('left-app-python-packages'), [left.hash]);
  assert.deepEqual(await envs('right-app-python-packages'), [right.hash]);
});

test('an operator with PYTHON_PACKAGES_ENABLED=false says it ignores the packages and keeps the claim', async (t) => {
  const { ns, client, packages, operator: enabled } = await startScenario(t, cluster);
  await createApp(client, kasprApp(ns.name, 'off', { pythonPackages: packages(['kaspr-demo-c==1.0']) }));
  await waitForPackages(client, ns.name, 'off', (s) => s.state === 'Ready', 'Ready');
  await enabled.stop();

  await startTestOperator(cluster, { namespaces: [ns.name], settings: { pythonPackagesEnabled: false } });
  const condition = await waitForCondition(
    client,
    ns.name,
    'off',
    'PythonPackagesReady',
    (c) => c.reason === 'Disabled',
  );
  assert.equal(condition.status, 'False');
  await waitFor(async () => (await initContainers(client, ns.name, 'off')).length === 0, {
    message: 'the init container removed',
  });
  await waitFor(
    async () => (await appEvents(client, ns.name, 'off')).some((e) => e.reason === 'PythonPackagesDisabled'),
    {
      message: 'a PythonPackagesDisabled event',
    },
  );
  assert.ok(
    await get(client, ResourceTypes.PersistentVolumeClaim, ns.name, 'off-app-python-packages'),
    'the claim is kept',
  );
  assert.equal((await getApp(client, ns.name, 'off'))?.status?.pythonPackages, undefined);
});
