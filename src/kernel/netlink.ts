/**
 * The rtnetlink reader addon (native/netlink, built by scripts/build-netlink.sh on every
 * install) and the shapes it returns. The addon parses each message in C++ into the fields of
 * KernelLink & co., but leaves references to other links as ifindexes (masterIndex, linkIndex,
 * oifIndex, ...): names are resolved when a KernelState is rendered (view.ts), because a rename
 * of a master is not notified on its ports.
 *
 *   const sock = openRtnl({ netns: 'hn-test', subscribe: true }, () => pump());
 *   sock.request('link', 1);          // a dump; its answers carry seq 1 and mine = true
 *   for (const m of sock.read()) ...  // every message queued now, never blocks
 */
import { ErrorCode, HostnetError } from '../errors.js';
import { loadAddon } from './addon.js';
import type {
  BondInfo, BondSlaveInfo, BridgeInfo, BridgePortInfo, HfscCurve, LinkStats,
} from '../model/kernel-state.js';

export type RtnlRequest = 'link' | 'addr' | 'route' | 'rule' | 'fdb' | 'barrier' | 'qdisc' | 'class' | 'filter';

interface MsgBase {
  seq: number;
  /** an answer to a request of this socket (not a notification) */
  mine: boolean;
  /** RTM_DEL* */
  del: boolean;
  /** NLM_F_REPLACE: this object replaced another with the same kernel key */
  replace: boolean;
}

/**
 * A bridge as the addon writes it: its options' values (as sysfs prints them) in one string,
 * "1500,200,...", in the order of the addon's bridgeOptionNames(), empty where the kernel has no
 * such option; expanded when read (tables.ts, bridgeInfo).
 */
export interface BridgeMsg extends Omit<BridgeInfo, 'opts'> {
  optValues: string;
  /** the BridgeInfo rendered from this message, made once (tables.ts) */
  info?: BridgeInfo;
}

export interface LinkMsg extends MsgBase {
  t: 'link';
  ifindex: number;
  name: string;
  kind: string;
  mtu: number;
  address: string;
  up: boolean;
  operstate: string;
  promiscuity: number;
  masterIndex?: number;
  linkIndex?: number;
  slaveKind?: string;
  bridge?: BridgeMsg;
  bridgePort?: BridgePortInfo;
  bond?: Omit<BondInfo, 'activeSlave'> & { activeSlaveIndex?: number; primaryIndex?: number };
  bondSlave?: BondSlaveInfo;
  vlan?: { id: number; protocol: string };
  parentBus?: string;
  stats?: LinkStats;
}

/** A link read with `ipv6ConfOnly`: its name and IPv6 sysctls alone, as /proc/sys prints them (absent without IPv6). */
export interface Ipv6ConfMsg extends MsgBase {
  t: 'ipv6conf';
  ifindex: number;
  name: string;
  ipv6Conf?: { autoconf: string; acceptRa: string };
}

/** AF_BRIDGE RTM_NEWLINK/DELLINK: a bridge port's own notification (flags, STP state) */
export interface BridgeLinkMsg extends MsgBase {
  t: 'brlink';
  ifindex: number;
  name?: string;
  masterIndex?: number;
  bridgePort?: BridgePortInfo;
}

export interface AddrMsg extends MsgBase {
  t: 'addr';
  ifindex: number;
  family: string;
  local?: string;
  prefixlen: number;
  scope: string;
  dynamic: boolean;
  tentative: boolean;
}

export interface RouteMsg extends MsgBase {
  t: 'route';
  family: string;
  table: string;
  dst: string;
  gateway?: string;
  oifIndex?: number;
  protocol?: string;
  scope?: string;
  metric?: number;
  tos: number;
  type: string;
  /** a cached clone (IPv6 exceptions): not a configured route */
  cloned: boolean;
}

/** RTM_NEWRULE/DELRULE: a routing policy rule, v4 or v6 (multicast routing families too, left out by tables.ts) */
export interface RuleMsg extends MsgBase {
  t: 'rule';
  family: string;
  priority: number;
  table: string;
  /** 'addr/len', or 'all' */
  src: string;
  dst: string;
  /** 'to_tbl' (lookup), 'goto', 'nop', 'blackhole', 'unreachable', 'prohibit' */
  action: string;
  tos: number;
  not?: boolean;
  iif?: string;
  oif?: string;
  fwmark?: number;
  fwmask?: number;
  goto?: number;
  protocol?: string;
  l3mdev?: boolean;
  uidrange?: string;
  suppressPrefixlen?: number;
  suppressIfgroup?: number;
  tunId?: number;
  ipproto?: number;
  sport?: string;
  dport?: string;
}

export interface FdbMsg extends MsgBase {
  t: 'fdb';
  ifindex: number;
  mac?: string;
  masterIndex?: number;
  vlan?: number;
  state: string;
  flags: string[];
  /** NTF_SELF: the device's own table, not its master's */
  self: number;
}

/** RTM_NEWQDISC / NEWTCLASS / NEWTFILTER: handles as numbers (major << 16 | minor) */
export interface TcMsg extends MsgBase {
  t: 'qdisc' | 'class' | 'filter';
  ifindex: number;
  handle: number;
  parent: number;
  kind?: string;
  /** hfsc qdisc: its default class's minor */
  hfscDefault?: number;
  /** hfsc class: its curves (bytes per second, microseconds) */
  hfsc?: { rt?: HfscCurve; ls?: HfscCurve; ul?: HfscCurve };
  /** filter */
  prio?: number;
  protocol?: number;
  classid?: number;
}

export type RtnlMsg =
  | LinkMsg | Ipv6ConfMsg | BridgeLinkMsg | AddrMsg | RouteMsg | RuleMsg | FdbMsg | TcMsg
  | (MsgBase & { t: 'done' | 'other' | 'neigh' })
  | (MsgBase & { t: 'error'; errno: number })
  | { t: 'overflow'; seq?: undefined; mine?: undefined; del?: undefined; replace?: undefined };

export interface RtnlSocket {
  /** a dump, or with `ifindex` one link ('link'), or one device's classes or filters (under `parent`) */
  request(what: RtnlRequest, seq: number, ifindex?: number, parent?: number): void;
  /**
   * Every message queued now, parsed (link counters only with `withStats`; links as name and
   * IPv6 sysctls alone with `ipv6ConfOnly`); never blocks. A link notification that a later one
   * of the same link in the same read supersedes is left out, unless the later one is a deletion
   * or changes the link's up flag or master (the addon's supersededLinks).
   */
  read(maxDatagrams?: number, withStats?: boolean, ipv6ConfOnly?: boolean): RtnlMsg[];
  /**
   * A whole dump on a pool thread (the kernel's share and the addon's parsing run there): this
   * request's answers. Only on a socket nobody subscribed; it takes no other call meanwhile.
   * With `each`, each piece's answers go to it as they are parsed, and the promise gives none.
   */
  dump(what: RtnlRequest, seq: number, parse?: DumpParse, each?: (answers: RtnlMsg[]) => void): Promise<RtnlMsg[]>;
  poll(on: boolean): void;
  close(): void;
}

/** The addon's socket: read() gives the messages as the JSON text of an array (see the addon's "JSON writer"). */
export interface AddonSocket extends Omit<RtnlSocket, 'read' | 'dump'> {
  read(maxDatagrams: number, withStats: boolean, ipv6ConfOnly: boolean): string;
  dump(what: RtnlRequest, seq: number, withStats: boolean, ipv6ConfOnly: boolean, cb: (err: Error | null, text?: string, last?: boolean) => void): void;
}

/** What a link dump parses: counters (statistics), or names and IPv6 sysctls alone. */
export interface DumpParse {
  stats?: boolean;
  ipv6ConfOnly?: boolean;
  /** dumpParallel: its sockets read the local table's routes (OpenOptions.localTable) */
  localTable?: boolean;
}

export interface OpenOptions {
  /** a network namespace name (as `ip netns` knows it); default the daemon's own */
  netns?: string;
  /** join the link, address, route, rule and neighbour groups */
  subscribe: boolean;
  /** receive buffer in bytes (root may exceed rmem_max) */
  rcvbuf?: number;
  /**
   * routes of the local table (an entry per address, a broadcast per IPv4 subnet, ff00::/8 per
   * IPv6 device: nothing hostnetd plans or reports); default true. Without them the addon leaves
   * them out while parsing, dumps and notifications alike.
   */
  localTable?: boolean;
}

export function openRtnl(o: OpenOptions, onReadable?: () => void): RtnlSocket {
  const { Rtnl } = loadAddon();
  const sock = new Rtnl({
    subscribe: o.subscribe,
    ...(o.netns !== undefined ? { netns: `/run/netns/${o.netns}` } : {}),
    ...(o.rcvbuf !== undefined ? { rcvbuf: o.rcvbuf } : {}),
    localTable: o.localTable ?? true,
  }, onReadable);
  return {
    request: (what, seq, ifindex, parent) => sock.request(what, seq, ifindex, parent),
    // one JSON.parse per read makes the objects: far cheaper than making them through N-API
    read: (max = -1, withStats = false, ipv6ConfOnly = false) => JSON.parse(sock.read(max, withStats, ipv6ConfOnly)) as RtnlMsg[],
    dump: (what, seq, parse = {}, each) => new Promise((resolve, reject) => {
      const out: RtnlMsg[] = [];
      let failed: unknown;
      // each piece is parsed as it comes, while the thread reads the next
      sock.dump(what, seq, parse.stats === true, parse.ipv6ConfOnly === true, (err, text, last) => {
        if (err) {
          reject(new HostnetError(ErrorCode.KERNEL_READ_FAILED, `netlink ${what} dump: ${err.message}`, { cause: err }));
          return;
        }
        try {
          if (failed === undefined) answersOf(JSON.parse(text ?? '[]') as RtnlMsg[], what, seq, out);
          if (each !== undefined && failed === undefined) each(out.splice(0));
        } catch (e) {
          failed = e;
        }
        if (!last) return;
        if (failed === undefined) resolve(out);
        else reject(failed);
      });
    }),
    poll: (on) => sock.poll(on),
    close: () => sock.close(),
  };
}

/** Collects into `out` the answers to request `seq` among `batch`; true when its end was among them. */
function answersOf(batch: readonly RtnlMsg[], what: RtnlRequest, seq: number, out: RtnlMsg[]): boolean {
  for (const m of batch) {
    if (m.t === 'overflow') throw new HostnetError(ErrorCode.KERNEL_READ_FAILED, `netlink ${what} dump: receive buffer overflow`);
    if (!m.mine || m.seq !== seq) continue;
    if (m.t === 'done') return true;
    if (m.t === 'error') {
      if (m.errno === 0 && what === 'barrier') return true;
      throw new HostnetError(ErrorCode.KERNEL_READ_FAILED, `netlink ${what} dump failed: errno ${m.errno}`);
    }
    out.push(m);
    if (what === 'barrier') return true;
  }
  return false;
}

/**
 * One dump on a socket nobody else uses (no subscription): every answer until NLMSG_DONE.
 * Synchronous: the kernel fills the next part of a dump while we read the previous one.
 */
export function dumpOnce(sock: RtnlSocket, what: RtnlRequest, seq: number, parse: DumpParse = {},
  ifindex?: number, parent?: number): RtnlMsg[] {
  if (ifindex === undefined) sock.request(what, seq);
  else if (parent === undefined) sock.request(what, seq, ifindex);
  else sock.request(what, seq, ifindex, parent);
  const out: RtnlMsg[] = [];
  for (;;) {
    const batch = sock.read(-1, parse.stats === true, parse.ipv6ConfOnly === true);
    if (answersOf(batch, what, seq, out)) return out;
    if (batch.length === 0) waitReadable();
  }
}

/**
 * Several dumps at once, each on a socket of its own and a pool thread (the kernel fills a dump
 * inside the reader's recv, so the threads run the kernel's share in parallel too); the answers
 * in the order asked. At 3000 links the link dump alone is 16–17 ms of kernel time and parsing.
 */
export async function dumpParallel(netns: string | undefined, whats: readonly RtnlRequest[], parse: DumpParse = {},
  each?: (answers: RtnlMsg[]) => void): Promise<RtnlMsg[][]> {
  const socks: RtnlSocket[] = [];
  try {
    for (let i = 0; i < whats.length; i++) {
      socks.push(openRtnl({ subscribe: false, localTable: parse.localTable, ...(netns !== undefined ? { netns } : {}) }));
    }
    return await Promise.all(whats.map((what, i) => socks[i]!.dump(what, 1, parse, each)));
  } finally {
    // a socket whose dump is still running (another one failed) closes when its thread is done
    for (const s of socks) s.close();
  }
}

/** A dump in progress with nothing queued yet: rare (the kernel answers inside sendmsg). */
function waitReadable(): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
}
