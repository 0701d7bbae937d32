/**
 * The domain model: what the engine asks for, after canonicalization (defaults filled in,
 * values normalized). This is also what the running and safe configs store.
 *
 * Example: a bridged network on a NIC with a static address that holds the default route
 *   { name: 'ovirtmgmt', bridged: true, nic: 'eth0', mtu: 1500, stp: false,
 *     ipv4: { address: '192.0.2.10', prefix: 24, gateway: '192.0.2.1' }, ipv6: { addresses: [], autoconf: false },
 *     defaultRoute: true, nameservers: ['192.0.2.53'], bridgeOpts: {}, portIsolation: false,
 *     macTableManager: 'kernel', switch: 'legacy', bootproto: 'none', dhcpv6: false }
 */

import type { z } from 'zod';
import { dict, toDict } from './dict.js';
import type { BondSchema, HostConfigSchema, HostQosSchema, NetworkSchema, QosCurveSchema } from './schema.js';

export type MacTableManager = 'kernel' | 'libvirt';

// The shapes are declared once, as schemas (schema.ts), and the types inferred from them.
export type Network = z.infer<typeof NetworkSchema>;
export type Bond = z.infer<typeof BondSchema>;
export type HostQos = z.infer<typeof HostQosSchema>;
export type QosCurve = z.infer<typeof QosCurveSchema>;
/** The whole managed configuration of a host: running config, safe config, desired state. */
export type HostConfig = z.infer<typeof HostConfigSchema>;

/** Both tables are null-prototype (model/dict.ts): names like 'toString' are valid. */
export const emptyConfig = (): HostConfig => ({ networks: dict(), bonds: dict() });

/** A deep copy that keeps the tables null-prototype (structuredClone would not). */
export function cloneConfig(cfg: HostConfig): HostConfig {
  const clone = <T>(v: T): T => structuredClone(v);
  return {
    networks: dict(Object.entries(cfg.networks).map(([k, n]) => [k, { ...clone(n), bridgeOpts: toDict(n.bridgeOpts) }] as const)),
    bonds: dict(Object.entries(cfg.bonds).map(([k, b]) => [k, { ...clone(b), options: toDict(b.options) }] as const)),
  };
}

/** Raw request shapes, as on the wire (VDSM's names). Values are unknown until validated. */
export type NetAttrs = Record<string, unknown>;
export type BondAttrs = Record<string, unknown>;

export interface SetupOptions {
  connectivityCheck: boolean;
  /** seconds */
  connectivityTimeout: number;
  commitOnSuccess: boolean;
}

export interface SetupRequest {
  networks: Record<string, NetAttrs>;
  bondings: Record<string, BondAttrs>;
  options: Record<string, unknown>;
}
