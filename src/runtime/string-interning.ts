// Many cached objects repeat the same long strings: every StatefulSet (and every pod) of an operator that ships a
// constant program in its containers' args carries its own copy of it after JSON.parse. Interning makes them one
// copy, so the cache grows with the number of objects, not with objects times program size.

/** A bounded table of long strings; one per informer type or shared, as the caller likes. */
export class StringInterner {
  readonly #table = new Map<string, string>();
  readonly #minLength: number;
  readonly #maxEntries: number;

  /**
   * @param minLength strings shorter than this are left alone: interning them would cost more than it saves.
   * @param maxEntries bound of the table; the oldest entry goes first (long repeated strings are few).
   */
  constructor(minLength = 1024, maxEntries = 256) {
    this.#minLength = minLength;
    this.#maxEntries = maxEntries;
  }

  /** How many strings the table holds. */
  get size(): number {
    return this.#table.size;
  }

  intern(text: string): string {
    if (text.length < this.#minLength) return text;
    const known = this.#table.get(text);
    if (known !== undefined) return known;
    this.#table.set(text, text);
    if (this.#table.size > this.#maxEntries) {
      const oldest = this.#table.keys().next().value;
      if (oldest !== undefined) this.#table.delete(oldest);
    }
    return text;
  }

  /** Replaces, in place, every long string in a freshly parsed JSON value with its interned copy. */
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
