/**
 * Rollback as a plan: the snapshot taken before a change, restricted to the devices the change
 * touched, becomes a DesiredKernel, and the ordinary diff takes the kernel back to it. Pure.
 */
import type { KernelLink, KernelRoute, KernelState } from '../model/kernel-state.js';
import { BOND_OPTIONS } from '../model/bond-options.js';
import type { DesiredKernel, DesiredLink, Op } from '../model/op.js';
import { dict, getKey } from '../model/dict.js';
import { ownedPart, sourceRoutingOf } from './source-routes.js';

const VIRTUAL = new Set(['bridge', 'vlan', 'bond']);

/** Devices a plan changes, plus the ports of bridges and bonds it changes (they follow their master). */
export function touchedDevices(ops: readonly Op[], before: KernelState): string[] {
  const touched = new Set<string>();
  for (const op of ops) {
    if ('dev' in op) touched.add(op.dev);
    if (op.op === 'master' && op.master) touched.add(op.master);
    if (op.op === 'add-vlan') touched.add(op.base);
  }
  for (const link of Object.values(before.links)) {
    if (link.master && touched.has(link.master)) touched.add(link.name);
  }
  return [...touched].sort();
}

/** The part of a snapshot that concerns the given devices (what the journal keeps). */
export function sliceState(state: KernelState, devices: readonly string[]): KernelState {
  const keep = new Set(devices);
  const links: KernelState['links'] = dict();
  for (const d of keep) {
    const link = getKey(state.links, d);
    if (link) links[d] = link;
  }
  return {
    links,
    addresses: state.addresses.filter((a) => keep.has(a.ifname)),
    routes: state.routes.filter((r) => r.dst === 'default' || (r.dev !== undefined && keep.has(r.dev))),
    // the source-routing rules of the touched devices' tables (their routes have the device)
    rules: ownedPart(state, devices).rules,
    fdb: state.fdb.filter((f) => keep.has(f.ifname)),
    takenAt: state.takenAt,
  };
}

export function rollbackTarget(before: KernelState, now: KernelState, touched: readonly string[]): DesiredKernel {
  const links = dict<DesiredLink>();
  const remove: string[] = [];
  for (const dev of touched) {
    const was = getKey(before.links, dev);
    const is = getKey(now.links, dev);
    if (was) links[dev] = fromSnapshot(was, before);
    else if (is && VIRTUAL.has(is.kind)) remove.push(dev);
  }
  // a DHCP client's default route comes back with the client (restarted after the kernel); put
  // back before it, its gateway may not be reachable yet (the released lease took the address)
  const mainDefault = (x: KernelRoute) => x.dst === 'default' && x.gateway !== undefined && x.dev !== undefined && x.table === 'main';
  const defaultOf = (family: 'inet' | 'inet6') => {
    const r = before.routes.find((x) => x.family === family && mainDefault(x) && x.protocol !== 'dhcp');
    return r ? { gateway: r.gateway!, dev: r.dev! } : null;
  };
  const clientRoutes = before.routes.filter((x) => mainDefault(x) && x.protocol === 'dhcp').map((x) => x.dev!);
  const inet = defaultOf('inet');
  const inet6 = defaultOf('inet6');
  const routeDevices = new Set(touched);
  if (inet) routeDevices.add(inet.dev);
  if (inet6) routeDevices.add(inet6.dev);
  return {
    links, remove, defaultRoutes: { inet, inet6 }, routeDevices: [...routeDevices], sourceRouting: sourceRoutingOf(before, touched),
    ...(clientRoutes.length ? { dynamicRouteDevices: clientRoutes } : {}),
  };
}

function fromSnapshot(link: KernelLink, state: KernelState): DesiredLink {
  const kind = VIRTUAL.has(link.kind) ? (link.kind as DesiredLink['kind']) : 'nic';
  const out: DesiredLink = {
    name: link.name,
    kind,
    mtu: link.mtu,
    master: link.master ?? null,
    up: link.up,
    addresses: state.addresses
      .filter((a) => a.ifname === link.name && a.scope !== 'link' && a.scope !== 'host' && !a.dynamic)
      .map((a) => `${a.local}/${a.prefixlen}`),
  };
  if (link.bridge) out.bridge = { stp: link.bridge.stp, opts: restorableBridgeOpts(link.bridge.opts) };
  if (link.vlan && link.link) out.vlan = { base: link.link, id: link.vlan.id };
  if ((kind === 'bridge' || kind === 'vlan') && link.address) out.hwaddr = link.address;
  if (link.bond) {
    out.bond = { options: { mode: link.bond.mode, ...pick(link.bond.opts, Object.keys(BOND_OPTIONS)) }, hwaddr: link.address };
  }
  return out;
}

/**
 * Bridge options worth restoring: the ones a network's custom.bridge_opts may have changed and
 * that any kernel accepts back (vlan_filtering 0 fails where the kernel has no vlan filtering).
 */
const RESTORABLE_BRIDGE_OPTS = [
  'forward_delay', 'hello_time', 'max_age', 'ageing_time', 'priority', 'group_fwd_mask',
  'multicast_snooping', 'multicast_querier', 'multicast_router', 'nf_call_iptables', 'nf_call_ip6tables', 'nf_call_arptables',
];

function restorableBridgeOpts(opts: Record<string, string>): Record<string, string> {
  const out = pick(opts, RESTORABLE_BRIDGE_OPTS);
  if (opts.vlan_filtering === '1') out.vlan_filtering = '1';
  return out;
}

function pick(from: Record<string, string>, keys: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of keys) if (from[k] !== undefined) out[k] = from[k]!;
  return out;
}
