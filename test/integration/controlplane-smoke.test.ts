// The real control plane does what the operator relies on: it serves the KasprApp CRD, validates against its schema,
// and garbage-collects owned children.
import assert from 'node:assert/strict';
import { suite, test } from 'node:test';
import type { ConfigMap } from 'kubernetes-types/core/v1.js';
import { KasprAppResource, kasprAppApiVersion, kasprAppKind, type KasprApp } from '../../src/api/types.ts';
import { KubeApiError, type KubeObject } from '../../src/runtime/kube/client.ts';
import { ResourceTypes } from '../../src/runtime/kube/resources.ts';
import { connectCluster, createTestNamespace, installKasprAppCrd, waitFor } from '../support/integration.ts';

const cluster = await connectCluster();

const kasprApp = (namespace: string, name: string): KasprApp => ({
  apiVersion: kasprAppApiVersion,
  kind: kasprAppKind,
  metadata: { name, namespace },
  spec: {
    replicas: 2,
    bootstrapServers: 'kafka:9092',
    pythonPackages: { packages: ['requests==2.32.3'], installPolicy: { onFailure: 'block' } },
  },
});

suite('control plane', { concurrency: true }, () => {
  test('the KasprApp CRD from crds/ is accepted and established', async () => {
    const crd = await installKasprAppCrd(cluster.client);
    assert.equal(crd.spec.names.kind, kasprAppKind);
    const accepted = crd.status?.conditions?.find((condition) => condition.type === 'NamesAccepted');
    assert.equal(accepted?.status, 'True');
  });

  test('a valid KasprApp is stored and an invalid one is rejected with the field paths', async (t) => {
    await installKasprAppCrd(cluster.client);
    const { name: namespace, client } = await createTestNamespace(t, cluster);

    const stored = await client.create(KasprAppResource, kasprApp(namespace, 'valid'));
    assert.equal(stored.spec.replicas, 2);
    assert.ok(stored.metadata.uid);

    const invalid = kasprApp(namespace, 'invalid');
    const spec = {
      ...invalid.spec,
      replicas: -1,
      pythonPackages: { packages: ['x'], installPolicy: { onFailure: 'sometimes' } },
    };
    const invalidObject: KubeObject & { spec: unknown } = { ...invalid, spec };
    await assert.rejects(client.create(KasprAppResource, invalidObject), (error: unknown) => {
      assert.ok(error instanceof KubeApiError);
      assert.equal(error.status, 422);
      assert.equal(error.reason, 'Invalid');
      assert.match(error.message, /spec\.replicas: Invalid value: -1: .*greater than or equal to 0/);
      assert.match(error.message, /spec\.pythonPackages\.installPolicy\.onFailure: Unsupported value: "sometimes"/);
      return true;
    });
    assert.equal(await client.get(KasprAppResource, { namespace, name: 'invalid' }), undefined);
  });

  test('the garbage collector deletes a ConfigMap owned by a deleted KasprApp', async (t) => {
    await installKasprAppCrd(cluster.client);
    const { name: namespace, client } = await createTestNamespace(t, cluster);
    const owner = await client.create(KasprAppResource, kasprApp(namespace, 'owner'));
    const ref = { namespace, name: 'owner-settings' };
    await client.create<ConfigMap>(ResourceTypes.ConfigMap, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        ...ref,
        ownerReferences: [
          {
            apiVersion: kasprAppApiVersion,
            kind: kasprAppKind,
            name: owner.metadata.name,
            uid: owner.metadata.uid ?? '',
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      },
      data: { 'settings.yaml': 'a: 1\n' },
    });

    await client.delete(KasprAppResource, { namespace, name: 'owner' }, { propagationPolicy: 'Background' });
    // The garbage collector notices a new CRD's objects only after its next discovery resync (every 30 s).
    await waitFor(async () => (await client.get(ResourceTypes.ConfigMap, ref)) === undefined, {
      timeoutMs: 90_000,
      intervalMs: 250,
      message: 'the garbage collector to delete the owned ConfigMap',
    });
  });
});
