// KasprApp fixtures and probes for the operator's integration tests.
import { dirname } from 'node:path';
import { execFileSync } from 'node:child_process';
import type { StatefulSet } from 'kubernetes-types/apps/v1.js';
import { KasprAppResource, type KasprApp, type KasprAppSpec, type PythonPackagesStatus } from '../../src/api/types.ts';
import { isConflict, type KubeClient } from '../../src/runtime/kube/client.ts';
import { resourcePath, ResourceTypes } from '../../src/runtime/kube/resources.ts';
import { appImage } from './images.ts';
import { waitFor } from './integration.ts';

/** The "image's" PATH for simulated containers: a python3 that has pip (the machine's own PIP_* settings aside). */
export const imagePath = `${dirname(
  execFileSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' }).trim(),
)}:/usr/local/bin:/usr/bin:/bin`;

export function kasprApp(namespace: string, name: string, spec: Partial<KasprAppSpec> = {}): KasprApp {
  return {
    apiVersion: 'kaspr.io/v1alpha1',
    kind: 'KasprApp',
    metadata: { name, namespace },
    spec: { bootstrapServers: 'kafka.invalid:9092', image: appImage, replicas: 1, ...spec },
  };
}

export async function createApp(client: KubeClient, app: KasprApp): Promise<KasprApp> {
  return client.create(KasprAppResource, app);
}

export async function getApp(client: KubeClient, namespace: string, name: string): Promise<KasprApp | undefined> {
  return client.get<KasprApp>(KasprAppResource, { namespace, name });
}

/**
 * Replaces the whole spec (fields left out are removed), as `kubectl edit` would, but without a resourceVersion
 * precondition, so the operator's status writes do not make the edit conflict. The apiserver retries such a patch
 * against concurrent writes only a few times; a conflict that still comes through is retried here.
 */
export async function setSpec(
  client: KubeClient,
  namespace: string,
  name: string,
  spec: KasprAppSpec,
): Promise<KasprApp> {
  const patch = [{ op: 'replace', path: '/spec', value: spec }];
  return waitFor(
    async () => {
      try {
        return await client.patch<KasprApp>(KasprAppResource, { namespace, name }, patch, { kind: 'json' });
      } catch (error) {
        if (isConflict(error)) return undefined;
        throw error;
      }
    },
    { message: `the spec of ${namespace}/${name} to be replaced` },
  );
}

/** Waits for status.pythonPackages to satisfy `check` (for the current generation), and returns it. */
export async function waitForPackages(
  client: KubeClient,
  namespace: string,
  name: string,
  check: (status: PythonPackagesStatus) => boolean,
  what: string,
  timeoutMs = 90_000,
): Promise<PythonPackagesStatus> {
  let last: unknown;
  return waitFor(
    async () => {
      const app = await getApp(client, namespace, name);
      last = app?.status;
      const status = app?.status?.pythonPackages;
      const current = app?.status?.observedGeneration === app?.metadata.generation;
      return current && status !== undefined && check(status) ? status : undefined;
    },
    { timeoutMs, intervalMs: 200, message: () => `${namespace}/${name}: ${what}; last status ${JSON.stringify(last)}` },
  );
}

export async function waitForCondition(
  client: KubeClient,
  namespace: string,
  name: string,
  type: string,
  check: (condition: { status: string; reason: string; message?: string }) => boolean,
  timeoutMs = 90_000,
): Promise<{ status: string; reason: string; message?: string }> {
  let last: unknown;
  return waitFor(
    async () => {
      const app = await getApp(client, namespace, name);
      const condition = app?.status?.conditions?.find((c) => c.type === type);
      last = app?.status;
      return condition && check(condition) ? condition : undefined;
    },
    {
      timeoutMs,
      intervalMs: 200,
      message: () => `${namespace}/${name}: condition ${type}; last status ${JSON.stringify(last)}`,
    },
  );
}

export async function readyReplicas(client: KubeClient, namespace: string, name: string): Promise<number> {
  const sts = await client.get<StatefulSet>(ResourceTypes.StatefulSet, { namespace, name: `${name}-app` });
  return sts?.status?.readyReplicas ?? 0;
}

/** Events recorded on the KasprApp, oldest first. */
export async function appEvents(
  client: KubeClient,
  namespace: string,
  name: string,
): Promise<{ reason: string; type: string; message: string }[]> {
  const list = await client.list<import('kubernetes-types/core/v1.js').Event & { metadata: object }>(
    ResourceTypes.CoreEvent,
    {
      namespace,
      fieldSelector: `involvedObject.kind=KasprApp,involvedObject.name=${name}`,
    },
  );
  return list.items
    .sort((a, b) => (a.firstTimestamp ?? '').localeCompare(b.firstTimestamp ?? ''))
    .map((e) => ({ reason: e.reason ?? '', type: e.type ?? '', message: e.message ?? '' }));
}

/**
 * Every status.pythonPackages.state the KasprApps of a namespace pass through, in order, from a watch (restarted
 * after errors, e.g. while the apiserver's storage for a new CRD is still initializing).
 */
export function recordPackageStates(
  client: KubeClient,
  namespace: string,
  name: string,
  signal: AbortSignal,
): { states: string[]; done: Promise<void> } {
  const states: string[] = [];
  const done = (async () => {
    while (!signal.aborted) {
      try {
        const path = resourcePath(KasprAppResource, { namespace });
        for await (const event of client.watch<KasprApp>(path, { fieldSelector: `metadata.name=${name}` }, signal)) {
          const state = event.object.status?.pythonPackages?.state;
          if (state !== undefined && states.at(-1) !== state) states.push(state);
        }
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  })();
  return { states, done };
}
