/**
 * One consistent-enough snapshot of a namespace: five JSON dumps run concurrently, one
 * process each whatever the number of interfaces, parsed by the pure functions of parse.ts.
 *
 * Bridge port flags (isolated, learning, flood, mcast_flood, state) come from the link
 * dump's info_slave_data, so `bridge -d link` is not needed. The five dumps are not one
 * atomic read: a link created between two of them can show up in one dump and not another.
 * Readers treat a name missing from `links` as absent, so such a race only delays a fact
 * to the next snapshot.
 */
import type { Iproute } from './iproute.js';
import { parseJsonDump, parseKernelState } from './parse.js';
import type { KernelState } from './types.js';

export const SNAPSHOT_COMMANDS = {
  link: { tool: 'ip', args: ['-j', '-d', '-s', 'link', 'show'] },
  addr: { tool: 'ip', args: ['-j', 'addr', 'show'] },
  route4: { tool: 'ip', args: ['-j', '-4', 'route', 'show', 'table', 'all'] },
  route6: { tool: 'ip', args: ['-j', '-6', 'route', 'show', 'table', 'all'] },
  fdb: { tool: 'bridge', args: ['-j', 'fdb', 'show'] },
} as const;

export type DumpName = keyof typeof SNAPSHOT_COMMANDS;

/**
 * What the planner and the verifier need: no counters, no FDB, main-table routes only (the
 * default routes it manages live there). Fewer and smaller dumps on a change's critical path.
 */
const CONFIG_COMMANDS: Record<DumpName, { tool: 'ip' | 'bridge'; args: readonly string[] } | null> = {
  link: { tool: 'ip', args: ['-j', '-d', 'link', 'show'] },
  addr: SNAPSHOT_COMMANDS.addr,
  route4: { tool: 'ip', args: ['-j', '-4', 'route', 'show', 'table', 'main'] },
  route6: { tool: 'ip', args: ['-j', '-6', 'route', 'show', 'table', 'main'] },
  fdb: null,
};

/** Capabilities and planning: config plus static FDB entries (no counters). */
const VIEW_COMMANDS: typeof CONFIG_COMMANDS = { ...CONFIG_COMMANDS, fdb: SNAPSHOT_COMMANDS.fdb };

/** Statistics: one dump, counters and kinds. */
const STATS_COMMANDS: typeof CONFIG_COMMANDS = {
  link: SNAPSHOT_COMMANDS.link, addr: null, route4: null, route6: null, fdb: null,
};

/**
 * 'full': every dump; 'view': what capabilities report and a change plans against;
 * 'config': 'view' without the FDB (verification); 'stats': links with counters only.
 */
export type SnapshotScope = 'full' | 'view' | 'config' | 'stats';

const SCOPES: Record<SnapshotScope, typeof CONFIG_COMMANDS> = {
  full: SNAPSHOT_COMMANDS, view: VIEW_COMMANDS, config: CONFIG_COMMANDS, stats: STATS_COMMANDS,
};

/** Run the five dumps concurrently; stdout text per dump (what fixtures store). */
export async function readDumps(ipr: Iproute, scope: SnapshotScope = 'full'): Promise<Record<DumpName, string>> {
  const names = Object.keys(SNAPSHOT_COMMANDS) as DumpName[];
  const commands = SCOPES[scope];
  const outputs = await Promise.all(names.map((name) => {
    const cmd = commands[name];
    if (!cmd) return '';
    return cmd.tool === 'ip' ? ipr.ip(cmd.args) : ipr.bridge(cmd.args);
  }));
  return Object.fromEntries(names.map((n, i) => [n, outputs[i] ?? ''])) as Record<DumpName, string>;
}

export async function readKernelState(ipr: Iproute, scope: SnapshotScope = 'full'): Promise<KernelState> {
  const takenAt = Date.now();
  const text = await readDumps(ipr, scope);
  return parseKernelState({
    link: parseJsonDump(text.link),
    addr: parseJsonDump(text.addr),
    route4: parseJsonDump(text.route4),
    route6: parseJsonDump(text.route6),
    fdb: parseJsonDump(text.fdb),
  }, takenAt);
}
