/**
 * VDSM's "IP keys" of one device, read from a KernelState:
 * addr, netmask, ipv4addrs, ipv6addrs, gateway, ipv6gateway, ipv4defaultroute, dhcpv4,
 * dhcpv6, ipv6autoconf, mtu.
 *
 * As VDSM (netinfo/addresses.py, routes.py): link-scope addresses are left out of both
 * lists; `addr` is the first IPv4 address in the gateway's subnet, else the first one;
 * `gateway` is the device's default route gateway in any table ('' / '::' when there is
 * none or when several disagree); ipv4defaultroute says the main table's default route
 * leaves through this device.
 *
 * What the dumps cannot tell: dhcpv4 is "has a dynamic IPv4 address"; dhcpv6 and
 * ipv6autoconf are "has a dynamic global IPv6 address" (DHCPv6 and SLAAC addresses look
 * alike in the dump, and hostnetd runs neither client). Networks override these three
 * from their config (network.ts), as VDSM does.
 */
import type { KernelAddress, KernelLink, KernelRoute, KernelState } from '../model/kernel-state.js';
import { inSubnet, prefixToNetmask } from '../model/ip.js';

export interface IpKeys {
  addr: string;
  netmask: string;
  ipv4addrs: string[];
  ipv6addrs: string[];
  gateway: string;
  ipv6gateway: string;
  ipv4defaultroute: boolean;
  dhcpv4: boolean;
  dhcpv6: boolean;
  ipv6autoconf: boolean;
  /** VDSM's: 'dhcp' when the device has a leased IPv4 address, else 'none' */
  bootproto4: 'dhcp' | 'none';
  mtu: string;
}

/** Addresses and routes grouped by device once per report, not searched per device. */
export interface IpIndex {
  addrs: Map<string, KernelAddress[]>;
  defaults: Map<string, KernelRoute[]>;
  mainDefault4Dev?: string;
}

export function indexState(state: KernelState): IpIndex {
  const addrs = new Map<string, KernelAddress[]>();
  for (const a of state.addresses) push(addrs, a.ifname, a);
  const defaults = new Map<string, KernelRoute[]>();
  let mainDefault4Dev: string | undefined;
  for (const r of state.routes) {
    if (r.dst !== 'default' || r.dev === undefined || r.gateway === undefined || r.type !== 'unicast') continue;
    push(defaults, r.dev, r);
    if (r.family === 'inet' && r.table === 'main' && mainDefault4Dev === undefined) mainDefault4Dev = r.dev;
  }
  const index: IpIndex = { addrs, defaults };
  if (mainDefault4Dev !== undefined) index.mainDefault4Dev = mainDefault4Dev;
  return index;
}

export function ipKeys(link: KernelLink, index: IpIndex): IpKeys {
  const all = index.addrs.get(link.name);
  const routes = index.defaults.get(link.name);
  // most links of a big host (VM ports, bridge uplinks) carry no IP at all: skip the work
  if (all === undefined && routes === undefined) return noIp(link);
  const v4: KernelAddress[] = [];
  const v6: KernelAddress[] = [];
  let dynamic4 = false;
  let dynamic6 = false;
  for (const a of all ?? []) {
    if (a.scope === 'link') continue;
    if (a.family === 'inet') {
      v4.push(a);
      dynamic4 ||= a.dynamic;
    } else {
      v6.push(a);
      dynamic6 ||= a.dynamic;
    }
  }
  const gateway = deviceGateway(routes, 'inet') ?? '';
  const primary = (gateway !== '' ? v4.find((a) => sameSubnet(a, gateway)) : undefined) ?? v4[0];
  return {
    addr: primary?.local ?? '',
    netmask: primary !== undefined ? prefixToNetmask(primary.prefixlen) : '',
    ipv4addrs: v4.map(cidr),
    ipv6addrs: v6.map(cidr),
    gateway,
    ipv6gateway: deviceGateway(routes, 'inet6') ?? '::',
    ipv4defaultroute: index.mainDefault4Dev === link.name,
    dhcpv4: dynamic4,
    dhcpv6: dynamic6,
    ipv6autoconf: dynamic6,
    bootproto4: dynamic4 ? 'dhcp' : 'none',
    mtu: String(link.mtu),
  };
}

function noIp(link: KernelLink): IpKeys {
  return {
    addr: '', netmask: '', ipv4addrs: [], ipv6addrs: [], gateway: '', ipv6gateway: '::',
    ipv4defaultroute: false, dhcpv4: false, dhcpv6: false, ipv6autoconf: false, bootproto4: 'none', mtu: String(link.mtu),
  };
}

/** the one gateway of the device's default routes of a family, undefined if none or ambiguous */
function deviceGateway(routes: KernelRoute[] | undefined, family: 'inet' | 'inet6'): string | undefined {
  let found: string | undefined;
  for (const r of routes ?? []) {
    if (r.family !== family || r.gateway === undefined) continue;
    if (found !== undefined && found !== r.gateway) return undefined;
    found = r.gateway;
  }
  return found;
}

/** The address `addr` is in the gateway's subnet (VDSM's primary-address rule). */
const sameSubnet = (a: KernelAddress, gateway: string): boolean => inSubnet(a.local, gateway, a.prefixlen);

const cidr = (a: KernelAddress): string => `${a.local}/${a.prefixlen}`;

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}
