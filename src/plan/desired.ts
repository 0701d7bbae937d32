/**
 * HostConfig → DesiredKernel: which devices the networks and bonds need and how each must
 * look. Pure. VDSM's rules live here:
 * - a bridged network is a bridge named after it with the IP; its uplink (nic, bond or
 *   vlan device) is the bridge's port;
 * - a base device carries the largest MTU of its networks; a device that no network uses
 *   any more goes back to 1500 and loses its master;
 * - a NIC taken as bridge port, vlan base or bond slave loses its own IP addresses.
 */
import type { Bond, HostConfig, Network } from '../model/types.js';
import { DEFAULT_MTU } from '../model/request.js';
import type { DesiredKernel, DesiredLink, DesiredRoute, Op } from '../model/op.js';
import type { KernelState } from '../model/kernel-state.js';
import { dict, getKey, hasKey } from '../model/dict.js';
import { desiredSourceRouting, diffSourceRouting, type Learned } from './source-routes.js';

/** The devices one network stands on. */
export interface NetworkDevices {
  /** nic or bond, if any */
  base?: string;
  /** base.vlan when tagged, else base */
  southbound?: string;
  /** the device holding the IP: the bridge, else the southbound device */
  top: string;
}

export function networkDevices(net: Network): NetworkDevices {
  const base = net.nic ?? net.bonding;
  const southbound = base === undefined ? undefined : net.vlan === undefined ? base : `${base}.${net.vlan}`;
  const top = net.bridged ? net.name : southbound!;
  const out: NetworkDevices = { top };
  if (base !== undefined) out.base = base;
  if (southbound !== undefined) out.southbound = southbound;
  return out;
}

export function networkAddresses(net: Network): string[] {
  const v4 = net.ipv4 ? [`${net.ipv4.address}/${net.ipv4.prefix}`] : [];
  return [...v4, ...net.ipv6.addresses];
}

/**
 * @param exists which devices are present, so a network or bond whose NIC vanished is skipped
 *   (reported by the caller) instead of failing everything else
 * @param learned the DHCPv4 leases that outlive this change: their networks keep their tables
 */
export function desiredKernel(desired: HostConfig, previous: HostConfig, exists: (dev: string) => boolean, learned?: Learned): DesiredKernel {
  const links = dict<DesiredLink>();
  const usable = usableNetworks(desired, exists);
  const bonds = Object.values(desired.bonds).filter((b) => b.nics.some(exists));

  for (const bond of bonds) addBond(links, bond, exists);
  for (const net of usable) addNetwork(links, net);
  setBaseMtus(links, usable);
  releaseLeftovers(links, desired, previous, exists);

  const desiredDevices = new Set(Object.keys(links));
  const remove = virtualDevicesOf(previous).filter((d) => !desiredDevices.has(d));
  const routeDevices = [...new Set([...Object.values(previous.networks), ...usable].map((n) => networkDevices(n).top))];
  return {
    links,
    remove,
    defaultRoutes: defaultRoutes(usable),
    routeDevices,
    dynamicRouteDevices: usable.filter((n) => n.defaultRoute && (n.bootproto === 'dhcp' || n.dhcpv6 || n.ipv6.autoconf)).map((n) => networkDevices(n).top),
    sourceRouting: desiredSourceRouting(usable.map((net) => ({ net, dev: networkDevices(net).top })), routeDevices, learned),
  };
}

/**
 * Lease time (no change running): the ops that bring the tables of the config's DHCP networks
 * in step with their leases, deletions first. Only those devices' tables are owned here, so a
 * static network's table is never touched outside a change.
 */
export function learnedSourceOps(config: HostConfig, exists: (dev: string) => boolean, learned: Learned, state: KernelState): Op[] {
  const nets = usableNetworks(config, exists).filter((net) => net.bootproto === 'dhcp')
    .map((net) => ({ net, dev: networkDevices(net).top })).filter(({ dev }) => exists(dev));
  const want = desiredSourceRouting(nets, nets.map((n) => n.dev), learned);
  const del: Op[] = [];
  const add: Op[] = [];
  diffSourceRouting(want, state, new Set(), new Set(), (phase, op) => (phase === 'del' ? del : add).push(op));
  return [...del, ...add];
}

export function usableNetworks(config: HostConfig, exists: (dev: string) => boolean): Network[] {
  return Object.values(config.networks).filter((n) => {
    if (n.nic !== undefined) return exists(n.nic);
    if (n.bonding !== undefined) {
      const bond = getKey(config.bonds, n.bonding);
      return bond ? bond.nics.some(exists) : exists(n.bonding);
    }
    return true;
  });
}

function addBond(links: Record<string, DesiredLink>, bond: Bond, exists: (dev: string) => boolean): void {
  const spec: DesiredLink['bond'] = { options: bond.options };
  if (bond.hwaddr) spec.hwaddr = bond.hwaddr;
  links[bond.name] = { name: bond.name, kind: 'bond', master: null, up: true, addresses: [], bond: spec };
  for (const nic of bond.nics.filter(exists)) {
    links[nic] = { name: nic, kind: 'nic', master: bond.name, up: true, addresses: [] };
  }
}

function addNetwork(links: Record<string, DesiredLink>, net: Network): void {
  const { base, southbound, top } = networkDevices(net);
  const addresses = networkAddresses(net);
  if (base !== undefined && !hasKey(links, base)) {
    // a NIC or an adopted bond; its master and addresses are settled below
    links[base] = { name: base, kind: net.bonding !== undefined ? 'bond' : 'nic', master: null, up: true, addresses: [] };
  }
  if (net.vlan !== undefined) {
    links[southbound!] = {
      name: southbound!, kind: 'vlan', vlan: { base: base!, id: net.vlan }, mtu: net.mtu, master: null, up: true, addresses: [],
    };
  }
  if (net.bridged) {
    links[top] = {
      name: top, kind: 'bridge', bridge: { stp: net.stp, opts: net.bridgeOpts }, mtu: net.mtu, master: null, up: true, addresses,
    };
    if (southbound !== undefined) links[southbound]!.master = top;
  } else {
    links[top]!.addresses = addresses;
  }
}

/** A base device carries the largest MTU of the networks over it (tagged or not). */
function setBaseMtus(links: Record<string, DesiredLink>, nets: Network[]): void {
  const mtus = new Map<string, number>();
  for (const net of nets) {
    const { base } = networkDevices(net);
    if (base !== undefined) mtus.set(base, Math.max(mtus.get(base) ?? 0, net.mtu));
  }
  for (const [dev, mtu] of mtus) links[dev]!.mtu = mtu;
  // bonds without networks still need an MTU; slaves follow their bond (the kernel sets them)
  for (const link of Object.values(links)) {
    if (link.kind === 'bond' && link.mtu === undefined) link.mtu = DEFAULT_MTU;
  }
}

/** NICs the previous config used and this one does not: back to no master, 1500, no addresses. */
function releaseLeftovers(
  links: Record<string, DesiredLink>, desired: HostConfig, previous: HostConfig, exists: (dev: string) => boolean,
): void {
  const previouslyUsed = new Set<string>();
  for (const net of Object.values(previous.networks)) {
    if (net.nic !== undefined) previouslyUsed.add(net.nic);
  }
  for (const bond of Object.values(previous.bonds)) bond.nics.forEach((n) => previouslyUsed.add(n));
  for (const nic of previouslyUsed) {
    if (hasKey(links, nic) || !exists(nic)) continue;
    links[nic] = { name: nic, kind: 'nic', master: null, mtu: DEFAULT_MTU, addresses: [] };
  }
  void desired;
}

/** Devices a config creates (bridges, vlans, bonds): what may be deleted when no longer wanted. */
export function virtualDevicesOf(config: HostConfig): string[] {
  const out = new Set<string>(Object.keys(config.bonds));
  for (const net of Object.values(config.networks)) {
    const { base, southbound, top } = networkDevices(net);
    if (net.bridged) out.add(top);
    if (net.vlan !== undefined) out.add(southbound!);
    if (net.bonding !== undefined && base !== undefined) out.add(base);
  }
  return [...out];
}

function defaultRoutes(nets: Network[]): DesiredKernel['defaultRoutes'] {
  const holder = nets.find((n) => n.defaultRoute);
  const route = (gateway: string | undefined): DesiredRoute | null =>
    holder && gateway ? { gateway, dev: networkDevices(holder).top } : null;
  return { inet: route(holder?.ipv4?.gateway), inet6: route(holder?.ipv6.gateway) };
}
