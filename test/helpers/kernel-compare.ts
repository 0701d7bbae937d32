/**
 * The rtnetlink reader checked against iproute2's JSON (test/integration/kernel-view.test.ts on
 * this kernel, test/vm/inner/netlink.inner.ts for bonds and VLANs): the same namespace read both
 * ways, reduced to what two reads moments apart must agree on.
 */
import { execFileSync } from 'node:child_process';
import { expect, vi } from 'vitest';
import { createIproute } from '../../src/kernel/iproute.js';
import { parseJsonDump, parseKernelState } from '../../src/kernel/parse.js';
import { readDumps } from '../../src/kernel/snapshot.js';
import type { KernelState } from '../../src/model/kernel-state.js';

/** IPv6 duplicate address detection off in a namespace: it would change addresses between two reads compared. */
export function noDad(ns: string): void {
  for (const c of ['all', 'default']) execFileSync('ip', ['netns', 'exec', ns, 'sysctl', '-qw', `net.ipv6.conf.${c}.accept_dad=0`]);
}

/**
 * The kernel sets a device's operstate from its linkwatch work, after the command that brought it
 * up has returned: a bond or a new bridge is UNKNOWN until then, and two reads taken across that
 * moment differ. Waits until none of `devs` (every link but lo when omitted) is UNKNOWN.
 */
export async function operstatesSettled(ns: string, devs?: readonly string[]): Promise<void> {
  await vi.waitFor(() => {
    const links = JSON.parse(execFileSync('ip', ['-n', ns, '-j', 'link', 'show']).toString()) as { ifname: string; operstate: string }[];
    const watched = devs ?? links.map((l) => l.ifname).filter((n) => n !== 'lo');
    for (const dev of watched) expect(links.find((l) => l.ifname === dev)?.operstate, dev).not.toBe('UNKNOWN');
  }, { timeout: 30_000, interval: 100 });
}

/** iproute2's view of the namespace, through the project's JSON parser. */
export async function viaIproute(ns: string): Promise<KernelState> {
  const t = await readDumps(createIproute({ netns: ns }));
  return parseKernelState({
    link: parseJsonDump(t.link), addr: parseJsonDump(t.addr), route4: parseJsonDump(t.route4),
    route6: parseJsonDump(t.route6), fdb: parseJsonDump(t.fdb),
  }, 0);
}

/** A full state as the long-lived view holds it: without the local table (view.ts). */
export function viewScope(s: KernelState): KernelState {
  return { ...s, routes: s.routes.filter((r) => r.table !== 'local') };
}

// running timers tick between two reads; counters too
const TIMERS = ['hello_timer', 'tcn_timer', 'topology_change_timer', 'gc_timer'];

/** A state without what ticks, lists sorted; the reader keeps the bridges' FDB only: entries with a master (netlink_addon.cc). */
export function comparable(s: KernelState) {
  const links = Object.fromEntries(Object.entries(s.links).map(([n, l]) => {
    const { stats: _s, ...rest } = l;
    if (rest.bridge) rest.bridge = { ...rest.bridge, opts: Object.fromEntries(Object.entries(rest.bridge.opts).filter(([k]) => !TIMERS.includes(k))) };
    return [n, rest];
  }));
  const sorted = <T>(a: T[]) => a.map((x) => JSON.stringify(x, Object.keys(x as object).sort())).sort();
  return {
    links, addresses: sorted(s.addresses), routes: sorted(s.routes),
    fdb: sorted(s.fdb.filter((e) => e.master !== undefined)),
  };
}
