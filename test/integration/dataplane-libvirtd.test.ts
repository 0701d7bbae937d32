/**
 * End to end with a real libvirtd and two tiny guests under TCG (the VM tier's Debian kernel and
 * a busybox initramfs built here): the guests have plain `<interface type='bridge'>` NICs, so
 * libvirt is asked for neither isolation nor MAC management; hostnetd's port agent gives both
 * to their taps. Each guest pings the gateway and the other guest every second and prints the
 * outcome on its serial console (a file): the gateway answers, the other guest never does.
 *
 * libvirt's taps live in libvirtd's namespace, the host's own, so the bridge and the uplink are
 * made there (hnpb… and hnpu…, always deleted, as test/libvirt/libvirtd.test.ts does with its
 * bridge); the gateway sits in a namespace of ours at the uplink's far end. The guests' frames
 * never leave that bridge and namespace. The agent runs in this process (the daemon wires the
 * same class; test/integration/dataplane*.test.ts cover that wiring). libvirtd (and virtlogd)
 * are started when none runs and stopped again (test/helpers/tcg-guests.ts). Needs the Debian packages
 * libvirt-daemon-system libvirt-daemon-system-sysv libvirt-clients qemu-system-x86 busybox-static
 * cpio, and the VM tier's kernel (scripts/vm/prepare.sh). Do not run it concurrently with
 * test/libvirt/libvirtd.test.ts (both may start and stop the one system libvirtd).
 */
import { chmodSync, copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { execa } from 'execa';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectKernelFeatures } from '../../src/kernel/features.js';
import { createIproute } from '../../src/kernel/iproute.js';
import type { HostConfig } from '../../src/model/types.js';
import { PortAgent } from '../../src/ports/agent.js';
import { LibvirtGuestMacs } from '../../src/ports/guests.js';
import { LibvirtSession } from '../../src/libvirt/session.js';
import { prepareVm } from '../vm/vm.js';
import { pings, portFlags, until } from './dataplane-helpers.js';
import { lockLibvirtd } from '../helpers/libvirtd-lock.js';
import {
  buildInitramfs, consoleLines as guestConsole, createGuest, createGuestLan, guestTap, lanNetwork, Libvirtd, URI, type GuestLan,
} from '../helpers/tcg-guests.js';

// this file starts and stops the machine's libvirtd: never at the same time as another that does
let unlockLibvirtd: (() => void) | undefined;
beforeAll(async () => {
  unlockLibvirtd = await lockLibvirtd();
});
afterAll(() => unlockLibvirtd?.());

const tag = randomBytes(3).toString('hex');
const BRIDGE = `hnpb${tag}`;
const UPLINK = `hnpu${tag}`;
const GUESTS = [0, 1].map((i) => ({ name: `hnp-${tag}-g${i}`, ip: `192.0.2.${20 + i}`, peer: `192.0.2.${21 - i}`, mac: `52:54:00:e2:${tag.slice(0, 2)}:0${i}` }));
const log = pino({ level: 'silent' });
const ipr = createIproute();

let dir: string;
let gwNs: string | undefined;
let lan: GuestLan | undefined;
let libvirtd: Libvirtd | undefined;
let guests: LibvirtGuestMacs | undefined;
let session: LibvirtSession | undefined;
let agent: PortAgent | undefined;

const virsh = (...args: string[]) => execa('virsh', ['-c', URI, ...args], { reject: false });

/** configures eth0 and pings gateway and peer every second, printing the outcome */
const GUEST_INIT = `for w in $(cat /proc/cmdline); do case $w in hnp.ip=*) IP=\${w#hnp.ip=};; hnp.peer=*) PEER=\${w#hnp.peer=};; esac; done
ip link set lo up; ip link set eth0 up; ip addr add $IP/24 dev eth0
i=0
while [ $i -lt 900 ]; do
  if ping -c 1 -W 1 192.0.2.1 >/dev/null 2>&1; then g=ok; else g=fail; fi
  if ping -c 1 -W 1 $PEER >/dev/null 2>&1; then p=ok; else p=fail; fi
  echo "HNP $i gw=$g peer=$p"
  i=$((i+1)); sleep 1
done`;

const consoleLines = (g: (typeof GUESTS)[number]) => guestConsole(join(dir, `${g.name}.log`));

const tapOf = (g: (typeof GUESTS)[number]) => guestTap(g.name, g.mac);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hnp-libvirtd-'));
  // qemu runs as libvirt's qemu user: it must read the kernel and initramfs and write the consoles
  chmodSync(dir, 0o777);
  const vm = await prepareVm();
  const kernel = join(dir, 'vmlinuz');
  copyFileSync(vm.kernel, kernel);
  const initrd = buildInitramfs(dir, vm.moddir, GUEST_INIT);
  libvirtd = new Libvirtd(dir);
  await libvirtd.ensure();

  lan = await createGuestLan('hnp-', BRIDGE, UPLINK);
  gwNs = lan.gwNs;
  const net = lanNetwork(BRIDGE, UPLINK, { portIsolation: true, macTableManager: 'libvirt' });
  const config: HostConfig = { networks: { [BRIDGE]: net }, bonds: {} };
  session = new LibvirtSession({ uri: URI, log });
  guests = new LibvirtGuestMacs({ session, log });
  const g = guests;
  agent = new PortAgent({ ipr, config: () => config, guestMacs: () => g.macs(), features: await detectKernelFeatures(), log, periodMs: 0 });
  guests.onChange(() => agent?.trigger('libvirt-guests'));
  await guests.start();
  await session.start();
  // before the guests: their taps are handled as they join, as in production
  await agent.start();

  for (const g of GUESTS) {
    await createGuest(dir, {
      name: g.name, mac: g.mac, bridge: BRIDGE, kernel, initrd, cmdline: `hnp.ip=${g.ip} hnp.peer=${g.peer}`, console: join(dir, `${g.name}.log`),
    });
  }
}, 300_000);

afterAll(async () => {
  for (const g of GUESTS) await virsh('destroy', g.name);
  await agent?.stop();
  await guests?.stop();
  await session?.stop();
  await lan?.destroy();
  await libvirtd?.stopStarted();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('real libvirtd, two TCG guests on <interface type=bridge>', () => {
  it('their taps are isolated and MAC-managed by hostnetd, though libvirt was asked for neither', async () => {
    const taps = await Promise.all(GUESTS.map(tapOf));
    for (const tap of taps) {
      await until(`${tap} in policy`, async () => {
        const f = await portFlags(undefined, tap).catch(() => undefined);
        return f?.isolated === true && f.learning === false && f.flood === false;
      }, 20_000);
    }
    expect(await portFlags(undefined, UPLINK)).toEqual({ isolated: false, learning: true, flood: true });
    const fdb = JSON.parse((await ipr.bridge(['-j', 'fdb', 'show', 'br', BRIDGE])) || '[]') as { mac: string; ifname: string; state?: string; vlan?: number }[];
    const statics = fdb.filter((e) => e.state === 'static' && e.vlan === undefined).map((e) => `${e.mac} ${e.ifname}`).sort();
    expect(statics).toEqual(GUESTS.map((g, i) => `${g.mac} ${taps[i]}`).sort());
  }, 60_000);

  it('the guests reach the gateway and the gateway reaches them, but they never reach each other', async () => {
    for (const g of GUESTS) {
      await until(`${g.name} pinging the gateway`, async () => consoleLines(g).filter((l) => l.includes('gw=ok')).length >= 3, 180_000);
    }
    for (const g of GUESTS) {
      const lines = consoleLines(g);
      expect(lines.filter((l) => l.includes('peer=ok')), `${g.name} reached its peer`).toEqual([]);
      expect(await pings(gwNs!, g.ip)).toBe(true);
    }
  }, 240_000);

  it('control: with one tap no longer isolated (agent stopped), the guests do reach each other', async () => {
    await agent!.stop();
    const tap = await tapOf(GUESTS[0]!);
    await ipr.ip(['link', 'set', 'dev', tap, 'type', 'bridge_slave', 'isolated', 'off']);
    const mark = GUESTS.map((g) => consoleLines(g).length);
    await until('a guest reaching its peer', async () =>
      GUESTS.every((g, i) => consoleLines(g).slice(mark[i]).some((l) => l.includes('peer=ok'))), 60_000);
  }, 90_000);
});
