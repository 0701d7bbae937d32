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

/** Run the five dumps concurrently; stdout text per dump (what fixtures store). */
export async function readDumps(ipr: Iproute): Promise<Record<DumpName, string>> {
  const names = Object.keys(SNAPSHOT_COMMANDS) as DumpName[];
  const outputs = await Promise.all(names.map((name) => {
    const { tool, args } = SNAPSHOT_COMMANDS[name];
    return tool === 'ip' ? ipr.ip(args) : ipr.bridge(args);
  }));
  return Object.fromEntries(names.map((n, i) => [n, outputs[i] ?? ''])) as Record<DumpName, string>;
}

export async function readKernelState(ipr: Iproute): Promise<KernelState> {
  const takenAt = Date.now();
  const text = await readDumps(ipr);
  return parseKernelState({
    link: parseJsonDump(text.link),
    addr: parseJsonDump(text.addr),
    route4: parseJsonDump(text.route4),
    route6: parseJsonDump(text.route6),
    fdb: parseJsonDump(text.fdb),
  }, takenAt);
}
