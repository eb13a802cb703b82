// What `kasprop local` runs: the integration tests' cluster and wheel index, with the real operator, and one example
// app applied and followed until it is Ready. Where the machine allows a real node (Linux, root, ...; see
// ./node.ts), it builds what the node needs, starts itself again inside a new private network namespace, and the
// app's pods run in containers there; elsewhere a pod simulator runs their init containers as local processes.
// Everything lives in one temp directory and is removed on exit.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { parseAllDocuments } from 'yaml';
import { Registry } from 'prom-client';
import { KasprAppResource, type KasprApp } from '../../src/api/types.ts';
import { validateKasprApp } from '../../src/api/validation.ts';
import { formatFieldError } from '../../src/api/field-error.ts';
import { startOperator } from '../../src/controller/operator.ts';
import { defaultOperatorSettings } from '../../src/model/operator-settings.ts';
import { parseRequirement } from '../../src/packages/requirement.ts';
import type { CommandIo } from '../../src/cli/validate.ts';
import type { KubeClient, KubeObject } from '../../src/runtime/kube/client.ts';
import { ResourceTypes, resourceTypeOf } from '../../src/runtime/kube/resources.ts';
import { createLogger } from '../../src/runtime/logger.ts';
import { standInsNote, untilReadyNote, type LocalOptions } from '../../src/cli/local.ts';
import { RuntimeMetrics } from '../../src/runtime/metrics.ts';
import { mainContainerName } from '../../src/model/stateful-set.ts';
import { binDirEnv, buildControlPlane, startControlPlane, type ControlPlane } from './controlplane.ts';
import { buildImages, imagesDirEnv, loadImages, sandboxImage } from './images.ts';
import { installKasprAppCrd, waitFor } from './integration.ts';
import { imagePath } from './kasprapps.ts';
import { inNewNetworkNamespace } from './netns.ts';
import { nodeNetwork, prepareRealNode } from './node.ts';
import { startPodSimulator } from './pod-simulator.ts';
import { podsEnv, runAttached, spawnTracked } from './processes.ts';
import { startWheelIndex } from './wheel-index.ts';
import type { WheelProject } from './wheels.ts';

const namespace = 'default';
const installContainer = 'install-packages';

export async function runLocal(options: LocalOptions, io: CommandIo): Promise<number> {
  const { apps, others, errors } = readManifest(options.file);
  if (errors.length > 0) {
    for (const error of errors) io.err(error);
    return 1;
  }
  const pods = process.env[podsEnv];
  if (pods === undefined) {
    // The node's private network namespace has no way out: a remote index needs the machine's own network.
    const why =
      options.indexUrl !== undefined
        ? "--index-url needs the network, which the real node's private network namespace does not have"
        : prepareRealNode((line) => io.err(`[node] ${line}`));
    if (why === undefined) return runInNetworkNamespace(io);
    io.err(`kasprop local: no real node on this machine (${why}); using the pod simulator`);
  }
  const realNode = pods === 'node';
  io.err(
    realNode
      ? 'kasprop local: a real kube-apiserver, etcd, kube-controller-manager, kube-scheduler and a real node ' +
          '(kubelet, kube-proxy, containerd, runc; built from Go modules), the kasprop operator, all in a private ' +
          'network namespace. Pods run in REAL CONTAINERS of images built here without a registry: the app image ' +
          'is a stand-in for kasprio/kaspr (Debian python3 and pip) that reports what it imports. Ctrl-C stops ' +
          'everything and removes its files.'
      : 'kasprop local: a real kube-apiserver, etcd and kube-controller-manager (built from Go modules), the ' +
          'kasprop operator, and a pod simulator standing in for the kubelet. Pods do not run in containers: their ' +
          "init containers run as LOCAL PROCESSES on this machine (python3 from your PATH), and the app's main " +
          'container is not run at all. Ctrl-C stops everything and removes its files.',
  );
  const root = mkdtempSync(join(tmpdir(), 'kasprop-local-'));
  const cleanups: (() => Promise<void> | void)[] = [() => rmSync(root, { recursive: true, force: true })];
  const shutdown = new AbortController();
  const interrupt = (): void => shutdown.abort();
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  try {
    const imagesDir = process.env[imagesDirEnv];
    const controlPlane = await startControlPlane({
      rootDir: join(root, 'controlplane'),
      log: (l) => io.err(`[control plane] ${l}`),
      ...(realNode && imagesDir !== undefined && { node: { images: loadImages(imagesDir), sandboxImage } }),
    });
    cleanups.push(() => controlPlane.stop());
    const client = controlPlane.client();
    cleanups.push(() => client.close());
    await installKasprAppCrd(client);

    let indexUrl = options.indexUrl;
    let trustedHosts: string[] = [];
    if (indexUrl === undefined) {
      const projects = standIns(apps);
      const index = await startWheelIndex({ projects, ...(realNode && { reachableAt: nodeNetwork.podGateway }) });
      cleanups.push(() => index.close());
      indexUrl = index.url;
      trustedHosts = [index.host];
      io.err(
        `[index] a local package index at ${index.url} serves stand-in wheels: ${projects.map((p) => `${p.name} ${p.releases[0]?.version ?? ''}`).join(', ')}`,
      );
    }

    if (!realNode) {
      const simulator = await startPodSimulator({
        client,
        namespaces: [namespace],
        rootDir: join(root, 'pods'),
        path: imagePath,
        backoffBaseMs: 2_000,
      });
      cleanups.push(() => simulator.stop());
    }

    const registry = new Registry();
    const runtimeMetrics = new RuntimeMetrics(registry);
    const operatorClient = controlPlane.client({ onRequest: runtimeMetrics.observeRequest });
    cleanups.push(() => operatorClient.close());
    const stopOperator = new AbortController();
    const operator = await startOperator(
      {
        client: operatorClient,
        registry,
        runtimeMetrics,
        logger: createLogger({ sink: process.stderr, level: options.logLevel, fields: { component: 'kasprop' } }),
        settings: defaultOperatorSettings,
        namespaces: [namespace],
        workers: 2,
        http: { port: 0, host: '127.0.0.1' },
      },
      stopOperator.signal,
    );
    cleanups.push(async () => {
      stopOperator.abort();
      await operator.done;
    });
    // Inside the network namespace only: from another shell, enter it first.
    const enter = realNode ? `nsenter --net=/proc/${process.pid}/ns/net ` : '';
    const kubectl = realNode ? join(process.env[binDirEnv] ?? '', 'kubectl') : 'kubectl';
    io.err(`[operator] running; metrics: ${enter}curl ${operator.http?.url ?? '?'}/metrics`);
    io.err(
      `[cluster] ${enter}${kubectl} --kubeconfig ${controlPlane.kubeconfigPath} get kasprapps,statefulsets,pods,pvc`,
    );
    if (options.untilReady) io.err(untilReadyNote);

    // Pods are not admitted before the namespace's default ServiceAccount exists.
    await waitFor(() => client.get(ResourceTypes.ServiceAccount, { namespace, name: 'default' }), {
      message: 'the default ServiceAccount',
    });
    for (const object of others)
      await client.apply(
        typeOf(object),
        { ...object, metadata: { ...object.metadata, namespace } },
        { fieldManager: 'kasprop-local' },
      );
    for (const app of apps) {
      const local: KasprApp = {
        ...app,
        metadata: { name: app.metadata.name, namespace },
        spec: app.spec.pythonPackages
          ? {
              ...app.spec,
              pythonPackages: {
                ...app.spec.pythonPackages,
                indexUrl,
                trustedHosts: [...(app.spec.pythonPackages.trustedHosts ?? []), ...trustedHosts],
              },
            }
          : app.spec,
      };
      await client.create(KasprAppResource, local);
      io.out(
        `applied KasprApp ${namespace}/${app.metadata.name}${app.spec.pythonPackages ? ` with packages from ${indexUrl}` : ''}`,
      );
    }
    if (realNode) cleanups.push(followInstallLogs(controlPlane, kubectl, io, shutdown.signal));
    const ready = await follow(
      client,
      apps.map((a) => a.metadata.name),
      io,
      options.untilReady,
      shutdown.signal,
    );
    if (ready && realNode) {
      for (const app of apps.filter((a) => a.spec.pythonPackages !== undefined)) {
        await printImportReport(controlPlane, kubectl, `${app.metadata.name}-app-0`, io);
      }
    }
    if (ready && options.indexUrl === undefined) io.out(standInsNote);
    if (options.untilReady) return ready ? 0 : 1;
    io.out('kasprop local: running; Ctrl-C to stop and clean up');
    await new Promise<void>((done) => {
      if (shutdown.signal.aborted) done();
      shutdown.signal.addEventListener('abort', () => done(), { once: true });
    });
    return 0;
  } finally {
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
    io.err('kasprop local: stopping');
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch (error) {
        io.err(`kasprop local: clean-up failed: ${String(error)}`);
      }
    }
  }
}

function readManifest(file: string): { apps: KasprApp[]; others: KubeObject[]; errors: string[] } {
  const apps: KasprApp[] = [];
  const others: KubeObject[] = [];
  const errors: string[] = [];
  parseAllDocuments(readFileSync(file, 'utf8')).forEach((doc, i) => {
    const value = doc.toJS() as KubeObject | null;
    if (value === null) return;
    if (value.kind !== 'KasprApp') {
      others.push(value);
      return;
    }
    const result = validateKasprApp(value);
    if (result.ok) apps.push(result.valid.app);
    else errors.push(...result.errors.map((e) => `${file}:${i + 1}:${formatFieldError(e)}`));
  });
  if (apps.length === 0 && errors.length === 0) errors.push(`${file}: no KasprApp in it`);
  return { apps, others, errors };
}

function typeOf(object: KubeObject) {
  const type = resourceTypeOf(object, Object.values(ResourceTypes));
  if (type === undefined)
    throw new Error(`kasprop local cannot apply ${object.apiVersion ?? '?'} ${object.kind ?? '?'}`);
  return type;
}

/**
 * Wheels named and versioned as the apps' requirements ask (`==2.31.0` gives 2.31.0, `~=2.8` gives 2.8), so the
 * demo installs offline. They are empty packages: the point is the install, not the code.
 */
function standIns(apps: readonly KasprApp[]): WheelProject[] {
  const projects = new Map<string, WheelProject>();
  for (const line of apps.flatMap((a) => a.spec.pythonPackages?.packages ?? [])) {
    const parsed = parseRequirement(line);
    if (!parsed.ok || parsed.requirement.url !== undefined) continue;
    const pinned = parsed.requirement.specifiers.find((s) => ['==', '===', '~=', '>='].includes(s.operator));
    const version = pinned?.version.replace(/\.\*$/, '') ?? '1.0';
    projects.set(parsed.requirement.project, { name: parsed.requirement.project, releases: [{ version }] });
  }
  return [...projects.values()];
}

/** Prints each app's state changes; resolves when all are Ready (true), one Failed with `untilReady` (false), or on abort. */
async function follow(
  client: KubeClient,
  names: readonly string[],
  io: CommandIo,
  untilReady: boolean,
  signal: AbortSignal,
): Promise<boolean> {
  const seen = new Map<string, string>();
  for (;;) {
    if (signal.aborted) return false;
    let allReady = true;
    for (const name of names) {
      const app = await client.get<KasprApp>(KasprAppResource, { namespace, name });
      const packages = app?.status?.pythonPackages;
      const ready = app?.status?.conditions?.find((c) => c.type === 'Ready');
      const line =
        packages?.state === 'Ready'
          ? `${name}: packages Ready: ${(packages.installed ?? []).join(', ')} (installed by ${packages.installedBy ?? '?'} in ${packages.installDuration ?? '?'}); pods ${app?.status?.availableMembers ?? '?'}`
          : packages?.state === 'Failed'
            ? `${name}: packages Failed: ${packages.errorType ?? ''}: ${packages.error ?? ''}`
            : packages
              ? `${name}: packages ${packages.state ?? '?'}`
              : `${name}: ${ready?.reason ?? 'waiting for the operator'}; pods ${app?.status?.availableMembers ?? '?'}`;
      if (seen.get(name) !== line) {
        seen.set(name, line);
        io.out(line);
      }
      if (untilReady && packages?.state === 'Failed') return false;
      allReady &&= ready?.status === 'True';
    }
    if (allReady) {
      io.out(`ready: ${names.join(', ')}`);
      return true;
    }
    await new Promise((done) => setTimeout(done, 100));
  }
}

/**
 * Builds what the node needs (while the network is there), then runs this same command again inside a new private
 * network namespace and waits for it. Ctrl-C reaches both (one process group); the inner one cleans up.
 */
async function runInNetworkNamespace(io: CommandIo): Promise<number> {
  const log = (line: string): void => io.err(line);
  const binDir = await buildControlPlane(log);
  const imagesDir = await buildImages(log);
  const netns = inNewNetworkNamespace(process.execPath, [...process.execArgv, ...process.argv.slice(1)]);
  return runAttached(netns.command, netns.args, {
    ...process.env,
    ...netns.env,
    [podsEnv]: 'node',
    [binDirEnv]: binDir,
    [imagesDirEnv]: imagesDir,
  });
}

/**
 * Prints the log of every install-packages init container of the namespace as it is written (`kubectl logs -f`,
 * started once the container has started). Returns the clean-up that stops following.
 */
function followInstallLogs(
  controlPlane: ControlPlane,
  kubectl: string,
  io: CommandIo,
  signal: AbortSignal,
): () => Promise<void> {
  const followed = new Map<string, ReturnType<typeof spawnTracked>>();
  const client = controlPlane.client();
  const stop = new AbortController();
  const loop = (async () => {
    while (!stop.signal.aborted && !signal.aborted) {
      try {
        const list = await client.list<Pod & { metadata: NonNullable<Pod['metadata']> }>(ResourceTypes.Pod, {
          namespace,
        });
        for (const pod of list.items) {
          const key = pod.metadata.uid ?? '';
          const init = pod.status?.initContainerStatuses?.find((c) => c.name === installContainer);
          if (followed.has(key) || (init?.state?.running === undefined && init?.state?.terminated === undefined)) {
            continue;
          }
          const name = pod.metadata.name ?? '';
          const logs = spawnTracked(
            kubectl,
            ['--kubeconfig', controlPlane.kubeconfigPath, 'logs', '-f', '-n', namespace, name, '-c', installContainer],
            { cwd: controlPlane.rootDir, env: { PATH: process.env.PATH }, stdio: ['ignore', 'pipe', 'ignore'] },
          );
          followed.set(key, logs);
          const prefix = `[${name} ${installContainer}] `;
          if (logs.child.stdout) {
            createInterface({ input: logs.child.stdout }).on('line', (line) => io.err(prefix + line));
          }
        }
      } catch {
        // The apiserver is busy or stopping; the next round sees.
      }
      await new Promise((done) => setTimeout(done, 500));
    }
  })();
  return async () => {
    stop.abort();
    await loop;
    await Promise.all([...followed.values()].map((logs) => logs.terminate(2_000)));
    client.close();
  };
}

/** The app container's own report (the stand-in image logs what it imported), printed once it has written it. */
async function printImportReport(
  controlPlane: ControlPlane,
  kubectl: string,
  pod: string,
  io: CommandIo,
): Promise<void> {
  const report = await waitFor(
    () => {
      const log = execFileSync(
        kubectl,
        ['--kubeconfig', controlPlane.kubeconfigPath, 'logs', '-n', namespace, pod, '-c', mainContainerName],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
      );
      return /distribution\(s\) imported/.test(log) ? log : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 500, message: `the import report of ${pod}` },
  );
  for (const line of report.trimEnd().split('\n')) io.out(`[${pod} ${mainContainerName}] ${line}`);
}
