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

/** DHCP client processes of this network namespace (clients elsewhere serve other NICs of that name). */
export async function dhcpClientProcesses(): Promise<DhcpClientProcess[]> {
  const ownNetns = await readlink('/proc/self/ns/net');
  const found: DhcpClientProcess[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = (await readFile(`/proc/${entry}/cmdline`, 'utf8')).split('\0').filter((a) => a.length > 0);
      const program = (argv[0] ?? '').split('/').pop() ?? '';
      if (!DHCP_CLIENT_PROGRAMS.has(program)) continue;
      if ((await readlink(`/proc/${entry}/ns/net`)) !== ownNetns) continue;
      const cgroup = (await readFile(`/proc/${entry}/cgroup`, 'utf8')).trim();
      found.push({ program, pid: Number(entry), args: argv.slice(1), cgroup });
    } catch {
      // the process exited while we looked, or is not ours to read
    }
  }
  return found;
}
