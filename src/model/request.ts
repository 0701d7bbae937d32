/**
 * A request after validate/request.ts checked it, and the defaults it fills in: in model/
 * because the merge (model/merge.ts), the planner and the transaction read it too.
 */
import type { Bond, Network, SetupOptions } from './types.js';

export type Removal = { remove: true };
export const REMOVE: Removal = { remove: true };

export interface CanonicalRequest {
  networks: Record<string, Network | Removal>;
  bonds: Record<string, Bond | Removal>;
  options: SetupOptions;
  /** networks asking for blockingdhcp: volatile (never stored), as VDSM's VOLATILE_NET_ATTRS */
  blockingDhcp: Set<string>;
}

export const DEFAULT_MTU = 1500;
/** What the kernel takes for an Ethernet device's MTU (a bridge's min_mtu and max_mtu). */
export const MTU_MIN = 68;
export const MTU_MAX = 65535;

export const isRemoval = (x: unknown): x is Removal =>
  typeof x === 'object' && x !== null && (x as Removal).remove === true && !('name' in x);
