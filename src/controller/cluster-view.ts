// What the operator sees of the cluster: one informer per type it reads, each cache indexed by the app an object
// belongs to. Reconciles read only from here (never LIST or GET on the hot path), and every change of a watched
// object is turned into the key of the KasprApp it belongs to.
import type { Event, Pod } from 'kubernetes-types/core/v1.js';
import { KasprAppResource, kasprAppKind, type KasprApp } from '../api/types.ts';
import { managedBy } from '../model/labels.ts';
import type { KubeClient, KubeObject } from '../runtime/kube/client.ts';
import { ResourceTypes, type ResourceType } from '../runtime/kube/resources.ts';
import { dropManagedFields, Informer, objectKey } from '../runtime/informer.ts';
import { Semaphore } from '../runtime/semaphore.ts';
import { StringInterner } from '../runtime/string-interning.ts';
import type { Logger } from '../runtime/logger.ts';
import { childTypes } from './steps.ts';

export { childTypes };

const appLabel = 'kaspr.io/app';
const managedSelector = `app.kubernetes.io/managed-by=${managedBy}`;
const byApp = 'app';

/** `namespace/app` from an object's labels, the queue key of its KasprApp. */
function appKeyOf(object: KubeObject): string[] {
  const app = object.metadata?.labels?.[appLabel];
  return app === undefined ? [] : [`${object.metadata?.namespace ?? ''}/${app}`];
}

/**
 * Pods are the most numerous objects the operator caches, and it needs only their identity, annotations and init
 * container statuses (status), and which ConfigMaps they mount (an installer ConfigMap stays while a pod mounts it,
 * installer-config-maps.ts): keep just that.
 */
export function slimPod(pod: Pod): Pod {
  const meta = pod.metadata ?? {};
  const configMapVolumes = (pod.spec?.volumes ?? []).flatMap((v) =>
    v.configMap === undefined ? [] : [{ name: v.name, configMap: { name: v.configMap.name } }],
  );
  return {
    metadata: {
      name: meta.name,
      namespace: meta.namespace,
      uid: meta.uid,
      labels: meta.labels,
      annotations: meta.annotations,
      resourceVersion: meta.resourceVersion,
    },
    ...(configMapVolumes.length > 0 && { spec: { containers: [], volumes: configMapVolumes } }),
    ...(pod.status && { status: { phase: pod.status.phase, initContainerStatuses: pod.status.initContainerStatuses } }),
  };
}

export interface ClusterViewOptions {
  readonly client: KubeClient;
  /** Namespaces to watch; undefined or empty means all. */
  readonly namespaces?: readonly string[] | undefined;
  readonly resyncPeriodMs?: number;
  readonly logger: Logger;
}

export class ClusterView {
  readonly apps: Informer<KasprApp>;
  readonly #children = new Map<ResourceType, Informer<KubeObject>>();
  readonly pods: Informer<Pod>;
  readonly claimEvents: Informer<Event>;

  constructor({ client, namespaces, resyncPeriodMs, logger }: ClusterViewOptions) {
    // After an apiserver restart every informer relists at the same moment, and a page of StatefulSets, pods or
    // ConfigMaps is held raw, as text and parsed, until it is prepared: one LIST at a time, in pages of 100, keeps
    // that to one page (npm run bench: the peak RSS across a 30 s outage).
    const common = {
      client,
      namespaces,
      logger,
      connectivity: client.connectivity,
      pageSize: 100,
      listSlots: new Semaphore(1),
    };
    // The strings every app's objects repeat (labels, apiVersions, env names, paths, the installer program of every
    // installer ConfigMap) are held once, however many apps there are (npm run bench: the RSS with 1000 apps).
    const interner = new StringInterner();
    const interned =
      <T extends KubeObject>(transform: (object: T) => T) =>
      (object: T): T =>
        interner.internDeep(transform(object));
    this.apps = new Informer<KasprApp>({
      ...common,
      type: KasprAppResource,
      resyncPeriodMs,
      transform: interned(dropManagedFields),
    });
    const slimChild = interned(dropManagedFields);
    for (const type of childTypes) {
      this.#children.set(
        type,
        new Informer<KubeObject>({
          ...common,
          // An installer ConfigMap holds about 67 KB: a page of 100 was 6.7 MB of raw answer, held two or three times
          // over (the chunks, their concatenation, the parsed objects) at the peak of a relist; 10 keep it under 1 MB.
          ...(type === ResourceTypes.ConfigMap && { pageSize: 10 }),
          type,
          labelSelector: managedSelector,
          transform: slimChild,
          indexers: { [byApp]: appKeyOf },
        }),
      );
    }
    this.pods = new Informer<Pod>({
      ...common,
      type: ResourceTypes.Pod,
      labelSelector: `${managedSelector},kaspr.io/kind=${kasprAppKind}`,
      transform: interned(slimPod),
      indexers: { [byApp]: appKeyOf },
    });
    // An external provisioner reports a claim it cannot provision only through events.
    this.claimEvents = new Informer<Event>({
      ...common,
      type: ResourceTypes.CoreEvent,
      fieldSelector: 'involvedObject.kind=PersistentVolumeClaim,reason=ProvisioningFailed',
      transform: interned(dropManagedFields),
      indexers: { claim: (e) => [`${e.involvedObject.namespace ?? ''}/${e.involvedObject.name ?? ''}`] },
    });
  }

  get informers(): Informer<KubeObject>[] {
    return [this.apps, ...this.#children.values(), this.pods, this.claimEvents] as Informer<KubeObject>[];
  }

  /** Calls `enqueue` with the app key of every change that may matter to a KasprApp. */
  onChange(enqueue: (key: string) => void): void {
    this.apps.addHandlers({
      onAdd: (app) => enqueue(objectKey(app)),
      // Our own status writes come back as updates; only a new generation or metadata change needs a reconcile.
      onUpdate: (before, after) => {
        if (specOrMetadataChanged(before, after)) enqueue(objectKey(after));
      },
      onDelete: (app) => enqueue(objectKey(app)),
      onResync: (app) => enqueue(objectKey(app)),
    });
    const byLabel = {
      onAdd: (o: KubeObject) => appKeyOf(o).forEach(enqueue),
      onUpdate: (_: KubeObject, o: KubeObject) => appKeyOf(o).forEach(enqueue),
      onDelete: (o: KubeObject) => appKeyOf(o).forEach(enqueue),
    };
    for (const informer of this.#children.values()) informer.addHandlers(byLabel);
    this.pods.addHandlers(byLabel);
    const claimOwner = (event: Event): void => {
      const { namespace, name } = event.involvedObject;
      if (namespace === undefined || name === undefined) return;
      const claim = this.child(ResourceTypes.PersistentVolumeClaim, namespace, name);
      if (claim) appKeyOf(claim).forEach(enqueue);
    };
    this.claimEvents.addHandlers({ onAdd: claimOwner, onUpdate: (_, e) => claimOwner(e) });
  }

  start(): void {
    for (const informer of this.informers) informer.start();
  }

  async stop(): Promise<void> {
    await Promise.all(this.informers.map((i) => i.stop()));
  }

  synced(): boolean {
    return this.informers.every((i) => i.hasSynced());
  }

  async waitForSync(signal?: AbortSignal): Promise<boolean> {
    const results = await Promise.all(this.informers.map((i) => i.waitForSync(signal)));
    return results.every(Boolean);
  }

  child(type: ResourceType, namespace: string, name: string): KubeObject | undefined {
    return this.#children.get(type)?.get(namespace, name);
  }

  /** The app's children of one type (by their `kaspr.io/app` label), e.g. every installer ConfigMap it has. */
  childrenOf(type: ResourceType, appKey: string): KubeObject[] {
    return this.#children.get(type)?.byIndex(byApp, appKey) ?? [];
  }

  podsOf(appKey: string): Pod[] {
    return this.pods.byIndex(byApp, appKey);
  }

  eventsOfClaim(namespace: string, name: string): Event[] {
    return this.claimEvents.byIndex('claim', `${namespace}/${name}`);
  }
}

function specOrMetadataChanged(before: KasprApp, after: KasprApp): boolean {
  const a = before.metadata;
  const b = after.metadata;
  return (
    a.generation !== b.generation ||
    a.deletionTimestamp !== b.deletionTimestamp ||
    a.uid !== b.uid ||
    JSON.stringify(a.labels) !== JSON.stringify(b.labels) ||
    JSON.stringify(a.annotations) !== JSON.stringify(b.annotations)
  );
}
