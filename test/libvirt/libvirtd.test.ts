/**
 * Against a real libvirtd (qemu:///system), started by this test when none runs (as root,
 * without systemd: `libvirtd -d -p PIDFILE`) and stopped again afterwards. Needs the Debian
 * packages libvirt-daemon-system libvirt-daemon-system-sysv libvirt-clients.
 *
 * A bridge hnl-XXXXXX is created in the host namespace (libvirt's bridges live in libvirtd's
 * namespace) and always deleted; the libvirt network is vdsm-hnl-XXXXXX and always removed.
 * libvirt's own 'default' NAT network is kept from autostarting while our libvirtd runs.
 */
import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { execa } from 'execa';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLibvirtError, LibvirtConnection, type LibvirtEvent } from '../../src/libvirt/binding.js';
import { parseNetworkXml } from '../../src/libvirt/network-xml.js';
import { LibvirtNetworkManager, buildNetworkXml } from '../../src/libvirt/networks.js';
import { LibvirtSession } from '../../src/libvirt/session.js';
import { lockLibvirtd } from '../helpers/libvirtd-lock.js';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { createNetns, deleteNetns } from '../helpers/netns.js';

// this file starts and stops the machine's libvirtd: never at the same time as another that does
let unlockLibvirtd: (() => void) | undefined;
beforeAll(async () => {
  unlockLibvirtd = await lockLibvirtd();
});
afterAll(() => unlockLibvirtd?.());

const URI = 'qemu:///system';
const DEFAULT_AUTOSTART = '/etc/libvirt/qemu/networks/autostart/default.xml';
const bridge = `hnl-${randomBytes(3).toString('hex')}`;
const lvName = `vdsm-${bridge}`;
const log = pino({ level: 'silent' });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(pred: () => boolean | Promise<boolean>, ms: number, what: string) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await pred()) return;
    await sleep(50);
  }
  throw new Error(`timed out: ${what}`);
}

const virsh = (...args: string[]) => execa('virsh', ['-c', URI, ...args], { reject: false });

async function reachable(): Promise<boolean> {
  try {
    const c = await LibvirtConnection.open(URI);
    await c.close();
    return true;
  } catch {
    return false;
  }
}

let tmp: string;
let startedPid: number | undefined;
let defaultAutostartTarget: string | undefined;

async function startLibvirtd() {
  await execa('libvirtd', ['-d', '-p', join(tmp, 'libvirtd.pid')]);
  await until(() => existsSync(join(tmp, 'libvirtd.pid')), 10_000, 'libvirtd pid file');
  startedPid = Number(readFileSync(join(tmp, 'libvirtd.pid'), 'utf8').trim());
  await until(reachable, 15_000, 'libvirtd accepting connections');
}

async function stopLibvirtd() {
  const pid = startedPid;
  if (pid === undefined) return;
  startedPid = undefined;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const alive = () => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  await until(() => !alive(), 15_000, `libvirtd ${pid} to exit`);
}

const vlanFilteringSupported = () => existsSync(`/sys/class/net/${bridge}/bridge/vlan_filtering`);

describe('a real libvirtd', () => {
  let mgr: LibvirtNetworkManager;
  let session: LibvirtSession;
  let watcher: LibvirtConnection;
  const events: LibvirtEvent[] = [];

  beforeAll(async () => {
    if (process.getuid?.() !== 0) throw new Error('this test needs root (it starts libvirtd and creates a bridge)');
    if (!existsSync('/usr/sbin/libvirtd')) {
      throw new Error('libvirtd missing: apt-get install libvirt-daemon-system libvirt-daemon-system-sysv libvirt-clients');
    }
    tmp = mkdtempSync(join(tmpdir(), 'hnl-libvirtd-'));
    if (!(await reachable())) {
      // our libvirtd must not bring up libvirt's 'default' NAT network on the host
      if (existsSync(DEFAULT_AUTOSTART)) {
        defaultAutostartTarget = readlinkSync(DEFAULT_AUTOSTART);
        unlinkSync(DEFAULT_AUTOSTART);
      }
      await startLibvirtd();
    }
    await execa('ip', ['link', 'add', bridge, 'type', 'bridge']);
    watcher = await LibvirtConnection.open(URI);
    watcher.onEvent((e) => events.push(e));
    session = new LibvirtSession({ uri: URI, log, backoff: { initialMs: 100, maxMs: 500 } });
    mgr = new LibvirtNetworkManager({ session, log, vlanFiltering: vlanFilteringSupported() });
    await session.start();
  }, 60_000);

  afterAll(async () => {
    await mgr?.stop();
    await session?.stop();
    await watcher?.close().catch(() => undefined);
    if (await reachable()) {
      await virsh('net-destroy', lvName);
      await virsh('net-undefine', lvName);
    }
    await execa('ip', ['link', 'del', bridge], { reject: false });
    await stopLibvirtd();
    if (defaultAutostartTarget !== undefined && !existsSync(DEFAULT_AUTOSTART)) {
      symlinkSync(defaultAutostartTarget, DEFAULT_AUTOSTART);
    }
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }, 60_000);

  it('defines, starts and autostarts vdsm-<bridge>, read back with virsh net-dumpxml', async () => {
    expect(mgr.status().connected).toBe(true);
    const r = await mgr.sync([{ name: bridge, portIsolation: true, macTableManager: 'libvirt' }]);
    expect(r.applied).toBe(true);

    const dump = await virsh('net-dumpxml', lvName);
    expect(dump.exitCode).toBe(0);
    const def = parseNetworkXml(dump.stdout);
    expect(def.name).toBe(lvName);
    expect(def.forward?.mode).toBe('bridge');
    expect(def.bridge?.name).toBe(bridge);
    expect(def.port).toEqual({ isolated: true });
    // written only where the kernel can do vlan_filtering (libvirt fails to start it otherwise)
    expect(def.bridge?.macTableManager).toBe(vlanFilteringSupported() ? 'libvirt' : undefined);

    const info = await virsh('net-info', lvName);
    expect(info.stdout).toMatch(/Active:\s+yes/);
    expect(info.stdout).toMatch(/Persistent:\s+yes/);
    expect(info.stdout).toMatch(/Autostart:\s+yes/);
    expect(mgr.status().networks).toEqual({ [bridge]: { name: lvName, active: true } });
  }, 30_000);

  it('delivers network lifecycle events from libvirtd', async () => {
    await until(() => events.some((e) => e.type === 'network-lifecycle' && e.name === lvName && e.event === 'started'), 5000, 'started event');
    expect(events.find((e) => e.type === 'network-lifecycle' && e.name === lvName)).toMatchObject({ event: 'defined' });
  }, 10_000);

  it('refuses macTableManager=libvirt on a kernel without vlan_filtering (why hostnetd leaves it out)', async () => {
    const conn = await LibvirtConnection.open(URI);
    try {
      const name = `${lvName}-m`;
      await conn.defineNetwork(buildNetworkXml({ name: bridge, portIsolation: false, macTableManager: 'libvirt' }, { vlanFiltering: true })
        .replace(`<name>${lvName}</name>`, `<name>${name}</name>`));
      const err = await conn.startNetwork(name).catch((e: unknown) => e);
      await conn.undefineNetwork(name);
      if (vlanFilteringSupported()) {
        expect(err).toBeUndefined();
        await conn.destroyNetwork(name).catch(() => undefined);
      } else {
        expect(isLibvirtError(err)).toBe(true);
        expect((err as Error).message).toMatch(/vlan_filtering/);
      }
    } finally {
      await conn.close();
    }
  }, 30_000);

  it('notices libvirtd going away, owes the change as pending, and applies it when libvirtd is back', async () => {
    if (startedPid === undefined) {
      // a libvirtd this test did not start is not ours to stop: check the steady state instead
      expect(mgr.status()).toMatchObject({ connected: true });
      return;
    }
    // the manager learns of the test before's vdsm-*-m network (defined and undefined behind its
    // back) from events it reads on its own time: the same desired set again makes it read what
    // libvirt has now, so that what it owes below is exactly this file's one network
    expect((await mgr.sync([{ name: bridge, portIsolation: true, macTableManager: 'libvirt' }])).steps).toEqual([]);
    await stopLibvirtd();
    await until(() => !mgr.status().connected, 20_000, 'manager to notice libvirtd is gone');
    expect(events.some((e) => e.type === 'closed')).toBe(true);

    const r = await mgr.sync([]);
    expect(r.applied).toBe(false);
    expect(mgr.status().pending).toEqual([bridge]);

    await startLibvirtd();
    await until(() => mgr.status().connected && mgr.status().pending === undefined, 20_000, 'reconnect and sync');
    const info = await virsh('net-info', lvName);
    expect(info.exitCode).not.toBe(0);
  }, 60_000);

  it('hostnetd is one libvirtd client (virt-admin srv-clients-list), though two of its parts use libvirt', async () => {
    // last in this file: the daemon's start-up sync owns every vdsm-* network (its config has none)
    const ns = await createNetns('hnv-');
    let daemon: TestDaemon | undefined;
    try {
      daemon = await startTestDaemon({ ns, args: ['--libvirt-uri', URI] });
      await daemon.waitForLog((l) => l.msg === 'libvirt connected');
      const clients = await clientPids();
      expect(clients.filter((pid) => pid === daemon!.proc.pid)).toHaveLength(1);
      // control: two more connections of this test process are counted as two more clients
      const extra = [await LibvirtConnection.open(URI), await LibvirtConnection.open(URI)];
      try {
        const after = await clientPids();
        expect(after.filter((pid) => pid === process.pid).length).toBe(clients.filter((pid) => pid === process.pid).length + 2);
      } finally {
        for (const c of extra) await c.close();
      }
    } finally {
      await daemon?.cleanup();
      await deleteNetns(ns);
    }
  }, 90_000);
});

/** The client process of every libvirtd client: virt-admin srv-clients-list, then client-info per id. */
async function clientPids(): Promise<number[]> {
  const list = await execa('virt-admin', ['srv-clients-list', 'libvirtd']);
  const ids = String(list.stdout).split('\n').map((l) => /^\s*(\d+)\s+unix\b/.exec(l)?.[1]).filter((id): id is string => id !== undefined);
  const pids: number[] = [];
  for (const id of ids) {
    const info = await execa('virt-admin', ['client-info', 'libvirtd', id], { reject: false });
    const pid = /unix_process_id\s*:\s*(\d+)/.exec(String(info.stdout))?.[1];
    if (pid !== undefined) pids.push(Number(pid));
  }
  return pids;
}
