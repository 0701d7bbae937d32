/**
 * Network namespace fixtures for integration tests.
 *
 *   const host = await createNetnsHost({ prefix: 'hnr-', nics: 2 });
 *   // host.ns has veth_0, veth_1 (up); their far ends sw_0, sw_1 sit in host.swNs,
 *   // enslaved to bridge `sw` that holds the gateway 192.0.2.1/24 and 2001:db8::1/64
 *   await host.ip(['link', 'add', 'br0', 'type', 'bridge']);
 *   ...
 *   await host.destroy();          // always, in afterAll / finally
 *
 * Names carry the creating pid (`hnr-p1234-ab12cd`), so cleanupStaleNetns(prefix) can remove
 * namespaces left by a test process that died, without touching those of a live run.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { execa } from 'execa';

export interface NetnsHostOptions {
  /** your namespace prefix, e.g. 'hnr-' */
  prefix: string;
  /** number of fake NICs veth_0..veth_{n-1} (default 4) */
  nics?: number;
  /** NIC name stem (default 'veth_'; must match the daemon's --fake-nics) */
  nicPrefix?: string;
  /** gateway addresses on the switch bridge (default 192.0.2.1/24 and 2001:db8::1/64) */
  gateway4?: string;
  gateway6?: string;
}

export interface NetnsHost {
  /** the namespace a daemon manages */
  ns: string;
  /** the namespace playing switch and gateway */
  swNs: string;
  /** NIC names inside ns */
  nics: string[];
  /** `ip -n ns ARGS` → stdout */
  ip(args: string[]): Promise<string>;
  /** `ip -n swNs ARGS` → stdout */
  swIp(args: string[]): Promise<string>;
  /** `bridge -n ns ARGS` → stdout */
  bridge(args: string[]): Promise<string>;
  /** `ip netns exec ns CMD ARGS` → stdout */
  exec(cmd: string, args: string[]): Promise<string>;
  /** `ip -j -d link show` parsed, by name */
  links(): Promise<Record<string, Record<string, unknown>>>;
  /** deletes both namespaces (and with them every device in them); idempotent */
  destroy(): Promise<void>;
}

const created = new Set<string>();
// last resort: namespaces a test forgot to destroy go with the test process
process.once('exit', () => {
  for (const ns of created) spawnSync('ip', ['netns', 'del', ns]);
});

/** A fresh namespace name with the pid and a random suffix. */
export function netnsName(prefix: string): string {
  return `${prefix}p${process.pid}-${randomBytes(3).toString('hex')}`;
}

async function run(cmd: string, args: string[], input?: string): Promise<string> {
  const r = await execa(cmd, args, { ...(input !== undefined ? { input } : {}), reject: false, stripFinalNewline: true });
  if (r.exitCode !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.exitCode}): ${r.stderr}`);
  return r.stdout;
}

export async function createNetns(prefix: string): Promise<string> {
  const ns = netnsName(prefix);
  await run('ip', ['netns', 'add', ns]);
  created.add(ns);
  await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  return ns;
}

export async function deleteNetns(ns: string): Promise<void> {
  created.delete(ns);
  const r = await execa('ip', ['netns', 'del', ns], { reject: false });
  if (r.exitCode !== 0 && !/No such file/.test(String(r.stderr))) throw new Error(`ip netns del ${ns}: ${r.stderr}`);
}

/** A managed namespace with veth NICs whose far ends sit on a switch bridge in a second namespace. */
export async function createNetnsHost(opts: NetnsHostOptions): Promise<NetnsHost> {
  const n = opts.nics ?? 4;
  const stem = opts.nicPrefix ?? 'veth_';
  const ns = await createNetns(opts.prefix);
  let swNs: string | undefined;
  try {
    swNs = await createNetns(opts.prefix);
    const nics = Array.from({ length: n }, (_, i) => `${stem}${i}`);
    await run('ip', ['-n', swNs, '-batch', '-'], [
      'link add sw type bridge',
      `addr add ${opts.gateway4 ?? '192.0.2.1/24'} dev sw`,
      `addr add ${opts.gateway6 ?? '2001:db8::1/64'} dev sw nodad`,
      'link set sw up',
      '',
    ].join('\n'));
    // created in ns, peer moved straight into the switch namespace
    await run('ip', ['-n', ns, '-batch', '-'], nics.flatMap((nic, i) => [
      `link add ${nic} type veth peer name sw_${i} netns ${swNs}`,
      `link set ${nic} up`,
    ]).join('\n') + '\n');
    await run('ip', ['-n', swNs, '-batch', '-'], nics.map((_, i) => `link set sw_${i} master sw up`).join('\n') + '\n');
    return handle(ns, swNs, nics);
  } catch (e) {
    await deleteNetns(ns);
    if (swNs) await deleteNetns(swNs);
    throw e;
  }
}

function handle(ns: string, swNs: string, nics: string[]): NetnsHost {
  return {
    ns,
    swNs,
    nics,
    ip: (args) => run('ip', ['-n', ns, ...args]),
    swIp: (args) => run('ip', ['-n', swNs, ...args]),
    bridge: (args) => run('bridge', ['-n', ns, ...args]),
    exec: (cmd, args) => run('ip', ['netns', 'exec', ns, cmd, ...args]),
    async links() {
      const list = JSON.parse(await run('ip', ['-n', ns, '-j', '-d', 'link', 'show'])) as Record<string, unknown>[];
      return Object.fromEntries(list.map((l) => [String(l.ifname), l]));
    },
    async destroy() {
      await deleteNetns(ns);
      await deleteNetns(swNs);
    },
  };
}

/** Deletes namespaces with this prefix whose creating process is gone (a crashed earlier run). */
export async function cleanupStaleNetns(prefix: string): Promise<string[]> {
  const out = await run('ip', ['netns', 'list']);
  const removed: string[] = [];
  for (const line of out.split('\n')) {
    const name = line.split(' ')[0] ?? '';
    const m = new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}p(\\d+)-[0-9a-f]+$`).exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || pidAlive(pid)) continue;
    await deleteNetns(name);
    removed.push(name);
  }
  killOrphanDhcpClients();
  return removed;
}

/**
 * dhcpcd clients outlive hostnetd by design, so a killed test run leaves its clients running in a
 * namespace that is no longer named (its run or the cleanup above deleted it). They keep dhcpcd's
 * per-interface files (/run/dhcpcd), and the next run's client for the same name then gets no
 * lease. Ends every dhcpcd whose network namespace is neither ours nor a named one.
 */
function killOrphanDhcpClients(): void {
  const netnsOf = (pid: string) => { try { return readlinkSync(`/proc/${pid}/ns/net`); } catch { return null; } };
  // the test process's own (pid 1's may be unreadable in a sandbox)
  const known = new Set([netnsOf('self'), netnsOf('1')]);
  let named: string[] = [];
  try { named = readdirSync('/run/netns'); } catch { /* no namespace was ever named */ }
  for (const name of named) {
    try { known.add(`net:[${statSync(`/run/netns/${name}`).ino}]`); } catch { /* deleted meanwhile */ }
  }
  for (const pid of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    let argv0: string;
    try { argv0 = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] ?? ''; } catch { continue; }
    // 'dhcpcd: <dev> [ip4]' and its helpers once retitled; the binary's path before that
    if (!/^dhcpcd(:|$)|\/dhcpcd$/.test(argv0)) continue;
    const ns = netnsOf(pid);
    if (ns === null || known.has(ns)) continue;
    try { process.kill(Number(pid), 'SIGKILL'); } catch { /* gone */ }
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
