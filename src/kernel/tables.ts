/**
 * The kernel's objects as rtnetlink messages, keyed as the kernel keys them, and the rendering of
 * a KernelState from them. Used by the long-lived view (view.ts: dump once, then apply every
 * notification) and by one-shot snapshots (snapshot.ts: dump into fresh tables).
 *
 * Messages are applied in the order they arrive on one socket; every NEW message carries the
 * whole object, so the last one applied is the kernel's state, whether it came from a dump or a
 * notification.
 */
import type { AddrMsg, BridgeLinkMsg, BridgeMsg, FdbMsg, LinkMsg, RouteMsg, RtnlMsg, RuleMsg } from './netlink.js';
import type { BridgeInfo, FdbEntry, KernelAddress, KernelLink, KernelRoute, KernelRule, KernelState } from '../model/kernel-state.js';
import { dict } from '../model/dict.js';
import { loadAddon } from './addon.js';

/**
 * 'full': everything but counters; 'view': what capabilities report and a change plans against
 * (routes of every table but 'local', rules); 'config': 'view' without the FDB (verification);
 * 'stats': links with counters.
 */
export type SnapshotScope = 'full' | 'view' | 'config' | 'stats';
/** What the long-lived view renders (view.ts): it never reads the local table, so not 'full'. */
export type ViewScope = Exclude<SnapshotScope, 'full'>;

export class KernelTables {
  readonly links = new Map<number, LinkMsg>();
  readonly addrs = new Map<string, AddrMsg>();
  readonly routes = new Map<string, RouteMsg>();
  readonly fdb = new Map<string, FdbMsg>();
  readonly rules = new Map<string, RuleMsg>();

  clear(): void {
    this.links.clear();
    this.addrs.clear();
    this.routes.clear();
    this.fdb.clear();
    this.rules.clear();
  }

  /**
   * The kernel removes IPv4 routes without a notification when their device goes down or is
   * deleted, or when their preferred source address goes: the route table must be read again.
   */
  routesStale = false;
  /**
   * A veth pair's first notification names no peer yet (it is registered before its peer) and
   * none follows: the links must be read again for the peer's name.
   */
  linksStale = false;

  /**
   * IPv6 addresses are notified from the DAD work queue, after the `ip` command that added them
   * has returned: after our own batch the addresses are read again before verifying.
   */
  addrsStale = false;

  /** Apply one message; returns the ifindex of the device it concerns, if any. */
  apply(m: RtnlMsg, notification = false): number | undefined {
    switch (m.t) {
      case 'link': {
        const before = this.links.get(m.ifindex);
        if (m.del) {
          this.links.delete(m.ifindex);
          this.dropDevice(m.ifindex);
          this.routesStale = true;
        } else {
          if (before?.up === true && !m.up) this.routesStale = true;
          if (notification && before === undefined && m.kind === 'veth' && !m.linkIndex) this.linksStale = true;
          // a port that leaves its bridge leaves the bridge's table
          if (before?.masterIndex !== undefined && before.masterIndex !== m.masterIndex) this.dropFdb((e) => e.ifindex === m.ifindex && e.masterIndex === before.masterIndex);
          this.links.set(m.ifindex, m);
        }
        return m.ifindex;
      }
      case 'brlink':
        this.applyBridgeLink(m);
        return m.ifindex;
      case 'addr':
        if (m.local === undefined) return undefined;
        if (m.del) {
          this.addrs.delete(addrKey(m));
          if (m.family === 'inet') this.routesStale = true;
        } else {
          this.addrs.set(addrKey(m), m);
        }
        return m.ifindex;
      case 'route':
        if (m.cloned) return undefined;
        if (m.replace) this.dropReplaced(m);
        if (m.del) this.routes.delete(routeKey(m));
        else this.routes.set(routeKey(m), m);
        return undefined;
      case 'rule':
        this.applyRule(m);
        return undefined;
      case 'fdb':
        if (m.mac === undefined) return undefined;
        if (m.del) this.fdb.delete(fdbKey(m));
        else this.fdb.set(fdbKey(m), m);
        return undefined;
      default:
        return undefined;
    }
  }

  render(scope: SnapshotScope, takenAt = Date.now()): KernelState {
    const name = (i: number | undefined) => (i === undefined ? undefined : this.links.get(i)?.name);
    const ordered = [...this.links.values()].sort((a, b) => a.ifindex - b.ifindex);
    // device names are the user's network names ('__proto__' is a valid bridge): no prototype
    const links = dict<KernelLink>();
    for (const m of ordered) links[m.name] = renderLink(m, name, scope === 'stats');
    if (scope === 'stats') return { links, addresses: [], routes: [], fdb: [], takenAt };

    const addresses: KernelAddress[] = [];
    const byDev = [...this.addrs.values()].filter((a) => this.links.has(a.ifindex))
      .sort((a, b) => a.ifindex - b.ifindex);
    for (const a of byDev) {
      if (a.family !== 'inet' && a.family !== 'inet6') continue;
      addresses.push({
        ifname: name(a.ifindex)!, family: a.family, local: a.local!, prefixlen: a.prefixlen,
        scope: a.scope, dynamic: a.dynamic, tentative: a.tentative,
      });
    }
    const routes: KernelRoute[] = [];
    for (const r of this.routes.values()) {
      if (r.family !== 'inet' && r.family !== 'inet6') continue;
      // the local table holds an entry per address: nothing hostnetd plans or reports
      if (scope !== 'full' && r.table === 'local') continue;
      const route: KernelRoute = { family: r.family, table: r.table, dst: r.dst, type: r.type };
      if (r.gateway !== undefined) route.gateway = r.gateway;
      const dev = name(r.oifIndex);
      if (dev !== undefined) route.dev = dev;
      if (r.protocol !== undefined) route.protocol = r.protocol;
      if (r.scope !== undefined) route.scope = r.scope;
      if (r.metric !== undefined) route.metric = r.metric;
      routes.push(route);
    }
    const fdb: FdbEntry[] = [];
    if (scope !== 'config') {
      for (const e of this.fdb.values()) {
        const ifname = name(e.ifindex);
        if (ifname === undefined) continue;
        const entry: FdbEntry = { mac: e.mac!, ifname, state: e.state, flags: e.flags };
        const master = name(e.masterIndex);
        if (master !== undefined) entry.master = master;
        if (e.vlan !== undefined) entry.vlan = e.vlan;
        fdb.push(entry);
      }
    }
    return { links, addresses, routes, rules: this.renderRules(), fdb, takenAt };
  }

  /** Rules are kept apart by everything the kernel keys them by; no notification is ever partial. */
  private applyRule(m: RuleMsg): void {
    if (m.family !== 'inet' && m.family !== 'inet6') return;
    const key = ruleKey(m);
    if (m.del) this.rules.delete(key);
    else this.rules.set(key, m);
  }

  private renderRules(): KernelRule[] {
    const out: KernelRule[] = [];
    for (const m of this.rules.values()) {
      out.push({
        family: m.family as KernelRule['family'], priority: m.priority, table: m.table, src: m.src, dst: m.dst,
        action: m.action, selectors: ruleSelectors(m),
      });
    }
    return out.sort((a, b) => a.priority - b.priority || a.family.localeCompare(b.family));
  }

  private applyBridgeLink(m: BridgeLinkMsg): void {
    const link = this.links.get(m.ifindex);
    // a port's flags and STP state change with an AF_BRIDGE notification only
    if (link === undefined || m.del || m.bridgePort === undefined || link.bridgePort === undefined) return;
    this.links.set(m.ifindex, { ...link, bridgePort: m.bridgePort });
  }

  private dropReplaced(m: RouteMsg): void {
    const prefix = routeSlot(m);
    for (const [k, r] of this.routes) if (routeSlot(r) === prefix) this.routes.delete(k);
  }

  private dropDevice(ifindex: number): void {
    for (const [k, a] of this.addrs) if (a.ifindex === ifindex) this.addrs.delete(k);
    for (const [k, r] of this.routes) if (r.oifIndex === ifindex) this.routes.delete(k);
    this.dropFdb((e) => e.ifindex === ifindex || e.masterIndex === ifindex);
  }

  private dropFdb(which: (e: FdbMsg) => boolean): void {
    for (const [k, e] of this.fdb) if (which(e)) this.fdb.delete(k);
  }
}

function renderLink(m: LinkMsg, name: (i: number | undefined) => string | undefined, stats: boolean): KernelLink {
  const link: KernelLink = {
    ifindex: m.ifindex, name: m.name, kind: m.kind, mtu: m.mtu, address: m.address, up: m.up,
    operstate: m.operstate, promiscuity: m.promiscuity,
  };
  const master = name(m.masterIndex);
  if (master !== undefined) link.master = master;
  // iproute2's "link": the vlan's base or a veth peer here; an index it cannot name is "if<N>"
  if (m.linkIndex !== undefined && m.linkIndex !== 0) link.link = name(m.linkIndex) ?? `if${m.linkIndex}`;
  if (m.parentBus !== undefined) link.parentBus = m.parentBus;
  if (m.slaveKind !== undefined) link.slaveKind = m.slaveKind;
  if (m.bridge !== undefined) link.bridge = bridgeInfo(m.bridge);
  if (m.bond !== undefined) {
    const { activeSlaveIndex, primaryIndex, ...bond } = m.bond;
    const opts = { ...bond.opts };
    const primary = name(primaryIndex);
    if (primary !== undefined) opts.primary = primary;
    link.bond = { ...bond, opts };
    const active = name(activeSlaveIndex);
    if (active !== undefined) link.bond.activeSlave = active;
  }
  if (m.bridgePort !== undefined) link.bridgePort = m.bridgePort;
  if (m.bondSlave !== undefined) link.bondSlave = m.bondSlave;
  if (m.vlan !== undefined) link.vlan = m.vlan;
  if (stats && m.stats !== undefined) link.stats = m.stats;
  return link;
}

/**
 * A bridge's options are split out of their values when first read (capabilities, a plan that
 * compares options, a rollback's before-state), once per message: most of a bridge's
 * notifications are superseded before anybody reads them. Every render of the same message
 * shares one BridgeInfo, kept on the message.
 *
 * A class, not an object literal with a getter: V8 builds such a literal in its runtime, ~2.7 µs
 * each (a render of 1000 bridges paid ~2.7 ms for them), an instance of this class in ~0.15 µs.
 * `opts` is a getter of the prototype: JSON goes through toJSON, and a spread copies stp and
 * vlanFiltering alone.
 */
class LazyBridgeInfo implements BridgeInfo {
  readonly stp: boolean;
  readonly vlanFiltering: boolean;
  readonly #values: string;
  #opts: Record<string, string> | undefined;

  constructor(m: BridgeMsg) {
    this.stp = m.stp;
    this.vlanFiltering = m.vlanFiltering;
    this.#values = m.optValues;
  }

  get opts(): Record<string, string> {
    return (this.#opts ??= splitOpts(this.#values));
  }

  toJSON(): BridgeInfo {
    return { stp: this.stp, vlanFiltering: this.vlanFiltering, opts: this.opts };
  }
}

function bridgeInfo(m: BridgeMsg): BridgeInfo {
  return (m.info ??= new LazyBridgeInfo(m));
}

let optionNames: readonly string[] | undefined;
function splitOpts(values: string): Record<string, string> {
  optionNames ??= loadAddon().bridgeOptionNames();
  const opts: Record<string, string> = {};
  const vs = values.split(',');
  for (let i = 0; i < vs.length && i < optionNames.length; i++) {
    // an option this kernel does not have comes as an empty value
    if (vs[i] !== '') opts[optionNames[i]!] = vs[i]!;
  }
  return opts;
}

const addrKey = (a: AddrMsg) => `${a.ifindex}|${a.family}|${a.local}|${a.prefixlen}`;
/** what a replace replaces: IPv4 keys a route by these alone */
const routeSlot = (r: RouteMsg) => `${r.family}|${r.table}|${r.dst}|${r.tos}|${r.metric ?? ''}`;
// IPv6 keeps routes that differ only in device or gateway apart (fe80::/64 on every link)
const routeKey = (r: RouteMsg) => (r.family === 'inet6' ? `${routeSlot(r)}|${r.oifIndex ?? ''}|${r.gateway ?? ''}` : routeSlot(r));
/** What else a rule matches on besides src, dst and priority, as one comparable text. */
function ruleSelectors(m: RuleMsg): string {
  const parts: string[] = [];
  if (m.not) parts.push('not');
  if (m.tos) parts.push(`tos ${m.tos}`);
  if (m.iif !== undefined) parts.push(`iif ${m.iif}`);
  if (m.oif !== undefined) parts.push(`oif ${m.oif}`);
  if (m.fwmark !== undefined) parts.push(`fwmark ${m.fwmark}/${m.fwmask ?? 0xffffffff}`);
  if (m.goto !== undefined) parts.push(`goto ${m.goto}`);
  if (m.l3mdev) parts.push('l3mdev');
  if (m.uidrange !== undefined) parts.push(`uidrange ${m.uidrange}`);
  if (m.suppressPrefixlen !== undefined) parts.push(`suppress_prefixlength ${m.suppressPrefixlen}`);
  if (m.suppressIfgroup !== undefined) parts.push(`suppress_ifgroup ${m.suppressIfgroup}`);
  if (m.tunId !== undefined) parts.push(`tun_id ${m.tunId}`);
  if (m.ipproto !== undefined) parts.push(`ipproto ${m.ipproto}`);
  if (m.sport !== undefined) parts.push(`sport ${m.sport}`);
  if (m.dport !== undefined) parts.push(`dport ${m.dport}`);
  return parts.join(' ');
}

const ruleKey = (m: RuleMsg) => `${m.family}|${m.priority}|${m.table}|${m.src}|${m.dst}|${m.action}|${ruleSelectors(m)}`;
const fdbKey = (e: FdbMsg) => `${e.mac}|${e.ifindex}|${e.vlan ?? ''}|${e.self}`;
