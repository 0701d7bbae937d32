/**
 * Per-device IPv6 sysctls (autoconf, accept_ra): what ipv6autoconf means to the kernel.
 * iproute2 has no command for them, so they are files under /proc/sys/net/ipv6/conf, which
 * belong to the network namespace of the process (the daemon runs inside the one it manages).
 * A few devices are read synchronously (each is a few-byte in-kernel file, and a thousand of
 * them through Node's thread pool, one task per call, cost far more than the syscalls); many are
 * read by one netlink dump. Writes go to the addon in one list, written on one or two pool threads.
 */
import { readFileSync } from 'node:fs';
import { getSystemErrorName } from 'node:util';
import { ErrorCode, HostnetError } from '../errors.js';
import { isValidIfname } from '../model/names.js';
import { ioFaultPoint } from '../faults.js';
import { dumpParallel } from './netlink.js';
import { loadAddon, type FileWriteFailure } from './addon.js';

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

/** Above this many devices the writes are split between two pool threads (this VM has two cores). */
const ONE_THREAD_UP_TO = 64;

/**
 * Throws APPLY_FAILED (the kernel refused a write) naming the device; the first in the map's
 * order when several fail. The writes run on pool threads (the addon's writeFiles), so a change
 * verifies the kernel meanwhile.
 */
export async function writeIpv6Autoconf(values: ReadonlyMap<string, Ipv6Autoconf>, opts: WriteOptions = {}): Promise<void> {
  const devs = [...values.keys()];
  // the test-only fault points first, in order: a write failing at a device leaves those before it written
  let upTo = devs.length;
  let injected: unknown;
  for (let i = 0; i < devs.length && injected === undefined; i++) {
    try {
      ioFaultPoint(`sysctl:${devs[i]}`);
    } catch (err) {
      injected = err;
      upTo = i;
    }
  }
  const todo = devs.slice(0, upTo);
  const groups = todo.map((dev) => {
    const v = values.get(dev)!;
    try {
      // accept_ra first: router advertisements are what autoconf acts on
      return [[path(dev, 'accept_ra'), v.acceptRa] as const, [path(dev, 'autoconf'), v.autoconf] as const];
    } catch (e) {
      throw refused(dev, (e as Error).message, e);
    }
  });
  const shards = groups.length > ONE_THREAD_UP_TO ? 2 : 1;
  const size = Math.ceil(groups.length / shards);
  const results = await Promise.all(Array.from({ length: shards }, (_, i) => writeFiles(groups.slice(i * size, (i + 1) * size))));
  for (const [i, failures] of results.entries()) {
    for (const [group, file, errno, syscall, message] of failures) {
      const at = i * size + group;
      const code = errnoName(errno);
      // a device without IPv6 has no accept_ra file (nor autoconf)
      if (opts.absentOk && file === 0 && code === 'ENOENT') continue;
      throw refused(todo[at]!, `${code}: ${message}, ${syscall} '${groups[at]![file]![0]}'`);
    }
  }
  if (injected !== undefined) throw refused(devs[upTo]!, (injected as Error).message, injected);
}

const refused = (dev: string, why: string, cause?: unknown) =>
  new HostnetError(ErrorCode.APPLY_FAILED, `the kernel refused an IPv6 sysctl write (ipv6autoconf) of ${dev}: ${why}`, cause === undefined ? {} : { cause });

function writeFiles(groups: (readonly [string, string])[][]): Promise<FileWriteFailure[]> {
  if (groups.length === 0) return Promise.resolve([]);
  return new Promise((resolve, reject) => loadAddon().writeFiles(groups, (err, failures) => (err ? reject(err) : resolve(failures ?? []))));
}

const errnoName = (errno: number): string => {
  try {
    return getSystemErrorName(-errno);
  } catch {
    return `errno ${errno}`;
  }
};

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
