// Helpers for integration test files: the run's cluster (with a real node, or a control plane whose pods a pod
// simulator runs), a namespace per test, the KasprApp CRD, and polling with deadlines (integration tests never
// sleep a fixed time).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CustomResourceDefinition } from 'kubernetes-types/apiextensions/v1.js';
import { parse } from 'yaml';
import { crdPath } from '../../src/api/crd.ts';
import { KubeClient, type KubeObject } from '../../src/runtime/kube/client.ts';
import { loadKubeConfigFile } from '../../src/runtime/kube/config.ts';
import { resourcePath, ResourceTypes } from '../../src/runtime/kube/resources.ts';
import { startControlPlane } from './controlplane.ts';
import { claimDirectory } from './local-volumes.ts';
import { nodeNetwork } from './node.ts';
import { startPodSimulator, type PodSimulator, type PodSimulatorOptions } from './pod-simulator.ts';
import {
  findSurvivors,
  keepTempEnv,
  killSurvivors,
  kubeconfigEnv,
  podsEnv,
  simulatorKubeconfigEnv,
  testRootEnv,
} from './processes.ts';

export interface Cluster {
  readonly kubeconfigPath: string;
  /** Admin client, closed after the file's tests. */
  readonly client: KubeClient;
  /** This test file's own directory inside the run's temp root. */
  readonly dir: string;
  /** Where pods run: in containers on the run's real node, or as local processes of a pod simulator per test. */
  readonly pods: 'node' | 'simulator';
  /** The address at which pods reach a server of the test run (listening there, or on every address). */
  readonly serverAddressForPods: string;
}

const connections = new Map<string, Promise<Cluster>>();

/**
 * The run's cluster: with a real node when the run has one, or `{ pods: 'simulator' }` for a control plane whose
 * pods a pod simulator runs (what one real node cannot show). Call it at module top level
 * (`const cluster = await connectCluster();`): its clean-up is an `after` hook of the file. A file run on its own,
 * without the global setup, starts (and stops) a control plane for itself, with simulated pods.
 */
export function connectCluster(options: { pods?: 'simulator' } = {}): Promise<Cluster> {
  const simulated = options.pods === 'simulator' || process.env[podsEnv] !== 'node';
  const key = simulated ? 'simulator' : 'node';
  let connection = connections.get(key);
  if (connection === undefined) {
    connection = connect(simulated);
    connections.set(key, connection);
  }
  return connection;
}

async function connect(simulated: boolean): Promise<Cluster> {
  const kubeconfigPath = process.env[simulated ? simulatorKubeconfigEnv : kubeconfigEnv];
  const root = process.env[testRootEnv];
  const pods = simulated ? 'simulator' : 'node';
  const serverAddressForPods = simulated ? '127.0.0.1' : nodeNetwork.podGateway;
  if (kubeconfigPath !== undefined && root !== undefined) {
    const client = new KubeClient(loadKubeConfigFile(kubeconfigPath));
    after(() => {
      client.close();
    });
    return { kubeconfigPath, client, dir: mkdtempSync(join(root, 'file-')), pods, serverAddressForPods };
  }
  const ownRoot = mkdtempSync(join(tmpdir(), 'kasprop-test-'));
  process.env[testRootEnv] = ownRoot;
  const controlPlane = await startControlPlane({ rootDir: join(ownRoot, 'controlplane') });
  const client = controlPlane.client();
  after(async () => {
    client.close();
    await controlPlane.stop({ removeFiles: false });
    const survivors = findSurvivors(ownRoot);
    await killSurvivors(survivors);
    if (process.env[keepTempEnv] !== '1') rmSync(ownRoot, { recursive: true, force: true });
    if (survivors.length > 0) {
      throw new Error(`processes started by the tests outlived them: ${survivors.map((s) => s.command).join('; ')}`);
    }
  });
  return {
    kubeconfigPath: controlPlane.kubeconfigPath,
    client,
    dir: mkdtempSync(join(ownRoot, 'file-')),
    pods: 'simulator',
    serverAddressForPods: '127.0.0.1',
  };
}

export interface TestNamespace {
  readonly name: string;
  readonly client: KubeClient;
  /** The namespace's pod simulator, on a cluster whose pods are simulated; none on a real node. */
  readonly simulator: PodSimulator | undefined;
  /** The host directory of a bound claim's volume: the simulator's, or the node's local volume. */
  claimDirectory(claimName: string): Promise<string>;
  /** This namespace's directory: every process a simulator starts runs inside it. */
  readonly dir: string;
}

export type SimulatorSettings = Partial<Omit<PodSimulatorOptions, 'client' | 'namespaces' | 'rootDir'>>;

/**
 * A fresh namespace for one test, with a pod simulator for it on a simulated cluster (CrashLoopBackOff and retries
 * start at 200 ms unless told otherwise; the settings mean nothing on a real node). After the test, the namespace is
 * deleted and the test waits until its pods and claims are gone (the simulator, which finishes them, stays until
 * then). The namespace object itself goes later, in the background.
 */
export async function createTestNamespace(
  t: TestContext,
  cluster: Cluster,
  settings: SimulatorSettings = {},
): Promise<TestNamespace> {
  const { client } = cluster;
  const name = namespaceName(t.name);
  // Filled in below; the clean-up is registered first so that a failure in between still removes the namespace.
  const started: { simulator?: PodSimulator } = {};
  await client.create(ResourceTypes.Namespace, {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name, labels: { 'kasprop.test/test': 'true' } },
  });
  t.after(async () => {
    await client.delete(ResourceTypes.Namespace, { name });
    // The namespace controller starts emptying a namespace only 5 s after its deletion; deleting pods and claims now
    // (the Terminating namespace admits no new ones) lets the simulator finish them meanwhile.
    await Promise.all(
      [ResourceTypes.Pod, ResourceTypes.PersistentVolumeClaim].map((type) =>
        client.request({ verb: 'DELETE', path: resourcePath(type, { namespace: name }) }),
      ),
    );
    try {
      await waitFor(
        async () => {
          const [pods, claims] = await Promise.all([
            client.list(ResourceTypes.Pod, { namespace: name }),
            client.list(ResourceTypes.PersistentVolumeClaim, { namespace: name }),
          ]);
          return pods.items.length + claims.items.length === 0;
        },
        { timeoutMs: 60_000, message: `pods and claims of namespace ${name} to be deleted` },
      );
    } finally {
      await started.simulator?.stop();
    }
  });
  // Pods are not admitted before the namespace's default ServiceAccount exists.
  await waitFor(() => client.get(ResourceTypes.ServiceAccount, { namespace: name, name: 'default' }), {
    message: `the default ServiceAccount of namespace ${name}`,
  });
  const dir = join(cluster.dir, name);
  if (cluster.pods === 'node') {
    return { name, client, simulator: undefined, claimDirectory: (claim) => claimDirectory(client, name, claim), dir };
  }
  const simulator = await startPodSimulator({
    backoffBaseMs: 200,
    ...settings,
    client,
    namespaces: [name],
    rootDir: dir,
  });
  started.simulator = simulator;
  return {
    name,
    client,
    simulator,
    claimDirectory: (claim) => Promise.resolve(simulator.claimDirectory(name, claim)),
    dir,
  };
}

function namespaceName(testName: string): string {
  const slug = testName
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40)
    .replace(/-+$/, '');
  return `${slug || 'test'}-${Math.random().toString(36).slice(2, 7)}`;
}

export interface WaitOptions {
  /** Default 30 s. */
  readonly timeoutMs?: number;
  /** Default 100 ms. */
  readonly intervalMs?: number;
  /** What is awaited, for the timeout error; a function to describe the last state seen. */
  readonly message: string | (() => string);
}

/**
 * Polls `probe` until it returns something other than undefined, null or false, and returns that. Errors thrown by
 * the probe count as "not yet" (the last one is reported on timeout).
 */
export async function waitFor<T>(
  probe: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  { timeoutMs = 30_000, intervalMs = 100, message }: WaitOptions,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== null && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    if (performance.now() >= deadline) {
      const what = typeof message === 'function' ? message() : message;
      const cause = lastError instanceof Error ? `; last error: ${lastError.message}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${cause}`);
    }
    await sleep(intervalMs);
  }
}

/** Applies crds/kasprapp.crd.yaml and waits until the apiserver serves it (condition Established). */
export async function installKasprAppCrd(client: KubeClient): Promise<CustomResourceDefinition> {
  const crd = parse(readFileSync(crdPath, 'utf8')) as CustomResourceDefinition & KubeObject;
  await client.apply(ResourceTypes.CustomResourceDefinition, crd, { fieldManager: 'kasprop-test' });
  return waitFor(
    async () => {
      const current = await client.get<CustomResourceDefinition>(ResourceTypes.CustomResourceDefinition, {
        name: crd.metadata?.name ?? '',
      });
      const established = current?.status?.conditions?.find((c) => c.type === 'Established')?.status === 'True';
      return established ? current : undefined;
    },
    { message: `CRD ${crd.metadata?.name} to be Established` },
  );
}
