/**
 * Per-device IPv6 sysctls (autoconf, accept_ra): what ipv6autoconf means to the kernel.
 * iproute2 has no command for them, so they are files under /proc/sys/net/ipv6/conf, which
 * belong to the network namespace of the process (the daemon runs inside the one it manages).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { isValidIfname } from './names.js';

export interface Ipv6Autoconf {
  autoconf: string;
  acceptRa: string;
}

const path = (dev: string, key: string) => {
  if (!isValidIfname(dev)) throw new Error(`refusing sysctl path for device ${JSON.stringify(dev)}`);
  return `/proc/sys/net/ipv6/conf/${dev}/${key}`;
};

/** Current values; a device without IPv6 (or gone) is left out. */
export async function readIpv6Autoconf(devs: readonly string[]): Promise<Map<string, Ipv6Autoconf>> {
  const out = new Map<string, Ipv6Autoconf>();
  await Promise.all(devs.map(async (dev) => {
    try {
      const [autoconf, acceptRa] = await Promise.all([readFile(path(dev, 'autoconf'), 'utf8'), readFile(path(dev, 'accept_ra'), 'utf8')]);
      out.set(dev, { autoconf: autoconf.trim(), acceptRa: acceptRa.trim() });
    } catch {
      // no IPv6 on this device
    }
  }));
  return out;
}

export async function writeIpv6Autoconf(values: ReadonlyMap<string, Ipv6Autoconf>): Promise<void> {
  await Promise.all([...values].map(async ([dev, v]) => {
    // accept_ra first: router advertisements are what autoconf acts on
    await writeFile(path(dev, 'accept_ra'), v.acceptRa);
    await writeFile(path(dev, 'autoconf'), v.autoconf);
  }));
}

/** The values a network's IP device should have. */
export const autoconfValues = (on: boolean): Ipv6Autoconf => ({ autoconf: on ? '1' : '0', acceptRa: on ? '1' : '0' });
