// What `kasprop local` runs: the integration tests' control plane, pod simulator and wheel index, with the real
// operator, and one example app applied and followed until it is Ready. Everything lives in one temp directory
// and is removed on exit.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
import { startControlPlane } from './controlplane.ts';
import { installKasprAppCrd, waitFor } from './integration.ts';
import { imagePath } from './kasprapps.ts';
import { startPodSimulator } from './pod-simulator.ts';
import { startWheelIndex } from './wheel-index.ts';
import type { WheelProject } from './wheels.ts';

const namespace = 'default';

export async function runLocal(options: LocalOptions, io: CommandIo): Promise<number> {
  const { apps, others, errors } = readManifest(options.file);
  if (errors.length > 0) {
    for (const error of errors) io.err(error);
    return 1;
  }
  io.err(
    'kasprop local: a real kube-apiserver, etcd and kube-controller-manager (built from Go modules), the kasprop ' +
      'operator, and a pod simulator standing in for the kubelet. Pods do not run in containers: their init ' +
      "containers run as LOCAL PROCESSES on this machine (python3 from your PATH), and the app's main container is " +
      'not run at all. Ctrl-C stops everything and removes its files.',
  );
  const root = mkdtempSync(join(tmpdir(), 'kasprop-local-'));
  const cleanups: (() => Promise<void> | void)[] = [() => rmSync(root, { recursive: true, force: true })];
  const shutdown = new AbortController();
  const interrupt = (): void => shutdown.abort();
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  try {
    const controlPlane = await startControlPlane({
      rootDir: join(root, 'controlplane'),
      log: (l) => io.err(`[control plane] ${l}`),
    });
    cleanups.push(() => controlPlane.stop());
    const client = controlPlane.client();
    cleanups.push(() => client.close());
    await installKasprAppCrd(client);

    let indexUrl = options.indexUrl;
    let trustedHosts: string[] = [];
    if (indexUrl === undefined) {
      const projects = standIns(apps);
      const index = await startWheelIndex({ projects });
      cleanups.push(() => index.close());
      indexUrl = index.url;
      trustedHosts = [index.host];
      io.err(
        `[index] a local package index at ${index.url} serves stand-in wheels: ${projects.map((p) => `${p.name} ${p.releases[0]?.version ?? ''}`).join(', ')}`,
      );
    }

    const simulator = await startPodSimulator({
      client,
      namespaces: [namespace],
      rootDir: join(root, 'pods'),
      path: imagePath,
      backoffBaseMs: 2_000,
    });
    cleanups.push(() => simulator.stop());

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
    io.err(`[operator] running; metrics at ${operator.http?.url ?? '?'}/metrics`);
    io.err(`[cluster] kubectl --kubeconfig ${controlPlane.kubeconfigPath} get kasprapps,statefulsets,pods,pvc`);
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
    const ready = await follow(
      client,
      apps.map((a) => a.metadata.name),
      io,
      options.untilReady,
      shutdown.signal,
    );
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
    if (result.ok) apps.push(result.app);
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
