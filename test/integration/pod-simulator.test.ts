// The pod simulator on the real control plane: it stands in for the kubelet (and the scheduler's binding and a
// storage provisioner) well enough for the StatefulSet controller, the garbage collector and kasprop to rely on it.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite, test } from 'node:test';
import type { StatefulSet } from 'kubernetes-types/apps/v1.js';
import type {
  Container,
  ContainerStatus,
  Event,
  PersistentVolume,
  PersistentVolumeClaim,
  Pod,
  PodSpec,
} from 'kubernetes-types/core/v1.js';
import type { KubeClient } from '../../src/runtime/kube/client.ts';
import { ResourceTypes } from '../../src/runtime/kube/resources.ts';
import { connectCluster, createTestNamespace, waitFor } from '../support/integration.ts';
import { findSurvivors } from '../support/processes.ts';

const cluster = await connectCluster({ pods: 'simulator' });

/** Writes "$1"-style: the termination message path reaches the script as an argument, which the simulator maps. */
const writeMessage = (script: string): Pick<Container, 'command' | 'args'> => ({
  command: ['sh', '-c', script, 'sh', '/dev/termination-log'],
});

const podWith = (namespace: string, name: string, spec: Partial<PodSpec>): Pod => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace },
  spec: { containers: [{ name: 'app', image: 'app:1' }], terminationGracePeriodSeconds: 5, ...spec },
});

const getPod = (client: KubeClient, namespace: string, name: string) =>
  client.get<Pod>(ResourceTypes.Pod, { namespace, name });

const condition = (pod: Pod | undefined, type: string) => pod?.status?.conditions?.find((c) => c.type === type);

async function podUntil(
  client: KubeClient,
  namespace: string,
  name: string,
  accept: (pod: Pod) => boolean,
  message: string,
  timeoutMs = 30_000,
): Promise<Pod> {
  let last: Pod | undefined;
  return waitFor(
    async () => {
      last = await getPod(client, namespace, name);
      return last && accept(last) ? last : undefined;
    },
    { timeoutMs, intervalMs: 25, message: () => `${message}; last status: ${JSON.stringify(last?.status)}` },
  );
}

const isReady = (pod: Pod): boolean => condition(pod, 'Ready')?.status === 'True';

suite('pod simulator', { concurrency: true }, () => {
  test('StatefulSet pods run their init container, carry its termination message and become ready', async (t) => {
    const ns = await createTestNamespace(t, cluster);
    const { name: namespace, client, simulator } = ns;
    const statefulSet: StatefulSet = {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name: 'web', namespace },
      spec: {
        replicas: 2,
        serviceName: 'web',
        podManagementPolicy: 'Parallel',
        selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: { labels: { app: 'web' } },
          spec: {
            initContainers: [
              {
                name: 'init',
                image: 'busybox:1',
                ...writeMessage('printf hello > "$DATA_DIR/greeting" && printf "done %s" "$POD_NAME" > "$1"'),
                env: [
                  { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                  { name: 'DATA_DIR', value: '/data' },
                ],
                volumeMounts: [{ name: 'data', mountPath: '/data' }],
              },
            ],
            containers: [{ name: 'app', image: 'app:1' }],
            terminationGracePeriodSeconds: 30,
          },
        },
        volumeClaimTemplates: [
          {
            metadata: { name: 'data' },
            spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
          },
        ],
      },
    };
    await client.create(ResourceTypes.StatefulSet, statefulSet);
    const ref = { namespace, name: 'web' };
    await waitFor(
      async () => (await client.get<StatefulSet>(ResourceTypes.StatefulSet, ref))?.status?.readyReplicas === 2,
      {
        timeoutMs: 60_000,
        message: 'the StatefulSet to report 2 ready replicas',
      },
    );

    for (const name of ['web-0', 'web-1']) {
      const pod = await getPod(client, namespace, name);
      assert.ok(pod?.status);
      assert.equal(pod.spec?.nodeName, simulator?.nodeName);
      assert.equal(pod.status.phase, 'Running');
      assert.equal(pod.status.podIP, '127.0.0.1');
      for (const type of ['PodScheduled', 'Initialized', 'ContainersReady', 'Ready']) {
        assert.equal(condition(pod, type)?.status, 'True', type);
      }
      const [init] = pod.status.initContainerStatuses ?? [];
      assert.equal(init?.state?.terminated?.exitCode, 0);
      assert.equal(init.state.terminated.reason, 'Completed');
      assert.equal(init.state.terminated.message, `done ${name}`);
      const [app] = pod.status.containerStatuses ?? [];
      assert.ok(app?.state?.running);
      assert.equal(app.ready, true);
      assert.equal(app.started, true);
      // The claim from the volumeClaimTemplate was provisioned, and /data was mapped to its directory.
      assert.equal(readFileSync(join(await ns.claimDirectory(`data-${name}`), 'greeting'), 'utf8'), 'hello');
    }

    // Scaling down: the StatefulSet controller deletes web-1 gracefully; the simulator finishes it.
    await client.patch(ResourceTypes.StatefulSet, ref, { spec: { replicas: 1 } });
    await waitFor(async () => (await getPod(client, namespace, 'web-1')) === undefined, {
      message: 'web-1 to be deleted after scaling down',
    });
  });

  test('a failing init container is restarted with CrashLoopBackOff, exit code and log-tail message', async (t) => {
    const { name: namespace, client } = await createTestNamespace(t, cluster, { backoffBaseMs: 100 });
    const initContainer: Container = {
      name: 'install',
      image: 'python:3',
      command: ['sh', '-c', 'echo "collecting packages"; echo "no space left on device" >&2; exit 3'],
      terminationMessagePolicy: 'FallbackToLogsOnError',
    };
    await client.create(ResourceTypes.Pod, podWith(namespace, 'crash', { initContainers: [initContainer] }));

    const restartCounts: number[] = [];
    let status: ContainerStatus | undefined;
    await podUntil(
      client,
      namespace,
      'crash',
      (pod) => {
        status = pod.status?.initContainerStatuses?.[0];
        if (status && restartCounts.at(-1) !== status.restartCount) restartCounts.push(status.restartCount);
        return (status?.restartCount ?? 0) >= 2 && status?.state?.waiting?.reason === 'CrashLoopBackOff';
      },
      'the init container to be in CrashLoopBackOff after two restarts',
    );
    assert.deepEqual(
      restartCounts,
      restartCounts.toSorted((a, b) => a - b),
    );
    assert.match(
      status?.state?.waiting?.message ?? '',
      /^back-off \d+ms restarting failed container=install pod=crash_/,
    );
    const terminated = status?.lastState?.terminated;
    assert.equal(terminated?.exitCode, 3);
    assert.equal(terminated.reason, 'Error');
    assert.equal(terminated.message, 'collecting packages\nno space left on device');

    const pod = await getPod(client, namespace, 'crash');
    assert.ok(pod?.status);
    assert.equal(pod.status.phase, 'Pending');
    assert.equal(condition(pod, 'Initialized')?.reason, 'ContainersNotInitialized');
    assert.equal(pod.status.containerStatuses?.[0]?.state?.waiting?.reason, 'PodInitializing');
  });

  test('with restartPolicy Never a failing init container fails the pod', async (t) => {
    const { name: namespace, client } = await createTestNamespace(t, cluster);
    const initContainers = [
      { name: 'install', image: 'python:3', ...writeMessage('printf "bad wheel" > "$1"; exit 7') },
    ];
    await client.create(ResourceTypes.Pod, podWith(namespace, 'once', { initContainers, restartPolicy: 'Never' }));
    const pod = await podUntil(client, namespace, 'once', (p) => p.status?.phase === 'Failed', 'the pod to fail');
    const terminated = pod.status?.initContainerStatuses?.[0]?.state?.terminated;
    assert.equal(terminated?.exitCode, 7);
    assert.equal(terminated.message, 'bad wheel');
    assert.equal(pod.status?.initContainerStatuses?.[0]?.restartCount, 0);
  });

  test('a missing Secret gives CreateContainerConfigError until it exists; only the pod env reaches the process', async (t) => {
    const { name: namespace, client } = await createTestNamespace(t, cluster);
    await client.create(ResourceTypes.ConfigMap, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { namespace, name: 'settings' },
      data: { NAME: 'kaspr', INDEX: 'http://127.0.0.1:1/simple' },
    });
    const initContainer: Container = {
      name: 'install',
      image: 'python:3',
      ...writeMessage(
        'printf "%s|%s|%s|%s|%s" "$PASSWORD" "${OPTIONAL-unset}" "$(env | grep -c ^PIP_)" "$GREETING" "$INDEX" > "$1"',
      ),
      envFrom: [{ configMapRef: { name: 'settings' }, prefix: 'CFG_' }],
      env: [
        { name: 'PASSWORD', valueFrom: { secretKeyRef: { name: 'creds', key: 'password' } } },
        { name: 'OPTIONAL', valueFrom: { secretKeyRef: { name: 'absent', key: 'x', optional: true } } },
        { name: 'GREETING', value: 'hi $(CFG_NAME), $$(CFG_NAME) $(UNDEFINED)' },
        { name: 'INDEX', valueFrom: { configMapKeyRef: { name: 'settings', key: 'INDEX' } } },
      ],
    };
    await client.create(ResourceTypes.Pod, podWith(namespace, 'needs-secret', { initContainers: [initContainer] }));
    const waitingFor = async (message: string) =>
      podUntil(
        client,
        namespace,
        'needs-secret',
        (pod) => {
          const waiting = pod.status?.initContainerStatuses?.[0]?.state?.waiting;
          return waiting?.reason === 'CreateContainerConfigError' && waiting.message === message;
        },
        `CreateContainerConfigError: ${message}`,
      );
    await waitingFor('secret "creds" not found');

    const secretRef = { namespace, name: 'creds' };
    await client.create(ResourceTypes.Secret, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: secretRef,
      stringData: { username: 'u' },
    });
    await waitingFor(`couldn't find key password in Secret ${namespace}/creds`);

    await client.patch(ResourceTypes.Secret, secretRef, { stringData: { password: 's3cret' } });
    const pod = await podUntil(client, namespace, 'needs-secret', isReady, 'the pod to become ready');
    assert.equal(
      pod.status?.initContainerStatuses?.[0]?.state?.terminated?.message,
      's3cret|unset|0|hi kaspr, $(CFG_NAME) $(UNDEFINED)|http://127.0.0.1:1/simple',
    );
  });

  test('claims: ReadWriteMany refused with an event, ReadWriteOnce bound, shared and expanded', async (t) => {
    const ns = await createTestNamespace(t, cluster, { refuseReadWriteMany: true });
    const { name: namespace, client } = ns;
    const claim = (name: string, accessMode: string): PersistentVolumeClaim => ({
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: { name, namespace },
      spec: { accessModes: [accessMode], resources: { requests: { storage: '1Gi' } } },
    });
    const getClaim = (name: string) =>
      client.get<PersistentVolumeClaim>(ResourceTypes.PersistentVolumeClaim, { namespace, name });
    const mounting = (claimName: string, container: Container): Partial<PodSpec> => ({
      initContainers: [{ ...container, volumeMounts: [{ name: 'cache', mountPath: '/cache' }] }],
      volumes: [{ name: 'cache', persistentVolumeClaim: { claimName } }],
    });

    await client.create(ResourceTypes.PersistentVolumeClaim, claim('shared', 'ReadWriteMany'));
    const event = await waitFor(
      async () =>
        (
          await client.list<Event>(ResourceTypes.CoreEvent, {
            namespace,
            fieldSelector: 'involvedObject.kind=PersistentVolumeClaim,involvedObject.name=shared',
          })
        ).items.find((e) => e.reason === 'ProvisioningFailed'),
      { message: 'a ProvisioningFailed event for the ReadWriteMany claim' },
    );
    assert.equal(event.type, 'Warning');
    assert.match(event.message ?? '', /ReadWriteMany/);
    assert.equal((await getClaim('shared'))?.status?.phase, 'Pending');
    const blocked = { name: 'init', image: 'python:3', command: ['true'] };
    await client.create(ResourceTypes.Pod, podWith(namespace, 'blocked', mounting('shared', blocked)));
    const unschedulable = await podUntil(
      client,
      namespace,
      'blocked',
      (pod) => condition(pod, 'PodScheduled')?.reason === 'Unschedulable',
      'the pod of the unbound claim to be unschedulable',
    );
    assert.equal(unschedulable.spec?.nodeName, undefined);
    assert.match(condition(unschedulable, 'PodScheduled')?.message ?? '', /unbound immediate PersistentVolumeClaims/);

    await client.create(ResourceTypes.PersistentVolumeClaim, claim('own', 'ReadWriteOnce'));
    const bound = await waitFor(
      async () => {
        const current = await getClaim('own');
        return current?.status?.phase === 'Bound' ? current : undefined;
      },
      { message: 'the ReadWriteOnce claim to be bound' },
    );
    assert.equal(bound.status?.capacity?.storage, '1Gi');
    const volume = await client.get<PersistentVolume>(ResourceTypes.PersistentVolume, {
      name: bound.spec?.volumeName ?? '',
    });
    assert.ok(volume);
    assert.equal(volume.spec?.claimRef?.uid, bound.metadata?.uid);
    assert.equal(volume.status?.phase, 'Bound');

    // Two pods mounting the same claim see the same directory.
    const writer = {
      name: 'write',
      image: 'python:3',
      command: ['sh', '-c', 'printf shared > "$1/file"', 'sh', '/cache'],
    };
    await client.create(ResourceTypes.Pod, podWith(namespace, 'writer', mounting('own', writer)));
    await podUntil(client, namespace, 'writer', isReady, 'the writer pod to become ready');
    const reader = {
      name: 'read',
      image: 'python:3',
      command: ['sh', '-c', 'cat "$1/file" > "$2"', 'sh', '/cache', '/dev/termination-log'],
    };
    await client.create(ResourceTypes.Pod, podWith(namespace, 'reader', mounting('own', reader)));
    const read = await podUntil(client, namespace, 'reader', isReady, 'the reader pod to become ready');
    assert.equal(read.status?.initContainerStatuses?.[0]?.state?.terminated?.message, 'shared');
    assert.ok(existsSync(join(await ns.claimDirectory('own'), 'file')));

    await client.patch(
      ResourceTypes.PersistentVolumeClaim,
      { namespace, name: 'own' },
      { spec: { resources: { requests: { storage: '2Gi' } } } },
    );
    await waitFor(async () => (await getClaim('own'))?.status?.capacity?.storage === '2Gi', {
      message: 'the claim status to show the new size',
    });
    const resized = await client.get<PersistentVolume>(ResourceTypes.PersistentVolume, {
      name: bound.spec?.volumeName ?? '',
    });
    assert.equal(resized?.spec?.capacity?.storage, '2Gi');
  });

  test('deleting a pod kills its running processes and removes the pod', async (t) => {
    const { name: namespace, client, dir } = await createTestNamespace(t, cluster);
    const initContainers = [{ name: 'slow', image: 'python:3', command: ['sleep', '600'] }];
    await client.create(
      ResourceTypes.Pod,
      podWith(namespace, 'slow', { initContainers, terminationGracePeriodSeconds: 30 }),
    );
    await podUntil(
      client,
      namespace,
      'slow',
      (pod) => pod.status?.initContainerStatuses?.[0]?.state?.running !== undefined,
      'the init container to run',
    );
    assert.equal(findSurvivors(dir).length, 1, 'the sleep process runs inside the simulator directory');
    await client.delete(ResourceTypes.Pod, { namespace, name: 'slow' });
    await waitFor(async () => (await getPod(client, namespace, 'slow')) === undefined, {
      message: 'the pod to be deleted',
    });
    assert.deepEqual(findSurvivors(dir), []);
  });
});
