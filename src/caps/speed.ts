/**
 * Link speed and duplex of hardware NICs, from sysfs (/sys/class/net/X/speed, duplex): two
 * small file reads per NIC, all in parallel, no process. Virtual links (veth, bridge,
 * tap) answer EINVAL or -1 there, so only NICs with a parent bus are read. The daemon runs
 * inside the namespace it manages, where /sys/class/net is that namespace's view.
 */
import { readFile } from 'node:fs/promises';
import type { KernelState } from '../model/kernel-state.js';
import { isPhysicalNic } from '../kernel/nics.js';
import type { LinkSpeed } from './statistics.js';
import { dict } from '../model/dict.js';

export async function readNicSpeeds(state: KernelState, sysClassNet = '/sys/class/net'): Promise<Record<string, LinkSpeed>> {
  const nics = Object.values(state.links).filter(isPhysicalNic).map((l) => l.name);
  const entries = await Promise.all(nics.map(async (name): Promise<[string, LinkSpeed]> => {
    const [speed, duplex] = await Promise.all([
      readFile(`${sysClassNet}/${name}/speed`, 'utf8').catch(() => ''),
      readFile(`${sysClassNet}/${name}/duplex`, 'utf8').catch(() => ''),
    ]);
    return [name, parseSpeed(speed, duplex)];
  }));
  return dict(entries);
}

/** sysfs prints -1 (SPEED_UNKNOWN) when the link is down or the driver cannot tell */
export function parseSpeed(speed: string, duplex: string): LinkSpeed {
  const n = Number.parseInt(speed.trim(), 10);
  const d = duplex.trim();
  return {
    speed: Number.isFinite(n) && n > 0 ? n : 0,
    duplex: d === 'full' || d === 'half' ? d : 'unknown',
  };
}
