// Writes desired objects with server-side apply, and writes nothing when the cached live object already is what we
// would apply: a converged operator must send no mutating request however often it reconciles (decision 6).
// Every write goes through here, so "what changed and why" is answered in one place.
import type { KubeClient, KubeObject } from './kube/client.ts';
import { isConflict, isNotFound } from './kube/client.ts';
import { resourcePath, type ResourceType } from './kube/resources.ts';
import { appliedHashAnnotation, applyDecision, objectHash, semanticallyEqual, withAppliedHash } from './compare.ts';

export type ApplyResult = 'created' | 'patched' | 'unchanged';
export type DeleteResult = 'deleted' | 'unchanged';

export interface ApplyOutcome<T> {
  readonly result: ApplyResult;
  /** After a write, the object the server returned; otherwise the live object that was given. */
  readonly object: T;
  /** Why a write was sent: 'absent', 'changed' (our input changed) or 'drift at <path>'. Absent when unchanged. */
  readonly reason?: string;
}

export interface ApplierOptions {
  /** Field manager of every apply; default 'kasprop'. */
  readonly fieldManager?: string;
  /** Annotation holding the input hash; default kasprop.io/applied-hash. */
  readonly hashAnnotation?: string;
}

export interface WriteOptions {
  /** Aborts the request, e.g. when leadership is lost mid-reconcile. */
  readonly signal?: AbortSignal;
}

export type ApplierClient = Pick<KubeClient, 'exchange' | 'delete'>;

export class Applier {
  readonly fieldManager: string;
  readonly #client: ApplierClient;
  readonly #annotation: string;

  constructor(
    client: ApplierClient,
    { fieldManager = 'kasprop', hashAnnotation = appliedHashAnnotation }: ApplierOptions = {},
  ) {
    this.#client = client;
    this.fieldManager = fieldManager;
    this.#annotation = hashAnnotation;
  }

  /**
   * Brings the object named by `desired` to `desired`, given `live`, the cached object of that name (undefined
   * when the cache has none). Sends nothing when `live` carries the hash of `desired` and holds every
   * field of it (see compare.ts); otherwise applies `desired` plus the hash annotation, forcing ownership of its
   * fields (we are the authority for them), and reports whether the server created or patched the object.
   *
   * `desired` must be complete: server-side apply removes every field we applied before and now leave out.
   * A stale cache is safe: an object the cache does not show yet is simply applied again (reported `patched`).
   */
  async apply<T extends KubeObject>(
    type: ResourceType,
    desired: T,
    live: T | undefined,
    { signal }: WriteOptions = {},
  ): Promise<ApplyOutcome<T>> {
    const hash = objectHash(desired);
    const decision = applyDecision(desired, live, hash, this.#annotation);
    // applyDecision only ever says "no" when there is a live object.
    if (!decision.apply) return { result: 'unchanged', object: live as T };
    const reason = decision.reason === 'drift' ? `drift at ${decision.path}` : decision.reason;
    const body = withAppliedHash(desired, hash, this.#annotation);
    const meta = body.metadata ?? {};
    if (meta.name === undefined) throw new Error(`apply ${type.kind}: metadata.name is required`);
    const { status, body: object } = await this.#client.exchange<T>({
      verb: 'PATCH',
      path: resourcePath(type, { namespace: meta.namespace, name: meta.name }),
      query: { fieldManager: this.fieldManager, force: true },
      // JSON is YAML, and apply-patch+yaml is what every apiserver version accepts for apply.
      contentType: 'application/apply-patch+yaml',
      body: { apiVersion: type.apiVersion, kind: type.kind, ...body },
      signal,
    });
    return { result: status === 201 ? 'created' : 'patched', object, reason };
  }

  /**
   * Applies `status` to the status subresource of `live`, unless `live.status` already equals it.
   * The status is compared whole (not as a subset), because it is ours whole: a field we no longer set must
   * disappear, and only an apply of the complete status removes it. Keep timestamps such as a condition's
   * lastTransitionTime stable when nothing changed, or every reconcile writes.
   * Never creates the object: the status subresource answers 404 for an object that is gone. (There is no uid
   * precondition: server-side apply ignores metadata.uid. An object recreated under the same name since the cache
   * saw it may get this status once; its own reconcile corrects it.)
   */
  async applyStatus<T extends KubeObject & { status?: unknown }>(
    type: ResourceType,
    live: T,
    status: NonNullable<T['status']>,
    { signal }: WriteOptions = {},
  ): Promise<ApplyOutcome<T>> {
    if (semanticallyEqual(status, live.status)) return { result: 'unchanged', object: live };
    const meta = live.metadata ?? {};
    if (meta.name === undefined) throw new Error(`apply ${type.kind} status: metadata.name is required`);
    const { body: object } = await this.#client.exchange<T>({
      verb: 'PATCH',
      path: resourcePath(type, { namespace: meta.namespace, name: meta.name, subresource: 'status' }),
      query: { fieldManager: this.fieldManager, force: true },
      contentType: 'application/apply-patch+yaml',
      body: {
        apiVersion: type.apiVersion,
        kind: type.kind,
        metadata: { name: meta.name, namespace: meta.namespace },
        status,
      },
      signal,
    });
    return { result: 'patched', object, reason: 'changed' };
  }

  /**
   * Deletes `live` (the cached object) if there is one and it is not already being deleted; sends nothing
   * otherwise. The delete carries a uid precondition, so an object recreated under the same name since the cache
   * saw it is left alone. Reports `deleted` only when this call deleted it.
   */
  async deleteIfPresent(
    type: ResourceType,
    live: KubeObject | undefined,
    { propagationPolicy = 'Background' }: { propagationPolicy?: 'Background' | 'Foreground' | 'Orphan' } = {},
  ): Promise<DeleteResult> {
    const meta = live?.metadata;
    if (meta?.name === undefined || meta.deletionTimestamp !== undefined) return 'unchanged';
    try {
      const deleted = await this.#client.delete(
        type,
        { namespace: meta.namespace, name: meta.name },
        { propagationPolicy, uid: meta.uid },
      );
      return deleted ? 'deleted' : 'unchanged';
    } catch (error) {
      // 409 here is the uid precondition failing: the object we meant is gone, a new one took its name.
      if (isConflict(error) || isNotFound(error)) return 'unchanged';
      throw error;
    }
  }
}
