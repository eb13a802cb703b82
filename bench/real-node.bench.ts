// The real node's figures: cluster up and teardown, a cold install of the basic example's packages in a real pod,
// the first pod Ready after the KasprApp is created, the bytes of its StatefulSet, pod, ControllerRevision and
// installer ConfigMap, and what `pythonPackages` adds to a pod's start on the fast path (median of 10 restarts
// against the same app without packages). Like `npm test`, it builds what the node
// needs, then runs itself again inside a private network namespace. Prints figures; asserts nothing.
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Registry } from 'prom-client';
import type { StatefulSet } from 'kubernetes-types/apps/v1.js';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { KasprAppResource, type KasprApp } from '../src/api/types.ts';
import { startOperator } from '../src/controller/operator.ts';
import { defaultOperatorSettings } from '../src/model/operator-settings.ts';
import type { KubeClient, KubeObject } from '../src/runtime/kube/client.ts';
import { ResourceTypes } from '../src/runtime/kube/resources.ts';
import { createLogger } from '../src/runtime/logger.ts';
import { RuntimeMetrics } from '../src/runtime/metrics.ts';
import { binDirEnv, buildControlPlane, startControlPlane } from '../test/support/controlplane.ts';
import { appImage, buildImages, imagesDirEnv, loadImages, sandboxImage } from '../test/support/images.ts';
import { installKasprAppCrd, waitFor } from '../test/support/integration.ts';
import { kasprApp } from '../test/support/kasprapps.ts';
import { inNewNetworkNamespace, inPrivateNetworkNamespace } from '../test/support/netns.ts';
import { nodeNetwork, prepareRealNode } from '../test/support/node.ts';
import { runAttached } from '../test/support/processes.ts';
import { startWheelIndex } from '../test/support/wheel-index.ts';

const RESTARTS = 10;
const namespace = 'default';

if (!inPrivateNetworkNamespace()) {
  const why = prepareRealNode((line) => console.log(line));
  if (why !== undefined) {
    console.log(`no real node on this machine: ${why}`);
    process.exit(0);
  }
  const binDir = await buildControlPlane();
  const imagesDir = await buildImages((line) => console.error(line));
  const netns = inNewNetworkNamespace(process.execPath, [fileURLToPath(import.meta.url)]);
  process.exit(
    await runAttached(netns.command, netns.args, {
      ...process.env,
      ...netns.env,
      [binDirEnv]: binDir,
      [imagesDirEnv]: imagesDir,
    }),
  );
}

const imagesDir = process.env[imagesDirEnv] ?? '';
const root = mkdtempSync(join(tmpdir(), 'kasprop-bench-node-'));
let started = performance.now();
const cluster = await startControlPlane({
  rootDir: join(root, 'cluster'),
  node: { images: loadImages(imagesDir), sandboxImage },
  log: () => undefined,
});
console.log(
  `cluster up (etcd, apiserver, controllers, scheduler, containerd, kubelet; node Ready): ${seconds(started)} s`,
);
const client = cluster.client({ requestTimeoutMs: 30_000 });
const index = await startWheelIndex({
  projects: [
    { name: 'requests', releases: [{ version: '2.31.0' }] },
    { name: 'python-dateutil', releases: [{ version: '2.8' }] },
  ],
  reachableAt: nodeNetwork.podGateway,
});
const stopOperator = new AbortController();
try {
  await installKasprAppCrd(client);
  const registry = new Registry();
  const operator = await startOperator(
    {
      client,
      registry,
      runtimeMetrics: new RuntimeMetrics(registry),
      logger: createLogger({ sink: { write: () => true }, level: 'error' }),
      settings: defaultOperatorSettings,
      namespaces: [namespace],
      workers: 2,
    },
    stopOperator.signal,
  );
  await waitFor(() => client.get(ResourceTypes.ServiceAccount, { namespace, name: 'default' }), {
    message: 'the default ServiceAccount',
  });

  // The basic example's packages (stand-in wheels from the local index), installed cold in a real pod.
  const withPackages = kasprApp(namespace, 'enrich', {
    replicas: 1,
    image: appImage,
    pythonPackages: {
      packages: ['requests==2.31.0', 'python-dateutil~=2.8'],
      indexUrl: index.url,
      trustedHosts: [index.host],
    },
  });
  started = performance.now();
  await client.create(KasprAppResource, withPackages);
  const installed = await waitFor(
    async () => {
      const app = await client.get<KasprApp>(KasprAppResource, { namespace, name: 'enrich' });
      return app?.status?.pythonPackages?.state === 'Ready' ? app.status.pythonPackages : undefined;
    },
    { timeoutMs: 180_000, intervalMs: 50, message: 'enrich packages Ready' },
  );
  const packagesReady = seconds(started);
  await waitFor(async () => isReady(await pod(client, 'enrich-app-0')), {
    timeoutMs: 180_000,
    intervalMs: 50,
    message: 'enrich-app-0 Ready',
  });
  console.log(
    `basic example, cold: packages Ready ${packagesReady} s after the KasprApp was created (the installer's own ` +
      `figure: ${installed.installDuration ?? '?'}), first pod Ready after ${seconds(started)} s`,
  );

  // What etcd keeps and every watch event carries, as the apiserver serves it (managedFields included). Issue 12's
  // targets: a StatefulSet and a pod of at most 8 KB each; the installer ConfigMap is one per app.
  const revisions = await client.list<KubeObject>(ResourceTypes.ControllerRevision, { namespace });
  const configMaps = await client.list<KubeObject>(ResourceTypes.ConfigMap, { namespace });
  const sizes = [
    ['StatefulSet', await statefulSet(client, 'enrich-app')],
    ['pod', await pod(client, 'enrich-app-0')],
    ['ControllerRevision', revisions.items.find((r) => r.metadata?.name?.startsWith('enrich-app-'))],
    ['installer ConfigMap', configMaps.items.find((c) => c.metadata?.name?.startsWith('enrich-app-installer-'))],
  ] as const;
  const bytes = (value: unknown): number => Buffer.byteLength(JSON.stringify(value ?? null));
  console.log('basic example, bytes of JSON as served (of which managedFields, status):');
  for (const [kind, object] of sizes) {
    const parts = object as { metadata?: { managedFields?: unknown }; status?: unknown } | undefined;
    console.log(
      `  ${kind.padEnd(20)} ${String(bytes(object)).padStart(6)}   ` +
        `(${String(bytes(parts?.metadata?.managedFields))}, ${String(bytes(parts?.status))})`,
    );
  }

  const without = kasprApp(namespace, 'plain', { replicas: 1, image: appImage });
  await client.create(KasprAppResource, without);
  await waitFor(async () => isReady(await pod(client, 'plain-app-0')), {
    timeoutMs: 180_000,
    message: 'plain-app-0 Ready',
  });

  // The same pod as the app's with packages, but its init container only runs `true`: what any init container costs
  // on this kubelet (create, start, wait, then the app container), apart from what the installer's fast path does.
  await client.create(ResourceTypes.StatefulSet, noopInitCopy(await statefulSet(client, 'enrich-app')));
  await waitFor(async () => isReady(await pod(client, 'noop-init-0')), {
    timeoutMs: 180_000,
    message: 'noop-init-0 Ready',
  });

  const runs = {
    'with pythonPackages (fast path)': await restartTimes(client, 'enrich-app-0'),
    'same pod, init container `true`': await restartTimes(client, 'noop-init-0'),
    'without pythonPackages': await restartTimes(client, 'plain-app-0'),
  };
  console.log(`pod deleted -> replacement Ready, median of ${RESTARTS} (machine load ${loadAverage()}):`);
  for (const [what, times] of Object.entries(runs)) {
    console.log(`  ${what.padEnd(34)} ${median(times).toFixed(2)} s   (${times.map((t) => t.toFixed(2)).join(' ')})`);
  }
  const [fast, noop, plain] = Object.values(runs).map(median) as [number, number, number];
  console.log(
    `pythonPackages adds ${(fast - plain).toFixed(2)} s to a pod start: ${(noop - plain).toFixed(2)} s for having ` +
      `an init container at all, ${(fast - noop).toFixed(2)} s for the installer's fast path in it`,
  );
  await operator.http?.close();
} finally {
  stopOperator.abort();
  await index.close();
  client.close();
  started = performance.now();
  await cluster.stop();
  console.log(`teardown (pods killed, mounts and cgroups removed, files deleted): ${seconds(started)} s`);
  rmSync(root, { recursive: true, force: true });
}

/** Seconds from deleting the pod to its replacement being Ready, observed every 50 ms. */
async function restartTimes(kube: KubeClient, name: string): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < RESTARTS; i++) {
    const before = await pod(kube, name);
    const deleted = performance.now();
    await kube.delete(ResourceTypes.Pod, { namespace, name });
    await waitFor(
      async () => {
        const current = await pod(kube, name);
        return current?.metadata?.uid !== before?.metadata?.uid && isReady(current);
      },
      { timeoutMs: 120_000, intervalMs: 50, message: `${name} back and Ready` },
    );
    times.push((performance.now() - deleted) / 1000);
  }
  return times;
}

async function statefulSet(kube: KubeClient, name: string): Promise<StatefulSet> {
  const found = await kube.get<StatefulSet>(ResourceTypes.StatefulSet, { namespace, name });
  if (found === undefined) throw new Error(`no StatefulSet ${name}`);
  return found;
}

/** A copy of an app's StatefulSet, owned by nobody, whose init container runs `true` instead of the installer. */
function noopInitCopy(original: StatefulSet): StatefulSet & { metadata: { name: string } } {
  const labels = { 'kasprop.bench/app': 'noop-init' };
  const template = structuredClone(original.spec?.template ?? {});
  template.metadata = { labels };
  for (const init of template.spec?.initContainers ?? []) {
    init.command = ['/bin/sh', '-c', 'true'];
    init.args = [];
  }
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: 'noop-init', namespace },
    spec: {
      replicas: 1,
      serviceName: original.spec?.serviceName ?? '',
      selector: { matchLabels: labels },
      template,
      ...(original.spec?.volumeClaimTemplates !== undefined && {
        volumeClaimTemplates: original.spec.volumeClaimTemplates.map((claim) => ({
          metadata: { name: claim.metadata?.name ?? '' },
          ...(claim.spec !== undefined && { spec: claim.spec }),
        })),
      }),
    },
  };
}

function loadAverage(): string {
  return loadavg()
    .map((load) => load.toFixed(1))
    .join(' ');
}

async function pod(kube: KubeClient, name: string): Promise<Pod | undefined> {
  return kube.get<Pod>(ResourceTypes.Pod, { namespace, name });
}

function isReady(current: Pod | undefined): boolean {
  return current?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

function seconds(since: number): string {
  return ((performance.now() - since) / 1000).toFixed(1);
}
