// Faults that must not cost time or requests: a bad spec is reported at once however long the queue of good ones,
// and a namespace being deleted is given up at its first refusal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KasprAppResource, type KasprApp } from '../../src/api/types.ts';
import { resourcePath, ResourceTypes } from '../../src/runtime/kube/resources.ts';
import { startCpuHog } from '../support/cpu-hog.ts';
import { connectCluster, createTestNamespace, installKasprAppCrd, waitFor } from '../support/integration.ts';
import { appEvents, createApp, kasprApp } from '../support/kasprapps.ts';
import { startTestOperator } from '../support/operator.ts';

const cluster = await connectCluster();
await installKasprAppCrd(cluster.client);
// No pods: what is measured here is the operator's queue, not installs.
const light = { replicas: 0 };

test('an invalid spec created with 50 valid ones is reported before the valid ones are done', async (t) => {
  const ns = await createTestNamespace(t, cluster);
  // One worker: the valid apps form a queue the invalid one would otherwise wait behind.
  await startTestOperator(cluster, { namespaces: [ns.name], workers: 1 });

  // The order in which the apps get their first status, from a watch (exact, unlike polling).
  const reconciled: string[] = [];
  let invalidEventsAtStatus: string[] | undefined;
  const watching = new AbortController();
  t.after(() => watching.abort());
  const path = resourcePath(KasprAppResource, { namespace: ns.name });
  // A CRD just installed may answer 429 "storage is (re)initializing" for a while: resume from the last event.
  let resourceVersion = (
    await waitFor(() => cluster.client.list(KasprAppResource, { namespace: ns.name }), { message: 'a list of apps' })
  ).metadata.resourceVersion;
  const watch = (async () => {
    while (!watching.signal.aborted) {
      try {
        for await (const event of cluster.client.watch<KasprApp>(path, { resourceVersion }, watching.signal)) {
          resourceVersion = event.object.metadata.resourceVersion;
          const { name } = event.object.metadata;
          if (event.object.status?.observedGeneration === undefined || reconciled.includes(name)) continue;
          reconciled.push(name);
          if (name === 'invalid') {
            invalidEventsAtStatus = (await appEvents(cluster.client, ns.name, 'invalid')).map((e) => e.reason);
          }
        }
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  })();

  const valid = Array.from({ length: 50 }, (_, i) => `valid-${String(i).padStart(2, '0')}`);
  await Promise.all(valid.map((name) => createApp(cluster.client, kasprApp(ns.name, name, light))));
  await createApp(
    cluster.client,
    kasprApp(ns.name, 'invalid', { ...light, pythonPackages: { packages: ['requests; touch /tmp/x'] } }),
  );
  await waitFor(() => reconciled.length === valid.length + 1, {
    timeoutMs: 180_000,
    message: () => `every app reconciled; so far ${reconciled.length}`,
  });
  watching.abort();
  await watch;

  const position = reconciled.indexOf('invalid');
  assert.ok(
    position < valid.length,
    `the invalid app got its status before the last valid one (position ${position} of ${reconciled.length})`,
  );
  // Recorded before the status that shows it, so it was there as soon as the condition was.
  assert.ok(invalidEventsAtStatus?.includes('InvalidSpec'), `events then: ${String(invalidEventsAtStatus)}`);
  const condition = (
    await cluster.client.get<KasprApp>(KasprAppResource, { namespace: ns.name, name: 'invalid' })
  )?.status?.conditions?.find((c) => c.type === 'Ready');
  assert.equal(condition?.reason, 'InvalidSpec');
});

test('a namespace deleted mid-install: no request for its apps after its first "being terminated" refusal', async (t) => {
  const ns = await createTestNamespace(t, cluster);
  const operator = await startTestOperator(cluster, { namespaces: [ns.name] });
  const names = Array.from({ length: 5 }, (_, i) => `app-${i}`);
  await Promise.all(names.map((name) => createApp(cluster.client, kasprApp(ns.name, name, light))));
  // Mid-install: the operator has begun writing children.
  await waitFor(() => operator.mutatingRequests().some((r) => r.path.includes(`/namespaces/${ns.name}/`)), {
    message: 'the first write of the operator',
  });
  await cluster.client.delete(ResourceTypes.Namespace, { name: ns.name });

  const inNamespace = (r: { path: string; verb: string }): boolean =>
    r.verb !== 'GET' && r.path.includes(`/namespaces/${ns.name}/`);
  // The operator connects as admin: the only 403 it can get is the terminating namespace's.
  const firstRefusal = await waitFor(() => operator.requests.find((r) => inNamespace(r) && r.status === 403), {
    timeoutMs: 60_000,
    message: 'a write refused because the namespace is being deleted',
  });
  // Hold while the namespace controller deletes the children and apps (each a change the operator sees), with
  // every core busy: a late reconcile must not pass for no reconcile.
  const hog = startCpuHog();
  try {
    await waitFor(
      async () => (await cluster.client.list(KasprAppResource, { namespace: ns.name })).items.length === 0,
      { timeoutMs: 120_000, message: `the apps of namespace ${ns.name} to be deleted with it` },
    );
  } finally {
    await hog.stop();
  }
  const later = operator.requests.filter((r) => inNamespace(r) && r.endedAt - r.durationMs > firstRefusal.endedAt);
  assert.deepEqual(
    later.map((r) => `${r.verb} ${r.path} ${r.status}`),
    [],
    'requests sent after the first refusal',
  );
});
