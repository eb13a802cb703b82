// What the runtime costs per object, without a cluster: the applier's no-op check (the work of every steady-state
// reconcile), the work queue's throughput through N workers, and what an informer's cache holds per object with and
// without managedFields. Prints figures; asserts nothing.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { StatefulSet } from 'kubernetes-types/apps/v1.js';
import { applyDecision, objectHash, withAppliedHash } from '../src/runtime/compare.ts';
import { diffRelist, dropManagedFields, objectKey } from '../src/runtime/informer.ts';
import { runWorkers, WorkQueue } from '../src/runtime/workqueue.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** A StatefulSet the size of a KasprApp's: an init container, env, mounts, resources, probes. */
function statefulSet(i: number): StatefulSet {
  const env = Array.from({ length: 20 }, (_, n) => ({ name: `KASPR_SETTING_${n}`, value: `value-${n}-${i}` }));
  const container = {
    name: 'kaspr',
    image: 'kasprio/kaspr:0.11.19',
    env,
    resources: { requests: { cpu: '500m', memory: '1Gi' }, limits: { memory: '2Gi' } },
    volumeMounts: [
      { name: 'settings', mountPath: '/etc/kaspr' },
      { name: 'python-packages', mountPath: '/opt/kaspr/packages', readOnly: true },
    ],
    ports: [{ name: 'http', containerPort: 8080 }],
    readinessProbe: { httpGet: { path: '/ready', port: 8080 }, periodSeconds: 10 },
  };
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: {
      name: `app-${i}`,
      namespace: 'bench',
      labels: { 'app.kubernetes.io/name': 'kasprapp', 'app.kubernetes.io/instance': `app-${i}` },
      ownerReferences: [
        { apiVersion: 'kaspr.io/v1alpha1', kind: 'KasprApp', name: `app-${i}`, uid: `uid-${i}`, controller: true },
      ],
    },
    spec: {
      serviceName: `app-${i}-headless`,
      selector: { matchLabels: { 'app.kubernetes.io/instance': `app-${i}` } },
      template: {
        metadata: { labels: { 'app.kubernetes.io/instance': `app-${i}` } },
        spec: {
          initContainers: [{ ...container, name: 'install-packages', command: ['/bin/sh', '-c', 'exec python3 -'] }],
          containers: [container],
          volumes: [
            { name: 'settings', configMap: { name: `app-${i}-settings` } },
            { name: 'python-packages', persistentVolumeClaim: { claimName: `app-${i}-python-packages` } },
          ],
        },
      },
    },
  };
}

/** The object as the server returns it: our fields, defaults, status and a managedFields entry per manager. */
function served(desired: StatefulSet, i: number): StatefulSet {
  const live = structuredClone(withAppliedHash(desired, objectHash(desired)));
  live.metadata = {
    ...live.metadata,
    uid: `sts-${i}`,
    resourceVersion: String(1000 + i),
    generation: 1,
    creationTimestamp: '2025-01-01T00:00:00Z',
    managedFields: ['kasprop', 'kube-controller-manager'].map((manager) => ({
      manager,
      operation: 'Apply',
      apiVersion: 'apps/v1',
      time: '2025-01-01T00:00:00Z',
      fieldsType: 'FieldsV1',
      fieldsV1: structuredClone(desired.spec) as object,
    })),
  };
  const pod = live.spec!.template.spec!;
  pod.restartPolicy = 'Always';
  pod.dnsPolicy = 'ClusterFirst';
  pod.schedulerName = 'default-scheduler';
  for (const c of [...pod.containers, ...(pod.initContainers ?? [])]) {
    c.terminationMessagePath = '/dev/termination-log';
    c.imagePullPolicy = 'IfNotPresent';
  }
  live.status = { replicas: 3, readyReplicas: 3, currentRevision: 'r1', updateRevision: 'r1' };
  return live;
}

function perCall(label: string, runs: number, fn: (i: number) => void): void {
  for (let i = 0; i < Math.min(runs, 200); i++) fn(i); // warm up
  const started = process.hrtime.bigint();
  for (let i = 0; i < runs; i++) fn(i);
  const micros = Number(process.hrtime.bigint() - started) / 1e3 / runs;
  console.log(`${label.padEnd(58)} ${micros.toFixed(1).padStart(8)} µs`);
}

/** Heap held by what `build` returns, per element (measured while the result is still referenced). */
function heapPerElementKb(build: () => unknown[]): number {
  gc();
  const before = process.memoryUsage().heapUsed;
  const kept = build();
  gc();
  return (process.memoryUsage().heapUsed - before) / kept.length / 1024;
}

const N = 2000;
const desired = Array.from({ length: N }, (_, i) => statefulSet(i));
const live = desired.map((d, i) => served(d, i));
const cached = live.map((l) => dropManagedFields(l));

console.log('applier: the no-op check of a steady-state reconcile, per StatefulSet');
perCall('objectHash(desired)', N * 5, (i) => objectHash(desired[i % N]));
perCall('objectHash + applyDecision(desired, cached live) -> unchanged', N * 5, (i) => {
  const d = desired[i % N]!;
  applyDecision(d, cached[i % N], objectHash(d));
});

console.log('\ninformer');
perCall('dropManagedFields(served object)', N * 5, (i) => dropManagedFields(live[i % N]!));
const cacheMap = new Map(cached.map((o) => [objectKey(o), o]));
const started = process.hrtime.bigint();
diffRelist(cacheMap, cached);
console.log(
  `${`relist diff of ${N} unchanged objects`.padEnd(58)} ${(Number(process.hrtime.bigint() - started) / 1e6).toFixed(1).padStart(8)} ms`,
);
const parse = (object: unknown): unknown => JSON.parse(JSON.stringify(object));
const withManaged = heapPerElementKb(() => live.map(parse));
const withoutManaged = heapPerElementKb(() => live.map((l) => dropManagedFields(parse(l) as StatefulSet)));
console.log(
  `${'heap per cached StatefulSet, managedFields kept'.padEnd(58)} ${withManaged.toFixed(1).padStart(8)} KiB`,
);
console.log(
  `${'heap per cached StatefulSet, managedFields dropped'.padEnd(58)} ${withoutManaged.toFixed(1).padStart(8)} KiB`,
);

console.log('\nwork queue: 100 000 keys (20 000 distinct, each added 5 times) through runWorkers');
for (const workers of [1, 4, 16]) {
  const queue = new WorkQueue();
  const controller = new AbortController();
  let handled = 0;
  const total = 20_000;
  const begin = process.hrtime.bigint();
  const running = runWorkers(
    queue,
    workers,
    async () => {
      await Promise.resolve();
      handled++;
      if (handled === total) controller.abort();
    },
    controller.signal,
  );
  for (let round = 0; round < 5; round++) for (let k = 0; k < total; k++) queue.add(`ns/app-${k}`);
  await running;
  const seconds = Number(process.hrtime.bigint() - begin) / 1e9;
  console.log(
    `${`${workers} worker(s): handled ${handled} (adds deduped)`.padEnd(58)} ${Math.round(handled / seconds)
      .toLocaleString('en')
      .padStart(8)} keys/s`,
  );
}
