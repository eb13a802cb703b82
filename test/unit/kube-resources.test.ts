import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resourcePath, ResourceTypes } from '../../src/runtime/kube/resources.ts';

test('core, grouped, cluster-scoped and subresource paths', () => {
  assert.equal(resourcePath(ResourceTypes.Pod, { namespace: 'ns' }), '/api/v1/namespaces/ns/pods');
  assert.equal(
    resourcePath(ResourceTypes.StatefulSet, { namespace: 'ns', name: 'a-app', subresource: 'status' }),
    '/apis/apps/v1/namespaces/ns/statefulsets/a-app/status',
  );
  assert.equal(resourcePath(ResourceTypes.Node, { namespace: 'ignored', name: 'n1' }), '/api/v1/nodes/n1');
  assert.equal(resourcePath(ResourceTypes.Pod), '/api/v1/pods');
});

test('names are path-encoded', () => {
  assert.equal(
    resourcePath(ResourceTypes.ConfigMap, { namespace: 'ns', name: 'a/b' }),
    '/api/v1/namespaces/ns/configmaps/a%2Fb',
  );
});
