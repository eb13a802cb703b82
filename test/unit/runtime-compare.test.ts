import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import type { ConfigMap } from 'kubernetes-types/core/v1.js';
import type { StatefulSet } from 'kubernetes-types/apps/v1.js';
import {
  appliedHashAnnotation,
  applyDecision,
  findMismatch,
  isSubset,
  objectHash,
  semanticallyEqual,
  stableStringify,
  withAppliedHash,
} from '../../src/runtime/compare.ts';

function statefulSet(initContainers: boolean): StatefulSet {
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: 'demo-app', namespace: 'ns', labels: { app: 'demo' } },
    spec: {
      serviceName: 'demo-app-headless',
      selector: { matchLabels: { app: 'demo' } },
      template: {
        metadata: { labels: { app: 'demo' } },
        spec: {
          ...(initContainers
            ? { initContainers: [{ name: 'install-packages', image: 'kaspr:1', args: ['install'] }] }
            : {}),
          containers: [
            {
              name: 'app',
              image: 'kaspr:1',
              env: [{ name: 'A', value: '1k' }],
              resources: { requests: { cpu: 0.5 as unknown as string, memory: '1024Mi' } },
              volumeMounts: [
                { name: 'data', mountPath: '/a', subPath: 'a' },
                { name: 'data', mountPath: '/b', subPath: 'b', readOnly: false },
              ],
            },
          ],
          volumes: [{ name: 'data', emptyDir: {} }],
        },
      },
    },
  };
}

/** What the API server gives back for `desired`: defaults added, quantities canonical, omitempty zero values gone. */
function served(desired: StatefulSet, hash: string): StatefulSet {
  const live = structuredClone(withAppliedHash(desired, hash));
  live.metadata = { ...live.metadata, uid: 'u1', resourceVersion: '7', generation: 1 };
  const spec = live.spec!;
  spec.replicas = 1;
  spec.podManagementPolicy = 'OrderedReady';
  const pod = spec.template.spec!;
  pod.restartPolicy = 'Always';
  pod.dnsPolicy = 'ClusterFirst';
  for (const container of [...(pod.initContainers ?? []), ...pod.containers]) {
    container.terminationMessagePath = '/dev/termination-log';
    container.imagePullPolicy = 'IfNotPresent';
    for (const mount of container.volumeMounts ?? []) delete mount.readOnly;
  }
  pod.containers[0]!.resources = { requests: { cpu: '500m', memory: '1Gi' } };
  // Another manager added a sidecar; our apply would never remove it.
  pod.containers.push({ name: 'sidecar', image: 'proxy:2' });
  // Reverse so that name-keyed lists are matched regardless of order.
  pod.containers[0]!.volumeMounts!.reverse();
  return live;
}

describe('stable hashing', () => {
  test('key order does not matter, array order does', () => {
    assert.equal(
      stableStringify({ b: 1, a: { d: 2, c: [3, { f: 1, e: 2 }] } }),
      '{"a":{"c":[3,{"e":2,"f":1}],"d":2},"b":1}',
    );
    assert.equal(objectHash({ a: 1, b: 2 }), objectHash({ b: 2, a: 1 }));
    assert.notEqual(objectHash({ a: [1, 2] }), objectHash({ a: [2, 1] }));
    assert.match(objectHash({}), /^[0-9a-f]{32}$/);
  });

  test('the output is that of JSON.stringify over copies with sorted keys (applied hashes must not change)', () => {
    // The implementation stableStringify replaced: every hash annotation in a cluster was computed with it.
    const reference = (value: unknown): string =>
      JSON.stringify(value, (_key, inner: unknown) => {
        if (inner === null || typeof inner !== 'object' || Array.isArray(inner)) return inner;
        const sorted: Record<string, unknown> = {};
        for (const key of Object.keys(inner).sort()) sorted[key] = (inner as Record<string, unknown>)[key];
        return sorted;
      });
    const goldens = new URL('../golden/', import.meta.url);
    const rendered = readdirSync(goldens).flatMap((file) =>
      parseAllDocuments(readFileSync(new URL(file, goldens), 'utf8')).map((d) => d.toJS() as unknown),
    );
    const program = `#!/bin/sh\necho "\u00e9t\u00e9 \u2014 \\ \t"\n`.repeat(200);
    const corpus: unknown[] = [
      ...rendered,
      { data: { 'installer.py': program, 'bootstrap.sh': program.slice(1) }, again: program },
      { b: undefined, a: null, c: [undefined, () => 1, Symbol('s'), NaN, -0, 1e21], d: { f: () => 1 } },
      { '10': 'ten', '2': 'two', b: 1, a: 2, '01': 'not an index', '4294967295': 'not one either', '-1': 'no' },
      { when: new Date(0), nested: [[[]], {}, [{ z: 1, y: [2, { x: 3 }] }]] },
      'top',
      42,
      null,
      true,
      [],
      {},
    ];
    for (const value of corpus) assert.equal(stableStringify(value), reference(value));
    // A second time: long strings' JSON forms are remembered.
    for (const value of corpus) assert.equal(stableStringify(value), reference(value));
  });

  test('a removed field changes the hash', () => {
    assert.notEqual(objectHash(statefulSet(true)), objectHash(statefulSet(false)));
  });

  test('withAppliedHash adds the annotation to a copy', () => {
    const desired: ConfigMap = { metadata: { name: 'c', annotations: { keep: 'me' } }, data: { a: 'b' } };
    const annotated = withAppliedHash(desired, 'abc');
    assert.deepEqual(annotated.metadata?.annotations, { keep: 'me', [appliedHashAnnotation]: 'abc' });
    assert.deepEqual(desired.metadata?.annotations, { keep: 'me' });
  });
});

describe('applyDecision', () => {
  const desired = statefulSet(true);
  const hash = objectHash(desired);
  const live = served(desired, hash);

  test('absent -> apply', () => {
    assert.deepEqual(applyDecision(desired, undefined, hash), { apply: true, reason: 'absent' });
  });

  test('the served object of our own apply is unchanged, despite defaults, canonical quantities and extra items', () => {
    assert.deepEqual(applyDecision(desired, live, hash), { apply: false });
  });

  test('a live object listed without apiVersion and kind is unchanged', () => {
    const { apiVersion: _a, kind: _k, ...listed } = live;
    assert.deepEqual(applyDecision(desired, listed, hash), { apply: false });
  });

  test('a changed field changes the hash -> apply', () => {
    const changed = statefulSet(true);
    changed.spec!.template.spec!.containers[0]!.image = 'kaspr:2';
    assert.deepEqual(applyDecision(changed, live, objectHash(changed)), { apply: true, reason: 'changed' });
  });

  test('a REMOVED field is seen through the hash, though the live object is still a superset', () => {
    const without = statefulSet(false);
    assert.equal(isSubset(without, live), true, 'a subset check alone would miss the removed init container');
    assert.deepEqual(applyDecision(without, live, objectHash(without)), { apply: true, reason: 'changed' });
  });

  test('a missing hash annotation (object made by someone else) -> apply', () => {
    const foreign = structuredClone(live);
    foreign.metadata!.annotations = {};
    assert.deepEqual(applyDecision(desired, foreign, hash), { apply: true, reason: 'changed' });
  });

  test('drift in a field we own -> apply, with the path', () => {
    const drifted = structuredClone(live);
    drifted.spec!.template.spec!.containers.find((c) => c.name === 'app')!.env![0]!.value = '1000';
    assert.deepEqual(applyDecision(desired, drifted, hash), {
      apply: true,
      reason: 'drift',
      path: 'spec.template.spec.containers[name=app].env[name=A].value',
    });
  });

  test('drift by removal of a field or item we own -> apply', () => {
    const noLabel = structuredClone(live);
    delete noLabel.metadata!.labels;
    assert.deepEqual(applyDecision(desired, noLabel, hash), {
      apply: true,
      reason: 'drift',
      path: 'metadata.labels',
    });
    const noInit = structuredClone(live);
    delete noInit.spec!.template.spec!.initContainers;
    assert.deepEqual(applyDecision(desired, noInit, hash), {
      apply: true,
      reason: 'drift',
      path: 'spec.template.spec.initContainers',
    });
    const noMount = structuredClone(live);
    noMount.spec!.template.spec!.containers[0]!.volumeMounts!.pop();
    assert.equal(applyDecision(desired, noMount, hash).apply, true, 'one of two mounts of the same volume is gone');
  });

  test('drift in a quantity -> apply', () => {
    const drifted = structuredClone(live);
    drifted.spec!.template.spec!.containers[0]!.resources!.requests!.memory = '2Gi';
    assert.deepEqual(applyDecision(desired, drifted, hash), {
      apply: true,
      reason: 'drift',
      path: 'spec.template.spec.containers[name=app].resources.requests.memory',
    });
  });
});

describe('findMismatch normalization', () => {
  test('quantities compare by value only where quantities live', () => {
    assert.equal(findMismatch({ requests: { cpu: 1 } }, { requests: { cpu: '1' } }), undefined);
    assert.equal(findMismatch({ limits: { cpu: '0.1' } }, { limits: { cpu: '100m' } }), undefined);
    assert.equal(findMismatch({ requests: { storage: '1024Mi' } }, { requests: { storage: '1Gi' } }), undefined);
    assert.equal(findMismatch({ requests: { storage: '1e3' } }, { requests: { storage: '1k' } }), undefined);
    assert.equal(findMismatch({ emptyDir: { sizeLimit: '1G' } }, { emptyDir: { sizeLimit: '1000M' } }), undefined);
    assert.equal(findMismatch({ target: { averageValue: 0.5 } }, { target: { averageValue: '500m' } }), undefined);
    assert.equal(findMismatch({ requests: { storage: '1Gi' } }, { requests: { storage: '1G' } }), 'requests.storage');
    // Exact values, as the apiserver stores them: sub-milli values in a ResourceList are rounded up to 1m.
    assert.equal(findMismatch({ requests: { cpu: 0.0005 } }, { requests: { cpu: '1m' } }), undefined);
    assert.equal(findMismatch({ requests: { cpu: '1500u' } }, { requests: { cpu: '2m' } }), undefined);
    assert.equal(findMismatch({ emptyDir: { sizeLimit: 0.0005 } }, { emptyDir: { sizeLimit: '500u' } }), undefined);
    assert.equal(
      findMismatch({ emptyDir: { sizeLimit: '1n' } }, { emptyDir: { sizeLimit: '1m' } }),
      'emptyDir.sizeLimit',
    );
    assert.equal(findMismatch({ limits: { memory: '1000001' } }, { limits: { memory: '1M' } }), 'limits.memory');
    assert.equal(
      findMismatch({ env: { value: '1k' } }, { env: { value: '1000' } }),
      'env.value',
      'not a quantity field',
    );
    assert.equal(findMismatch({ replicas: 1 }, { replicas: '1' }), 'replicas');
  });

  test('zero values equal absent fields; null asks for nothing', () => {
    assert.equal(findMismatch({ a: '', b: 0, c: false, d: {}, e: [] }, {}), undefined);
    assert.equal(findMismatch({ a: null }, { a: 'x' }), undefined);
    assert.equal(findMismatch({ a: false }, { a: true }), 'a');
    assert.equal(findMismatch({ replicas: 0 }, { replicas: 1 }), 'replicas');
  });

  test('positional lists need the same length and items', () => {
    assert.equal(findMismatch({ args: ['a', 'b'] }, { args: ['a', 'b'] }), undefined);
    assert.equal(findMismatch({ args: ['a'] }, { args: ['a', 'b'] }), 'args');
    assert.equal(findMismatch({ args: ['a', 'b'] }, { args: ['b', 'a'] }), 'args[0]');
    assert.equal(
      findMismatch({ t: [{ key: 'k', effect: 'x' }] }, { t: [{ key: 'k', effect: 'x', op: 'E' }] }),
      undefined,
    );
  });

  test('name-keyed lists match by name, in any order, with extra items allowed in subset mode', () => {
    const desired = {
      c: [
        { name: 'a', v: 1 },
        { name: 'b', v: 2 },
      ],
    };
    assert.equal(findMismatch(desired, { c: [{ name: 'x' }, { name: 'b', v: 2 }, { name: 'a', v: 1 }] }), undefined);
    assert.equal(findMismatch(desired, { c: [{ name: 'a', v: 1 }] }), 'c[name=b]');
    assert.equal(
      findMismatch(desired, {
        c: [
          { name: 'a', v: 1 },
          { name: 'b', v: 3 },
        ],
      }),
      'c[name=b].v',
    );
  });

  test('equal mode (status) sees extra and removed fields', () => {
    const status = { phase: 'Ready', conditions: [{ type: 'Ready', status: 'True' }], hash: 'h' };
    assert.equal(semanticallyEqual(status, structuredClone(status)), true);
    assert.equal(semanticallyEqual(status, { ...status, error: 'boom' }), false, 'a field we no longer set');
    assert.equal(semanticallyEqual(status, { ...status, error: '' }), true, 'an empty extra is no difference');
    assert.equal(semanticallyEqual(status, { ...status, conditions: [...status.conditions, { type: 'X' }] }), false);
    assert.equal(semanticallyEqual({ ...status, installed: [] }, status), true);
    assert.equal(semanticallyEqual(status, undefined), false);
    assert.equal(findMismatch({ a: { b: 1 } }, { a: { b: 1, c: 2 } }, 'equal'), 'a.c');
  });
});
