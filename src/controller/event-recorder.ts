// Records core/v1 Events on a KasprApp, as `kubectl describe kasprapp` shows them. Events are best effort: a
// failure to record one is logged and never fails a reconcile.
import { randomBytes } from 'node:crypto';
import type { Event } from 'kubernetes-types/core/v1.js';
import type { KasprApp } from '../api/types.ts';
import type { KubeClient } from '../runtime/kube/client.ts';
import { ResourceTypes } from '../runtime/kube/resources.ts';
import type { Logger } from '../runtime/logger.ts';
import type { AppEvent } from './events.ts';

/** The apiserver caps an event message at 1 KiB. */
const maxMessage = 1024;

export class EventRecorder {
  readonly #client: Pick<KubeClient, 'create'>;
  readonly #instance: string;
  readonly #logger: Logger;
  readonly #now: () => Date;

  constructor(
    client: Pick<KubeClient, 'create'>,
    instance: string,
    logger: Logger,
    now: () => Date = () => new Date(),
  ) {
    this.#client = client;
    this.#instance = instance;
    this.#logger = logger;
    this.#now = now;
  }

  async record(app: KasprApp, event: AppEvent): Promise<void> {
    const namespace = app.metadata.namespace ?? 'default';
    const time = this.#now().toISOString();
    const body: Event = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: `${app.metadata.name}.${randomBytes(8).toString('hex')}`, namespace },
      involvedObject: {
        apiVersion: app.apiVersion,
        kind: app.kind,
        name: app.metadata.name,
        namespace,
        uid: app.metadata.uid,
        resourceVersion: app.metadata.resourceVersion,
      },
      type: event.type,
      reason: event.reason,
      message: event.message.length > maxMessage ? `${event.message.slice(0, maxMessage - 3)}...` : event.message,
      source: { component: 'kasprop' },
      reportingComponent: 'kasprop',
      reportingInstance: this.#instance,
      firstTimestamp: time,
      lastTimestamp: time,
      count: 1,
    };
    try {
      await this.#client.create(ResourceTypes.CoreEvent, body);
    } catch (error) {
      this.#logger.warn('could not record an event', { reason: event.reason, error: String(error) });
    }
  }
}
