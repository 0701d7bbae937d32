/**
 * Who else manages a NIC (the imperative half; the rule is apply/nic-owners.ts): NetworkManager's
 * device states from `nmcli`, and DHCP clients running in this network namespace, from /proc.
 * Reads only; never throws for an absent NetworkManager or a process that exits meanwhile.
 */
import { access, readdir, readFile, readlink } from 'node:fs/promises';
import { execa } from 'execa';

/** A DHCP client process: its program name, pid and arguments. */
export interface DhcpClientProcess {
  program: string;
  pid: number;
  args: string[];
  /** its cgroup path (systemd unit), to tell hostnetd's own clients from foreign ones */
  cgroup: string;
}

/** DHCP client programs hostnetd recognises on a host. */
export const DHCP_CLIENT_PROGRAMS = new Set(['dhclient', 'dhcpcd', 'udhcpc']);

/** nmcli's `DEVICE:STATE` lines → device → state; undefined when NetworkManager is absent or not running. */
export async function networkManagerStates(): Promise<Map<string, string> | undefined> {
  // NetworkManager keeps /run/NetworkManager while it runs: without it, no nmcli process per request
  if (!(await access('/run/NetworkManager').then(() => true, () => false))) return undefined;
  const r = await execa('nmcli', ['-t', '-f', 'DEVICE,STATE', 'device', 'status'], { reject: false, timeout: 5000 });
  if (r.failed || r.exitCode !== 0) return undefined;
  return parseNmcliStates(String(r.stdout));
}

/** Pure: `nmcli -t` escapes ':' in a field as '\:', so the state is after the last bare ':'. */
export function parseNmcliStates(text: string): Map<string, string> {
  const states = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^((?:[^:\\]|\\.)*):(.*)$/.exec(line);
    if (m) states.set(m[1]!.replace(/\\(.)/g, '$1'), m[2]!);
  }
  return states;
}

/**
 * DHCP client processes of this network namespace (clients elsewhere serve other NICs of that name).
 * Every process is looked at concurrently: one after the other, each file read's four trips
 * through the thread pool took 20-35 ms for 70 processes here. Async, not readFileSync: reading a
 * process's cmdline takes its memory map lock, which a process stuck in the kernel can hold.
 */
export async function dhcpClientProcesses(): Promise<DhcpClientProcess[]> {
  const ownNetns = await readlink('/proc/self/ns/net');
  const pids = (await readdir('/proc')).filter((entry) => /^\d+$/.test(entry));
  const found = await Promise.all(pids.map((pid) => dhcpClientOf(pid, ownNetns)));
  return found.filter((p): p is DhcpClientProcess => p !== undefined);
}

async function dhcpClientOf(pid: string, ownNetns: string): Promise<DhcpClientProcess | undefined> {
  try {
    const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter((a) => a.length > 0);
    const program = (argv[0] ?? '').split('/').pop() ?? '';
    if (!DHCP_CLIENT_PROGRAMS.has(program)) return undefined;
    if ((await readlink(`/proc/${pid}/ns/net`)) !== ownNetns) return undefined;
    const cgroup = (await readFile(`/proc/${pid}/cgroup`, 'utf8')).trim();
    return { program, pid: Number(pid), args: argv.slice(1), cgroup };
  } catch {
    // the process exited while we looked, or is not ours to read
    return undefined;
  }
}
