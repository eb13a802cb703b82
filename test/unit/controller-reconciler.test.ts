// The reconcile layer without a cluster: the real reconciler, Applier and EventRecorder over a recording fake of the
// narrow client interface they use (exchange, delete, create), and a fake cache (the informers' view). A fake
// because the order of requests and a refusal of one child in the middle are what the real apiserver cannot be made
// to show on demand; test/integration covers the same paths against the real one.
import { FreshObjects } from '../../src/runtime/fresh-objects.ts';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Event, Pod } from 'kubernetes-types/core/v1.js';
import { Registry } from 'prom-client';
import type { KasprApp } from '../../src/api/types.ts';
import { validateKasprApp } from '../../src/api/validation.ts';
import { EventRecorder } from '../../src/controller/event-recorder.ts';
import { InstallLedger } from '../../src/controller/install-ledger.ts';
import { PackageMetrics } from '../../src/controller/package-metrics.ts';
import { KasprAppReconciler, type ReconcilerView } from '../../src/controller/reconciler.ts';
import { defaultOperatorSettings } from '../../src/model/operator-settings.ts';
import { installerDigest } from '../../src/packages/installer-files.ts';
import { Applier } from '../../src/runtime/applier.ts';
import { KubeApiError, type Exchange, type KubeObject, type RequestOptions } from '../../src/runtime/kube/client.ts';
import { resourcePath, type ResourceType } from '../../src/runtime/kube/resources.ts';
import { createLogger } from '../../src/runtime/logger.ts';

interface Recorded {
  readonly verb: string;
  readonly path: string;
  readonly body?: unknown;
}

/** A fake of the client calls the Applier and EventRecorder make: records each, answers as an apiserver would. */
class RecordingClient {
  readonly requests: Recorded[] = [];
  /** Paths whose PATCH the "apiserver" refuses. */
  readonly refused = new Map<string, KubeApiError>();

  exchange<T>(options: RequestOptions): Promise<Exchange<T>> {
    this.requests.push({ verb: options.verb, path: options.path, body: options.body });
    const refusal = this.refused.get(options.path);
    if (refusal !== undefined) return Promise.reject(refusal);
    return Promise.resolve({ status: 201, body: options.body as T });
  }

  delete(type: ResourceType, ref: { namespace?: string | undefined; name: string }): Promise<boolean> {
    this.requests.push({ verb: 'DELETE', path: resourcePath(type, ref) });
    return Promise.resolve(true);
  }

  create<T extends KubeObject>(type: ResourceType, object: T): Promise<T> {
    this.requests.push({
      verb: 'POST',
      path: resourcePath(type, { namespace: object.metadata?.namespace }),
      body: object,
    });
    return Promise.resolve(object);
  }
}

/** The informers' caches, as plain maps the test fills. */
class FakeView implements ReconcilerView {
  readonly objects = new Map<string, KubeObject>();
  app: KasprApp;
  pods: Pod[] = [];

  constructor(app: KasprApp) {
    this.app = app;
  }

  readonly apps = {
    getByKey: (key: string): KasprApp | undefined =>
      key === `${this.app.metadata.namespace ?? ''}/${this.app.metadata.name}` ? this.app : undefined,
    list: (): KasprApp[] => [this.app],
  };

  child = (type: ResourceType, namespace: string, name: string): KubeObject | undefined =>
    this.objects.get(resourcePath(type, { namespace, name }));

  childrenOf = (type: ResourceType): KubeObject[] =>
    [...this.objects.entries()]
      .filter(([path]) => path.startsWith(resourcePath(type, { namespace: 'streams' }) + '/'))
      .map(([, o]) => o);

  podsOf = (): Pod[] => this.pods;
  eventsOfClaim = (): Event[] => [];

  /** What the recorded applies wrote becomes the cache, as the watches would deliver it. */
  absorb(requests: readonly Recorded[]): void {
    for (const r of requests) {
      if (r.verb !== 'PATCH') continue;
      if (r.path.endsWith('/status')) {
        this.app = { ...this.app, status: (r.body as { status: KasprApp['status'] }).status };
      } else {
        this.objects.set(r.path, r.body as KubeObject);
      }
    }
  }
}

const uid = '6f1b7c2e-0000-4000-8000-000000000001';

function app(): KasprApp {
  const result = validateKasprApp({
    apiVersion: 'kaspr.io/v1alpha1',
    kind: 'KasprApp',
    metadata: { name: 'orders', namespace: 'streams', uid, generation: 1 },
    spec: {
      bootstrapServers: 'kafka:9092',
      replicas: 2,
      pythonPackages: { packages: ['requests==2.31.0'] },
    },
  });
  assert.ok(result.ok);
  return result.valid.app;
}

function setUp(): { client: RecordingClient; view: FakeView; reconciler: KasprAppReconciler } {
  const client = new RecordingClient();
  const view = new FakeView(app());
  const logger = createLogger({ sink: { write: () => undefined } });
  const now = () => new Date('2026-01-01T00:00:00Z');
  const reconciler = new KasprAppReconciler({
    view,
    freshApps: new FreshObjects<KasprApp>(),
    applier: new Applier(client),
    events: new EventRecorder(client, 'test', logger, now),
    metrics: new PackageMetrics(new Registry()),
    ledger: new InstallLedger(),
    settings: defaultOperatorSettings,
    logger,
    now,
  });
  return { client, view, reconciler };
}

const core = '/api/v1/namespaces/streams';
const childPaths = [
  `${core}/serviceaccounts/orders-app`,
  `${core}/configmaps/orders-app-config`,
  `${core}/services/orders-app-api`,
  `${core}/services/orders-app`,
  `${core}/configmaps/orders-app-installer-${installerDigest}`,
  `${core}/persistentvolumeclaims/orders-app-python-packages`,
  '/apis/apps/v1/namespaces/streams/statefulsets/orders-app',
  '/apis/autoscaling/v2/namespaces/streams/horizontalpodautoscalers/orders-app-hpa',
];
const statusPath = '/apis/kaspr.io/v1alpha1/namespaces/streams/kasprapps/orders/status';
const signal = new AbortController().signal;

describe('the reconciler over a recording client', () => {
  test('a new app: every child applied in order, then its events, then the status', async () => {
    const { client, reconciler } = setUp();
    await reconciler.reconcile('streams/orders', signal);
    const patches = client.requests.filter((r) => r.verb === 'PATCH').map((r) => r.path);
    assert.deepEqual(patches, [...childPaths, statusPath]);
    const last = client.requests.at(-1);
    assert.equal(last?.path, statusPath, 'the status comes after everything else, events included');
    const events = () => client.requests.filter((r) => r.verb === 'POST').map((r) => (r.body as Event).reason);
    assert.deepEqual(events(), ['PackagesInstalling']);
  });

  test('ClaimCreated comes from the claim the cache shows, once, not from the apply that created it', async () => {
    const { client, view, reconciler } = setUp();
    await reconciler.reconcile('streams/orders', signal);
    view.absorb(client.requests);
    const claimPath = `${core}/persistentvolumeclaims/orders-app-python-packages`;
    const claim = view.objects.get(claimPath)!;
    view.objects.set(claimPath, { ...claim, metadata: { ...claim.metadata, uid: 'claim-1' } });
    const claimEvents = () =>
      client.requests.filter((r) => r.verb === 'POST' && (r.body as Event).reason === 'ClaimCreated');
    assert.equal(claimEvents().length, 0, 'not before the cache shows the claim');
    for (let pass = 0; pass < 2; pass++) {
      const before = client.requests.length;
      await reconciler.reconcile('streams/orders', signal);
      view.absorb(client.requests.slice(before));
    }
    assert.equal(claimEvents().length, 1);
  });

  test('a child the apiserver refuses holds back none of the later ones, and the app says which', async () => {
    const { client, reconciler } = setUp();
    const claim = `${core}/persistentvolumeclaims/orders-app-python-packages`;
    client.refused.set(claim, new KubeApiError(422, { message: 'spec.resources: Forbidden: cannot shrink' }, ''));
    await assert.rejects(reconciler.reconcile('streams/orders', signal), /orders-app-python-packages: spec.resources/);
    const patches = client.requests.filter((r) => r.verb === 'PATCH').map((r) => r.path);
    assert.deepEqual(patches, [...childPaths, statusPath], 'the StatefulSet and the HPA are still applied');
    const event = client.requests.find((r) => r.verb === 'POST' && (r.body as Event).reason === 'ApplyFailed');
    assert.match((event?.body as Event | undefined)?.message ?? '', /orders-app-python-packages/);
    const status = (client.requests.at(-1)?.body as { status: KasprApp['status'] }).status;
    const ready = status?.conditions?.find((c) => c.type === 'Ready');
    assert.deepEqual([ready?.status, ready?.reason], ['False', 'ApplyFailed']);
  });

  test('a reconcile over its own results sends nothing', async () => {
    const { client, view, reconciler } = setUp();
    for (let pass = 0; pass < 3; pass++) {
      const before = client.requests.length;
      await reconciler.reconcile('streams/orders', signal);
      view.absorb(client.requests.slice(before));
    }
    const before = client.requests.length;
    await reconciler.reconcile('streams/orders', signal);
    assert.deepEqual(client.requests.slice(before), []);
  });

  test("an earlier installer's ConfigMap goes after the rollout, not during it", async () => {
    const { client, view, reconciler } = setUp();
    await reconciler.reconcile('streams/orders', signal);
    view.absorb(client.requests);
    const old = `${core}/configmaps/orders-app-installer-0000000000`;
    view.objects.set(old, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: 'orders-app-installer-0000000000',
        namespace: 'streams',
        uid: 'old',
        labels: { 'kaspr.io/app': 'orders', 'kaspr.io/component': 'python-packages-installer' },
      },
    });
    const statefulSetPath = childPaths[6]!;
    const withStatus = (currentRevision: string): KubeObject => {
      const applied = view.objects.get(statefulSetPath)!;
      return {
        ...applied,
        metadata: { ...applied.metadata, generation: 2 },
        status: { replicas: 2, observedGeneration: 2, currentRevision, updateRevision: 'orders-app-new' },
      } as KubeObject;
    };
    const deletes = () => client.requests.filter((r) => r.verb === 'DELETE').map((r) => r.path);

    view.objects.set(statefulSetPath, withStatus('orders-app-old'));
    await reconciler.reconcile('streams/orders', signal);
    assert.deepEqual(deletes(), [], 'kept while the rollout is under way');

    view.objects.set(statefulSetPath, withStatus('orders-app-new'));
    await reconciler.reconcile('streams/orders', signal);
    assert.deepEqual(deletes(), [old]);
  });
});
