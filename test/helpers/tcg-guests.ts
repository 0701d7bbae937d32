/**
 * Tiny TCG guests under a real libvirtd for the data-plane tests: the VM tier's Debian kernel, a
 * busybox initramfs with the virtio NIC modules and an init script of the test's own, and the
 * machine's libvirtd (with virtlogd), started when none runs and stopped again.
 *
 *   const daemons = new Libvirtd(dir);  await daemons.ensure();      // under lockLibvirtd()
 *   const initrd = buildInitramfs(dir, vm.moddir, initScript, { 'bin/spoof': binary });
 *   ...
 *   daemons.stopStarted();
 */
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { execa, execaSync } from 'execa';
import { LibvirtConnection } from '../../src/libvirt/binding.js';

export const URI = 'qemu:///system';
export const GUEST_MODULES = ['virtio_ring', 'virtio', 'virtio_pci_legacy_dev', 'virtio_pci_modern_dev', 'virtio_pci', 'failover', 'net_failover', 'virtio_net'];

export async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

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
