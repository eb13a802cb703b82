// Our quantity grammar and stored form against the kube-apiserver's own: every quantity of the shared corpus is
// sent as an emptyDir's sizeLimit (a plain quantity) in a PodTemplate, which no controller acts on, and in a
// ResourceQuota (a ResourceList, whose hard limits take any non-negative quantity under a qualified name), read back,
// and compared with what src/kubernetes/quantity.ts says the apiserver stores; every refused one is refused there.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canonicalQuantity, canonicalResourceListQuantity, parseQuantity } from '../../src/kubernetes/quantity.ts';
import { KubeApiError, type KubeObject } from '../../src/runtime/kube/client.ts';
import type { ResourceType } from '../../src/runtime/kube/resources.ts';
import { acceptedQuantities, refusedQuantities, refusedThoughAccepted } from '../corpus/quantities.ts';
import { connectCluster, createTestNamespace } from '../support/integration.ts';

const cluster = await connectCluster();

const resourceQuotas: ResourceType = {
  apiVersion: 'v1',
  kind: 'ResourceQuota',
  plural: 'resourcequotas',
  namespaced: true,
};
const podTemplates: ResourceType = { apiVersion: 'v1', kind: 'PodTemplate', plural: 'podtemplates', namespaced: true };

interface PodTemplate extends KubeObject {
  template: { spec: { volumes: { name: string; emptyDir: { sizeLimit: string | number } }[] } };
}

interface ResourceQuota extends KubeObject {
  spec: { hard: Record<string, string | number> };
}

const quota = (namespace: string, name: string, hard: Record<string, string | number>): ResourceQuota => ({
  apiVersion: 'v1',
  kind: 'ResourceQuota',
  metadata: { namespace, name },
  spec: { hard },
});

// `requests.` names are neither standard (which would restrict the name) nor extended (which must be whole numbers).
const key = (index: number): string => `requests.quantities.kasprop.test/q${index}`;

test('the apiserver stores every accepted quantity as we say it does', async (t) => {
  const { name: namespace, client } = await createTestNamespace(t, cluster);
  const template = await client.create<PodTemplate>(podTemplates, {
    apiVersion: 'v1',
    kind: 'PodTemplate',
    metadata: { namespace, name: 'quantities' },
    template: {
      spec: {
        containers: [{ name: 'c', image: 'example.invalid/none' }],
        volumes: acceptedQuantities.map((input, index) => ({ name: `v${index}`, emptyDir: { sizeLimit: input } })),
      },
    },
  } as PodTemplate);
  const hard = Object.fromEntries(acceptedQuantities.map((input, index) => [key(index), input]));
  const created = await client.create(resourceQuotas, quota(namespace, 'accepted', hard));
  const differences = acceptedQuantities.flatMap((input, index) => {
    const plain = { stored: template.template.spec.volumes[index]?.emptyDir.sizeLimit, ours: canonicalQuantity(input) };
    const listed = { stored: created.spec.hard[key(index)], ours: canonicalResourceListQuantity(input) };
    const say = (where: string, { stored, ours }: typeof plain): string[] =>
      stored === ours ? [] : [`${JSON.stringify(input)} ${where}: apiserver ${String(stored)}, ours ${String(ours)}`];
    return [...say('as sizeLimit', plain), ...say('in a ResourceList', listed)];
  });
  assert.deepEqual(differences, []);
});

test('the apiserver refuses what we refuse as no quantity', async (t) => {
  const { name: namespace, client } = await createTestNamespace(t, cluster);
  const accepted: string[] = [];
  for (const [index, input] of refusedQuantities.entries()) {
    assert.equal(parseQuantity(input), undefined, input);
    try {
      await client.create(resourceQuotas, quota(namespace, `refused-${index}`, { [key(0)]: input }));
      accepted.push(input);
    } catch (error) {
      if (!(error instanceof KubeApiError) || error.status !== 400) throw error;
    }
  }
  assert.deepEqual(accepted, []);
});

test('what we refuse although the apiserver takes it: 1000E comes back as a far smaller number', async (t) => {
  const { name: namespace, client } = await createTestNamespace(t, cluster);
  const hard = Object.fromEntries(refusedThoughAccepted.map((input, index) => [key(index), input]));
  const created = await client.create(resourceQuotas, quota(namespace, 'beyond', hard));
  const stored = created.spec.hard[key(refusedThoughAccepted.indexOf('1000E'))];
  assert.equal(stored, '1');
  for (const input of refusedThoughAccepted) assert.equal(parseQuantity(input), undefined, input);
});
