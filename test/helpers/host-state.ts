/**
 * "The host exactly as before", for the fault-injection and kill tests: everything a change can
 * touch. comparableState (devices, masters, MTUs, up/down, addresses, routes, port flags) plus
 * each device's MAC, the IPv6 autoconf/accept_ra sysctls, the resolver file and the state
 * directory's files (running.json and safe.json by content; nothing else left behind: no journal,
 * no temporary file, no batch record).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { comparableState } from './state.js';

export interface HostState {
  kernel: Awaited<ReturnType<typeof comparableState>>;
  macs: Record<string, string>;
  sysctls: string[];
  resolvConf: string | null;
  stateFiles: Record<string, string>;
}

export async function hostState(ns: string, stateDir: string, resolvConf: string): Promise<HostState> {
  const links = JSON.parse((await execa('ip', ['-n', ns, '-j', 'link', 'show'])).stdout) as { ifname: string; address?: string }[];
  const sysctl = await execa('ip', ['netns', 'exec', ns, 'sysctl', '-a', '-r', String.raw`^net\.ipv6\.conf\..*\.(autoconf|accept_ra)$`]);
  return {
    kernel: await comparableState(ns),
    macs: Object.fromEntries(links.map((l) => [l.ifname, l.address ?? ''])),
    sysctls: sysctl.stdout.split('\n').filter(Boolean).sort(),
    resolvConf: existsSync(resolvConf) ? readFileSync(resolvConf, 'utf8') : null,
    stateFiles: Object.fromEntries(readdirSync(stateDir).filter((f) => f !== 'hostnetd.lock').sort()
      .map((f) => [f, f.endsWith('.json') ? readFileSync(path.join(stateDir, f), 'utf8') : '(present)'])),
  };
}

/** The same host without what a re-run of the same change may legitimately vary: MACs of devices it creates. */
export function withoutMacs(s: HostState): Omit<HostState, 'macs'> {
  const { macs: _macs, ...rest } = s;
  return rest;
}
