/**
 * diff(DesiredKernel, KernelState) → Op[]: the smallest ordered list of operations that takes
 * the kernel to the desired state. Pure. Edits are made in place (an MTU or address change
 * never recreates a device; a bridge keeps running while its port moves). An empty result
 * means the kernel already matches: that is how a repeated request does nothing, and how a
 * change is verified.
 *
 * Ordering: each op gets a phase; within a phase, the order of the desired links is kept. The
 * phases from the bridges on run bridge by bridge (ordered(), below).
 * MTUs go down from the top (bridge → vlan → base) and up from the bottom, so a device never
 * has a larger MTU than what carries it. A bond takes its new slaves before it lets go of the
 * old ones, so editing its slaves never leaves it empty (no link flap); a NIC let go gets its
 * MTU after the release (the driver restores the MTU it had when it was enslaved).
 * Bond edits the kernel refuses in place are prepared first (see bond.ts).
 */
import type { KernelAddress, KernelLink, KernelRoute, KernelState } from '../model/kernel-state.js';
import { canonicalIpv6 } from '../model/ip.js';
import { bondEdit, creationBondOptions, planBondRebuilds } from './bond.js';
import { diffSourceRouting } from './source-routes.js';
import type { DesiredKernel, DesiredLink, Op } from '../model/op.js';
import { getKey, hasKey } from '../model/dict.js';
import { MTU_MIN } from '../model/request.js';

const DEPTH: Record<DesiredLink['kind'], number> = { nic: 0, bond: 0, vlan: 1, bridge: 2 };

// phases, in execution order
const P = {
  routeDel: 0, detach: 1, del: 2, mtuDown: 3, bond: 4, enslaveBond: 5, release: 6, mtuUpBase: 7, addVlan: 8,
  mtuUpVlan: 9, bridge: 10, enslaveBridge: 11, mtuUpBridge: 12, up: 13, addrDel: 14, addrAdd: 15, routeAdd: 16,
} as const;

interface Staged { phase: number; order: number; op: Op }

/** What diffing one link needs to know besides the link. */
interface LinkContext {
  want: DesiredKernel;
  state: KernelState;
  push: (phase: number, op: Op) => void;
  /** devices whose addresses the plan puts back after taking them down: re-added with replace */
  readded: ReadonlySet<string>;
}

/** A device the plan needs whose name a device of another kind holds (a veth, a tun...). */
export interface DeviceClash {
  name: string;
  want: DesiredLink['kind'];
  have: string;
}

/**
 * Devices `want` cannot have without deleting a device hostnetd does not manage. The caller
 * refuses those (27) before diffing; bridges, VLANs and bonds of the wrong shape are replaced.
 */
export function deviceClashes(want: DesiredKernel, state: KernelState): DeviceClash[] {
  const out: DeviceClash[] = [];
  for (const link of Object.values(want.links)) {
    const cur = getKey(state.links, link.name);
    if (cur && link.kind !== 'nic' && !sameKind(link, cur) && !REPLACEABLE.includes(cur.kind)) out.push({ name: link.name, want: link.kind, have: cur.kind });
  }
  return out;
}

const REPLACEABLE: readonly string[] = ['bridge', 'vlan', 'bond'];

/** Pure and total over what deviceClashes() accepts; a clash left in is a caller's bug (a plain Error). */
export function diff(want: DesiredKernel, snapshot: KernelState): Op[] {
  const staged: Staged[] = [];
  const push = (phase: number, op: Op) => staged.push({ phase, order: staged.length, op });

  const rebuild = planBondRebuilds(want, snapshot);
  for (const dev of rebuild.recreate) push(P.del, { op: 'del', dev });
  for (const [dev, slaves] of rebuild.emptyDown) {
    for (const slave of slaves) push(P.detach, { op: 'master', dev: slave, master: null });
    push(P.detach, { op: 'down', dev });
  }
  const state = rebuild.state;
  const addrs = addressesByDev(state.addresses);
  const ctx: LinkContext = { want, state, push, readded: new Set(rebuild.emptyDown.keys()) };

  const deleted = new Set(want.remove.filter((dev) => hasKey(state.links, dev) && !hasKey(want.links, dev)));
  for (const dev of deleted) {
    // a vlan device goes with its base device: deleting it again would fail
    const base = state.links[dev]!.kind === 'vlan' ? state.links[dev]!.link : undefined;
    if (base === undefined || !deleted.has(base)) push(P.del, { op: 'del', dev });
  }
  for (const link of Object.values(want.links)) diffLink(link, ctx, addrs.get(link.name) ?? []);
  const addressChanged = new Set(staged.filter((s) => s.op.op === 'addr-del').map((s) => (s.op as { dev: string }).dev));
  diffRoutes(want, state, addressChanged, push);
  if (want.sourceRouting) {
    // a device deleted for good takes its routes along; one re-created or taken down loses them
    const dropped = new Set(staged.filter((s) => s.op.op === 'del').map((s) => (s.op as { dev: string }).dev));
    const goingAway = new Set([...dropped].filter((d) => !hasKey(want.links, d)));
    const refresh = new Set([...addressChanged, ...rebuild.emptyDown.keys(), ...[...dropped].filter((d) => hasKey(want.links, d))]);
    diffSourceRouting(want.sourceRouting, state, refresh, goingAway, (phase, op) => push(phase === 'del' ? P.routeDel : P.routeAdd, op));
  }

  return ordered(staged, want).map((s) => s.op);
}

/**
 * Phases up to the VLANs run across all networks, one phase after the other: they order devices
 * that networks share (a bond's slaves, a NIC's MTU under its VLANs). From the bridges on, each
 * bridge's ops (creation, its ports joining, a bond port's slaves, the ups, the addresses) run
 * together, bridge after bridge, and the routes last. Over the same 5000 lines of a 1000-network
 * change, `ip -batch` ran ~9% faster this way than phase after phase (README, Performance): the kernel's work for a
 * port coming up (carrier, IPv6 link-local, DAD) then runs alongside the rest of the batch.
 * One order across bridges stays: a VLAN device comes up only once its base is up, so the group
 * of a VLAN's base goes first.
 */
function ordered(staged: Staged[], want: DesiredKernel): Staged[] {
  const before: Staged[] = [];
  const after: Staged[] = [];
  const groups = new Map<string, Staged[]>();
  for (const s of staged) {
    if (s.phase < P.bridge) before.push(s);
    else if (s.phase > P.addrAdd) after.push(s);
    else {
      const g = groupOf((s.op as { dev: string }).dev, want);
      const list = groups.get(g);
      if (list) list.push(s);
      else groups.set(g, [s]);
    }
  }
  const byPhase = (a: Staged, b: Staged) => a.phase - b.phase || mtuOrder(a, b, want) || a.order - b.order;
  const out = before.sort(byPhase);
  for (const g of baseFirst([...groups.keys()], want)) out.push(...groups.get(g)!.sort(byPhase));
  return out.concat(after.sort(byPhase));
}

/** A device's group: the top of its chain of masters (a bond's slave goes with the bond, and the bond with its bridge). */
function groupOf(dev: string, want: DesiredKernel): string {
  let top = dev;
  for (let depth = 0; depth < 2; depth++) {
    const master = getKey(want.links, top)?.master;
    if (typeof master !== 'string' || !hasKey(want.links, master)) break;
    top = master;
  }
  return top;
}

/** The groups in their order, except that the group of a VLAN's base comes before the VLAN's. */
function baseFirst(groups: string[], want: DesiredKernel): string[] {
  // group → the groups holding the bases of its VLAN devices
  const needs = new Map<string, string[]>();
  for (const link of Object.values(want.links)) {
    if (link.vlan === undefined) continue;
    const g = groupOf(link.name, want);
    const base = groupOf(link.vlan.base, want);
    if (base !== g) needs.set(g, [...(needs.get(g) ?? []), base]);
  }
  const present = new Set(groups);
  const out: string[] = [];
  const placed = new Set<string>();
  const place = (g: string, path: Set<string>) => {
    if (placed.has(g) || path.has(g)) return;
    path.add(g);
    for (const base of needs.get(g) ?? []) if (present.has(base)) place(base, path);
    placed.add(g);
    out.push(g);
  };
  for (const g of groups) place(g, new Set());
  return out;
}

function diffLink(want: DesiredLink, ctx: LinkContext, addrs: KernelAddress[]): void {
  const { state, push } = ctx;
  let cur: KernelLink | undefined = getKey(state.links, want.name);
  if (cur && want.kind !== 'nic' && !sameKind(want, cur)) {
    if (!REPLACEABLE.includes(cur.kind)) throw new Error(`diff: device '${want.name}' is a ${cur.kind}; deviceClashes() should have refused it`);
    push(P.del, { op: 'del', dev: want.name });
    cur = undefined;
  }
  if (!cur) {
    if (want.kind === 'nic') return; // vanished NIC: validation or restore reports it
    create(want, push);
  } else {
    update(want, cur, ctx);
  }
  // enslaving flushes a NIC's IPv6 addresses: deleting them afterwards would fail, so they go first
  const becomesSlave = cur !== undefined && want.kind === 'nic' && typeof want.master === 'string' && cur.master !== want.master
    && getKey(ctx.want.links, want.master)?.kind === 'bond';
  diffAddresses(want, cur ? addrs : [], push, ctx.readded.has(want.name), becomesSlave ? P.detach : P.addrDel);
}

function sameKind(want: DesiredLink, cur: KernelLink): boolean {
  if (cur.kind !== want.kind) return false;
  if (want.vlan) return cur.vlan?.id === want.vlan.id && cur.link === want.vlan.base;
  return true;
}

function create(want: DesiredLink, push: (phase: number, op: Op) => void): void {
  const dev = want.name;
  if (want.kind === 'bond') {
    push(P.bond, { op: 'add-bond', dev, options: creationBondOptions(want.bond?.options ?? {}) });
    if (want.bond?.hwaddr) push(P.bond, { op: 'hwaddr', dev, hwaddr: want.bond.hwaddr });
    if (want.mtu !== undefined) push(P.mtuUpBase, { op: 'mtu', dev, mtu: want.mtu });
  } else if (want.kind === 'vlan') {
    push(P.addVlan, { op: 'add-vlan', dev, base: want.vlan!.base, id: want.vlan!.id, mtu: want.mtu ?? 1500 });
    if (want.hwaddr) push(P.addVlan, { op: 'hwaddr', dev, hwaddr: want.hwaddr });
  } else if (want.kind === 'bridge') {
    createBridge(want, push);
  }
  if (want.master) push(masterPhase(want), { op: 'master', dev, master: want.master });
  // a bridge with an MTU came up in createBridge
  if (want.up && !(want.kind === 'bridge' && want.mtu !== undefined)) push(P.up, { op: 'up', dev });
}

/**
 * A new bridge, before its ports join. Its MTU must count as set by the user, or the kernel
 * makes it follow the smallest port's (a guest's tap with a smaller MTU would pull the network
 * down): only a change of the MTU through the device's own MTU call marks it so (never the MTU of
 * the creation, never a set to the value it has). So the bridge is created one off its MTU and
 * gets its MTU next, in the message that brings it up; its ports then join a bridge whose MTU
 * they cannot move.
 */
function createBridge(want: DesiredLink, push: (phase: number, op: Op) => void): void {
  const dev = want.name;
  const mtu = want.mtu;
  const bridge = { op: 'add-bridge', dev, stp: want.bridge?.stp ?? false, opts: want.bridge?.opts ?? {} } as const;
  push(P.bridge, mtu === undefined ? bridge : { ...bridge, mtu: mtu > MTU_MIN ? mtu - 1 : mtu + 1 });
  // an explicit MAC stays, where one taken from a port would follow the ports
  if (want.hwaddr) push(P.bridge, { op: 'hwaddr', dev, hwaddr: want.hwaddr });
  if (mtu !== undefined) push(P.bridge, want.up ? { op: 'up', dev, mtu } : { op: 'mtu', dev, mtu });
}


function update(want: DesiredLink, cur: KernelLink, ctx: LinkContext): void {
  const { push } = ctx;
  const dev = want.name;
  if (want.bridge && cur.bridge && !sameBridge(want.bridge, cur)) {
    push(P.bridge, { op: 'set-bridge', dev, stp: want.bridge.stp, opts: want.bridge.opts });
  }
  if (want.bond && cur.bond) {
    const edit = bondEdit(want.bond.options, cur.bond);
    if (edit && Object.keys(edit.before).length) push(P.bond, { op: 'set-bond', dev, options: edit.before });
    if (edit && Object.keys(edit.set).length) push(P.bond, { op: 'set-bond', dev, options: edit.set });
  }
  if (want.bond?.hwaddr && cur.address !== want.bond.hwaddr) push(P.bond, { op: 'hwaddr', dev, hwaddr: want.bond.hwaddr });
  if (want.hwaddr && cur.address !== want.hwaddr) push(want.kind === 'vlan' ? P.addVlan : P.bridge, { op: 'hwaddr', dev, hwaddr: want.hwaddr });
  const leavesKeptBond = leavesBondThatStays(want, cur, ctx.want);
  if (want.master !== undefined && (cur.master ?? null) !== want.master) {
    if (want.master === null) push(leavesKeptBond ? P.release : P.detach, { op: 'master', dev, master: null });
    else push(masterPhase(want), { op: 'master', dev, master: want.master });
  }
  if (want.mtu !== undefined && cur.mtu !== want.mtu) {
    const phase = leavesKeptBond ? P.mtuUpBase : want.mtu < cur.mtu ? P.mtuDown : [P.mtuUpBase, P.mtuUpVlan, P.mtuUpBridge][DEPTH[want.kind]]!;
    push(phase, { op: 'mtu', dev, mtu: want.mtu });
  }
  // the bonding driver closes a slave it lets go (also when the slave moves to a bridge)
  const releasedByBond = cur.slaveKind === 'bond' && cur.master !== undefined && want.master !== undefined && want.master !== cur.master
    && !(want.master !== null && getKey(ctx.want.links, want.master)?.kind === 'bond');
  const isUp = cur.up && !releasedByBond;
  if (want.up === true && !isUp) push(P.up, { op: 'up', dev });
  if (want.up === false && cur.up) push(P.detach, { op: 'down', dev });
}

/** A slave let go by a bond that keeps existing: released after the new slaves joined. */
function leavesBondThatStays(want: DesiredLink, cur: KernelLink, plan: DesiredKernel): boolean {
  return want.master === null && cur.slaveKind === 'bond' && cur.master !== undefined && getKey(plan.links, cur.master)?.kind === 'bond';
}

function masterPhase(want: DesiredLink): number {
  return want.master?.startsWith('bond') && want.kind === 'nic' ? P.enslaveBond : P.enslaveBridge;
}

function sameBridge(want: NonNullable<DesiredLink['bridge']>, cur: KernelLink): boolean {
  if (want.stp !== cur.bridge!.stp) return false;
  return Object.entries(want.opts).every(([k, v]) => cur.bridge!.opts[k] === v);
}

function diffAddresses(
  want: DesiredLink, current: KernelAddress[], push: (phase: number, op: Op) => void, replace = false, delPhase: number = P.addrDel,
): void {
  if (want.addresses === undefined) return;
  const wanted = new Set(want.addresses.map(normalizeCidr));
  const have = new Set<string>();
  for (const a of current) {
    if (!isManagedAddress(a)) continue;
    const cidr = normalizeCidr(`${a.local}/${a.prefixlen}`);
    have.add(cidr);
    if (!wanted.has(cidr)) push(delPhase, { op: 'addr-del', dev: want.name, cidr });
  }
  for (const cidr of wanted) {
    if (have.has(cidr)) continue;
    // after a down, whether the kernel kept an IPv6 address depends on a sysctl: replace either way
    push(P.addrAdd, replace ? { op: 'addr-add', dev: want.name, cidr, replace: true } : { op: 'addr-add', dev: want.name, cidr });
  }
}

/**
 * Link-local and autoconfigured addresses are the kernel's business, and leased ones (finite
 * lifetime, either family) their DHCP client's, not the config's.
 */
function isManagedAddress(a: KernelAddress): boolean {
  if (a.scope === 'link' || a.scope === 'host' || a.dynamic) return false;
  if (a.family === 'inet6' && a.local.startsWith('fe80:')) return false;
  return true;
}

function normalizeCidr(cidr: string): string {
  const [addr, len] = cidr.split('/') as [string, string];
  return addr.includes(':') ? `${canonicalIpv6(addr)}/${len}` : `${addr}/${len}`;
}

/**
 * @param addressChanged devices losing an address: the kernel flushes routes whose gateway
 *   becomes unreachable, so a default route there is installed again after the new address
 */
function diffRoutes(
  want: DesiredKernel, state: KernelState, addressChanged: ReadonlySet<string>, push: (phase: number, op: Op) => void,
): void {
  const managed = new Set(want.routeDevices);
  const learned = new Set(want.dynamicRouteDevices ?? []);
  for (const family of ['inet', 'inet6'] as const) {
    const target = want.defaultRoutes[family];
    const current = state.routes.filter((r) => r.family === family && r.dst === 'default' && isMainTable(r));
    const exact = target && current.find((r) => r.dev === target.dev && sameGateway(r.gateway, target.gateway));
    for (const r of current) {
      if (r === exact || !r.dev || !managed.has(r.dev)) continue;
      // the DHCP client (or the kernel, from RAs) owns the default route of a dynamic defaultRoute network
      if (learned.has(r.dev) && (r.protocol === 'dhcp' || r.protocol === 'ra')) continue;
      // a route on a device the plan deletes goes with it
      if (want.remove.includes(r.dev) && !(r.dev in want.links)) continue;
      const del: Op = { op: 'route-del', family, dev: r.dev };
      if (r.gateway) del.gateway = r.gateway;
      push(P.routeDel, del);
    }
    if (target && (!exact || addressChanged.has(target.dev))) push(P.routeAdd, { op: 'route-replace', family, gateway: target.gateway, dev: target.dev });
  }
}

const isMainTable = (r: KernelRoute) => r.table === 'main' || r.table === '' || r.table === '254';

function sameGateway(a: string | undefined, b: string): boolean {
  if (a === undefined) return false;
  return a.includes(':') ? canonicalIpv6(a) === canonicalIpv6(b) : a === b;
}

function addressesByDev(addresses: KernelAddress[]): Map<string, KernelAddress[]> {
  const out = new Map<string, KernelAddress[]>();
  for (const a of addresses) {
    const list = out.get(a.ifname);
    if (list) list.push(a);
    else out.set(a.ifname, [a]);
  }
  return out;
}

/** Lowering MTUs runs top-down (larger depth first); raising runs bottom-up within a phase. */
function mtuOrder(a: Staged, b: Staged, want: DesiredKernel): number {
  if (a.op.op !== 'mtu' || b.op.op !== 'mtu' || a.phase !== P.mtuDown) return 0;
  const depth = (s: Staged) => DEPTH[getKey(want.links, (s.op as { dev: string }).dev)?.kind ?? 'nic'];
  return depth(b) - depth(a);
}
