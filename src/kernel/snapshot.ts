/**
 * One-shot snapshots of a namespace, read in-process over rtnetlink (netlink.ts) on sockets of
 * their own: the daemon's long-lived view is view.ts; these serve verification and rollback of
 * a change (which must not trust events), startup, the CLI and tests.
 *
 * readDumps() keeps the iproute2 JSON dumps the fixtures and the parser comparison use.
 */
import type { Iproute } from './iproute.js';
import { dumpParallel, type RtnlRequest } from './netlink.js';
import { KernelTables, type SnapshotScope } from './tables.js';
import type { KernelState } from '../model/kernel-state.js';

export type { SnapshotScope, ViewScope } from './tables.js';

export const SNAPSHOT_COMMANDS = {
  link: { tool: 'ip', args: ['-j', '-d', '-s', 'link', 'show'] },
  addr: { tool: 'ip', args: ['-j', 'addr', 'show'] },
  route4: { tool: 'ip', args: ['-j', '-4', 'route', 'show', 'table', 'all'] },
  route6: { tool: 'ip', args: ['-j', '-6', 'route', 'show', 'table', 'all'] },
  fdb: { tool: 'bridge', args: ['-j', 'fdb', 'show'] },
} as const;

/** `ip -j rule` per family: what the parser comparison checks the rule dump against. */
export const RULE_COMMANDS = {
  rule4: { tool: 'ip', args: ['-j', '-4', 'rule', 'show'] },
  rule6: { tool: 'ip', args: ['-j', '-6', 'rule', 'show'] },
} as const;

export type DumpName = keyof typeof SNAPSHOT_COMMANDS;

/** The five iproute2 JSON dumps, concurrently; stdout text per dump (what fixtures store). */
export async function readDumps(ipr: Iproute): Promise<Record<DumpName, string>> {
  const names = Object.keys(SNAPSHOT_COMMANDS) as DumpName[];
  const outputs = await Promise.all(names.map((name) => {
    const cmd = SNAPSHOT_COMMANDS[name];
    return cmd.tool === 'ip' ? ipr.ip(cmd.args) : ipr.bridge(cmd.args);
  }));
  return Object.fromEntries(names.map((n, i) => [n, outputs[i] ?? ''])) as Record<DumpName, string>;
}

const DUMPS: Record<SnapshotScope, readonly RtnlRequest[]> = {
  full: ['link', 'addr', 'route', 'rule', 'fdb'],
  view: ['link', 'addr', 'route', 'rule', 'fdb'],
  config: ['link', 'addr', 'route', 'rule'],
  stats: ['link'],
};

/** A fresh snapshot: one dump per table the scope needs, in parallel (netlink.ts), parsed in the addon. */
export async function readKernelState(ipr: Pick<Iproute, 'netns'>, scope: SnapshotScope = 'full'): Promise<KernelState> {
  const takenAt = Date.now();
  const tables = new KernelTables();
  // each piece goes into the tables as it is parsed, while the slower dumps (links) go on
  await dumpParallel(ipr.netns, DUMPS[scope], { stats: scope === 'stats', localTable: scope === 'full' }, (answers) => {
    for (const m of answers) tables.apply(m);
  });
  return tables.render(scope, takenAt);
}
