/**
 * Pure parsers from iproute2 6.1 JSON dumps to KernelState. No I/O: snapshot.ts runs the
 * dumps, these functions only read the parsed JSON. Every shape below was checked against
 * real output (fixtures/iproute2/).
 *
 * Bridge options are reported by their sysfs names with the values sysfs would print, so
 * that the planner can compare them with custom.bridge_opts (which VDSM writes to sysfs):
 * - the kernel reports forward_delay, hello_time, max_age, ageing_time and the multicast
 *   intervals in clock_t (USER_HZ = 100, so centiseconds) both over netlink and in sysfs,
 *   and iproute2 prints them raw: forward_delay 1500 in the dump is "1500" in sysfs (15 s);
 * - the running timers (hello_timer, tcn_timer, topology_change_timer, gc_timer) are also
 *   clock_t in both, but iproute2 prints them as seconds with two decimals (298.44): they
 *   are converted back to centiseconds ("29844");
 * - bridge_id/root_id: iproute2 prints "8000.2:6d:2a:ea:41:38", sysfs "8000.026d2aea4138";
 * - group_fwd_mask: iproute2 prints "0", sysfs (kernel %#x) "0x0";
 * - vlan_protocol: iproute2 prints "802.1Q", sysfs "0x8100".
 * Attributes with no sysfs file (mcast_vlan_snooping) are left out.
 */
import type {
  KernelRule,
  BondInfo, BondSlaveInfo, BridgeInfo, BridgePortInfo, FdbEntry, KernelAddress, KernelLink,
  KernelRoute, KernelState, LinkStats,
} from '../model/kernel-state.js';
import { dict } from '../model/dict.js';

// ---- raw shapes (only the fields we read) ---------------------------------------------

type Scalar = string | number | boolean | null;

interface RawLinkInfo {
  info_kind?: string;
  info_data?: Record<string, unknown>;
  info_slave_kind?: string;
  info_slave_data?: Record<string, unknown>;
}

interface RawStats64 {
  rx?: { bytes?: number; packets?: number; errors?: number; dropped?: number };
  tx?: { bytes?: number; packets?: number; errors?: number; dropped?: number };
}

interface RawLink {
  ifindex: number;
  ifname: string;
  flags?: string[];
  mtu?: number;
  master?: string;
  operstate?: string;
  link_type?: string;
  address?: string;
  link?: string | null;
  promiscuity?: number;
  linkinfo?: RawLinkInfo;
  parentbus?: string;
  stats64?: RawStats64;
}

interface RawAddrInfo {
  family?: string;
  local?: string;
  prefixlen?: number;
  scope?: string;
  dynamic?: boolean;
  tentative?: boolean;
}

interface RawAddrLink {
  ifname: string;
  addr_info?: RawAddrInfo[];
}

interface RawRoute {
  type?: string;
  dst?: string;
  gateway?: string;
  via?: { family?: string; host?: string };
  dev?: string;
  table?: string;
  protocol?: string;
  scope?: string;
  metric?: number;
}

interface RawFdb {
  mac?: string;
  ifname?: string;
  master?: string;
  vlan?: number;
  state?: string;
  flags?: string[];
}

/** The five dumps a snapshot is made of, each already JSON.parse'd. */
export interface RawDumps {
  /** ip -j -d -s link show */
  link: unknown;
  /** ip -j addr show */
  addr: unknown;
  /** ip -j -4 route show table all */
  route4: unknown;
  /** ip -j -6 route show table all */
  route6: unknown;
  /** bridge -j fdb show */
  fdb: unknown;
}

/** iproute2 prints nothing at all for some empty dumps, "[]" for others. */
export function parseJsonDump(text: string): unknown[] {
  const trimmed = text.trim();
  if (trimmed.length === 0) return [];
  const value: unknown = JSON.parse(trimmed);
  if (!Array.isArray(value)) throw new Error('iproute2 JSON dump is not an array');
  return value;
}

export function parseKernelState(dumps: RawDumps, takenAt: number): KernelState {
  return {
    links: parseLinks(dumps.link),
    addresses: parseAddresses(dumps.addr),
    // a route4 dump taken without -4 (`ip route show table all`) holds the IPv6 routes too:
    // each family is taken from its own dump only
    routes: [
      ...parseRoutes(dumps.route4, 'inet').filter((r) => r.family === 'inet'),
      ...parseRoutes(dumps.route6, 'inet6').filter((r) => r.family === 'inet6'),
    ],
    fdb: parseFdb(dumps.fdb),
    takenAt,
  };
}

// ---- links ----------------------------------------------------------------------------

export function parseLinks(dump: unknown): Record<string, KernelLink> {
  const links = dict<KernelLink>();
  for (const raw of asArray<RawLink>(dump)) {
    if (typeof raw.ifname !== 'string') continue;
    links[raw.ifname] = parseLink(raw);
  }
  return links;
}

export function parseLink(raw: RawLink): KernelLink {
  const info = raw.linkinfo;
  const flags = raw.flags ?? [];
  const link: KernelLink = {
    ifindex: raw.ifindex,
    name: raw.ifname,
    kind: linkKind(raw),
    mtu: raw.mtu ?? 0,
    address: (raw.address ?? '').toLowerCase(),
    up: flags.includes('UP'),
    operstate: raw.operstate ?? 'UNKNOWN',
    promiscuity: raw.promiscuity ?? 0,
  };
  if (raw.master !== undefined) link.master = raw.master;
  // "link" is the vlan's base device, or a veth peer in the same namespace
  if (typeof raw.link === 'string') link.link = raw.link;
  if (raw.parentbus !== undefined) link.parentBus = raw.parentbus;
  if (info?.info_slave_kind !== undefined) link.slaveKind = info.info_slave_kind;

  const data = info?.info_data ?? {};
  const slaveData = info?.info_slave_data ?? {};
  switch (info?.info_kind) {
    case 'bridge': link.bridge = parseBridgeInfo(data); break;
    case 'bond': link.bond = parseBondInfo(data); break;
    case 'vlan': link.vlan = { id: num(data.id), protocol: str(data.protocol) || '802.1Q' }; break;
    default: break;
  }
  if (info?.info_slave_kind === 'bridge') link.bridgePort = parseBridgePortInfo(slaveData);
  if (info?.info_slave_kind === 'bond') link.bondSlave = parseBondSlaveInfo(slaveData);
  if (raw.stats64 !== undefined) link.stats = parseStats(raw.stats64);
  return link;
}

function linkKind(raw: RawLink): string {
  const kind = raw.linkinfo?.info_kind;
  if (kind !== undefined) return kind;
  if (raw.link_type === 'loopback') return 'loopback';
  return 'device';
}

function parseStats(s: RawStats64): LinkStats {
  return {
    rxBytes: s.rx?.bytes ?? 0,
    txBytes: s.tx?.bytes ?? 0,
    rxPackets: s.rx?.packets ?? 0,
    txPackets: s.tx?.packets ?? 0,
    rxErrors: s.rx?.errors ?? 0,
    txErrors: s.tx?.errors ?? 0,
    rxDropped: s.rx?.dropped ?? 0,
    txDropped: s.tx?.dropped ?? 0,
  };
}

// ---- bridge ---------------------------------------------------------------------------

type Convert = (v: unknown) => string;

const asIs: Convert = (v) => String(v);
/** seconds with decimals -> clock_t (centiseconds), as sysfs prints running timers */
const timerCs: Convert = (v) => String(Math.round(Number(v) * 100));
const hexMask: Convert = (v) => `0x${Number.parseInt(String(v), 16).toString(16)}`;
const vlanProto: Convert = (v) => VLAN_PROTOCOLS[String(v)] ?? String(v);
const VLAN_PROTOCOLS: Record<string, string> = { '802.1Q': '0x8100', '802.1ad': '0x88a8' };

/** "8000.2:6d:2a:ea:41:38" (iproute2) -> "8000.026d2aea4138" (sysfs) */
export function bridgeIdToSysfs(id: string): string {
  const dot = id.indexOf('.');
  if (dot < 0) return id;
  const mac = id.slice(dot + 1).split(':').map((b) => b.padStart(2, '0')).join('');
  return `${id.slice(0, dot)}.${mac}`;
}

/** iproute2 info_data key -> [sysfs name, value converter] */
const BRIDGE_OPTS: Record<string, [string, Convert]> = {
  forward_delay: ['forward_delay', asIs],
  hello_time: ['hello_time', asIs],
  max_age: ['max_age', asIs],
  ageing_time: ['ageing_time', asIs],
  stp_state: ['stp_state', asIs],
  priority: ['priority', asIs],
  vlan_filtering: ['vlan_filtering', asIs],
  vlan_protocol: ['vlan_protocol', vlanProto],
  vlan_default_pvid: ['default_pvid', asIs],
  vlan_stats_enabled: ['vlan_stats_enabled', asIs],
  vlan_stats_per_port: ['vlan_stats_per_port', asIs],
  bridge_id: ['bridge_id', (v) => bridgeIdToSysfs(String(v))],
  root_id: ['root_id', (v) => bridgeIdToSysfs(String(v))],
  root_port: ['root_port', asIs],
  root_path_cost: ['root_path_cost', asIs],
  topology_change: ['topology_change', asIs],
  topology_change_detected: ['topology_change_detected', asIs],
  hello_timer: ['hello_timer', timerCs],
  tcn_timer: ['tcn_timer', timerCs],
  topology_change_timer: ['topology_change_timer', timerCs],
  gc_timer: ['gc_timer', timerCs],
  group_fwd_mask: ['group_fwd_mask', hexMask],
  group_addr: ['group_addr', asIs],
  no_linklocal_learn: ['no_linklocal_learn', asIs],
  mcast_snooping: ['multicast_snooping', asIs],
  mcast_router: ['multicast_router', asIs],
  mcast_query_use_ifaddr: ['multicast_query_use_ifaddr', asIs],
  mcast_querier: ['multicast_querier', asIs],
  mcast_hash_elasticity: ['hash_elasticity', asIs],
  mcast_hash_max: ['hash_max', asIs],
  mcast_last_member_cnt: ['multicast_last_member_count', asIs],
  mcast_startup_query_cnt: ['multicast_startup_query_count', asIs],
  mcast_last_member_intvl: ['multicast_last_member_interval', asIs],
  mcast_membership_intvl: ['multicast_membership_interval', asIs],
  mcast_querier_intvl: ['multicast_querier_interval', asIs],
  mcast_query_intvl: ['multicast_query_interval', asIs],
  mcast_query_response_intvl: ['multicast_query_response_interval', asIs],
  mcast_startup_query_intvl: ['multicast_startup_query_interval', asIs],
  mcast_stats_enabled: ['multicast_stats_enabled', asIs],
  mcast_igmp_version: ['multicast_igmp_version', asIs],
  mcast_mld_version: ['multicast_mld_version', asIs],
  nf_call_iptables: ['nf_call_iptables', asIs],
  nf_call_ip6tables: ['nf_call_ip6tables', asIs],
  nf_call_arptables: ['nf_call_arptables', asIs],
};

// walked in one fixed order so that every bridge's opts object shares one V8 shape
const BRIDGE_OPT_LIST = Object.entries(BRIDGE_OPTS);

export function parseBridgeInfo(data: Record<string, unknown>): BridgeInfo {
  const opts: Record<string, string> = {};
  for (const [key, [name, convert]] of BRIDGE_OPT_LIST) {
    const value = data[key];
    if (value !== undefined && value !== null) opts[name] = convert(value);
  }
  return {
    stp: num(data.stp_state) !== 0,
    vlanFiltering: num(data.vlan_filtering) !== 0,
    opts,
  };
}

export function parseBridgePortInfo(data: Record<string, unknown>): BridgePortInfo {
  return {
    // absent (kernel < 4.18) means the kernel cannot isolate, so the port is not isolated
    isolated: data.isolated === true,
    learning: data.learning !== false,
    flood: data.flood !== false,
    mcastFlood: data.mcast_flood !== false,
    state: str(data.state),
  };
}

// ---- bond -----------------------------------------------------------------------------

/** iproute2 info_data key -> sysfs option name, where they differ */
const BOND_SYSFS_NAMES: Record<string, string> = {
  ad_lacp_rate: 'lacp_rate',
  ad_lacp_active: 'lacp_active',
  num_peer_notif: 'num_grat_arp',
  peer_notify_delay: 'peer_notif_delay',
};

/** keys that are state or structure, not options */
const BOND_NON_OPTIONS = new Set(['active_slave', 'active_slave_index', 'primary_index', 'ad_info']);

export function parseBondInfo(data: Record<string, unknown>): BondInfo {
  const opts = dict<string>();
  for (const key in data) {
    if (BOND_NON_OPTIONS.has(key)) continue;
    const value = data[key];
    const name = BOND_SYSFS_NAMES[key] ?? key;
    if (key === 'arp_validate' && value === null) {
      // iproute2 prints arp_validate 0 as JSON null
      opts[name] = 'none';
    } else if (Array.isArray(value)) {
      opts[name] = value.map(String).join(',');
    } else if (isScalar(value) && value !== null) {
      opts[name] = String(value);
    }
  }
  // sysfs has both names for the one kernel value
  if (opts.num_grat_arp !== undefined) opts.num_unsol_na = opts.num_grat_arp;
  const bond: BondInfo = { mode: str(data.mode) || 'balance-rr', opts };
  if (typeof data.active_slave === 'string') bond.activeSlave = data.active_slave;
  const ad = data.ad_info;
  if (ad !== null && typeof ad === 'object') {
    const a = ad as Record<string, unknown>;
    bond.adInfo = {};
    if (typeof a.aggregator === 'number') bond.adInfo.aggregatorId = a.aggregator;
    if (typeof a.partner_mac === 'string') bond.adInfo.partnerMac = a.partner_mac.toLowerCase();
  }
  return bond;
}

export function parseBondSlaveInfo(data: Record<string, unknown>): BondSlaveInfo {
  const slave: BondSlaveInfo = { state: str(data.state) };
  if (typeof data.perm_hwaddr === 'string') slave.permHwaddr = data.perm_hwaddr.toLowerCase();
  if (typeof data.ad_aggregator_id === 'number') slave.adAggregatorId = data.ad_aggregator_id;
  return slave;
}

// ---- addresses ------------------------------------------------------------------------

export function parseAddresses(dump: unknown): KernelAddress[] {
  const out: KernelAddress[] = [];
  for (const link of asArray<RawAddrLink>(dump)) {
    for (const a of link.addr_info ?? []) {
      if ((a.family !== 'inet' && a.family !== 'inet6') || a.local === undefined) continue;
      out.push({
        ifname: link.ifname,
        family: a.family,
        local: a.local,
        prefixlen: a.prefixlen ?? (a.family === 'inet' ? 32 : 128),
        scope: a.scope ?? 'global',
        dynamic: a.dynamic === true,
        tentative: a.tentative === true,
      });
    }
  }
  return out;
}

// ---- routes ---------------------------------------------------------------------------

/**
 * JSON routes carry no family field: it comes from the dump (-4/-6), unless the destination
 * or the gateway (not `via`, which may be an IPv6 next hop of an IPv4 route) says otherwise.
 */
export function routeFamily(r: RawRoute, dumpFamily: 'inet' | 'inet6'): 'inet' | 'inet6' {
  const dst = r.dst ?? 'default';
  if (dst !== 'default') return dst.includes(':') ? 'inet6' : 'inet';
  if (r.gateway !== undefined) return r.gateway.includes(':') ? 'inet6' : 'inet';
  return dumpFamily;
}

export function parseRoutes(dump: unknown, family: 'inet' | 'inet6'): KernelRoute[] {
  return asArray<RawRoute>(dump).map((r) => {
    const route: KernelRoute = {
      family: routeFamily(r, family),
      // the main table is the one iproute2 leaves unnamed
      table: r.table ?? 'main',
      dst: r.dst ?? 'default',
      type: r.type ?? 'unicast',
    };
    const gateway = r.gateway ?? r.via?.host;
    if (gateway !== undefined) route.gateway = gateway;
    if (r.dev !== undefined) route.dev = r.dev;
    if (r.protocol !== undefined) route.protocol = r.protocol;
    if (r.scope !== undefined) route.scope = r.scope;
    if (r.metric !== undefined) route.metric = r.metric;
    return route;
  });
}

// ---- fdb ------------------------------------------------------------------------------

export function parseFdb(dump: unknown): FdbEntry[] {
  const out: FdbEntry[] = [];
  for (const e of asArray<RawFdb>(dump)) {
    if (e.mac === undefined || e.ifname === undefined) continue;
    const entry: FdbEntry = {
      mac: e.mac.toLowerCase(),
      ifname: e.ifname,
      state: e.state ?? '',
      flags: e.flags ?? [],
    };
    if (e.master !== undefined) entry.master = e.master;
    if (e.vlan !== undefined) entry.vlan = e.vlan;
    out.push(entry);
  }
  return out;
}

// ---- helpers --------------------------------------------------------------------------

function asArray<T>(dump: unknown): T[] {
  if (dump === undefined || dump === null) return [];
  if (!Array.isArray(dump)) throw new Error('iproute2 JSON dump is not an array');
  return dump as T[];
}

function isScalar(v: unknown): v is Scalar {
  return v === null || ['string', 'number', 'boolean'].includes(typeof v);
}

function num(v: unknown): number {
  return typeof v === 'number' ? v : Number(v ?? 0) || 0;
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

/** IP protocols `ip rule` prints by name (getprotobynumber); the reader reports the number. */
const IP_PROTOCOLS: Record<string, number> = { icmp: 1, tcp: 6, udp: 17, 'ipv6-icmp': 58, sctp: 132 };

/**
 * `ip -j -4|-6 rule show` → KernelRule, shaped as the rtnetlink reader shapes a rule (tables.ts:
 * src/dst 'addr/len' or 'all', the other selectors as one text in a fixed order).
 */
export function parseRules(dump: unknown, family: 'inet' | 'inet6'): KernelRule[] {
  if (!Array.isArray(dump)) return [];
  return (dump as Record<string, unknown>[]).map((r) => {
    const prefix = (addr: unknown, len: unknown) => (addr === undefined || addr === 'all' ? 'all' : `${String(addr)}/${Number(len ?? (family === 'inet' ? 32 : 128))}`);
    const num = (v: unknown) => (typeof v === 'string' && v.startsWith('0x') ? parseInt(v, 16) : Number(v));
    const range = (start: unknown, end: unknown, single: unknown) => (single !== undefined ? `${num(single)}-${num(single)}` : `${num(start)}-${num(end)}`);
    const sel: string[] = [];
    if ('not' in r) sel.push('not');
    if (r.tos !== undefined && num(r.tos) !== 0) sel.push(`tos ${num(r.tos)}`);
    if (r.iif !== undefined) sel.push(`iif ${String(r.iif)}`);
    if (r.oif !== undefined) sel.push(`oif ${String(r.oif)}`);
    if (r.fwmark !== undefined) sel.push(`fwmark ${num(r.fwmark)}/${r.fwmask !== undefined ? num(r.fwmask) : 0xffffffff}`);
    if (r.goto !== undefined) sel.push(`goto ${num(r.goto)}`);
    if ('l3mdev' in r) sel.push('l3mdev');
    if (r.uid_start !== undefined) sel.push(`uidrange ${num(r.uid_start)}-${num(r.uid_end)}`);
    if (r.suppress_prefixlen !== undefined) sel.push(`suppress_prefixlength ${num(r.suppress_prefixlen)}`);
    if (r.suppress_ifgroup !== undefined) sel.push(`suppress_ifgroup ${num(r.suppress_ifgroup)}`);
    if (r.tun_id !== undefined) sel.push(`tun_id ${num(r.tun_id)}`);
    if (r.ipproto !== undefined) sel.push(`ipproto ${IP_PROTOCOLS[String(r.ipproto)] ?? num(r.ipproto)}`);
    if (r.sport !== undefined || r.sport_start !== undefined) sel.push(`sport ${range(r.sport_start, r.sport_end, r.sport)}`);
    if (r.dport !== undefined || r.dport_start !== undefined) sel.push(`dport ${range(r.dport_start, r.dport_end, r.dport)}`);
    const action = typeof r.action === 'string' ? r.action : r.goto !== undefined ? 'goto' : 'nop' in r ? 'nop' : 'to_tbl';
    return {
      family, priority: Number(r.priority ?? 0), table: r.table === undefined ? 'unspec' : String(r.table),
      src: prefix(r.src, r.srclen), dst: prefix(r.dst, r.dstlen), action, selectors: sel.join(' '),
    };
  });
}
