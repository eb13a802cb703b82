/**
 * Pod simulator: a fake kubelet (plus the scheduler's binding step and a storage provisioner) for integration tests
 * and local runs on the real control plane of test/support/controlplane.ts, which has no nodes of its own.
 *
 * For the pods of its namespaces it does what a kubelet would, as far as kasprop can observe:
 * - registers a Ready Node and binds pending pods to it, once every claim they mount is Bound;
 * - runs each init container's real command and args, with its env resolved from the real API, as a local process;
 *   volumes are host directories (one per claim, shared by every pod that mounts it; one per emptyDir per pod), and an
 *   env value, command word or arg that equals a volumeMount's mountPath (or the terminationMessagePath), or starts
 *   with mountPath + '/', is rewritten to the host directory; nothing else is (a path inside a `sh -c` script is not);
 * - writes the pod status a kubelet would: phase, conditions, IPs (127.0.0.1), init and main container statuses with
 *   termination messages, restart counts and CrashLoopBackOff back-off; main containers are not run: they count as
 *   started and ready once the init containers succeed;
 * - finishes pods marked for deletion (kills their processes, deletes them with grace period 0);
 * - provisions claims (a PV bound to each), follows claim size increases, and can refuse ReadWriteMany.
 * Not simulated: images (host binaries run instead), main containers, probes, sidecar (restartable) init containers,
 * resource limits, projected/downwardAPI volume contents, Service env vars, ephemeral volumes, statically pre-bound
 * claims, pod IPs other than 127.0.0.1.
 */
import { randomBytes } from 'node:crypto';
import { appendFileSync, closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { constants } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isDeepStrictEqual } from 'node:util';
import type {
  ConfigMap,
  Container,
  ContainerStatus,
  EnvVarSource,
  Event,
  Node,
  ObjectReference,
  PersistentVolume,
  PersistentVolumeClaim,
  Pod,
  PodCondition,
  PodStatus,
  Secret,
} from 'kubernetes-types/core/v1.js';
import {
  isConflict,
  isGone,
  isNotFound,
  KubeApiError,
  listAll,
  type KubeClient,
  type KubeObject,
} from '../../src/runtime/kube/client.ts';
import { resourcePath, ResourceTypes, type ResourceType } from '../../src/runtime/kube/resources.ts';
import { simulatedProvisioner } from './controlplane.ts';
import { growVolume } from './local-volumes.ts';
import { spawnTracked, type Exit, type TrackedProcess } from './processes.ts';

// ---- API ----------------------------------------------------------------------------------------------------------

export interface PodSimulatorOptions {
  readonly client: KubeClient;
  /** Only pods and claims of these namespaces are touched, so that simulators may share a node name. */
  readonly namespaces: readonly string[];
  /** Host directories for volumes, container runs and the simulator's own log (simulator.log). */
  readonly rootDir: string;
  readonly nodeName?: string;
  /** Leave ReadWriteMany claims Pending with a ProvisioningFailed event, like a cluster without RWX storage. */
  readonly refuseReadWriteMany?: boolean;
  /** First CrashLoopBackOff delay (doubling up to 5 minutes) and the retry period of configuration errors. */
  readonly backoffBaseMs?: number;
  /** PATH of container processes unless the container sets its own: the "image's" PATH. */
  readonly path?: string;
}

export interface PodSimulator {
  readonly nodeName: string;
  /** The host directory standing in for a claim's volume. */
  claimDirectory(namespace: string, claimName: string): string;
  /** Output (stdout and stderr) of the latest run of a container, if it ran. */
  containerLog(namespace: string, podName: string, containerName: string): string | undefined;
  /** Kills every process it started and stops watching; resolves when all of it is gone. */
  stop(): Promise<void>;
}

const defaultNodeName = 'simulated-node';
const defaultPath = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const simulatedIP = '127.0.0.1';
const fieldManager = 'pod-simulator';
const maxBackoffMs = 5 * 60_000;
/** SIGTERM-to-SIGKILL time when a pod is deleted or the simulator stops; tests should not wait 30 s per pod. */
const killGraceMs = 2_000;
/** Limits a kubelet applies to termination messages (pkg/kubelet/container). */
const maxMessageBytes = 4096;
const maxFallbackLines = 80;
const maxFallbackBytes = 2048;

export async function startPodSimulator(options: PodSimulatorOptions): Promise<PodSimulator> {
  const simulator = new Simulator(options);
  await simulator.start();
  return {
    nodeName: simulator.nodeName,
    claimDirectory: (namespace, claimName) => simulator.claimDirectory(namespace, claimName),
    containerLog: (namespace, podName, containerName) => simulator.containerLog(namespace, podName, containerName),
    stop: () => simulator.stop(),
  };
}

// ---- the simulator: wiring of watches, workers and provisioning ----------------------------------------------------

class Simulator {
  readonly client: KubeClient;
  readonly nodeName: string;
  readonly rootDir: string;
  readonly backoffBaseMs: number;
  readonly path: string;
  readonly refuseReadWriteMany: boolean;
  readonly #namespaces: readonly string[];
  readonly #stopping = new AbortController();
  readonly #tasks = new Set<Promise<unknown>>();
  readonly #pods = new Map<string, PodWorker>();
  readonly claims = new Map<string, PersistentVolumeClaim>();
  readonly claimsChanged = new Notifier();
  readonly #claimWork: KeyedRunner;
  /** The last state of deleted claims, so that their volumes can be released. */
  readonly #deletedClaims = new Map<string, PersistentVolumeClaim>();
  readonly #reportedClaims = new Set<string>();
  /** Latest run directory per namespace/pod/container, for containerLog(). */
  readonly #latestRuns = new Map<string, string>();

  constructor(options: PodSimulatorOptions) {
    this.client = options.client;
    this.#namespaces = options.namespaces;
    this.nodeName = options.nodeName ?? defaultNodeName;
    this.rootDir = options.rootDir;
    this.backoffBaseMs = options.backoffBaseMs ?? 10_000;
    this.path = options.path ?? defaultPath;
    this.refuseReadWriteMany = options.refuseReadWriteMany ?? false;
    this.#claimWork = new KeyedRunner(
      (key) => this.#reconcileClaim(key),
      this.#stopping.signal,
      (key, error) => this.report(`claim ${key}`, error),
    );
  }

  get signal(): AbortSignal {
    return this.#stopping.signal;
  }

  async start(): Promise<void> {
    mkdirSync(this.rootDir, { recursive: true });
    await registerNode(this.client, this.nodeName);
    // Claims first: scheduling decisions read the claim cache, which must not look empty for want of a first list.
    const claimsListed = this.#namespaces.map((namespace) =>
      this.#reflect<PersistentVolumeClaim>(ResourceTypes.PersistentVolumeClaim, namespace, {
        listed: (claims) => this.#claimsListed(namespace, claims),
        changed: (type, claim) => this.#claimChanged(type, claim),
      }),
    );
    await Promise.all(claimsListed);
    await Promise.all(
      this.#namespaces.map((namespace) =>
        this.#reflect<Pod>(ResourceTypes.Pod, namespace, {
          listed: (pods) => this.#podsListed(namespace, pods),
          changed: (type, pod) => this.#podChanged(type, pod),
        }),
      ),
    );
  }

  async stop(): Promise<void> {
    this.#stopping.abort();
    while (this.#tasks.size > 0) await Promise.allSettled([...this.#tasks]);
    await this.#claimWork.idle();
  }

  /** Runs a background task that stop() waits for. */
  track(task: Promise<unknown>): void {
    const settled = task.catch((error: unknown) => this.report('background task', error));
    this.#tasks.add(settled);
    void settled.finally(() => this.#tasks.delete(settled));
  }

  log(message: string): void {
    appendFileSync(join(this.rootDir, 'simulator.log'), `${new Date().toISOString()} ${message}\n`);
  }

  /** Errors that mean the simulator itself is wrong: loud, since a test would otherwise just time out. */
  report(context: string, error: unknown): void {
    const text = `pod simulator (${this.#namespaces.join(',')}): ${context}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`;
    this.log(text);
    process.stderr.write(`${text}\n`);
  }

  claimDirectory(namespace: string, claimName: string): string {
    return join(this.rootDir, 'claims', namespace, claimName);
  }

  podDirectory(pod: Pod): string {
    const { namespace, name, uid } = pod.metadata ?? {};
    return join(this.rootDir, 'pods', `${namespace}_${name}_${uid}`);
  }

  noteRun(pod: Pod, containerName: string, runDir: string): void {
    this.#latestRuns.set(`${pod.metadata?.namespace}/${pod.metadata?.name}/${containerName}`, runDir);
  }

  containerLog(namespace: string, podName: string, containerName: string): string | undefined {
    const runDir = this.#latestRuns.get(`${namespace}/${podName}/${containerName}`);
    return runDir === undefined ? undefined : readText(join(runDir, 'output.log'));
  }

  /** Resolves after the first list; the watch goes on in the background until stop(). */
  async #reflect<T extends KubeObject>(type: ResourceType, namespace: string, handlers: Handlers<T>): Promise<void> {
    const { promise: listed, resolve } = Promise.withResolvers<undefined>();
    this.track(
      reflect(this.client, type, namespace, handlers, this.signal, {
        onListed: () => resolve(undefined),
        log: (message) => this.log(`${type.plural} in ${namespace}: ${message}`),
      }).finally(() => resolve(undefined)),
    );
    await listed;
  }

  // -- pods

  #podsListed(namespace: string, pods: readonly Pod[]): void {
    const present = new Set(pods.map((pod) => pod.metadata?.uid));
    for (const [uid, worker] of this.#pods) {
      if (worker.namespace === namespace && !present.has(uid)) this.#podChanged('DELETED', worker.pod);
    }
    for (const pod of pods) this.#podChanged('MODIFIED', pod);
  }

  #podChanged(type: 'ADDED' | 'MODIFIED' | 'DELETED', pod: Pod): void {
    if (this.signal.aborted) return;
    const uid = pod.metadata?.uid ?? '';
    const existing = this.#pods.get(uid);
    if (type === 'DELETED') {
      this.#pods.delete(uid);
      existing?.abandon();
      return;
    }
    // Another node's pod (a simulator sharing the namespace would be a test bug, but a real node is possible).
    if (pod.spec?.nodeName !== undefined && pod.spec.nodeName !== '' && pod.spec.nodeName !== this.nodeName) return;
    if (existing) {
      existing.update(pod);
      return;
    }
    const worker = new PodWorker(this, pod);
    this.#pods.set(uid, worker);
    worker.start();
  }

  // -- claims

  #claimsListed(namespace: string, claims: readonly PersistentVolumeClaim[]): void {
    const present = new Set(claims.map((claim) => objectKey(claim)));
    for (const [key, claim] of this.claims) {
      if (claim.metadata?.namespace === namespace && !present.has(key)) this.#claimChanged('DELETED', claim);
    }
    for (const claim of claims) this.#claimChanged('MODIFIED', claim);
  }

  #claimChanged(type: 'ADDED' | 'MODIFIED' | 'DELETED', claim: PersistentVolumeClaim): void {
    const key = objectKey(claim);
    if (type === 'DELETED') {
      this.claims.delete(key);
      this.#deletedClaims.set(key, claim);
    } else {
      this.claims.set(key, claim);
    }
    this.claimsChanged.notify();
    this.#claimWork.schedule(key);
  }

  async #reconcileClaim(key: string): Promise<void> {
    const deleted = this.#deletedClaims.get(key);
    if (deleted) {
      await this.#releaseClaim(deleted);
      this.#deletedClaims.delete(key);
    }
    const claim = this.claims.get(key);
    if (!claim || claim.metadata?.deletionTimestamp !== undefined) return;
    if (claim.status?.phase === 'Bound') {
      await growVolume(this.client, claim);
      return;
    }
    if (claim.spec?.volumeName !== undefined || claim.spec?.storageClassName === '') return;
    if (this.refuseReadWriteMany && claim.spec?.accessModes?.includes('ReadWriteMany') === true) {
      const uid = claim.metadata?.uid ?? '';
      if (this.#reportedClaims.has(uid)) return;
      await this.recordEvent(
        objectReference('PersistentVolumeClaim', claim),
        'Warning',
        'ProvisioningFailed',
        `failed to provision volume with StorageClass "${claim.spec.storageClassName ?? ''}": access mode ` +
          'ReadWriteMany is not supported by this storage (pod simulator: refuseReadWriteMany)',
      );
      this.#reportedClaims.add(uid);
      return;
    }
    const directory = this.claimDirectory(claim.metadata?.namespace ?? '', claim.metadata?.name ?? '');
    mkdirSync(directory, { recursive: true });
    await provisionClaim(this.client, claim, directory);
  }

  /** Reclaim policy Delete, as the provisioner would do it. */
  async #releaseClaim(claim: PersistentVolumeClaim): Promise<void> {
    const annotations = claim.metadata?.annotations ?? {};
    const volumeName = claim.spec?.volumeName;
    if (volumeName === undefined || annotations[provisionerAnnotation] !== simulatedProvisioner) return;
    await this.client.delete(ResourceTypes.PersistentVolume, { name: volumeName });
    rmSync(this.claimDirectory(claim.metadata?.namespace ?? '', claim.metadata?.name ?? ''), {
      recursive: true,
      force: true,
    });
  }

  async recordEvent(involved: ObjectReference, type: 'Normal' | 'Warning', reason: string, message: string) {
    const now = timestamp();
    const event: Event = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { generateName: `${involved.name ?? 'object'}.`, namespace: involved.namespace },
      involvedObject: involved,
      type,
      reason,
      message,
      source: { component: fieldManager, host: this.nodeName },
      reportingComponent: fieldManager,
      reportingInstance: this.nodeName,
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    };
    try {
      await this.client.create(ResourceTypes.CoreEvent, event);
    } catch (error) {
      // Events are best effort for a kubelet too.
      this.log(`event ${reason} for ${involved.kind} ${involved.name}: ${String(error)}`);
    }
  }
}

// ---- node registration ------------------------------------------------------------------------------------------

/** Applies the Node and a Ready status; nothing in this control plane (no node lifecycle controller) changes it. */
async function registerNode(client: KubeClient, nodeName: string): Promise<void> {
  const labels = {
    'kubernetes.io/hostname': nodeName,
    'kubernetes.io/os': 'linux',
    'kubernetes.io/arch': process.arch === 'x64' ? 'amd64' : process.arch,
  };
  await client.apply<Node>(
    ResourceTypes.Node,
    { apiVersion: 'v1', kind: 'Node', metadata: { name: nodeName, labels } },
    { fieldManager },
  );
  const now = timestamp();
  const resources = { cpu: '8', memory: '32Gi', pods: '250', 'ephemeral-storage': '100Gi' };
  await client.apply<Node>(
    ResourceTypes.Node,
    {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: nodeName },
      status: {
        conditions: [
          {
            type: 'Ready',
            status: 'True',
            reason: 'KubeletReady',
            message: 'kubelet is posting ready status (pod simulator)',
            lastHeartbeatTime: now,
            lastTransitionTime: now,
          },
        ],
        addresses: [
          { type: 'InternalIP', address: simulatedIP },
          { type: 'Hostname', address: nodeName },
        ],
        capacity: resources,
        allocatable: resources,
        nodeInfo: {
          machineID: nodeName,
          systemUUID: nodeName,
          bootID: nodeName,
          kernelVersion: '',
          osImage: 'pod simulator',
          containerRuntimeVersion: 'simulated://0',
          kubeletVersion: 'pod-simulator',
          kubeProxyVersion: '',
          operatingSystem: 'linux',
          architecture: process.arch === 'x64' ? 'amd64' : process.arch,
        },
      },
    },
    { fieldManager, subresource: 'status' },
  );
}

// ---- the kubelet part: one worker per pod ---------------------------------------------------------------------------

/** Thrown when the pod a worker runs no longer exists, is another pod of the same name, or is bound elsewhere. */
class PodGone extends Error {}

class PodWorker {
  pod: Pod;
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly #sim: Simulator;
  readonly #abort = new AbortController();
  /** Aborted when the pod is gone or being deleted, or when the simulator stops. */
  readonly #signal: AbortSignal;
  #done: Promise<void> = Promise.resolve();
  #finishing = false;
  // What this "kubelet" knows about the pod; the status is rebuilt from it on every write.
  #phase: 'Pending' | 'Running' | 'Failed' = 'Pending';
  #startTime: string | undefined;
  readonly #initStatuses = new Map<string, ContainerStatus>();
  readonly #mainStatuses = new Map<string, ContainerStatus>();

  constructor(sim: Simulator, pod: Pod) {
    this.#sim = sim;
    this.pod = pod;
    this.namespace = pod.metadata?.namespace ?? '';
    this.name = pod.metadata?.name ?? '';
    this.uid = pod.metadata?.uid ?? '';
    this.#signal = AbortSignal.any([sim.signal, this.#abort.signal]);
  }

  start(): void {
    this.#done = this.#run();
    this.#sim.track(this.#done);
    this.update(this.pod);
  }

  update(pod: Pod): void {
    this.pod = pod;
    if (pod.metadata?.deletionTimestamp !== undefined && !this.#finishing) {
      this.#finishing = true;
      this.#sim.track(this.#finish());
    }
  }

  /** The pod is gone: kill its processes, write nothing more. */
  abandon(): void {
    this.#abort.abort();
  }

  get #spec() {
    return this.pod.spec ?? { containers: [] };
  }

  async #run(): Promise<void> {
    try {
      await this.#schedule();
      await this.#runPod();
    } catch (error) {
      if (this.#signal.aborted || error instanceof PodGone || error instanceof PodFinished) return;
      this.#sim.report(`pod ${this.namespace}/${this.name}`, error);
    }
  }

  /** Deletion: what a kubelet does once the pod's containers are stopped, with the grace period cut short. */
  async #finish(): Promise<void> {
    this.#abort.abort();
    await this.#done;
    for (let attempt = 0; !this.#sim.signal.aborted; attempt++) {
      try {
        await this.#sim.client.request({
          verb: 'DELETE',
          path: resourcePath(ResourceTypes.Pod, { namespace: this.namespace, name: this.name }),
          body: { apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 0, preconditions: { uid: this.uid } },
        });
        break;
      } catch (error) {
        // Gone already, or the name now belongs to a newer pod (the uid precondition failed).
        if (isNotFound(error) || isConflict(error)) break;
        if (!isTransient(error)) {
          this.#sim.report(`deleting pod ${this.namespace}/${this.name}`, error);
          break;
        }
        await sleep(retryDelay(attempt), undefined, { signal: this.#sim.signal }).catch(() => undefined);
      }
    }
    for (const part of ['volumes', 'home']) {
      rmSync(join(this.#sim.podDirectory(this.pod), part), { recursive: true, force: true });
    }
  }

  // -- scheduling: the scheduler's part, as far as pods mounting claims are concerned

  async #schedule(): Promise<void> {
    if (this.#spec.nodeName === this.#sim.nodeName) return;
    for (;;) {
      // Subscribed before looking, so that a claim binding while the status is written is not missed.
      const claimsChanged = this.#sim.claimsChanged.next(this.#signal);
      const problem = unschedulableReason(this.pod, this.#sim.claims);
      if (problem === undefined) break;
      await this.#writeStatus((current) => ({
        ...current,
        phase: 'Pending',
        conditions: mergeConditions(current.conditions, [
          { type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: problem },
        ]),
      }));
      await claimsChanged;
      this.#signal.throwIfAborted();
    }
    for (let attempt = 0; ; attempt++) {
      try {
        await this.#sim.client.request({
          verb: 'POST',
          path: resourcePath(ResourceTypes.Pod, { namespace: this.namespace, name: this.name, subresource: 'binding' }),
          body: {
            apiVersion: 'v1',
            kind: 'Binding',
            metadata: { name: this.name, namespace: this.namespace, uid: this.uid },
            target: { apiVersion: 'v1', kind: 'Node', name: this.#sim.nodeName },
          },
        });
        return;
      } catch (error) {
        if (isNotFound(error)) throw new PodGone();
        // Already bound: by an earlier attempt whose answer was lost (fine), or to another node (not ours).
        if (isConflict(error)) {
          const fresh = await this.#get<Pod>(ResourceTypes.Pod, this.name);
          if (fresh?.metadata?.uid === this.uid && fresh.spec?.nodeName === this.#sim.nodeName) return;
          throw new PodGone();
        }
        if (!isTransient(error)) throw error;
        await sleep(retryDelay(attempt), undefined, { signal: this.#signal });
      }
    }
  }

  // -- running the pod

  async #runPod(): Promise<void> {
    this.#startTime = timestamp();
    for (const container of this.#spec.initContainers ?? []) {
      this.#initStatuses.set(container.name, waitingStatus(container, 'PodInitializing'));
    }
    for (const container of this.#spec.containers) {
      this.#mainStatuses.set(container.name, waitingStatus(container, 'PodInitializing'));
    }
    await this.#writeKubeletStatus();
    const volumes = await this.#mountVolumes();
    for (const container of this.#spec.initContainers ?? []) await this.#runInitContainer(container, volumes);
    for (const container of this.#spec.containers) {
      this.#mainStatuses.set(container.name, {
        ...waitingStatus(container, 'PodInitializing'),
        containerID: newContainerID(),
        state: { running: { startedAt: timestamp() } },
        ready: true,
        started: true,
      });
    }
    this.#phase = 'Running';
    await this.#writeKubeletStatus();
  }

  /** Host directories for the pod's volumes; waits (retrying) while a ConfigMap or Secret volume's source is missing. */
  async #mountVolumes(): Promise<Map<string, string>> {
    const podDir = this.#sim.podDirectory(this.pod);
    let lastProblem: string | undefined;
    for (;;) {
      const volumes = new Map<string, string>();
      try {
        for (const volume of this.#spec.volumes ?? []) {
          const claim = volume.persistentVolumeClaim?.claimName;
          const directory =
            claim !== undefined
              ? this.#sim.claimDirectory(this.namespace, claim)
              : join(podDir, 'volumes', volume.name);
          mkdirSync(directory, { recursive: true });
          if (volume.configMap) {
            const source = volume.configMap;
            const configMap = await this.#get<ConfigMap>(ResourceTypes.ConfigMap, source.name ?? '');
            if (!configMap && source.optional !== true)
              throw new ContainerConfigError(`configmap "${source.name}" not found`);
            writeKeys(directory, { ...configMap?.data, ...decodeAll(configMap?.binaryData) }, source.items);
          } else if (volume.secret) {
            const source = volume.secret;
            const secret = await this.#get<Secret>(ResourceTypes.Secret, source.secretName ?? '');
            if (!secret && source.optional !== true)
              throw new ContainerConfigError(`secret "${source.secretName}" not found`);
            writeKeys(directory, decodeAll(secret?.data), source.items);
          }
          volumes.set(volume.name, directory);
        }
        return volumes;
      } catch (error) {
        if (!(error instanceof ContainerConfigError) && !isTransient(error)) throw error;
        const problem = error instanceof Error ? error.message : String(error);
        if (error instanceof ContainerConfigError && problem !== lastProblem) {
          lastProblem = problem;
          await this.#sim.recordEvent(
            objectReference('Pod', this.pod),
            'Warning',
            'FailedMount',
            `MountVolume.SetUp failed: ${problem}`,
          );
        }
        await sleep(this.#sim.backoffBaseMs, undefined, { signal: this.#signal });
      }
    }
  }

  /** Runs an init container until it succeeds, restarting it with a kubelet's back-off; throws if the pod fails. */
  async #runInitContainer(container: Container, volumes: Map<string, string>): Promise<void> {
    for (let failures = 0; ;) {
      const env = await this.#resolveEnvUntilAvailable(container);
      const exitCode = await this.#runContainer(container, env, volumes);
      if (exitCode === 0) return;
      failures++;
      if (this.#spec.restartPolicy === 'Never') {
        this.#phase = 'Failed';
        await this.#writeKubeletStatus();
        throw new PodFinished();
      }
      // A kubelet restarts at once after the first failure, then waits 10 s, 20 s, ... up to 5 minutes.
      const backoffMs = failures === 1 ? 0 : Math.min(this.#sim.backoffBaseMs * 2 ** (failures - 2), maxBackoffMs);
      if (backoffMs > 0) {
        this.#setWaiting(container, {
          reason: 'CrashLoopBackOff',
          message: `back-off ${formatDuration(backoffMs)} restarting failed container=${container.name} pod=${this.name}_${this.namespace}(${this.uid})`,
        });
        await this.#writeKubeletStatus();
        await sleep(backoffMs, undefined, { signal: this.#signal });
      }
    }
  }

  /** An init container that is not running; a terminated state it had becomes its lastState, as with a kubelet. */
  #setWaiting(container: Container, waiting: { reason: string; message: string }): void {
    const current = this.#initStatuses.get(container.name) ?? waitingStatus(container, 'PodInitializing');
    this.#initStatuses.set(container.name, {
      ...current,
      state: { waiting },
      lastState: current.state?.terminated ? { terminated: current.state.terminated } : current.lastState,
      ready: false,
      started: false,
    });
  }

  /** The container's env, waiting in CreateContainerConfigError while a Secret, ConfigMap or key is missing. */
  async #resolveEnvUntilAvailable(container: Container): Promise<Map<string, string>> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await resolveEnv(this.pod, container, {
          secret: (name) => this.#get<Secret>(ResourceTypes.Secret, name),
          configMap: (name) => this.#get<ConfigMap>(ResourceTypes.ConfigMap, name),
        });
      } catch (error) {
        if (error instanceof ContainerConfigError) {
          this.#setWaiting(container, { reason: 'CreateContainerConfigError', message: error.message });
          await this.#writeKubeletStatus();
          await sleep(this.#sim.backoffBaseMs, undefined, { signal: this.#signal });
        } else if (isTransient(error)) {
          await sleep(retryDelay(attempt), undefined, { signal: this.#signal });
        } else {
          throw error;
        }
      }
    }
  }

  /** One run of a container as a local process; returns its exit code once its status says terminated. */
  async #runContainer(container: Container, env: Map<string, string>, volumes: Map<string, string>): Promise<number> {
    const previous = this.#initStatuses.get(container.name) ?? waitingStatus(container, 'PodInitializing');
    const ran = previous.lastState?.terminated !== undefined || previous.state?.terminated !== undefined;
    const restartCount = previous.restartCount + (ran ? 1 : 0);
    const runDir = join(this.#sim.podDirectory(this.pod), 'containers', container.name, String(restartCount));
    mkdirSync(runDir, { recursive: true });
    this.#sim.noteRun(this.pod, container.name, runDir);
    const messageFile = join(runDir, 'termination-log');
    const outputFile = join(runDir, 'output.log');
    writeFileSync(messageFile, '');
    const mounts = mountTable(container, volumes, messageFile);
    const command = [...(container.command ?? []), ...(container.args ?? [])].map((word) =>
      mapPath(expand(word, env), mounts),
    );
    const workingDir = container.workingDir !== undefined ? mapPath(container.workingDir, mounts) : runDir;
    mkdirSync(workingDir, { recursive: true });
    const home = join(this.#sim.podDirectory(this.pod), 'home');
    mkdirSync(home, { recursive: true });
    const processEnv: NodeJS.ProcessEnv = {
      PATH: this.#sim.path,
      HOME: home,
      HOSTNAME: this.pod.spec?.hostname ?? this.name,
    };
    for (const [name, value] of env) processEnv[name] = mapPath(value, mounts);

    const startedAt = timestamp();
    const lastState = previous.state?.terminated ? { terminated: previous.state.terminated } : previous.lastState;
    const containerID = newContainerID();
    let exitCode: number;
    let reason: string;
    let message: string | undefined;
    const [executable, ...args] = command;
    if (executable === undefined) {
      exitCode = 128;
      reason = 'StartError';
      message = `pod simulator: container "${container.name}" has no command, and image entrypoints are not simulated`;
    } else {
      const outputFd = openSync(outputFile, 'a');
      const child = spawnTracked(executable, args, {
        cwd: workingDir,
        env: processEnv,
        stdio: ['ignore', outputFd, outputFd],
        detached: true,
      });
      closeSync(outputFd);
      this.#initStatuses.set(container.name, {
        ...previous,
        containerID,
        restartCount,
        state: { running: { startedAt } },
        lastState: lastState ?? {},
        ready: false,
        started: true,
      });
      await this.#writeKubeletStatus().catch(async (error: unknown) => {
        await child.terminate(killGraceMs);
        throw error;
      });
      const exit = await this.#waitOrKill(child);
      if (exit.error) {
        exitCode = 128;
        reason = 'StartError';
        const notFound = (exit.error as NodeJS.ErrnoException).code === 'ENOENT';
        message = `exec: "${executable}": ${notFound ? 'executable file not found in $PATH' : exit.error.message}`;
      } else {
        exitCode = exit.code ?? 128 + (exit.signal !== null ? constants.signals[exit.signal] : 0);
        reason = exitCode === 0 ? 'Completed' : 'Error';
        message = terminationMessage(messageFile, outputFile, container.terminationMessagePolicy, exitCode);
      }
    }
    this.#initStatuses.set(container.name, {
      ...previous,
      containerID,
      restartCount,
      state: {
        terminated: {
          exitCode,
          reason,
          ...(message !== undefined && message !== '' ? { message } : {}),
          startedAt,
          finishedAt: timestamp(),
          containerID,
        },
      },
      lastState: lastState ?? {},
      // A kubelet reports a completed init container as ready.
      ready: exitCode === 0,
      started: false,
    });
    await this.#writeKubeletStatus();
    return exitCode;
  }

  /** The process's exit; if the pod goes away meanwhile, the process is killed and the abort rethrown. */
  async #waitOrKill(child: TrackedProcess): Promise<Exit> {
    const kill = (): void => void child.terminate(killGraceMs);
    if (this.#signal.aborted) kill();
    this.#signal.addEventListener('abort', kill, { once: true });
    try {
      const exit = await child.exited;
      this.#signal.throwIfAborted();
      return exit;
    } finally {
      this.#signal.removeEventListener('abort', kill);
    }
  }

  async #get<T extends KubeObject>(type: ResourceType, name: string): Promise<T | undefined> {
    return this.#sim.client.get<T>(type, { namespace: this.namespace, name });
  }

  // -- status writing

  async #writeKubeletStatus(): Promise<void> {
    const startTime = this.#startTime ?? timestamp();
    await this.#writeStatus((current) =>
      kubeletPodStatus(this.#spec, current, {
        phase: this.#phase,
        startTime,
        initStatuses: this.#initStatuses,
        mainStatuses: this.#mainStatuses,
      }),
    );
  }

  /**
   * Read, modify, write through the status subresource, as a kubelet does: a conflict means someone else wrote in
   * between, so the next attempt starts from a fresh read; an API server that is away (restarting) is waited for.
   */
  async #writeStatus(build: (current: PodStatus) => PodStatus): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      this.#signal.throwIfAborted();
      try {
        const fresh = await this.#get<Pod>(ResourceTypes.Pod, this.name);
        if (fresh?.metadata?.uid !== this.uid) throw new PodGone();
        const current = fresh.status ?? {};
        const status = build(current);
        if (isDeepStrictEqual(withoutNulls(status), withoutNulls(current))) return;
        await this.#sim.client.replace<Pod>(ResourceTypes.Pod, { ...fresh, status }, 'status');
        return;
      } catch (error) {
        if (isConflict(error)) continue;
        if (isNotFound(error)) throw new PodGone();
        if (!isTransient(error)) throw error;
        await sleep(retryDelay(attempt), undefined, { signal: this.#signal });
      }
    }
  }
}

/** An init container failed for good (restartPolicy Never): the pod is Failed and the worker has nothing left to do. */
class PodFinished extends Error {}

function waitingStatus(container: Container, reason: string): ContainerStatus {
  return {
    name: container.name,
    image: container.image ?? '',
    imageID: '',
    ready: false,
    restartCount: 0,
    started: false,
    state: { waiting: { reason } },
    lastState: {},
  };
}

function newContainerID(): string {
  return `simulated://${randomBytes(16).toString('hex')}`;
}

// ---- scheduling -----------------------------------------------------------------------------------------------------

/** Why the scheduler would not place the pod (its claims), in the scheduler's words; undefined if it would. */
function unschedulableReason(pod: Pod, claims: ReadonlyMap<string, PersistentVolumeClaim>): string | undefined {
  const namespace = pod.metadata?.namespace ?? '';
  for (const volume of pod.spec?.volumes ?? []) {
    const claimName = volume.persistentVolumeClaim?.claimName;
    if (claimName === undefined) continue;
    const claim = claims.get(`${namespace}/${claimName}`);
    if (!claim) return `persistentvolumeclaim "${claimName}" not found`;
    if (claim.metadata?.deletionTimestamp !== undefined) return `persistentvolumeclaim "${claimName}" is being deleted`;
    if (claim.status?.phase !== 'Bound') {
      return '0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.';
    }
  }
  return undefined;
}

// ---- pod status (pure) ---------------------------------------------------------------------------------------------

interface KubeletView {
  readonly phase: 'Pending' | 'Running' | 'Failed';
  readonly startTime: string;
  readonly initStatuses: ReadonlyMap<string, ContainerStatus>;
  readonly mainStatuses: ReadonlyMap<string, ContainerStatus>;
}

/** The status a kubelet would write, keeping what others own (foreign conditions, qosClass, ...). */
function kubeletPodStatus(spec: NonNullable<Pod['spec']>, current: PodStatus, view: KubeletView): PodStatus {
  const inOrder = (containers: readonly Container[], statuses: ReadonlyMap<string, ContainerStatus>) =>
    containers.map((container) => statuses.get(container.name) ?? waitingStatus(container, 'PodInitializing'));
  const initStatuses = inOrder(spec.initContainers ?? [], view.initStatuses);
  const mainStatuses = inOrder(spec.containers, view.mainStatuses);
  const incomplete = initStatuses.filter((s) => s.state?.terminated?.exitCode !== 0).map((s) => s.name);
  const unready = mainStatuses.filter((s) => !s.ready).map((s) => s.name);
  const condition = (type: string, names: string[], reason: string, what: string) =>
    names.length === 0
      ? { type, status: 'True' }
      : { type, status: 'False', reason, message: `containers with ${what} status: [${names.join(' ')}]` };
  return {
    ...current,
    phase: view.phase,
    conditions: mergeConditions(current.conditions, [
      { type: 'PodReadyToStartContainers', status: 'True' },
      condition('Initialized', incomplete, 'ContainersNotInitialized', 'incomplete'),
      condition('Ready', unready, 'ContainersNotReady', 'unready'),
      condition('ContainersReady', unready, 'ContainersNotReady', 'unready'),
      { type: 'PodScheduled', status: 'True' },
    ]),
    hostIP: simulatedIP,
    hostIPs: [{ ip: simulatedIP }],
    podIP: simulatedIP,
    podIPs: [{ ip: simulatedIP }],
    startTime: view.startTime,
    ...(initStatuses.length > 0 ? { initContainerStatuses: initStatuses } : {}),
    containerStatuses: mainStatuses,
  };
}

/** Sets the given conditions, keeping lastTransitionTime where the status did not change, and every other condition. */
function mergeConditions(
  current: readonly PodCondition[] | undefined,
  desired: readonly Omit<PodCondition, 'lastTransitionTime' | 'lastProbeTime'>[],
): PodCondition[] {
  const now = timestamp();
  const merged: PodCondition[] = desired.map((condition) => {
    const previous = current?.find((c) => c.type === condition.type);
    return {
      ...condition,
      lastTransitionTime: previous?.status === condition.status ? (previous.lastTransitionTime ?? now) : now,
    };
  });
  const ours = new Set(desired.map((condition) => condition.type));
  return [...merged, ...(current ?? []).filter((condition) => !ours.has(condition.type))];
}

// ---- container env (kubelet semantics) --------------------------------------------------------------------------------

/** What a kubelet reports as CreateContainerConfigError: the container cannot be configured yet. */
class ContainerConfigError extends Error {}

interface ConfigSource {
  secret(name: string): Promise<Secret | undefined>;
  configMap(name: string): Promise<ConfigMap | undefined>;
}

/**
 * The container's env as a kubelet builds it: envFrom sources in order, then env entries (which win), `value`s
 * expanded with $(VAR) references to earlier variables. Values are as the container sees them (paths unmapped).
 */
async function resolveEnv(pod: Pod, container: Container, source: ConfigSource): Promise<Map<string, string>> {
  const namespace = pod.metadata?.namespace ?? '';
  const env = new Map<string, string>();
  for (const from of container.envFrom ?? []) {
    const prefix = from.prefix ?? '';
    let data: Record<string, string> | undefined;
    if (from.configMapRef) {
      const name = from.configMapRef.name ?? '';
      const configMap = await source.configMap(name);
      if (!configMap && from.configMapRef.optional !== true)
        throw new ContainerConfigError(`configmap "${name}" not found`);
      data = configMap?.data;
    } else if (from.secretRef) {
      const name = from.secretRef.name ?? '';
      const secret = await source.secret(name);
      if (!secret && from.secretRef.optional !== true) throw new ContainerConfigError(`secret "${name}" not found`);
      data = decodeAll(secret?.data);
    }
    // A key that is no valid variable name is skipped (a kubelet records an event about it).
    for (const [key, value] of Object.entries(data ?? {})) if (!key.includes('=')) env.set(prefix + key, value);
  }
  for (const variable of container.env ?? []) {
    const value =
      variable.valueFrom !== undefined
        ? await valueFrom(pod, namespace, variable.valueFrom, source)
        : expand(variable.value ?? '', env);
    if (value !== undefined) env.set(variable.name, value);
  }
  return env;
}

async function valueFrom(
  pod: Pod,
  namespace: string,
  from: EnvVarSource,
  source: ConfigSource,
): Promise<string | undefined> {
  if (from.fieldRef) return podField(pod, from.fieldRef.fieldPath);
  if (from.secretKeyRef) {
    const { name = '', key, optional } = from.secretKeyRef;
    const secret = await source.secret(name);
    const value = secret?.data?.[key];
    if (value !== undefined) return Buffer.from(value, 'base64').toString('utf8');
    if (optional === true) return undefined;
    throw new ContainerConfigError(
      secret ? `couldn't find key ${key} in Secret ${namespace}/${name}` : `secret "${name}" not found`,
    );
  }
  if (from.configMapKeyRef) {
    const { name = '', key, optional } = from.configMapKeyRef;
    const configMap = await source.configMap(name);
    const value = configMap?.data?.[key];
    if (value !== undefined) return value;
    if (optional === true) return undefined;
    throw new ContainerConfigError(
      configMap ? `couldn't find key ${key} in ConfigMap ${namespace}/${name}` : `configmap "${name}" not found`,
    );
  }
  throw new ContainerConfigError('pod simulator: resourceFieldRef and other env sources are not simulated');
}

function podField(pod: Pod, fieldPath: string): string {
  const meta = pod.metadata ?? {};
  const keyed = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(fieldPath);
  if (keyed) return (keyed[1] === 'labels' ? meta.labels : meta.annotations)?.[keyed[2] ?? ''] ?? '';
  switch (fieldPath) {
    case 'metadata.name':
      return meta.name ?? '';
    case 'metadata.namespace':
      return meta.namespace ?? '';
    case 'metadata.uid':
      return meta.uid ?? '';
    case 'spec.nodeName':
      return pod.spec?.nodeName ?? '';
    case 'spec.serviceAccountName':
      return pod.spec?.serviceAccountName ?? '';
    case 'status.podIP':
    case 'status.podIPs':
    case 'status.hostIP':
    case 'status.hostIPs':
      return simulatedIP;
    default:
      throw new ContainerConfigError(`pod simulator: fieldRef ${fieldPath} is not simulated`);
  }
}

/** Kubernetes $(VAR) expansion: defined references are replaced, `$$` is a literal `$`, anything else stays. */
function expand(input: string, env: ReadonlyMap<string, string>): string {
  let output = '';
  for (let i = 0; i < input.length; i++) {
    const char = input.charAt(i);
    const next = input[i + 1];
    if (char !== '$' || next === undefined) {
      output += char;
    } else if (next === '$') {
      output += '$';
      i++;
    } else if (next === '(') {
      const close = input.indexOf(')', i + 2);
      if (close < 0) {
        output += input.slice(i);
        break;
      }
      const name = input.slice(i + 2, close);
      output += env.get(name) ?? `$(${name})`;
      i = close;
    } else {
      output += char;
    }
  }
  return output;
}

// ---- path mapping ------------------------------------------------------------------------------------------------

interface Mount {
  readonly containerPath: string;
  readonly hostPath: string;
}

/** Container paths and their host directories, longest first so that nested mounts win. */
function mountTable(container: Container, volumes: ReadonlyMap<string, string>, messageFile: string): Mount[] {
  const mounts: Mount[] = [
    { containerPath: container.terminationMessagePath ?? '/dev/termination-log', hostPath: messageFile },
  ];
  for (const mount of container.volumeMounts ?? []) {
    const volume = volumes.get(mount.name);
    const containerPath = mount.mountPath.replace(/\/+$/, '');
    // A volume at "/" would capture every path; no pod of ours does that.
    if (volume === undefined || containerPath === '') continue;
    const hostPath = mount.subPath ? join(volume, mount.subPath) : volume;
    mkdirSync(hostPath, { recursive: true });
    mounts.push({ containerPath, hostPath });
  }
  return mounts.sort((a, b) => b.containerPath.length - a.containerPath.length);
}

function mapPath(value: string, mounts: readonly Mount[]): string {
  for (const { containerPath, hostPath } of mounts) {
    if (value === containerPath) return hostPath;
    if (value.startsWith(`${containerPath}/`)) return hostPath + value.slice(containerPath.length);
  }
  return value;
}

// ---- termination messages -------------------------------------------------------------------------------------------

/** The file's content (first 4096 bytes); for FallbackToLogsOnError and a failure with an empty file, the log's tail. */
function terminationMessage(
  messageFile: string,
  outputFile: string,
  policy: string | undefined,
  exitCode: number,
): string | undefined {
  const fromFile = readBytes(messageFile).subarray(0, maxMessageBytes);
  if (fromFile.length > 0) return fromFile.toString('utf8');
  if (policy !== 'FallbackToLogsOnError' || exitCode === 0) return undefined;
  const lines = readBytes(outputFile).toString('utf8').split('\n');
  if (lines.at(-1) === '') lines.pop();
  const tail = Buffer.from(lines.slice(-maxFallbackLines).join('\n'), 'utf8');
  return tail.subarray(Math.max(0, tail.length - maxFallbackBytes)).toString('utf8') || undefined;
}

// ---- claims: the external provisioner's part --------------------------------------------------------------------

const provisionerAnnotation = 'volume.kubernetes.io/storage-provisioner';

/** A PV bound to the claim (reclaim policy Delete, hostPath = the claim's directory), then the claim bound to it. */
async function provisionClaim(client: KubeClient, claim: PersistentVolumeClaim, directory: string): Promise<void> {
  const { namespace = '', name = '', uid = '' } = claim.metadata ?? {};
  const volumeName = `pvc-${uid}`;
  const storage = claim.spec?.resources?.requests?.storage ?? '1Gi';
  const accessModes = claim.spec?.accessModes ?? ['ReadWriteOnce'];
  const volume: PersistentVolume = {
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: { name: volumeName, annotations: { 'pv.kubernetes.io/provisioned-by': simulatedProvisioner } },
    spec: {
      capacity: { storage },
      accessModes,
      persistentVolumeReclaimPolicy: 'Delete',
      ...(claim.spec?.storageClassName !== undefined ? { storageClassName: claim.spec.storageClassName } : {}),
      volumeMode: claim.spec?.volumeMode ?? 'Filesystem',
      claimRef: { apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace, name, uid },
      hostPath: { path: directory, type: 'Directory' },
    },
  };
  try {
    await client.create(ResourceTypes.PersistentVolume, volume);
  } catch (error) {
    if (!(error instanceof KubeApiError && error.status === 409)) throw error;
  }
  await client.patch(
    ResourceTypes.PersistentVolume,
    { name: volumeName },
    { status: { phase: 'Bound' } },
    {
      subresource: 'status',
    },
  );
  const ref = { namespace, name };
  await client.patch(ResourceTypes.PersistentVolumeClaim, ref, {
    metadata: {
      annotations: {
        'pv.kubernetes.io/bind-completed': 'yes',
        'pv.kubernetes.io/bound-by-controller': 'yes',
        [provisionerAnnotation]: simulatedProvisioner,
      },
    },
    spec: { volumeName },
  });
  await client.patch(
    ResourceTypes.PersistentVolumeClaim,
    ref,
    { status: { phase: 'Bound', accessModes, capacity: { storage } } },
    { subresource: 'status' },
  );
}

// ---- plumbing --------------------------------------------------------------------------------------------------

interface Handlers<T> {
  /** Every object after a (re)list: what is not among them was deleted while the watch was away. */
  listed(objects: readonly T[]): void;
  changed(type: 'ADDED' | 'MODIFIED' | 'DELETED', object: T): void;
}

/**
 * List, then watch from the list's resourceVersion, for as long as the signal allows: an ended watch resumes where
 * it stopped, an expired one (410) lists again, and an unreachable API server (restarting) is retried with back-off.
 */
async function reflect<T extends KubeObject>(
  client: KubeClient,
  type: ResourceType,
  namespace: string,
  handlers: Handlers<T>,
  signal: AbortSignal,
  hooks: { onListed: () => void; log: (message: string) => void },
): Promise<void> {
  // A function, not the property: TypeScript would narrow `signal.aborted` to false inside the loop.
  const stopped = (): boolean => signal.aborted;
  for (let failures = 0; !stopped();) {
    try {
      const list = await listAll<T>(client, type, { namespace });
      handlers.listed(list.items);
      hooks.onListed();
      failures = 0;
      let resourceVersion = list.metadata.resourceVersion;
      while (!stopped()) {
        const events = client.watch<T>(
          resourcePath(type, { namespace }),
          { resourceVersion, allowWatchBookmarks: true, timeoutSeconds: 300 },
          signal,
        );
        for await (const event of events) {
          resourceVersion = event.object.metadata?.resourceVersion ?? resourceVersion;
          if (event.type !== 'BOOKMARK') handlers.changed(event.type, event.object);
        }
      }
    } catch (error) {
      if (stopped()) return;
      if (!isGone(error)) {
        hooks.log(`watch failed, listing again: ${error instanceof Error ? error.message : String(error)}`);
        await sleep(retryDelay(failures++), undefined, { signal }).catch(() => undefined);
      }
    }
  }
}

/** Runs work(key) for scheduled keys, one run per key at a time; scheduling during a run asks for one more run. */
class KeyedRunner {
  readonly #work: (key: string) => Promise<void>;
  readonly #signal: AbortSignal;
  readonly #onError: (key: string, error: unknown) => void;
  readonly #running = new Map<string, { again: boolean; done: Promise<void> }>();

  constructor(
    work: (key: string) => Promise<void>,
    signal: AbortSignal,
    onError: (key: string, error: unknown) => void,
  ) {
    this.#work = work;
    this.#signal = signal;
    this.#onError = onError;
  }

  schedule(key: string): void {
    const running = this.#running.get(key);
    if (running) {
      running.again = true;
      return;
    }
    const state = { again: true, done: Promise.resolve() };
    this.#running.set(key, state);
    state.done = (async () => {
      const stopped = (): boolean => this.#signal.aborted;
      for (let failures = 0; state.again && !stopped();) {
        state.again = false;
        try {
          await this.#work(key);
          failures = 0;
        } catch (error) {
          if (stopped()) break;
          if (!isTransient(error) && !isConflict(error)) this.#onError(key, error);
          state.again = true;
          await sleep(retryDelay(failures++), undefined, { signal: this.#signal }).catch(() => undefined);
        }
      }
      this.#running.delete(key);
    })();
  }

  async idle(): Promise<void> {
    while (this.#running.size > 0) await Promise.all([...this.#running.values()].map((state) => state.done));
  }
}

/** Wakes everyone waiting for the next change; waiting ends quietly when the signal aborts. */
class Notifier {
  readonly #waiters = new Set<() => void>();

  notify(): void {
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const wake of waiters) wake();
  }

  next(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const wake = (): void => {
        this.#waiters.delete(wake);
        signal.removeEventListener('abort', wake);
        resolve();
      };
      this.#waiters.add(wake);
      signal.addEventListener('abort', wake, { once: true });
    });
  }
}

/** Errors worth retrying: no answer at all (connection refused during an API server restart), 429, 5xx. */
function isTransient(error: unknown): boolean {
  if (!(error instanceof KubeApiError)) return !(error instanceof ContainerConfigError || error instanceof PodGone);
  return error.status === 429 || error.status >= 500;
}

function retryDelay(attempt: number): number {
  return Math.min(100 * 2 ** attempt, 5_000);
}

/** Kubernetes timestamps have whole seconds; anything finer would make every status comparison differ. */
function timestamp(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}

/** Go's time.Duration notation, as in a kubelet's back-off messages: 100ms, 10s, 1m20s, 5m0s. */
function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds}s`;
  return `${Math.floor(seconds / 60)}m${seconds % 60}s`;
}

function objectKey(object: KubeObject): string {
  return `${object.metadata?.namespace ?? ''}/${object.metadata?.name ?? ''}`;
}

function objectReference(kind: string, object: KubeObject): ObjectReference {
  const { namespace, name, uid, resourceVersion } = object.metadata ?? {};
  return { apiVersion: 'v1', kind, namespace, name, uid, resourceVersion };
}

function decodeAll(data: Record<string, string> | undefined): Record<string, string> {
  return Object.fromEntries(
    Object.entries(data ?? {}).map(([key, value]) => [key, Buffer.from(value, 'base64').toString('utf8')]),
  );
}

/** ConfigMap and Secret volume contents: every key as a file, or only the listed items at their paths. */
function writeKeys(
  directory: string,
  data: Record<string, string>,
  items: readonly { key: string; path: string }[] | undefined,
) {
  const entries = items ? items.map(({ key, path }) => [path, data[key] ?? ''] as const) : Object.entries(data);
  for (const [path, content] of entries) {
    const file = join(directory, path);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, content);
  }
}

/** The API server answers absent optional fields with null (e.g. a condition's lastProbeTime); compare without them. */
function withoutNulls(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value, (_key, field: unknown) => (field === null ? undefined : field)));
}

function readBytes(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch {
    return Buffer.alloc(0);
  }
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}
