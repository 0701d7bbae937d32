/**
 * The network part of Host.getCapabilities / Host.getNetworkCapabilities, rendered purely
 * from one KernelState and the running config, in VDSM's shapes (every mtu a string, bond
 * option values numeric strings, stp 'on'/'off'), plus hostnetd's additions (portFlags,
 * fdb, portIsolation, macTableManager, libvirtNetwork, hostnet).
 */
import type { KernelLink, KernelState } from '../model/kernel-state.js';
import type { Network } from '../model/types.js';
import { bondCapsOpts } from './bond-opts.js';
import { indexState, ipKeys, type IpIndex, type IpKeys } from './ipinfo.js';
import { globMatcher, isNic } from '../kernel/nics.js';
import type { Lease } from '../model/lease.js';
import type { CapsInput, NetworkCapabilities } from './types.js';
import { dict, getKey } from '../model/dict.js';
import { addDeviceQos, networkQos, type HostQosReport } from './qos.js';

type Dict = Record<string, unknown>;

export function buildNetworkCapabilities(input: CapsInput): NetworkCapabilities {
  const { state } = input;
  const index = indexState(state);
  const members = membersByMaster(state);
  const staticFdb = staticFdbByBridge(state);
  const isFake = globMatcher(input.fakeNics);

  const nics = dict<Dict>();
  const bridges = dict<Dict>();
  const bondings = dict<Dict>();
  const vlans = dict<Dict>();
  for (const name of Object.keys(state.links).sort()) {
    const link = state.links[name]!;
    if (link.kind === 'bridge') bridges[name] = bridgeCaps(link, state, members, staticFdb, index);
    else if (link.kind === 'bond') bondings[name] = bondCaps(link, members, index);
    else if (link.kind === 'vlan') vlans[name] = vlanCaps(link, index);
    else if (isNic(link, isFake)) nics[name] = nicCaps(link, index);
  }

  const networks = dict<Dict>();
  const qos: { net: Network; hostQos: HostQosReport }[] = [];
  for (const name of Object.keys(input.running.networks).sort()) {
    const net = input.running.networks[name]!;
    const caps = networkCaps(net, state, members, index, input);
    if (caps === undefined) continue;
    networks[name] = caps;
    const hostQos = networkQos(net, input.tc);
    if (hostQos) {
      caps.hostQos = hostQos;
      qos.push({ net, hostQos });
    }
  }
  addDeviceQos(qos, nics, bondings);

  const libvirt: NetworkCapabilities['hostnet']['libvirt'] = {
    uri: input.libvirt.uri, connected: input.libvirt.connected,
  };
  if (input.libvirt.pending !== undefined) libvirt.pending = [...input.libvirt.pending];
  if (input.libvirt.nwfilters !== undefined) libvirt.nwfilters = { ...input.libvirt.nwfilters };
  const mirrors = Object.create(null) as Record<string, string[]>;
  for (const [net, taps] of Object.entries(input.mirrors ?? {})) mirrors[net] = [...taps];

  return {
    networks, bridges, nics, bondings, vlans,
    nameservers: [...input.nameservers],
    supportsIPv6: state.addresses.some((a) => a.family === 'inet6'),
    netConfigDirty: input.netConfigDirty,
    hostnet: { version: input.version, kernel: { ...input.features }, libvirt, mirrors },
  };
}

/** master name -> sorted member names (bridge ports, bond slaves), built in one pass */
export function membersByMaster(state: KernelState): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const name in state.links) {
    const master = state.links[name]!.master;
    if (master === undefined) continue;
    const list = m.get(master);
    if (list === undefined) m.set(master, [name]);
    else list.push(name);
  }
  for (const list of m.values()) list.sort();
  return m;
}

function nicCaps(link: KernelLink, index: IpIndex): Dict {
  const caps: Dict = { hwaddr: link.address, speed: 0, ...ipKeys(link, index) };
  const slave = link.bondSlave;
  if (slave !== undefined) {
    // a slave's own address is its bond's; the permanent one identifies the NIC
    if (slave.permHwaddr !== undefined) caps.permhwaddr = slave.permHwaddr;
    if (slave.adAggregatorId !== undefined) caps.ad_aggregator_id = String(slave.adAggregatorId);
  }
  return caps;
}

type FdbRow = { mac: string; port: string };

/** static entries of each bridge's table (learned and permanent ones are the kernel's business) */
function staticFdbByBridge(state: KernelState): Map<string, FdbRow[]> {
  const m = new Map<string, FdbRow[]>();
  for (const e of state.fdb) {
    if (e.state !== 'static' || e.master === undefined) continue;
    const row = { mac: e.mac, port: e.ifname };
    const list = m.get(e.master);
    if (list === undefined) m.set(e.master, [row]);
    else list.push(row);
  }
  return m;
}

function bridgeCaps(
  link: KernelLink, state: KernelState, members: Map<string, string[]>, staticFdb: Map<string, FdbRow[]>, index: IpIndex,
): Dict {
  const ports = members.get(link.name) ?? [];
  const portFlags = dict<{ isolated: boolean; learning: boolean; flood: boolean }>();
  for (const port of ports) {
    const bp = getKey(state.links, port)?.bridgePort;
    if (bp !== undefined) portFlags[port] = { isolated: bp.isolated, learning: bp.learning, flood: bp.flood };
  }
  const fdb = [...(staticFdb.get(link.name) ?? [])];
  return {
    ports: [...ports],
    stp: link.bridge?.stp ? 'on' : 'off',
    // shared, not copied: a KernelState is never mutated, and copying 45 keys per bridge
    // was most of the report's cost at 200 bridges
    opts: link.bridge?.opts ?? {},
    ...ipKeys(link, index),
    portFlags,
    fdb,
  };
}

function bondCaps(link: KernelLink, members: Map<string, string[]>, index: IpIndex): Dict {
  const bond = link.bond;
  const caps: Dict = {
    slaves: [...(members.get(link.name) ?? [])],
    hwaddr: link.address,
    active_slave: bond?.activeSlave ?? '',
    opts: bond !== undefined ? bondCapsOpts(bond) : {},
    switch: 'legacy',
    ...ipKeys(link, index),
  };
  const ad = bond?.adInfo;
  if (ad?.aggregatorId !== undefined && ad.partnerMac !== undefined) {
    caps.ad_aggregator_id = String(ad.aggregatorId);
    caps.ad_partner_mac = ad.partnerMac;
  }
  return caps;
}

function vlanCaps(link: KernelLink, index: IpIndex): Dict {
  return { iface: link.link ?? '', vlanid: link.vlan?.id ?? 0, ...ipKeys(link, index) };
}

/** the device carrying the network's IP: its bridge, else its vlan device, else its nic/bond */
export function topDevice(net: Network): string | undefined {
  if (net.bridged) return net.name;
  return southboundDevice(net);
}

/** the device under the bridge (or the top device of a bridgeless network) */
export function southboundDevice(net: Network): string | undefined {
  const base = net.nic ?? net.bonding;
  if (base === undefined) return undefined;
  return net.vlan !== undefined ? `${base}.${net.vlan}` : base;
}

function networkCaps(
  net: Network, state: KernelState, members: Map<string, string[]>, index: IpIndex, input: CapsInput,
): Dict | undefined {
  const top = topDevice(net);
  const link = top !== undefined ? getKey(state.links, top) : undefined;
  if (link === undefined) return undefined;
  const caps: Dict = { bridged: net.bridged, iface: link.name };
  // VDSM lists the key for every network: null for one without a NIC or bond (an isolated network)
  caps.southbound = southboundDevice(net) ?? null;
  if (net.bridged) {
    caps.ports = [...(members.get(link.name) ?? [])];
    caps.stp = link.bridge?.stp ? 'on' : 'off';
  }
  if (net.vlan !== undefined) caps.vlanid = net.vlan;
  Object.assign(caps, networkIpKeys(net, ipKeys(link, index), input.leases?.(link.name)));
  caps.switch = net.switch;
  caps.portIsolation = net.portIsolation;
  caps.macTableManager = net.macTableManager;
  caps.libvirtNetwork = input.libvirt.networks?.[net.name] ?? null;
  return caps;
}

/**
 * The kernel's IP keys, with what only the config knows: a gateway is stored on any
 * network but installed only by the default-route one, so a network without a kernel
 * default route reports its configured gateway (a DHCP one: the router its lease names);
 * DHCP and autoconf flags come from the config, as VDSM's dhcp_faked_status does.
 */
function networkIpKeys(net: Network, k: IpKeys, lease: Lease | undefined): IpKeys {
  const learned = net.bootproto === 'dhcp' ? lease?.v4?.routers[0] : undefined;
  return {
    ...k,
    gateway: k.gateway !== '' ? k.gateway : (net.ipv4?.gateway ?? learned ?? ''),
    ipv6gateway: k.ipv6gateway !== '::' ? k.ipv6gateway : (net.ipv6.gateway ?? '::'),
    dhcpv4: net.bootproto !== 'none',
    dhcpv6: net.dhcpv6,
    ipv6autoconf: net.ipv6.autoconf,
    bootproto4: net.bootproto,
  };
}
