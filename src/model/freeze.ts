/**
 * Deep freezing of plain data (objects and arrays). A frozen value can be shared instead of
 * copied, and a frozen answer can be encoded once and sent many times (rpc/codec.ts).
 */
export function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const k of Object.keys(v)) deepFreeze((v as Record<string, unknown>)[k]);
  }
  return v;
}
