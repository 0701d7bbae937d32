/**
 * "VMs" for data-plane tests: a namespace per guest whose eth0 is one end of a veth pair; the
 * other end (named like the tap libvirt would make, e.g. testnet0) sits in the host namespace
 * and is enslaved to a bridge by hand, as libvirt does with a tap.
 */
import { execa } from 'execa';
import { createIproute } from '../../src/kernel/iproute.js';
import { readKernelState } from '../../src/kernel/snapshot.js';
import { createNetns, deleteNetns } from '../helpers/netns.js';

export interface Vm {
  ns: string;
  /** the port's name in the host namespace */
  port: string;
  ipv4: string;
  ipv6: string;
  mac: string;
}

export async function run(cmd: string, args: string[]): Promise<string> {
  const r = await execa(cmd, args, { reject: false, stripFinalNewline: true });
  if (r.exitCode !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.exitCode}): ${r.stderr}`);
  return r.stdout;
}

/** `ip netns exec NS CMD ARGS`; resolves with the exit code (never rejects) */
export async function execIn(ns: string, cmd: string, args: string[], timeoutMs = 15_000): Promise<number> {
  const r = await execa('ip', ['netns', 'exec', ns, cmd, ...args], { reject: false, timeout: timeoutMs });
  return r.exitCode ?? -1;
}

/** true when `ping` from `ns` to `addr` gets an answer: up to 3 probes, 1 s each, stops at the first reply */
export async function pings(ns: string, addr: string): Promise<boolean> {
  const family = addr.includes(':') ? ['-6'] : [];
  for (let i = 0; i < 3; i++) {
    if ((await execIn(ns, 'ping', [...family, '-c', '1', '-W', '1', addr])) === 0) return true;
  }
  return false;
}

/** whether `ns` has a resolved neighbour entry (one with a link-layer address) for `addr` */
export async function resolvedNeighbour(ns: string, addr: string): Promise<boolean> {
  const out = await run('ip', ['-n', ns, '-j', 'neigh', 'show', 'to', addr]);
  const entries = JSON.parse(out || '[]') as { lladdr?: string }[];
  return entries.some((e) => e.lladdr !== undefined);
}

export async function flushNeighbours(ns: string): Promise<void> {
  await run('ip', ['-n', ns, 'neigh', 'flush', 'all']);
}

/** Creates a VM namespace and its port in `hostNs` (not enslaved: call attach). */
export async function createVm(prefix: string, hostNs: string, port: string, i: number, mac: string): Promise<Vm> {
  const ns = await createNetns(prefix);
  const vm: Vm = { ns, port, ipv4: `192.0.2.${10 + i}`, ipv6: `2001:db8::${10 + i}`, mac };
  await run('ip', ['-n', hostNs, 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
  await execa('ip', ['-n', ns, '-batch', '-'], {
    input: [
      `link set eth0 address ${mac}`,
      `addr add ${vm.ipv4}/24 dev eth0`,
      `addr add ${vm.ipv6}/64 dev eth0 nodad`,
      'link set eth0 up',
      '',
    ].join('\n'),
  });
  return vm;
}

/** Enslave the VM's port to `bridge` and bring it up, as libvirt does with a tap. */
export async function attach(hostNs: string, vm: Vm, bridge: string): Promise<void> {
  await run('ip', ['-n', hostNs, 'link', 'set', vm.port, 'master', bridge, 'up']);
}

export async function detach(hostNs: string, vm: Vm): Promise<void> {
  await run('ip', ['-n', hostNs, 'link', 'set', vm.port, 'nomaster']);
}

export async function destroyVms(vms: Vm[]): Promise<void> {
  for (const vm of vms) await deleteNetns(vm.ns).catch(() => undefined);
}

/** the port's flags; hostNs undefined: this process's own namespace */
export async function portFlags(hostNs: string | undefined, port: string) {
  const s = await readKernelState(createIproute(hostNs === undefined ? {} : { netns: hostNs }));
  const bp = s.links[port]?.bridgePort;
  return bp ? { isolated: bp.isolated, learning: bp.learning, flood: bp.flood } : undefined;
}

export async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * tcpdump on `dev` in `ns` (undefined: this namespace) with a BPF filter; stop() ends it and resolves with the number of
 * frames it captured. Resolves once tcpdump is listening.
 */
export async function capture(ns: string | undefined, dev: string, filter: string): Promise<{ stop(): Promise<number> }> {
  const cmd = ns === undefined ? [] : ['ip', 'netns', 'exec', ns];
  // --immediate-mode: without it, frames still in libpcap's ring buffer (up to its 1 s block
  // timeout) are left out of "captured" when stop() interrupts tcpdump, and a count reads 0
  const args = [...cmd, 'tcpdump', '-n', '-p', '--immediate-mode', '-i', dev, '-U', filter];
  const proc = execa(args[0]!, args.slice(1), { reject: false, buffer: true, all: false });
  let stderr = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tcpdump did not start: ${stderr}`)), 10_000);
    proc.stderr!.on('data', (c: Buffer) => {
      stderr += c.toString();
      if (stderr.includes('listening on')) {
        clearTimeout(timer);
        resolve();
      }
    });
    void proc.then(() => {
      clearTimeout(timer);
      reject(new Error(`tcpdump exited: ${stderr}`));
    });
  });
  return {
    async stop() {
      proc.kill('SIGINT');
      const r = await proc;
      const m = /(\d+) packets? captured/.exec(String(r.stderr));
      if (!m) throw new Error(`tcpdump said: ${String(r.stderr)}`);
      return Number(m[1]);
    },
  };
}

/** python3: create tap argv[1] on /dev/net/tun and hold it open, draining what it is sent (as qemu does) */
const TAP_HOLDER = `
import fcntl, os, struct, sys
fd = os.open('/dev/net/tun', os.O_RDWR)
fcntl.ioctl(fd, 0x400454ca, struct.pack('16sH', sys.argv[1].encode(), 0x0002 | 0x1000))
print('ready', flush=True)
while True:
    os.read(fd, 65536)
`;

/**
 * A tap with a reader, in `ns` (undefined: this namespace), like a guest's: it has carrier, and
 * frames sent to it are delivered (tcpdump on it sees them). close() ends the reader, and the
 * kernel deletes the tap with it, as when a guest stops.
 */
export async function openTap(ns: string | undefined, name: string): Promise<{ close(): Promise<void> }> {
  const cmd = ns === undefined ? ['python3', '-c', TAP_HOLDER, name] : ['ip', 'netns', 'exec', ns, 'python3', '-c', TAP_HOLDER, name];
  const proc = execa(cmd[0]!, cmd.slice(1), { reject: false });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('ready')) resolve();
    });
    void proc.then((r) => reject(new Error(`tap holder for ${name} exited: ${String(r.stderr)}`)));
  });
  return {
    async close() {
      proc.kill('SIGTERM');
      await proc;
    },
  };
}
