/**
 * KernelState: one consistent snapshot of a network namespace, parsed from a handful of
 * iproute2 JSON dumps (see kernel/snapshot.ts). Plain data: the planner diffs against it, the
 * verifier compares two of them, capabilities are rendered from it.
 *
 * Example (abridged):
 *   links.br0 = { name: 'br0', kind: 'bridge', mtu: 1500, up: true, bridge: { stp: false, ... } }
 *   links.veth_0 = { name: 'veth_0', kind: 'veth', master: 'br0',
 *                    bridgePort: { isolated: false, learning: true, flood: true, ... } }
 */

/** `kind` as the kernel's linkinfo names it; 'device' for a link without linkinfo (a physical NIC). */
export type LinkKind =
  | 'bridge' | 'bond' | 'vlan' | 'veth' | 'dummy' | 'tun' | 'vxlan' | 'ifb'
  | 'loopback' | 'device' | (string & {});

export interface LinkStats {
  rxBytes: number;
  txBytes: number;
  rxPackets: number;
  txPackets: number;
  rxErrors: number;
  txErrors: number;
  rxDropped: number;
  txDropped: number;
}

export interface BridgeInfo {
  stp: boolean;
  vlanFiltering: boolean;
  /** Every bridge attribute the kernel reported, by its sysfs name (forward_delay, hello_time, ...), as strings. */
  opts: Record<string, string>;
}

export interface BridgePortInfo {
  isolated: boolean;
  learning: boolean;
  /** unicast flood */
  flood: boolean;
  mcastFlood: boolean;
  state: string;
}

export interface BondInfo {
  mode: string;
  /** Every bonding option the kernel reported, by its sysfs name, as strings (mode as its name). */
  opts: Record<string, string>;
  activeSlave?: string;
  /** 802.3ad only */
  adInfo?: { aggregatorId?: number; partnerMac?: string };
}

export interface BondSlaveInfo {
  state: string;
  permHwaddr?: string;
  adAggregatorId?: number;
}

export interface KernelLink {
  ifindex: number;
  name: string;
  kind: LinkKind;
  mtu: number;
  /** MAC address, lower case */
  address: string;
  /** administratively up (IFF_UP) */
  up: boolean;
  operstate: string;
  /** name of the master device (bridge or bond) */
  master?: string;
  /** for vlan: base device name; for veth: the peer's name when in the same namespace */
  link?: string;
  slaveKind?: string;
  bridge?: BridgeInfo;
  bridgePort?: BridgePortInfo;
  bond?: BondInfo;
  bondSlave?: BondSlaveInfo;
  vlan?: { id: number; protocol: string };
  /** bus of the parent device ('pci', 'virtio', ...): set for hardware NICs, absent for virtual links */
  parentBus?: string;
  promiscuity: number;
  stats?: LinkStats;
}

export interface KernelAddress {
  ifname: string;
  family: 'inet' | 'inet6';
  local: string;
  prefixlen: number;
  scope: string;
  /** from DHCP/SLAAC (has a finite valid lifetime) */
  dynamic: boolean;
  /** IPv6 duplicate address detection still running */
  tentative: boolean;
}

export interface KernelRoute {
  family: 'inet' | 'inet6';
  table: string;
  /** 'default' or a prefix 'a.b.c.d/n' */
  dst: string;
  gateway?: string;
  dev?: string;
  protocol?: string;
  scope?: string;
  metric?: number;
  type: string;
}

/**
 * A routing policy rule, as `ip -j rule` shows it (src/dst 'addr/len' or 'all'). `selectors`
 * holds every other selector the kernel keys the rule by (iif, fwmark, ...), so a rule somebody
 * else made with one of them is never mistaken for one of hostnetd's.
 */
export interface KernelRule {
  family: 'inet' | 'inet6';
  priority: number;
  table: string;
  src: string;
  dst: string;
  /** 'to_tbl' for a table lookup */
  action: string;
  /** canonical text of the remaining selectors ('' when there are none) */
  selectors: string;
}

export interface FdbEntry {
  mac: string;
  /** the port */
  ifname: string;
  master?: string;
  vlan?: number;
  /** 'static' | 'permanent' | '' (learned) */
  state: string;
  flags: string[];
}

export interface KernelState {
  /** by name */
  links: Record<string, KernelLink>;
  addresses: KernelAddress[];
  routes: KernelRoute[];
  /** routing policy rules, both families (absent in snapshots taken before rules were read) */
  rules?: KernelRule[];
  fdb: FdbEntry[];
  /** Date.now() when the dumps were taken */
  takenAt: number;
}

/** One HFSC service curve as the kernel keeps it: m1, m2 in bytes per second, d in microseconds. */
export interface HfscCurve {
  m1: number;
  d: number;
  m2: number;
}

/**
 * Traffic control on one device, as far as hostQos is concerned (tc-read.ts). Handles are
 * tc's text ('1389:', '1389:a'), lower-case hex.
 */
export interface DeviceTc {
  /** the root qdisc; absent: the kernel's default */
  root?: { kind: string; handle: string; hfscDefault?: number };
  /** every other qdisc (leaves, ingress) */
  qdiscs: { kind: string; handle: string; parent: string }[];
  /** classes under an hfsc root */
  classes: { handle: string; parent: string; kind: string; rt?: HfscCurve; ls?: HfscCurve; ul?: HfscCurve }[];
  /** filters attached to the root qdisc (one per prio; u32's hash-table entries left out) */
  filters: { prio: number; kind: string; classid?: string }[];
}

/** What the running kernel can do, detected without changing the managed namespace. */
export interface KernelFeatures {
  bonding: boolean;
  vlan: boolean;
  vlanFiltering: boolean;
  portIsolation: boolean;
  /** the HFSC qdisc (sch_hfsc) and fq_codel (sch_fq_codel): hostQos needs both */
  hfsc: boolean;
  fqCodel: boolean;
}
