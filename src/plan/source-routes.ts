/**
 * VDSM's per-network source routing ("multiple gateways"), pure. A network with a static address
 * and a gateway that does not hold the host's default route gets, per family:
 *   - its own routing table, numbered adler32(<its IP device's name>) as VDSM numbers it
 *     (lib/vdsm/network/nmstate/route.py, generate_table_id), holding its subnet route and a
 *     default route via its gateway;
 *   - two rules at priority 3200 (VDSM's RULE_PRIORITY): `from <subnet>` and `to <subnet>`, both
 *     looking that table up.
 * So traffic from the network's addresses leaves through its own gateway, while the main table
 * keeps the host's default route.
 *
 * Ownership: hostnetd owns the table numbered after each device a network of the previous or the
 * new config stands on, and the rules at priority 3200 that look one of those tables up with no
 * other selector. Every other table and rule is somebody else's and is never touched.
 *
 * VDSM installs IPv4 source routes only; hostnetd does both families the same way (each family
 * has its own tables and rules in the kernel, so the one number serves both).
 *
 * A DHCP network without defaultRoute gets the same table from its lease (the leased subnet, a
 * default route via the lease's router) but one rule only, `from <leased address>/32`: the
 * subnet is the DHCP server's, and other networks of the host may lease on it too (a
 * `from/to <subnet>` rule would take their traffic, DHCP and ARP included, through this
 * network's device). DHCPv6 leases carry no router (router advertisements do), so IPv4 only.
 */
import type { KernelRoute, KernelRule, KernelState } from '../model/kernel-state.js';
import type { Network } from '../model/types.js';
import type { FamilyLease } from '../model/lease.js';
import { canonicalIpv6, networkOf } from '../model/ip.js';
import type { DesiredRule, DesiredTableRoute, Op, SourceRouting } from '../model/op.js';

export const SOURCE_RULE_PRIORITY = 3200;

/** zlib's adler32 of the device name (UTF-8): VDSM's table number for a network's device. */
export function sourceRouteTable(dev: string): number {
  let a = 1;
  let b = 0;
  for (const byte of Buffer.from(dev, 'utf8')) {
    a = (a + byte) % 65521;
    b = (b + a) % 65521;
  }
  return ((b << 16) | a) >>> 0;
}

/** What a DHCPv4 lease taught about a device: its address and the router to leave through. */
export interface LearnedIpv4 {
  address: string;
  prefix: number;
  gateway: string;
}

/** The lease's first address and router, or undefined when it lacks either (lost, or a server sending no router). */
export function learnedIpv4(lease: FamilyLease | undefined): LearnedIpv4 | undefined {
  const cidr = lease?.addresses[0];
  const gateway = lease?.routers[0];
  if (cidr === undefined || gateway === undefined) return undefined;
  const [address, len] = cidr.split('/') as [string, string];
  return { address, prefix: Number(len), gateway };
}

/** A device's DHCPv4 knowledge, when its lease still holds (see the transaction for which do). */
export type Learned = (dev: string) => LearnedIpv4 | undefined;

/**
 * @param nets the usable networks of the new config, with their IP device
 * @param owners every device whose table this plan owns (the IP devices of old and new networks)
 * @param learned the leases of DHCP networks (none: a DHCP network gets no table)
 */
export function desiredSourceRouting(nets: readonly { net: Network; dev: string }[], owners: readonly string[], learned?: Learned): SourceRouting {
  const routes: DesiredTableRoute[] = [];
  const rules: DesiredRule[] = [];
  for (const { net, dev } of nets) {
    if (net.defaultRoute) continue;
    const table = sourceRouteTable(dev);
    const fill = (family: 'inet' | 'inet6', subnet: string, gateway: string) => {
      routes.push({ family, table, dst: subnet, dev });
      routes.push({ family, table, dst: 'default', gateway, dev });
    };
    const rule = (family: 'inet' | 'inet6', src: string, dst: string) => rules.push({ family, priority: SOURCE_RULE_PRIORITY, table, src, dst, dev });
    const lease = net.bootproto === 'dhcp' ? learned?.(dev) : undefined;
    if (lease) {
      fill('inet', networkOf(lease.address, lease.prefix), lease.gateway);
      rule('inet', `${lease.address}/32`, 'all');
    }
    const add = (family: 'inet' | 'inet6', subnet: string, gateway: string) => {
      fill(family, subnet, gateway);
      rule(family, subnet, 'all');
      rule(family, 'all', subnet);
    };
    if (net.ipv4?.gateway !== undefined) add('inet', networkOf(net.ipv4.address, net.ipv4.prefix), net.ipv4.gateway);
    const v6 = net.ipv6.addresses[0];
    if (net.ipv6.gateway !== undefined && v6 !== undefined) {
      const [addr, len] = v6.split('/') as [string, string];
      add('inet6', networkOf(addr, Number(len)), canonicalIpv6(net.ipv6.gateway));
    }
  }
  return { owners: [...new Set(owners)], routes, rules };
}

/**
 * Rollback: the owned tables and rules of the given devices as the snapshot before the change
 * had them. A route is kept only on a device that still needs it (its own).
 */
export function sourceRoutingOf(state: KernelState, devices: readonly string[]): SourceRouting {
  const owners = [...new Set(devices)];
  const byTable = ownerByTable(owners);
  const routes: DesiredTableRoute[] = [];
  for (const r of state.routes) {
    const owner = byTable.get(r.table);
    if (owner === undefined || r.dev === undefined) continue;
    const route: DesiredTableRoute = { family: r.family, table: Number(r.table), dst: r.dst, dev: r.dev };
    if (r.gateway !== undefined) route.gateway = r.gateway;
    routes.push(route);
  }
  const rules: DesiredRule[] = ownedRules(state.rules ?? [], byTable).map((r) => ({
    family: r.family, priority: r.priority, table: Number(r.table), src: r.src, dst: r.dst, dev: byTable.get(r.table)!,
  }));
  return { owners, routes, rules };
}

/** The snapshot's routes and rules of the tables the given devices own: what the journal keeps. */
export function ownedPart(state: KernelState, devices: readonly string[]): { routes: KernelRoute[]; rules: KernelRule[] } {
  const byTable = ownerByTable(devices);
  return {
    routes: state.routes.filter((r) => byTable.has(r.table)),
    rules: ownedRules(state.rules ?? [], byTable),
  };
}

/**
 * Ops that take the owned tables and rules from the snapshot to `want`.
 * @param addressChanged devices losing an address: the kernel may have flushed their routes, so
 *   theirs are replaced again after the new addresses
 * @param goingAway devices the plan deletes: their routes go with them
 */
export function diffSourceRouting(
  want: SourceRouting, state: KernelState, addressChanged: ReadonlySet<string>, goingAway: ReadonlySet<string>,
  push: (phase: 'del' | 'add', op: Op) => void,
): void {
  const byTable = ownerByTable([...want.owners, ...want.routes.map((r) => r.dev)]);
  const wantedRoutes = new Map(want.routes.map((r) => [routeKey(r.family, String(r.table), r.dst, r.gateway, r.dev), r]));
  const haveRoutes = new Set<string>();
  for (const r of state.routes) {
    if (!byTable.has(r.table) || r.dev === undefined) continue;
    const key = routeKey(r.family, r.table, r.dst, r.gateway, r.dev);
    haveRoutes.add(key);
    if (wantedRoutes.has(key) || goingAway.has(r.dev)) continue;
    const del: Op = { op: 'table-route-del', family: r.family, table: Number(r.table), dst: r.dst, dev: r.dev };
    if (r.gateway !== undefined) del.gateway = r.gateway;
    push('del', del);
  }
  const wantedRules = new Map(want.rules.map((r) => [ruleKey(r.family, r.priority, String(r.table), r.src, r.dst), r]));
  const haveRules = new Set<string>();
  for (const r of ownedRules(state.rules ?? [], byTable)) {
    const key = ruleKey(r.family, r.priority, r.table, r.src, r.dst);
    haveRules.add(key);
    if (wantedRules.has(key)) continue;
    push('del', { op: 'rule-del', family: r.family, priority: r.priority, table: Number(r.table), src: r.src, dst: r.dst, dev: byTable.get(r.table)! });
  }
  // the subnet route first: the gateway must be reachable in the table before the default route
  const ordered = [...wantedRoutes].sort(([, a], [, b]) => Number(a.dst === 'default') - Number(b.dst === 'default'));
  for (const [key, r] of ordered) {
    if (haveRoutes.has(key) && !addressChanged.has(r.dev)) continue;
    const op: Op = { op: 'table-route-replace', family: r.family, table: r.table, dst: r.dst, dev: r.dev };
    if (r.gateway !== undefined) op.gateway = r.gateway;
    push('add', op);
  }
  for (const [key, r] of wantedRules) {
    if (haveRules.has(key)) continue;
    push('add', { op: 'rule-add', family: r.family, priority: r.priority, table: r.table, src: r.src, dst: r.dst, dev: r.dev });
  }
}

function ownerByTable(devices: readonly string[]): Map<string, string> {
  return new Map(devices.map((d) => [String(sourceRouteTable(d)), d]));
}

/** Rules of ours: priority 3200, a plain lookup of an owned table, no selector besides src/dst. */
function ownedRules(rules: readonly KernelRule[], byTable: ReadonlyMap<string, string>): KernelRule[] {
  return rules.filter((r) => r.priority === SOURCE_RULE_PRIORITY && r.action === 'to_tbl' && r.selectors === '' && byTable.has(r.table));
}

/** A host route prints without its /32 (/128), as the kernel's dump has it. */
function routeDst(dst: string): string {
  return dst.replace(/\/(32|128)$/, (m, len: string) => (dst.includes(':') === (len === '128') ? '' : m));
}

const routeKey = (family: string, table: string, dst: string, gateway: string | undefined, dev: string) =>
  `${family}|${table}|${routeDst(dst)}|${gateway === undefined ? '' : gateway.includes(':') ? canonicalIpv6(gateway) : gateway}|${dev}`;
const ruleKey = (family: string, priority: number, table: string, src: string, dst: string) => `${family}|${priority}|${table}|${src}|${dst}`;
