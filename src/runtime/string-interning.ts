// Many cached objects repeat the same strings: every child of every app carries the same labels, apiVersions, env
// names, mount paths and image, the apiserver's defaults ("IfNotPresent", "/dev/termination-log") and, in its
// installer ConfigMap, the same program of tens of KB. JSON.parse gives each object its own copies. Interning makes
// them one copy, so the cache grows with what differs between objects, not with everything they repeat.

/**
 * A bounded table of strings seen more than once. A string is remembered on its first sighting and shared from its
 * second on; strings seen once (uids, resourceVersions, timestamps) pass through the first stage without displacing
 * the shared ones.
 */
export class StringInterner {
  /** Strings seen more than once: the copy every object shares. */
  readonly #shared = new Map<string, string>();
  /** Strings seen once, with the copy their first object holds (it becomes the shared one). */
  readonly #seenOnce = new Map<string, string>();
  readonly #minLength: number;
  readonly #maxEntries: number;

  /**
   * @param minLength strings shorter than this are left alone: interning them would cost more than it saves.
   * @param maxEntries bound of each stage; the oldest entry goes first.
   */
  constructor(minLength = 4, maxEntries = 8192) {
    this.#minLength = minLength;
    this.#maxEntries = maxEntries;
  }

  /** How many strings are shared. */
  get size(): number {
    return this.#shared.size;
  }

  intern(text: string): string {
    if (text.length < this.#minLength) return text;
    const shared = this.#shared.get(text);
    if (shared !== undefined) return shared;
    const first = this.#seenOnce.get(text);
    if (first === undefined) {
      add(this.#seenOnce, text, this.#maxEntries);
      return text;
    }
    this.#seenOnce.delete(text);
    add(this.#shared, first, this.#maxEntries);
    return first;
  }

  /** Replaces, in place, every string in a freshly parsed JSON value with its interned copy. */
  internDeep<T>(value: T): T {
    const visit = (node: unknown): unknown => {
      if (typeof node === 'string') return this.intern(node);
      if (Array.isArray(node)) {
        for (let i = 0; i < node.length; i++) node[i] = visit(node[i]);
      } else if (typeof node === 'object' && node !== null) {
        const record = node as Record<string, unknown>;
        for (const key of Object.keys(record)) record[key] = visit(record[key]);
      }
      return node;
    };
    return visit(value) as T;
  }
}

function add(table: Map<string, string>, text: string, maxEntries: number): void {
  table.set(text, text);
  if (table.size > maxEntries) {
    const oldest = table.keys().next().value;
    if (oldest !== undefined) table.delete(oldest);
  }
}
