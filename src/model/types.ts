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

export type MacTableManager = 'kernel' | 'libvirt';

export interface Ipv4Config {
  address: string;
  prefix: number;
  gateway?: string;
}

export interface Ipv6Config {
  /** 'addr/prefix', as given (VDSM accepts one; kept a list for the future) */
  addresses: string[];
  gateway?: string;
  autoconf: boolean;
}

export interface Network {
  name: string;
  bridged: boolean;
  /** southbound device: at most one of nic / bonding */
  nic?: string;
  bonding?: string;
  vlan?: number;
  mtu: number;
  stp: boolean;
  ipv4?: Ipv4Config;
  ipv6: Ipv6Config;
  defaultRoute: boolean;
  nameservers: string[];
  /** custom.bridge_opts, parsed: sysfs option name -> value */
  bridgeOpts: Record<string, string>;
  portIsolation: boolean;
  macTableManager: MacTableManager;
  switch: 'legacy';
  /** 'dhcp': a DHCPv4 client runs on the network's IP device (no static ipv4 then) */
  bootproto: 'none' | 'dhcp';
  /** a DHCPv6 client runs on the network's IP device (router advertisements stay the kernel's: ipv6autoconf) */
  dhcpv6: boolean;
}

export interface Bond {
  name: string;
  nics: string[];
  /** option name -> value as the kernel's sysfs spells it; always contains mode (by name) */
  options: Record<string, string>;
  hwaddr?: string;
}

/** The whole managed configuration of a host: running config, safe config, desired state. */
export interface HostConfig {
  networks: Record<string, Network>;
  bonds: Record<string, Bond>;
}

export const emptyConfig = (): HostConfig => ({ networks: {}, bonds: {} });

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
