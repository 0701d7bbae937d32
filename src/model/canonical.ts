/**
 * Canonical JSON: object keys sorted at every level, arrays kept in order (their order means
 * something: a bond's NICs, a network's nameservers), undefined members dropped as JSON does.
 * Two values are equal as configurations exactly when their canonical texts are equal.
 */

export function sortKeysDeep<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v) => sortKeysDeep(v)) as T;
  if (value === null || typeof value !== 'object') return value;
  // null prototype: a key named __proto__ (a valid network name) is kept as data
  const out = Object.create(null) as Record<string, unknown>;
  for (const key of Object.keys(value).sort()) {
    const v = (value as Record<string, unknown>)[key];
    if (v !== undefined) out[key] = sortKeysDeep(v);
  }
  return out as T;
}

export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeysDeep(value));
}
