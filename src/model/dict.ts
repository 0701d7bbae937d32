/**
 * Tables keyed by user data (network, bond and device names, option names) are null-prototype
 * objects: `toString`, `constructor` and `__proto__` are valid interface names, and on a plain
 * `{}` they read as Object.prototype members (`'toString' in {}` is true) or, for `__proto__`,
 * are not stored at all. These helpers are the one way such a table is made, copied and read.
 */
export type Dict<T> = Record<string, T>;

/** An empty table with no prototype, optionally filled from entries. */
export function dict<T>(entries?: Iterable<readonly [string, T]>): Dict<T> {
  const out = Object.create(null) as Dict<T>;
  if (entries) for (const [k, v] of entries) out[k] = v;
  return out;
}

/** A null-prototype copy of a table's own entries (a plain object from JSON.parse included). */
export const toDict = <T>(obj: Readonly<Record<string, T>>): Dict<T> => dict(Object.entries(obj));

/** Own entry only: never an inherited member. */
export const hasKey = (obj: object, key: string): boolean => Object.prototype.hasOwnProperty.call(obj, key);

/** The own value at key, or undefined (never an inherited member such as Object.prototype.toString). */
export const getKey = <T>(obj: Readonly<Record<string, T>>, key: string): T | undefined =>
  hasKey(obj, key) ? obj[key] : undefined;

/** A JSON object: not null, not an array (what JSON.parse gives for `{...}`). */
export const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A frozen lookup table for constants (option names): null prototype, so only its own keys are found. */
export const constTable = <T>(obj: Record<string, T>): Readonly<Dict<T>> => Object.freeze(toDict(obj));
