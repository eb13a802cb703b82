// Records core/v1 Events on a KasprApp, as `kubectl describe kasprapp` shows them, exactly once per transition.
// Every event the operator records derives from the app's state (events.ts): the reconciler records it before the
// status write that marks the transition, so a reconcile that fails in between (or an operator that dies there)
// leaves the transition to be derived again by the next one. The event's name is derived too, from the app, the
// status it was derived from and the event itself: recording it again is a 409 AlreadyExists, which means done.
// That also covers a create the apiserver committed but whose answer never came.
// A failure other than "no answer" or "namespace being deleted" (which stop the reconcile) is logged, not thrown:
// an event the apiserver refuses for good must not hold the status back.
import { createHash } from 'node:crypto';
import type { Event } from 'kubernetes-types/core/v1.js';
import type { KasprApp } from '../api/types.ts';
import { isConflict, isNamespaceTerminating, isTransportError, type KubeClient } from '../runtime/kube/client.ts';
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
      metadata: { name: eventName(app, event), namespace },
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
      if (isConflict(error)) return;
      if (isTransportError(error) || isNamespaceTerminating(error)) throw error;
      this.#logger.warn('could not record an event', { reason: event.reason, error: String(error) });
    }
  }
}

/**
 * The same for every reconcile that derives this event from this state of the app: its uid, the status the
 * transition was derived from (a status write changes it, so a later transition of the same kind gets a new name)
 * and the event.
 */
export function eventName(app: KasprApp, event: AppEvent): string {
  const digest = createHash('sha256')
    .update(JSON.stringify([app.metadata.uid ?? '', app.status ?? null, event.type, event.reason, event.message]))
    .digest('hex');
  return `${app.metadata.name}.${digest.slice(0, 16)}`;
}
