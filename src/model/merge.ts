// Lists that server-side apply treats as maps (env by name, volumes by name, volume mounts by mountPath) must
// not hold a key twice, or the whole apply is refused. Merging decides, per key, who wins.

/** `first` then the entries of `second` whose key is not in `first`: the first list wins. */
export function mergeByKey<T>(first: readonly T[], second: readonly T[], key: (item: T) => string): T[] {
  const taken = new Set(first.map(key));
  const merged = [...first];
  for (const item of second) {
    const k = key(item);
    if (taken.has(k)) continue;
    taken.add(k);
    merged.push(item);
  }
  return merged;
}

/** `base` without the keys `overrides` sets, then `overrides` (for a key given twice, the later): overrides win. */
export function overrideByKey<T>(base: readonly T[], overrides: readonly T[], key: (item: T) => string): T[] {
  const lastOverride = new Map(overrides.map((item) => [key(item), item]));
  return [...base.filter((item) => !lastOverride.has(key(item))), ...lastOverride.values()];
}
