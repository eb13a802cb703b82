// Deciding, without asking the API server, whether a live object already is what we would apply. Two checks, because
// each alone is wrong:
// - the input hash (annotation) changes whenever the desired object changes, including when a field is REMOVED from
//   it, which no comparison against the live object can see (the live object may legitimately carry fields we never
//   set: defaults, other managers' fields);
// - the subset check finds drift: someone changed or removed a field we own, while our input stayed the same.
// The comparison mirrors what the API server does to what we send (see `findMismatch`), so that a converged object
// compares equal and a steady-state reconcile sends nothing.
import { createHash } from 'node:crypto';
import type { KubeObject } from './kube/client.ts';
import { storedAs } from '../kubernetes/quantity.ts';

/** Annotation carrying the hash of the desired object a manager last applied. */
export const appliedHashAnnotation = 'kasprop.io/applied-hash';

/**
 * JSON with object keys sorted at every level, so equal values always serialize the same way. Every reconcile hashes
 * every desired child with it, so it is written out rather than a JSON.stringify replacer that copies each object
 * sorted: the output is the same (an applied hash must not change across operator versions, or every child is
 * applied again), at a fraction of the cost. Keys come as such a sorted copy would enumerate them: array indexes
 * ("0", "12") first in numeric order, then the others in code-unit order.
 */
export function stableStringify(value: unknown): string {
  // Undefined only for a value JSON has no form for (undefined, a function), as with JSON.stringify.
  return serialize(value, '') as string;
}

/** JSON.stringify's rules: toJSON first; undefined, functions and symbols are left out of objects, null in arrays. */
function serialize(value: unknown, key: string): string | undefined {
  let current = value;
  if (typeof current === 'string') return stringLiteral(current);
  if (typeof current !== 'object' || current === null) return JSON.stringify(current);
  if (typeof (current as { toJSON?: unknown }).toJSON === 'function') {
    current = (current as { toJSON(key: string): unknown }).toJSON(key);
    if (typeof current !== 'object' || current === null) return serialize(current, key);
  }
  if (Array.isArray(current)) {
    let text = '[';
    for (let index = 0; index < current.length; index++) {
      if (index > 0) text += ',';
      text += serialize(current[index], String(index)) ?? 'null';
    }
    return `${text}]`;
  }
  const record = current as Record<string, unknown>;
  let text = '{';
  for (const name of sortedKeys(record)) {
    const member = serialize(record[name], name);
    if (member === undefined) continue;
    if (text.length > 1) text += ',';
    text += `${stringLiteral(name)}:${member}`;
  }
  return `${text}}`;
}

function sortedKeys(record: Record<string, unknown>): string[] {
  const keys = Object.keys(record).sort();
  // Only a key starting with a digit can be an array index.
  if (!keys.some((key) => key.charCodeAt(0) >= 48 && key.charCodeAt(0) <= 57)) return keys;
  const isIndex = (key: string): boolean => /^(?:0|[1-9]\d{0,9})$/.test(key) && Number(key) < 2 ** 32 - 1;
  const indexes = keys.filter(isIndex).sort((a, b) => Number(a) - Number(b));
  return indexes.length === 0 ? keys : [...indexes, ...keys.filter((key) => !isIndex(key))];
}

// The JSON form of long strings, remembered: the installer ConfigMap of every app holds the same program (tens of
// KB), and escaping it again on every reconcile of every app was the largest cost of a steady-state resync.
const literals = new Map<string, string>();
const longString = 1024;
const maxLiteralChars = 2 ** 20;
let literalChars = 0;

function stringLiteral(text: string): string {
  if (text.length < longString) return JSON.stringify(text);
  let literal = literals.get(text);
  if (literal === undefined) {
    literal = JSON.stringify(text);
    // Bounded by size; the oldest goes first (the long strings worth remembering are few and constant).
    for (const [oldest, old] of literals) {
      if (literalChars + literal.length <= maxLiteralChars) break;
      literals.delete(oldest);
      literalChars -= old.length;
    }
    if (literal.length <= maxLiteralChars) {
      literals.set(text, literal);
      literalChars += literal.length;
    }
  }
  return literal;
}

/** The input hash of a desired object: 32 hex digits of the SHA-256 of its stable JSON. */
export function objectHash(value: unknown): string {
  return createHash('sha256').update(stableStringify(value)).digest('hex').slice(0, 32);
}

/** A copy of `desired` with its input hash in the annotation; `desired` itself is left untouched. */
export function withAppliedHash<T extends KubeObject>(desired: T, hash: string, annotation = appliedHashAnnotation): T {
  const metadata = desired.metadata ?? {};
  return { ...desired, metadata: { ...metadata, annotations: { ...metadata.annotations, [annotation]: hash } } };
}

export type ApplyDecision =
  | { readonly apply: false }
  | { readonly apply: true; readonly reason: 'absent' | 'changed' }
  | { readonly apply: true; readonly reason: 'drift'; readonly path: string };

/**
 * Whether `desired` must be applied over `live` (the cached object, or undefined when there is none):
 * absent -> apply; hash annotation differs from `hash` -> apply (our input changed, removals included);
 * a field of `desired` missing or different in `live` -> apply (drift, with the path of the first difference);
 * otherwise nothing to do.
 */
export function applyDecision(
  desired: KubeObject,
  live: KubeObject | undefined,
  hash: string,
  annotation = appliedHashAnnotation,
): ApplyDecision {
  if (live === undefined) return { apply: true, reason: 'absent' };
  if (live.metadata?.annotations?.[annotation] !== hash) return { apply: true, reason: 'changed' };
  // apiVersion and kind name the type we apply to, not content; LIST answers even leave them out of their items.
  const { apiVersion: _apiVersion, kind: _kind, ...content } = desired;
  const path = findMismatch(content, live);
  return path === undefined ? { apply: false } : { apply: true, reason: 'drift', path };
}

/**
 * The path of the first field where `live` does not hold what `desired` asks for, or undefined when it does.
 *
 * In 'subset' mode (objects we apply) `live` may have more than `desired`: defaults, other managers' fields.
 * In 'equal' mode (a status we own whole) extra non-empty fields in `live` are differences too.
 *
 * Normalization, mirroring what the API server does to what it stores:
 * - null and undefined in `desired` ask for nothing (apply treats them as "not set");
 * - zero values ("", 0, false, {}, []) equal an absent field, because Go's `omitempty` drops them on the way back;
 * - quantities compare by value: `cpu: 1` equals "1", "0.5" equals "500m", "1024Mi" equals "1Gi". A value is a
 *   quantity when it sits under `requests`, `limits`, `hard`, `capacity`, `allocatable` or `overhead`, or is a
 *   `sizeLimit`, an `averageValue`, or the `value` of a metric `target` (the quantity fields of the kinds we manage);
 * - lists whose desired items all have a string `name` are matched by name (any live item of that name that
 *   matches will do), in any order, and may hold more items in 'subset' mode: these are the merge-keyed lists (containers, env, volumes, ports...) where other managers may
 *   add items that our apply would never remove. Other lists (and an empty desired list, which has no items to
 *   tell the kind of list by) must have the same length and match item by item: leave out empty lists you do not
 *   mean to own.
 * Not handled (document any use): fields the server rewrites (e.g. Secret `stringData`), and values changed by
 * mutating admission. Either makes every compare a mismatch, i.e. one apply per reconcile, never a wrong skip.
 */
export function findMismatch(desired: unknown, live: unknown, mode: 'subset' | 'equal' = 'subset'): string | undefined {
  return mismatch(desired, live, mode, '', '', '');
}

/** Whether `live` holds everything `desired` asks for (see findMismatch). */
export function isSubset(desired: unknown, live: unknown): boolean {
  return findMismatch(desired, live, 'subset') === undefined;
}

/** Whether `a` and `b` are the same value after normalization (see findMismatch). */
export function semanticallyEqual(a: unknown, b: unknown): boolean {
  return findMismatch(a, b, 'equal') === undefined;
}

type Mode = 'subset' | 'equal';

function mismatch(
  desired: unknown,
  live: unknown,
  mode: Mode,
  path: string,
  key: string,
  parentKey: string,
): string | undefined {
  if (desired === undefined || desired === null) {
    return mode === 'equal' && !isEmpty(live) ? orRoot(path) : undefined;
  }
  if (live === undefined || live === null) return isEmpty(desired) ? undefined : orRoot(path);
  if (isQuantityField(key, parentKey)) {
    return sameQuantity(desired, live, quantityMaps.has(parentKey)) ? undefined : orRoot(path);
  }
  if (Array.isArray(desired)) {
    if (!Array.isArray(live)) return isEmpty(desired) && isEmpty(live) ? undefined : orRoot(path);
    return listMismatch(desired, live, mode, path, key);
  }
  if (isRecord(desired)) {
    if (!isRecord(live)) return orRoot(path);
    for (const [field, value] of Object.entries(desired)) {
      const found = mismatch(value, live[field], mode, join(path, field), field, key);
      if (found !== undefined) return found;
    }
    if (mode === 'equal') {
      for (const [field, value] of Object.entries(live)) {
        if (!(field in desired) && !isEmpty(value)) return join(path, field);
      }
    }
    return undefined;
  }
  return desired === live ? undefined : orRoot(path);
}

function listMismatch(
  desired: readonly unknown[],
  live: readonly unknown[],
  mode: Mode,
  path: string,
  key: string,
): string | undefined {
  if (desired.length > 0 && desired.every((item) => isRecord(item) && typeof item.name === 'string')) {
    if (mode === 'equal' && desired.length !== live.length) return orRoot(path);
    for (const item of desired as readonly Record<string, unknown>[]) {
      const name = item.name as string;
      const itemPath = `${path}[name=${name}]`;
      // Several items may share a name (volumeMounts are keyed by mountPath): any one that matches will do.
      const candidates = live.filter((candidate) => isRecord(candidate) && candidate.name === name);
      if (candidates.some((candidate) => mismatch(item, candidate, mode, itemPath, key, key) === undefined)) continue;
      return mismatch(item, candidates[0], mode, itemPath, key, key) ?? itemPath;
    }
    return undefined;
  }
  if (desired.length !== live.length) return orRoot(path);
  for (const [index, item] of desired.entries()) {
    // Items of a list keep the list's key as their context, so `limits: [...]`-like shapes stay unambiguous.
    const found = mismatch(item, live[index], mode, `${path}[${index}]`, key, key);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** ResourceLists: the apiserver rounds their values up to 1m. */
const quantityMaps = new Set(['requests', 'limits', 'hard', 'capacity', 'allocatable', 'overhead']);
const quantityKeys = new Set(['sizeLimit', 'averageValue']);

function isQuantityField(key: string, parentKey: string): boolean {
  return quantityMaps.has(parentKey) || quantityKeys.has(key) || (key === 'value' && parentKey === 'target');
}

function sameQuantity(desired: unknown, live: unknown, inResourceList: boolean): boolean {
  if (desired === live) return true;
  if (
    (typeof desired !== 'string' && typeof desired !== 'number') ||
    (typeof live !== 'string' && typeof live !== 'number')
  ) {
    return false;
  }
  // The apiserver writes quantities in its own form (`0.5` comes back as `500m`, and in a ResourceList `0.0005` as
  // `1m`): what it made of the desired value is no drift.
  return storedAs(desired, live, inResourceList);
}

function isEmpty(value: unknown): boolean {
  if (value === undefined || value === null || value === '' || value === 0 || value === false) return true;
  if (Array.isArray(value)) return value.length === 0;
  return isRecord(value) && Object.keys(value).length === 0;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function join(path: string, field: string): string {
  return path === '' ? field : `${path}.${field}`;
}

function orRoot(path: string): string {
  return path === '' ? '(root)' : path;
}
