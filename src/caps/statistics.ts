/**
 * Host.getNetworkStatistics, in VDSM's shape: per interface (NICs, bonds, vlans, bridges)
 * {name, rx, tx, rxDropped, txDropped, rxErrors, txErrors, speed, duplex, state, sampleTime}
 * with the counters and speed as strings and sampleTime in seconds since the epoch.
 *
 * speed/duplex are not in iproute2's dumps. Without `speeds` (read by the shell from sysfs,
 * see speed.ts) every device reports speed "0" and duplex "unknown", which is also what a
 * veth is. (VDSM itself turns a speed of 0 into "1000"; hostnetd reports the truth.)
 * Bonds report their slaves' sum (load-balancing modes) or the active slave's speed
 * (active-backup, broadcast), vlans their base device's, as VDSM does.
 */
import type { KernelLink, KernelState } from '../model/kernel-state.js';
import { globMatcher, isNic } from '../kernel/nics.js';
import { dict } from '../model/dict.js';

export interface LinkSpeed {
  /** Mb/s, 0 when unknown */
  speed: number;
  /** 'full' | 'half' | 'unknown' */
  duplex: string;
}

export interface InterfaceStats {
  name: string;
  rx: string;
  tx: string;
  rxDropped: string;
  txDropped: string;
  rxErrors: string;
  txErrors: string;
  speed: string;
  duplex: string;
  state: 'up' | 'down';
  sampleTime: number;
}

const FAILOVER_MODES = new Set(['active-backup', 'broadcast']);

/**
 * @param now milliseconds since the epoch (Date.now() of the snapshot)
 * @param speeds per hardware NIC, when the shell read them
 */
export function buildStatistics(
  state: KernelState, fakeNics: string[], now: number, speeds: Record<string, LinkSpeed> = {},
): { network: Record<string, InterfaceStats> } {
  const isFake = globMatcher(fakeNics);
  const sampleTime = now / 1000;
  const network = dict<InterfaceStats>();
  for (const name of Object.keys(state.links).sort()) {
    const link = state.links[name]!;
    if (!reported(link, isFake)) continue;
    const s = link.stats;
    const sp = linkSpeed(link, state, speeds);
    network[name] = {
      name,
      rx: String(s?.rxBytes ?? 0),
      tx: String(s?.txBytes ?? 0),
      rxDropped: String(s?.rxDropped ?? 0),
      txDropped: String(s?.txDropped ?? 0),
      rxErrors: String(s?.rxErrors ?? 0),
      txErrors: String(s?.txErrors ?? 0),
      speed: String(sp.speed),
      duplex: sp.duplex,
      state: operUp(link) ? 'up' : 'down',
      sampleTime,
    };
  }
  return { network };
}

function reported(link: KernelLink, isFake: (n: string) => boolean): boolean {
  return link.kind === 'bridge' || link.kind === 'bond' || link.kind === 'vlan' || isNic(link, isFake);
}

/** IFF_RUNNING as iproute2 shows it: up, and the kernel does not say the carrier is gone */
export function operUp(link: KernelLink): boolean {
  return link.up && (link.operstate === 'UP' || link.operstate === 'UNKNOWN');
}

const UNKNOWN: LinkSpeed = { speed: 0, duplex: 'unknown' };

function linkSpeed(link: KernelLink, state: KernelState, speeds: Record<string, LinkSpeed>): LinkSpeed {
  const own = speeds[link.name];
  if (own !== undefined) return own;
  if (link.kind === 'vlan' && link.link !== undefined) {
    return speeds[link.link] ?? UNKNOWN;
  }
  if (link.kind === 'bond') {
    const slaves = Object.values(state.links).filter((l) => l.master === link.name);
    if (FAILOVER_MODES.has(link.bond?.mode ?? '')) {
      const active = link.bond?.activeSlave;
      return { speed: active !== undefined ? (speeds[active]?.speed ?? 0) : 0, duplex: 'unknown' };
    }
    return { speed: slaves.reduce((sum, s) => sum + (speeds[s.name]?.speed ?? 0), 0), duplex: 'unknown' };
  }
  return UNKNOWN;
}
