// Objects known to be newer than an informer's cache, until the cache catches up: the server's answer to this
// process's own writes (client-go's MutationCache, Java Operator SDK's PrimaryUpdateAndCacheUtils). A watch delivers
// our own write some time after the write's answer; a reconcile that runs in between and reads the cache computes
// from a state older than what it wrote itself, and writes (or records an event) again. Reading through here, it
// computes from its own last write instead.
// Ordering needs resourceVersions to be comparable, which Kubernetes guarantees since 1.35 (KEP-5504: decimal
// integers, compared as numbers). Where they are not, the cache is trusted, as without this module.
import type { KubeObject } from './kube/client.ts';
import { dropManagedFields, objectKey } from './informer.ts';

export class FreshObjects<T extends KubeObject> {
  readonly #objects = new Map<string, T>();

  /** After a write: the server's answer, the newest state of the object this process has seen. */
  remember(object: T): void {
    const key = objectKey(object);
    const known = this.#objects.get(key);
    if (known !== undefined && sameObject(known, object) && isOlder(object, known)) return;
    this.#objects.set(key, dropManagedFields(object));
  }

  /** A state read from the server: remembered only if the cache holds an older state of the same object. */
  rememberIfNewer(object: T, cached: T | undefined): void {
    if (cached !== undefined && sameObject(cached, object) && isOlder(cached, object)) this.remember(object);
  }

  /**
   * The newer of the cached object and the remembered one, forgetting the remembered one once the cache holds it or
   * something newer. An object the cache does not hold is taken as gone (only objects read from the cache are ever
   * remembered, and the informer delivers their deletion after our write).
   */
  freshest(key: string, cached: T | undefined): T | undefined {
    const known = this.#objects.get(key);
    if (known === undefined) return cached;
    if (cached !== undefined && sameObject(known, cached) && isOlder(cached, known)) return known;
    this.#objects.delete(key);
    return cached;
  }

  /** The informer cached `object`: what was remembered of it and is not newer is not needed any more. */
  observed(object: T): void {
    this.freshest(objectKey(object), object);
  }

  forget(key: string): void {
    this.#objects.delete(key);
  }

  get size(): number {
    return this.#objects.size;
  }
}

/** The same object, not one recreated under its name. */
const sameObject = (a: KubeObject, b: KubeObject): boolean => a.metadata?.uid === b.metadata?.uid;

/** Whether `a` is known to be an older state than `b`; false when their resourceVersions cannot be compared. */
function isOlder(a: KubeObject, b: KubeObject): boolean {
  return compareResourceVersions(a.metadata?.resourceVersion, b.metadata?.resourceVersion) === -1;
}

const decimal = /^[1-9][0-9]*$/;

/**
 * KEP-5504's comparison: -1, 0 or 1 as `a` is older than, the same as, or newer than `b`; undefined when either is
 * not a resourceVersion the apiserver promises to be comparable (a decimal integer without leading zeros).
 */
export function compareResourceVersions(a: string | undefined, b: string | undefined): -1 | 0 | 1 | undefined {
  if (a === undefined || b === undefined || !decimal.test(a) || !decimal.test(b)) return undefined;
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  return a === b ? 0 : a < b ? -1 : 1;
}
