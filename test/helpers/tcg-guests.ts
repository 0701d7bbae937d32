/**
 * Tiny TCG guests under a real libvirtd for the data-plane tests: the VM tier's Debian kernel, a
 * busybox initramfs with the virtio NIC modules and an init script of the test's own, and the
 * machine's libvirtd (with virtlogd), started when none runs and stopped again.
 *
 *   const daemons = new Libvirtd(dir);  await daemons.ensure();      // under lockLibvirtd()
 *   const initrd = buildInitramfs(dir, vm.moddir, initScript, { 'bin/spoof': binary });
 *   const lan = await createGuestLan('hnp-', bridge, uplink);        // gateway 192.0.2.1 in lan.gwNs
 *   virsh create <file with guestDomainXml({...})>; const tap = await guestTap(name, mac);
 *   ...
 *   await lan.destroy(); await daemons.stopStarted();
 */
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { execa, execaSync } from 'execa';
import { LibvirtConnection } from '../../src/libvirt/binding.js';
import { createIproute } from '../../src/kernel/iproute.js';
import type { Network } from '../../src/model/types.js';
import { domainInterfaces } from '../../src/ports/guests.js';
import { until } from '../integration/dataplane-helpers.js';
import { createNetns, deleteNetns } from './netns.js';

export const URI = 'qemu:///system';
export const GUEST_MODULES = ['virtio_ring', 'virtio', 'virtio_pci_legacy_dev', 'virtio_pci_modern_dev', 'virtio_pci', 'failover', 'net_failover', 'virtio_net'];

export async function libvirtdReachable(): Promise<boolean> {
  try {
    await (await LibvirtConnection.open(URI)).close();
    return true;
  } catch {
    return false;
  }
}

/** libvirtd and virtlogd as this test process runs them: only those it started are ever stopped. */
export class Libvirtd {
  private readonly started = new Map<string, string>();

  constructor(private readonly dir: string) {}

  /** Starts virtlogd and libvirtd as daemons when libvirtd is not reachable. */
  async ensure(): Promise<void> {
    await kvmDeviceAsUdevLeavesIt();
    if (await libvirtdReachable()) return;
    for (const d of ['virtlogd', 'libvirtd']) await this.start(d);
    await until('libvirtd accepting connections', async () => libvirtdReachable(), 20_000);
  }

  /** Stops the libvirtd this process started and starts it again (the test owns it, or this throws). */
  async restart(): Promise<void> {
    const pidFile = this.started.get('libvirtd');
    if (pidFile === undefined) throw new Error('libvirtd was already running when the test began: it cannot restart a daemon it did not start');
    await stopPid(pidFile);
    this.started.delete('libvirtd');
    await this.start('libvirtd');
    await until('libvirtd accepting connections again', async () => libvirtdReachable(), 20_000);
  }

  async stopStarted(): Promise<void> {
    for (const pidFile of [...this.started.values()].reverse()) await stopPid(pidFile);
    this.started.clear();
  }

  private async start(d: string): Promise<void> {
    const pidFile = join(this.dir, `${d}.pid`);
    await execa(d, ['-d', '-p', pidFile]);
    this.started.set(d, pidFile);
  }
}

/**
 * Debian's udev rules leave /dev/kvm as root:kvm 0660; this machine has no udev and keeps it
 * root's alone. libvirt then records "KVM enabled" when it probes qemu (as root), but finds KVM
 * unusable for its qemu user (group kvm) at every later look at that record, and probes qemu
 * again: ~9 probes, 36 s, per `virsh create` here. The guests are TCG (`type='qemu'`) either way.
 */
async function kvmDeviceAsUdevLeavesIt(): Promise<void> {
  if (!existsSync('/dev/kvm')) return;
  await execa('chgrp', ['kvm', '/dev/kvm']);
  chmodSync('/dev/kvm', 0o660);
}

async function stopPid(pidFile: string): Promise<void> {
  let pid: number;
  try {
    pid = Number(readFileSync(pidFile, 'utf8').trim());
    process.kill(pid, 'SIGTERM');
  } catch {
    return; // gone already
  }
  await until(`pid ${pid} to exit`, async () => {
    try {
      process.kill(pid, 0);
      return false;
    } catch {
      return true;
    }
  }, 20_000);
}

/**
 * busybox, the virtio modules and `init` (run by the kernel; the modules are loaded before it
 * as /bin/hnp-init), plus extra files (path in the image → content, made executable).
 */
export function buildInitramfs(dir: string, moddir: string, init: string, extra: Record<string, Uint8Array> = {}): string {
  const root = join(dir, 'initramfs');
  for (const d of ['bin', 'lib/modules', 'proc', 'sys', 'dev']) mkdirSync(join(root, d), { recursive: true });
  copyFileSync('/bin/busybox', join(root, 'bin/busybox'));
  chmodSync(join(root, 'bin/busybox'), 0o755);
  for (const m of GUEST_MODULES) {
    const found = findFile(moddir, `${m}.ko`);
    if (found) copyFileSync(found, join(root, 'lib/modules', `${m}.ko`));
  }
  for (const [path, data] of Object.entries(extra)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), data, { mode: 0o755 });
  }
  writeFileSync(join(root, 'init'), `#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev 2>/dev/null
for m in ${GUEST_MODULES.join(' ')}; do [ -f /lib/modules/$m.ko ] && insmod /lib/modules/$m.ko 2>/dev/null; done
${init}
poweroff -f
`, { mode: 0o755 });
  const out = join(dir, 'initrd.cpio');
  writeCpio(root, out);
  return out;
}

function findFile(base: string, name: string): string | undefined {
  const r = execaSync('find', [base, '-name', name], { reject: false });
  return String(r.stdout).split('\n').find((l) => l.length > 0);
}

/** `find . | cpio -o -H newc` without a shell: the file list goes in as stdin */
function writeCpio(root: string, out: string): void {
  const list = execaSync('find', ['.'], { cwd: root }).stdout;
  const cpio = execaSync('cpio', ['-o', '-H', 'newc', '--quiet'], { cwd: root, input: `${list}\n`, encoding: 'buffer' });
  writeFileSync(out, cpio.stdout);
}

/** The lines of a guest's serial console file that start with `prefix`. */
export function consoleLines(file: string, prefix = 'HNP '): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter((l) => l.startsWith(prefix)) : [];
}

export interface GuestLan {
  /** the namespace of the gateway (gw0, 192.0.2.1/24) */
  gwNs: string;
  destroy(): Promise<void>;
}

/** A bridge in this namespace (where libvirt's taps are) with an uplink veth whose far end is the gateway. */
export async function createGuestLan(prefix: string, bridge: string, uplink: string): Promise<GuestLan> {
  const gwNs = await createNetns(prefix);
  await createIproute().ip(['-batch', '-'], {
    input: [
      `link add ${bridge} type bridge`, `link set ${bridge} up`,
      `link add ${uplink} type veth peer name gw0 netns ${gwNs}`, `link set ${uplink} master ${bridge} up`, '',
    ].join('\n'),
  });
  await execa('ip', ['-n', gwNs, '-batch', '-'], { input: 'addr add 192.0.2.1/24 dev gw0\nlink set gw0 up\n' });
  return {
    gwNs,
    async destroy() {
      await execa('ip', ['link', 'del', uplink], { reject: false });
      await execa('ip', ['link', 'del', bridge], { reject: false });
      await deleteNetns(gwNs);
    },
  };
}

/** The hostnetd network a guest LAN stands for (the bridge is the network). */
export function lanNetwork(bridge: string, uplink: string, attrs: Pick<Network, 'portIsolation' | 'macTableManager'>): Network {
  return {
    name: bridge, bridged: true, nic: uplink, mtu: 1500, stp: false, ipv6: { addresses: [], autoconf: false },
    defaultRoute: false, nameservers: [], bridgeOpts: {}, switch: 'legacy', bootproto: 'none', dhcpv6: false, ...attrs,
  };
}

export interface GuestSpec {
  name: string;
  mac: string;
  bridge: string;
  kernel: string;
  initrd: string;
  /** appended to the kernel command line */
  cmdline: string;
  /** the serial console's file */
  console: string;
  /** an nwfilter the interface references, as the engine writes it */
  filterref?: string;
}

export function guestDomainXml(g: GuestSpec): string {
  const filter = g.filterref !== undefined ? `<filterref filter='${g.filterref}'/>` : '';
  return `<domain type='qemu'>
  <name>${g.name}</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><kernel>${g.kernel}</kernel><initrd>${g.initrd}</initrd>
    <cmdline>console=ttyS0 quiet panic=-1 ${g.cmdline}</cmdline></os>
  <on_poweroff>destroy</on_poweroff><on_crash>destroy</on_crash>
  <devices>
    <interface type='bridge'><mac address='${g.mac}'/><source bridge='${g.bridge}'/><model type='virtio'/>${filter}</interface>
    <serial type='file'><source path='${g.console}'/><target port='0'/></serial>
  </devices>
  <seclabel type='none' model='dac'/>
</domain>
`;
}

/** Starts a transient guest (virsh create). */
export async function createGuest(dir: string, g: GuestSpec): Promise<void> {
  const file = join(dir, `${g.name}.xml`);
  writeFileSync(file, guestDomainXml(g));
  const r = await execa('virsh', ['-c', URI, 'create', file], { reject: false });
  if (r.exitCode !== 0) throw new Error(`virsh create ${g.name}: ${r.stderr}`);
}

/** The tap libvirt made for the guest's interface with `mac`. */
export async function guestTap(name: string, mac: string): Promise<string> {
  const xml = (await execa('virsh', ['-c', URI, 'dumpxml', name])).stdout;
  const iface = domainInterfaces(xml).find((i) => i.mac === mac);
  if (!iface) throw new Error(`no tap for ${name}`);
  return iface.target;
}
