// The applier against a real kube-apiserver, reading live objects from an informer as the controller does:
// create, then no request at all while nothing changed, a patch for a change, for a removed field and for drift,
// and the status subresource handled apart.
import assert from 'node:assert/strict';
import { suite, test, type TestContext } from 'node:test';
import type { CustomResourceDefinition } from 'kubernetes-types/apiextensions/v1.js';
import type { StatefulSet } from 'kubernetes-types/apps/v1.js';
import { Applier } from '../../src/runtime/applier.ts';
import { appliedHashAnnotation } from '../../src/runtime/compare.ts';
import { Informer } from '../../src/runtime/informer.ts';
import { KubeApiError, KubeClient, type KubeObject, type RequestInfo } from '../../src/runtime/kube/client.ts';
import { loadKubeConfigFile } from '../../src/runtime/kube/config.ts';
import { ResourceTypes, type ResourceType } from '../../src/runtime/kube/resources.ts';
import { connectCluster, createTestNamespace, waitFor } from '../support/integration.ts';

const cluster = await connectCluster();

/** A client that records every request, and an informer over `type` in `namespace` reading through it. */
async function observed<T extends KubeObject>(
  t: TestContext,
  type: ResourceType,
  namespace: string,
): Promise<{ client: KubeClient; requests: RequestInfo[]; informer: Informer<T>; mutating: () => RequestInfo[] }> {
  const requests: RequestInfo[] = [];
  const client = new KubeClient(loadKubeConfigFile(cluster.kubeconfigPath), {
    onRequest: (info) => requests.push(info),
  });
  const informer = new Informer<T>({ client, type, namespaces: [namespace] });
  informer.start();
  t.after(async () => {
    await informer.stop();
    client.close();
  });
  assert.equal(await informer.waitForSync(AbortSignal.timeout(30_000)), true);
  return { client, requests, informer, mutating: () => requests.filter((r) => !r.watch && r.verb !== 'GET') };
}

/** Waits until the informer holds the object as the server returned it (or newer). */
async function cached<T extends KubeObject>(informer: Informer<T>, written: T): Promise<T> {
  const { namespace, name, resourceVersion } = written.metadata ?? {};
  return waitFor(
    () => {
      const live = informer.get(namespace, name ?? '');
      return live !== undefined && Number(live.metadata?.resourceVersion) >= Number(resourceVersion) ? live : undefined;
    },
    { message: `the cache to show ${namespace}/${name} at resourceVersion ${resourceVersion}` },
  );
}

function statefulSet(namespace: string, image: string, withInit: boolean): StatefulSet {
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { namespace, name: 'app', labels: { app: 'demo', tier: 'stream' } },
    spec: {
      // No pods: this test is about the object, not about what the StatefulSet controller makes of it.
      replicas: 0,
      serviceName: 'app-headless',
      selector: { matchLabels: { app: 'demo' } },
      template: {
        metadata: { labels: { app: 'demo' } },
        spec: {
          ...(withInit ? { initContainers: [{ name: 'install-packages', image, command: ['true'] }] } : {}),
          containers: [
            {
              name: 'app',
              image,
              env: [{ name: 'MODE', value: 'stream' }],
              // Non-canonical on purpose: the server stores 500m and 1Gi.
              resources: { requests: { cpu: 0.5 as unknown as string, memory: '1024Mi' } },
              volumeMounts: [{ name: 'data', mountPath: '/data', readOnly: false }],
            },
          ],
          volumes: [{ name: 'data', emptyDir: {} }],
        },
      },
    },
  };
}

const widgetType: ResourceType = {
  apiVersion: 'runtime-test.kasprop.io/v1',
  kind: 'Widget',
  plural: 'widgets',
  namespaced: true,
};

interface Widget extends KubeObject {
  spec?: { size?: number };
  status?: { state?: string; error?: string; conditions?: { type: string; status: string }[] };
}

async function installWidgetCrd(client: KubeClient): Promise<void> {
  // Typed loosely: kubernetes-types does not know the x-kubernetes-* schema extensions.
  const crd: KubeObject & { spec: unknown } = {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: 'widgets.runtime-test.kasprop.io' },
    spec: {
      group: 'runtime-test.kasprop.io',
      scope: 'Namespaced',
      names: { plural: 'widgets', singular: 'widget', kind: 'Widget', listKind: 'WidgetList' },
      versions: [
        {
          name: 'v1',
          served: true,
          storage: true,
          subresources: { status: {} },
          schema: {
            openAPIV3Schema: {
              type: 'object',
              properties: {
                spec: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
                status: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
              },
            },
          },
        },
      ],
    },
  };
  await client.apply(ResourceTypes.CustomResourceDefinition, crd, { fieldManager: 'kasprop-test' });
  await waitFor(
    async () => {
      const current = await client.get<CustomResourceDefinition>(ResourceTypes.CustomResourceDefinition, {
        name: 'widgets.runtime-test.kasprop.io',
      });
      return current?.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True');
    },
    { message: 'the Widget CRD to be established' },
  );
}

suite('applier on a real apiserver', { concurrency: true }, () => {
  test('creates; re-applies with zero requests; patches changes, removed fields and drift', async (t) => {
    const { name: namespace } = await createTestNamespace(t, cluster);
    const { client, informer, mutating, requests } = await observed<StatefulSet>(
      t,
      ResourceTypes.StatefulSet,
      namespace,
    );
    const applier = new Applier(client);
    const type = ResourceTypes.StatefulSet;

    const v1 = statefulSet(namespace, 'kaspr:1', true);
    const created = await applier.apply(type, v1, informer.get(namespace, 'app'));
    assert.equal(created.result, 'created');
    assert.ok(created.object.metadata?.annotations?.[appliedHashAnnotation]);
    await cached(informer, created.object);

    // Steady state: however often we reconcile, nothing is sent; not even a GET, the cache answers.
    let before = requests.length;
    for (let i = 0; i < 5; i++) {
      const again = await applier.apply(type, statefulSet(namespace, 'kaspr:1', true), informer.get(namespace, 'app'));
      assert.equal(again.result, 'unchanged');
    }
    assert.equal(requests.filter((r) => !r.watch).length - before, 0, 'no request at all for an unchanged object');
    // The StatefulSet controller writes status (a newer resourceVersion in the cache): still nothing to do.
    await waitFor(() => informer.get(namespace, 'app')?.status?.observedGeneration === 1, {
      message: 'the StatefulSet controller to observe the object',
    });
    assert.equal((await applier.apply(type, v1, informer.get(namespace, 'app'))).result, 'unchanged');

    // A change.
    const v2 = statefulSet(namespace, 'kaspr:2', true);
    const changed = await applier.apply(type, v2, informer.get(namespace, 'app'));
    assert.deepEqual([changed.result, changed.reason], ['patched', 'changed']);
    assert.equal(changed.object.spec?.template.spec?.containers[0]?.image, 'kaspr:2');
    let live = await cached(informer, changed.object);
    assert.equal((await applier.apply(type, v2, live)).result, 'unchanged');

    // A removed field: the live object is still a superset of the new desired object; the hash tells.
    const v3 = statefulSet(namespace, 'kaspr:2', false);
    const removed = await applier.apply(type, v3, live);
    assert.deepEqual([removed.result, removed.reason], ['patched', 'changed']);
    assert.equal(removed.object.spec?.template.spec?.initContainers, undefined, 'server-side apply removed it');
    live = await cached(informer, removed.object);
    assert.equal((await applier.apply(type, v3, live)).result, 'unchanged');

    // Drift: someone else edits a field we own, and removes a label we set.
    await cluster.client.patch(
      type,
      { namespace, name: 'app' },
      [
        { op: 'replace', path: '/spec/template/spec/containers/0/image', value: 'hand-edited:9' },
        { op: 'remove', path: '/metadata/labels/tier' },
      ],
      { kind: 'json' },
    );
    live = await waitFor(
      () => {
        const current = informer.get(namespace, 'app');
        return current?.spec?.template.spec?.containers[0]?.image === 'hand-edited:9' ? current : undefined;
      },
      { message: 'the cache to see the hand edit' },
    );
    const repaired = await applier.apply(type, v3, live);
    assert.equal(repaired.result, 'patched');
    assert.match(repaired.reason ?? '', /^drift at /);
    assert.equal(repaired.object.spec?.template.spec?.containers[0]?.image, 'kaspr:2');
    assert.equal(repaired.object.metadata?.labels?.tier, 'stream');
    live = await cached(informer, repaired.object);
    assert.equal((await applier.apply(type, v3, live)).result, 'unchanged');

    // Every write above was one PATCH (server-side apply); nothing else mutated.
    assert.deepEqual(
      mutating().map((r) => r.verb),
      ['PATCH', 'PATCH', 'PATCH', 'PATCH'],
    );

    // Delete: once, then nothing to do (gone from the cache, or already gone on the server).
    before = mutating().length;
    assert.equal(await applier.deleteIfPresent(type, live), 'deleted');
    assert.equal(await applier.deleteIfPresent(type, live), 'unchanged', 'a stale cache entry: 404 is unchanged');
    await waitFor(() => informer.get(namespace, 'app') === undefined, { message: 'the cache to see the delete' });
    assert.equal(await applier.deleteIfPresent(type, informer.get(namespace, 'app')), 'unchanged');
    assert.equal(
      mutating().length - before,
      2,
      'the second call sent a DELETE that found nothing; the third sent none',
    );
  });

  test('delete leaves alone an object recreated under the same name (uid precondition)', async (t) => {
    const { name: namespace } = await createTestNamespace(t, cluster);
    const client = cluster.client;
    const applier = new Applier(client);
    const first = await applier.apply(
      ResourceTypes.ConfigMap,
      { metadata: { namespace, name: 'c' }, data: {} },
      undefined,
    );
    await client.delete(ResourceTypes.ConfigMap, { namespace, name: 'c' });
    await applier.apply(
      ResourceTypes.ConfigMap,
      { metadata: { namespace, name: 'c' }, data: { new: 'yes' } },
      undefined,
    );
    assert.equal(await applier.deleteIfPresent(ResourceTypes.ConfigMap, first.object), 'unchanged');
    assert.ok(await client.get(ResourceTypes.ConfigMap, { namespace, name: 'c' }), 'the new object is still there');
  });

  test('status goes through the status subresource, whole, and only when it differs', async (t) => {
    await installWidgetCrd(cluster.client);
    const { name: namespace } = await createTestNamespace(t, cluster);
    const { client, informer, mutating } = await observed<Widget>(t, widgetType, namespace);
    const applier = new Applier(client);
    const created = await applier.apply(
      widgetType,
      { metadata: { namespace, name: 'w' }, spec: { size: 1 } },
      undefined,
    );
    assert.equal(created.result, 'created');

    const failed = { state: 'Failed', error: 'boom', conditions: [{ type: 'Ready', status: 'False' }] };
    const first = await applier.applyStatus(widgetType, await cached(informer, created.object), failed);
    assert.equal(first.result, 'patched');
    assert.deepEqual(first.object.status, failed);
    assert.deepEqual(first.object.spec, { size: 1 }, 'the status write left the spec alone');
    let live = await cached(informer, first.object);
    const before = mutating().length;
    assert.equal((await applier.applyStatus(widgetType, live, structuredClone(failed))).result, 'unchanged');
    assert.equal(mutating().length, before, 'an identical status sends nothing');

    // A field we no longer set disappears.
    const ready = { state: 'Ready', conditions: [{ type: 'Ready', status: 'True' }] };
    const second = await applier.applyStatus(widgetType, live, ready);
    assert.equal(second.result, 'patched');
    assert.deepEqual(second.object.status, ready);
    live = await cached(informer, second.object);
    assert.equal((await applier.applyStatus(widgetType, live, ready)).result, 'unchanged');

    // It never creates a missing object.
    await assert.rejects(
      applier.applyStatus(widgetType, { metadata: { namespace, name: 'missing' } }, { state: 'Ready' }),
      (error: unknown) => error instanceof KubeApiError && error.status === 404,
    );
  });
});
