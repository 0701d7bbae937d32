/**
 * Per-device IPv6 sysctls (autoconf, accept_ra): what ipv6autoconf means to the kernel.
 * iproute2 has no command for them, so they are files under /proc/sys/net/ipv6/conf, which
 * belong to the network namespace of the process (the daemon runs inside the one it manages).
 * Synchronous on purpose: each is a few-byte in-kernel file, and a thousand of them through the
 * thread pool cost far more (hundreds of ms) than the syscalls themselves.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { ErrorCode, HostnetError } from '../errors.js';
import { isValidIfname } from '../model/names.js';
import { ioFaultPoint } from '../faults.js';
import { dumpParallel } from './netlink.js';

export interface Ipv6Autoconf {
  autoconf: string;
  acceptRa: string;
}

const path = (dev: string, key: string) => {
  if (!isValidIfname(dev)) throw new Error(`refusing sysctl path for device ${JSON.stringify(dev)}`);
  return `/proc/sys/net/ipv6/conf/${dev}/${key}`;
};

/**
 * Current values; a device without IPv6 (or gone) is left out. A few devices are read from
 * their files; many (a change of hundreds of networks) from one link dump, whose IPv6 part
 * carries every device's sysctls: 2000 file reads cost ~60 ms at 1000 devices, the dump of 3000
 * links ~20 (names and sysctls parsed, nothing else; the whole links took ~50). `netns`: another namespace's (tests; its /proc/sys is not the process's).
 */
export async function readIpv6Autoconf(devs: readonly string[], netns?: string): Promise<Map<string, Ipv6Autoconf>> {
  return devs.length > FILES_UP_TO || netns !== undefined ? readIpv6AutoconfDump(devs, netns) : readIpv6AutoconfFiles(devs);
}

/** Above this many devices one dump is cheaper than two file reads each. */
const FILES_UP_TO = 100;

export function readIpv6AutoconfFiles(devs: readonly string[]): Map<string, Ipv6Autoconf> {
  const out = new Map<string, Ipv6Autoconf>();
  for (const dev of devs) {
    try {
      out.set(dev, { autoconf: readFileSync(path(dev, 'autoconf'), 'utf8').trim(), acceptRa: readFileSync(path(dev, 'accept_ra'), 'utf8').trim() });
    } catch {
      // no IPv6 on this device
    }
  }
  return out;
}

export async function readIpv6AutoconfDump(devs: readonly string[], netns?: string): Promise<Map<string, Ipv6Autoconf>> {
  const all = new Map<string, Ipv6Autoconf>();
  const [msgs] = await dumpParallel(netns, ['link'], { ipv6ConfOnly: true });
  for (const m of msgs ?? []) {
    if (m.t === 'ipv6conf' && m.ipv6Conf) all.set(m.name, { autoconf: m.ipv6Conf.autoconf, acceptRa: m.ipv6Conf.acceptRa });
  }
  // in the order asked, as the file reads give them (the journal keeps this order)
  const out = new Map<string, Ipv6Autoconf>();
  for (const dev of devs) {
    const v = all.get(dev);
    if (v) out.set(dev, v);
  }
  return out;
}

export interface WriteOptions {
  /** a device without IPv6 (no files: its MTU is below 1280) is skipped, not an error */
  absentOk?: boolean;
}

/** Throws APPLY_FAILED (the kernel refused a write) naming the device. */
export async function writeIpv6Autoconf(values: ReadonlyMap<string, Ipv6Autoconf>, opts: WriteOptions = {}): Promise<void> {
  for (const [dev, v] of values) {
    try {
      ioFaultPoint(`sysctl:${dev}`);
      // accept_ra first: router advertisements are what autoconf acts on
      try {
        writeFileSync(path(dev, 'accept_ra'), v.acceptRa);
      } catch (e) {
        if (opts.absentOk && (e as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw e;
      }
      writeFileSync(path(dev, 'autoconf'), v.autoconf);
    } catch (e) {
      throw new HostnetError(ErrorCode.APPLY_FAILED, `the kernel refused an IPv6 sysctl write (ipv6autoconf) of ${dev}: ${(e as Error).message}`, { cause: e });
    }
  }
}

/** The values a network's IP device should have. */
export const autoconfValues = (on: boolean): Ipv6Autoconf => ({ autoconf: on ? '1' : '0', acceptRa: on ? '1' : '0' });

/** The IPv6 sysctls of a namespace's devices, as a change reads and writes them. */
export interface Ipv6Sysctls {
  read(devs: readonly string[]): Promise<Map<string, Ipv6Autoconf>>;
  write(values: ReadonlyMap<string, Ipv6Autoconf>, opts?: WriteOptions): Promise<void>;
}

/** The process's own namespace: /proc/sys is the daemon's. */
export const ownSysctls: Ipv6Sysctls = { read: readIpv6Autoconf, write: writeIpv6Autoconf };

/** A namespace driven from outside (tests of the planner and the agent): its /proc/sys is not ours. */
export const noSysctls: Ipv6Sysctls = { read: async () => new Map(), write: async () => undefined };
