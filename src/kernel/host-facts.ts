/**
 * The few host facts Host.getCapabilities carries besides the network part, under VDSM's key
 * names (cpuCores, cpuThreads and memSize as strings, operatingSystem). Read once: none of
 * them changes while the daemon runs.
 */
import { readFile } from 'node:fs/promises';
import { cpus, release, totalmem } from 'node:os';

export interface HostFacts {
  cpuCores: string;
  cpuThreads: string;
  /** MiB */
  memSize: string;
  operatingSystem: { name: string; version: string; pretty_name: string };
  kernelRelease: string;
}

/** Distinct (physical id, core id) pairs of /proc/cpuinfo; threads when the file says nothing. */
export function countCores(cpuinfo: string, threads: number): number {
  const cores = new Set<string>();
  for (const block of cpuinfo.split(/\n\s*\n/)) {
    const phys = /^physical id\s*:\s*(\d+)/m.exec(block)?.[1];
    const core = /^core id\s*:\s*(\d+)/m.exec(block)?.[1];
    if (core !== undefined) cores.add(`${phys ?? 0}:${core}`);
  }
  return cores.size > 0 ? cores.size : threads;
}

/** KEY=value lines of os-release(5), quotes removed. */
export function parseOsRelease(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) out[m[1]!] = m[2]!.replace(/^(["'])(.*)\1$/, '$2');
  }
  return out;
}

export async function readHostFacts(): Promise<HostFacts> {
  const threads = cpus().length;
  const cpuinfo = await readFile('/proc/cpuinfo', 'utf8').catch(() => '');
  const osr = parseOsRelease(await readFile('/etc/os-release', 'utf8').catch(() => ''));
  return {
    cpuCores: String(countCores(cpuinfo, threads)),
    cpuThreads: String(threads),
    memSize: String(Math.floor(totalmem() / (1024 * 1024))),
    operatingSystem: { name: osr.NAME ?? 'Linux', version: osr.VERSION_ID ?? '', pretty_name: osr.PRETTY_NAME ?? '' },
    kernelRelease: release(),
  };
}
