/** Config equality that costs nothing for entries a merge left untouched (same object). */
import { sameJson } from './canonical.js';
import type { HostConfig } from './types.js';

export function sameConfig(a: HostConfig, b: HostConfig): boolean {
  return sameEntries(a.networks, b.networks) && sameEntries(a.bonds, b.bonds);
}

function sameEntries<T>(a: Record<string, T>, b: Record<string, T>): boolean {
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((k) => k in b && sameJson(a[k], b[k]));
}
