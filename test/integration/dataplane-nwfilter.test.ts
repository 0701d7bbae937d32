/**
 * What engine-built VMs expect of their host's bridges, end to end with a real libvirtd and two
 * tiny TCG guests (test/helpers/tcg-guests.ts):
 * - hostnetd's session defines VDSM's `vdsm-no-mac-spoofing` nwfilter, and defines it again
 *   after libvirtd restarts with it deleted;
 * - guests whose engine-style `<interface type='bridge'>` carries `<filterref
 *   filter='vdsm-no-mac-spoofing'/>` start; one of them sends, every second, a broadcast IPv4
 *   frame with a forged source MAC and a broadcast ARP reply whose sender MAC is forged (its
 *   Ethernet source is real), built by test/integration/guest/spoof.c. tcpdump sees them leave
 *   the guest (on its tap) but never at the gateway or at the other guest, while the guest's
 *   real pings do reach the gateway;
 * - port mirroring on that bridge: a third tap (held open like a guest's) sees both directions
 *   of the traffic between the other guest and the gateway, and nothing after unset;
 * - control, last: with the filter's binding deleted from the spoofer's tap, the same forged
 *   frames do reach the gateway and the other guest.
 *
 * As in dataplane-libvirtd.test.ts, the bridge (hnfb…) and uplink (hnfu…) are in the host's
 * namespace, where libvirt's taps are; the gateway is in a namespace of ours; everything is
 * deleted afterwards. Needs gcc with a static libc (libc6-dev) for the guest's frame sender.
 */
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RequestContext } from '../../src/model/context.js';
import { createIproute } from '../../src/kernel/iproute.js';
import { filterXml, NO_MAC_SPOOFING, NwFilterKeeper, readFilter } from '../../src/libvirt/nwfilter.js';
import { LibvirtSession } from '../../src/libvirt/session.js';
import { PortMirrors } from '../../src/mirror/service.js';
import type { HostConfig } from '../../src/model/types.js';
import { lockLibvirtd } from '../helpers/libvirtd-lock.js';
import {
  buildInitramfs, consoleLines, createGuest, createGuestLan, guestTap, lanNetwork, Libvirtd, URI, type GuestLan,
} from '../helpers/tcg-guests.js';
import { prepareVm } from '../vm/vm.js';
import { capture, openTap, until } from './dataplane-helpers.js';

let unlockLibvirtd: (() => void) | undefined;
beforeAll(async () => {
  unlockLibvirtd = await lockLibvirtd();
});
afterAll(() => unlockLibvirtd?.());

const tag = randomBytes(3).toString('hex');
const BRIDGE = `hnfb${tag}`;
const UPLINK = `hnfu${tag}`;
const MIRROR_TAP = `hnfm${tag}`;
const GW = '192.0.2.1';
const FORGED = '52:54:00:66:66:66';
const GUESTS = [0, 1].map((i) => ({
  name: `hnf-${tag}-g${i}`, ip: `192.0.2.${30 + i}`, peer: `192.0.2.${31 - i}`, mac: `52:54:00:e3:${tag.slice(0, 2)}:0${i}`, spoof: i === 0,
}));
type Guest = (typeof GUESTS)[number];
const ipr = createIproute();

/** the logger's events, for waiting on the one a test means */
const events: { event?: string; msg: string }[] = [];
const log = pino({ level: 'info' }, { write: (line: string) => void events.push(JSON.parse(line) as { event?: string; msg: string }) });

let dir: string;
let gwNs: string | undefined;
let lan: GuestLan | undefined;
let libvirtd: Libvirtd | undefined;
let session: LibvirtSession | undefined;
let keeper: NwFilterKeeper | undefined;
let mirrorTap: { close(): Promise<void> } | undefined;

const virsh = (...args: string[]) => execa('virsh', ['-c', URI, ...args], { reject: false });

/** ping gateway and peer, and (spoofer) send the forged frames, once a second; print the outcome */
const GUEST_INIT = `for w in $(cat /proc/cmdline); do case $w in hnp.ip=*) IP=\${w#hnp.ip=};; hnp.peer=*) PEER=\${w#hnp.peer=};; hnp.spoof=*) SPOOF=\${w#hnp.spoof=};; esac; done
ip link set lo up; ip link set eth0 up; ip addr add $IP/24 dev eth0
REAL=$(cat /sys/class/net/eth0/address)
i=0
while [ $i -lt 900 ]; do
  if ping -c 1 -W 1 ${GW} >/dev/null 2>&1; then g=ok; else g=fail; fi
  if ping -c 1 -W 1 $PEER >/dev/null 2>&1; then p=ok; else p=fail; fi
  s=none
  if [ -n "$SPOOF" ]; then /bin/spoof eth0 $REAL $SPOOF $IP ${GW} && s=sent; fi
  echo "HNP $i gw=$g peer=$p spoof=$s"
  i=$((i+1)); sleep 1
done`;

const linesOf = (g: Guest) => consoleLines(join(dir, `${g.name}.log`));

/** waits until `g` printed `n` more console lines (each one loop: pings, and the spoofer's frames) */
async function loops(g: Guest, n: number): Promise<void> {
  const mark = linesOf(g).length;
  await until(`${n} more loops of ${g.name}`, async () => linesOf(g).length >= mark + n, 120_000);
}

const tapOf = (g: Guest) => guestTap(g.name, g.mac);

/** tcpdump in this namespace (libvirt's taps live here) */
const hostCapture = (dev: string, filter: string) => capture(undefined, dev, filter);

async function filterInLibvirt(): Promise<string | null> {
  const r = await virsh('nwfilter-dumpxml', NO_MAC_SPOOFING);
  return r.exitCode === 0 ? r.stdout : null;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hnf-libvirtd-'));
  // qemu runs as libvirt's qemu user: it must read the kernel and initramfs and write the consoles
  chmodSync(dir, 0o777);
  const vm = await prepareVm();
  copyFileSync(vm.kernel, join(dir, 'vmlinuz'));
  const spoof = join(dir, 'spoof');
  await execa('gcc', ['-static', '-O2', '-o', spoof, fileURLToPath(new URL('./guest/spoof.c', import.meta.url))]);
  buildInitramfs(dir, vm.moddir, GUEST_INIT, { 'bin/spoof': readFileSync(spoof) });
  libvirtd = new Libvirtd(dir);
  await libvirtd.ensure();

  lan = await createGuestLan('hnf-', BRIDGE, UPLINK);
  gwNs = lan.gwNs;

  session = new LibvirtSession({ uri: URI, log, backoff: { initialMs: 200, maxMs: 1000 } });
  keeper = new NwFilterKeeper({ session, log });
  keeper.start();
  await session.start();
}, 300_000);

afterAll(async () => {
  for (const g of GUESTS) await virsh('destroy', g.name);
  await mirrorTap?.close().catch(() => undefined);
  keeper?.stop();
  await session?.stop();
  await lan?.destroy();
  await libvirtd?.stopStarted();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('vdsm-no-mac-spoofing in a real libvirtd', () => {
  it('is defined as VDSM defines it when hostnetd connects', async () => {
    const xml = await filterInLibvirt();
    expect(xml).not.toBeNull();
    expect(readFilter(xml!).same).toBe(true);
    expect(keeper!.status()).toEqual({ [NO_MAC_SPOOFING]: 'defined' });
  });

  it('is defined again after libvirtd restarts with it deleted', async () => {
    expect((await virsh('nwfilter-undefine', NO_MAC_SPOOFING)).exitCode).toBe(0);
    expect(await filterInLibvirt()).toBeNull();
    const before = events.filter((e) => e.event === 'nwfilter-defined').length;
    await libvirtd!.restart();
    await until('the filter defined after the reconnect', async () => events.filter((e) => e.event === 'nwfilter-defined').length > before, 60_000);
    expect(readFilter((await filterInLibvirt())!).same).toBe(true);
  }, 90_000);

  it('a definition that differs is replaced on the next connection, with its UUID kept', async () => {
    const uuid = readFilter((await filterInLibvirt())!).uuid!;
    const changed = filterXml(uuid).replace("<filterref filter='no-arp-mac-spoofing'/>", '');
    writeFileSync(join(dir, 'changed.xml'), changed);
    expect((await virsh('nwfilter-define', join(dir, 'changed.xml'))).exitCode).toBe(0);
    expect(readFilter((await filterInLibvirt())!).same).toBe(false);
    const before = events.filter((e) => e.event === 'nwfilter-defined').length;
    await libvirtd!.restart();
    await until('the filter redefined after the reconnect', async () => events.filter((e) => e.event === 'nwfilter-defined').length > before, 60_000);
    expect(readFilter((await filterInLibvirt())!)).toEqual({ uuid, same: true });
  }, 90_000);
});

describe('guests on <filterref filter=vdsm-no-mac-spoofing/>', () => {
  beforeAll(async () => {
    for (const g of GUESTS) {
      await createGuest(dir, {
        name: g.name, mac: g.mac, bridge: BRIDGE, kernel: join(dir, 'vmlinuz'), initrd: join(dir, 'initrd.cpio'),
        cmdline: `hnp.ip=${g.ip} hnp.peer=${g.peer}${g.spoof ? ` hnp.spoof=${FORGED}` : ''}`, console: join(dir, `${g.name}.log`),
        filterref: NO_MAC_SPOOFING,
      });
    }
  }, 120_000);

  it('start, and reach the gateway and each other', async () => {
    for (const g of GUESTS) {
      expect((await virsh('domstate', g.name)).stdout.trim()).toBe('running');
      await until(`${g.name} reaching the gateway`, async () => linesOf(g).some((l) => l.includes('gw=ok') && l.includes('peer=ok')), 240_000);
    }
  }, 250_000);

  it('frames with a forged source MAC and ARP replies claiming another MAC never reach the other guest or the gateway; real traffic does', async () => {
    const [spoofer, other] = GUESTS as [Guest, Guest];
    const [spooferTap, otherTap] = [await tapOf(spoofer), await tapOf(other)];
    const forgedIp = `ether src ${FORGED} and udp port 9`;
    const forgedArp = 'arp and arp[8:4] = 0x52540066 and arp[12:2] = 0x6666';
    const anyForged = `(${forgedIp}) or (${forgedArp})`;
    const real = `icmp and ether src ${spoofer.mac} and src ${spoofer.ip}`;
    const caps = {
      sentIp: await hostCapture(spooferTap, forgedIp),
      sentArp: await hostCapture(spooferTap, forgedArp),
      atGateway: await capture(gwNs!, 'gw0', anyForged),
      atOther: await hostCapture(otherTap, anyForged),
      realAtGateway: await capture(gwNs!, 'gw0', real),
    };
    await loops(spoofer, 4);
    const n = Object.fromEntries(await Promise.all(Object.entries(caps).map(async ([k, c]) => [k, await c.stop()] as const)));
    expect(n.sentIp, 'the guest sent forged IPv4 frames').toBeGreaterThanOrEqual(3);
    expect(n.sentArp, 'the guest sent forged ARP replies').toBeGreaterThanOrEqual(3);
    expect(n.realAtGateway, "the guest's real pings reached the gateway").toBeGreaterThanOrEqual(3);
    expect({ atGateway: n.atGateway, atOther: n.atOther }).toEqual({ atGateway: 0, atOther: 0 });
    expect(linesOf(spoofer).slice(-3).every((l) => l.includes('spoof=sent') && l.includes('gw=ok'))).toBe(true);
  }, 180_000);

  it('port mirroring: a third tap sees both directions between two other ports, and none after unset', async () => {
    const other = GUESTS[1]!;
    mirrorTap = await openTap(undefined, MIRROR_TAP);
    await ipr.ip(['link', 'set', MIRROR_TAP, 'master', BRIDGE, 'up']);
    const net = lanNetwork(BRIDGE, UPLINK, { portIsolation: false, macTableManager: 'kernel' });
    const config: HostConfig = { networks: { [BRIDGE]: net }, bonds: {} };
    const stateDir = join(dir, 'state');
    mkdirSync(stateDir, { recursive: true });
    const mirrors = new PortMirrors({ ipr, stateDir, config: () => config, log });
    await mirrors.start();
    const ctx = { requestId: 1, peer: 'test', log } as RequestContext;
    const watch = async () => {
      const c = {
        requests: await hostCapture(MIRROR_TAP, `icmp[icmptype] == 8 and src ${other.ip} and dst ${GW}`),
        replies: await hostCapture(MIRROR_TAP, `icmp[icmptype] == 0 and src ${GW} and dst ${other.ip}`),
      };
      await loops(other, 3);
      return { requests: await c.requests.stop(), replies: await c.replies.stop() };
    };
    expect(await watch(), 'control: not mirrored yet').toEqual({ requests: 0, replies: 0 });
    await mirrors.set({ network: BRIDGE, tap: MIRROR_TAP }, ctx);
    expect(mirrors.status()).toEqual({ [BRIDGE]: [MIRROR_TAP] });
    const on = await watch();
    expect(on.requests).toBeGreaterThanOrEqual(2);
    expect(on.replies).toBeGreaterThanOrEqual(2);
    await mirrors.unset({ network: BRIDGE, tap: MIRROR_TAP }, ctx);
    expect(mirrors.status()).toEqual({});
    expect(await watch()).toEqual({ requests: 0, replies: 0 });
  }, 180_000);

  it("control: with the filter's binding removed from the spoofer's tap, its forged frames do reach the gateway and the other guest", async () => {
    const [spoofer, other] = GUESTS as [Guest, Guest];
    const [spooferTap, otherTap] = [await tapOf(spoofer), await tapOf(other)];
    expect((await virsh('nwfilter-binding-delete', spooferTap)).exitCode).toBe(0);
    const anyForged = `(ether src ${FORGED} and udp port 9) or (arp and arp[8:4] = 0x52540066 and arp[12:2] = 0x6666)`;
    const caps = { atGateway: await capture(gwNs!, 'gw0', anyForged), atOther: await hostCapture(otherTap, anyForged) };
    await loops(spoofer, 3);
    const n = { atGateway: await caps.atGateway.stop(), atOther: await caps.atOther.stop() };
    expect(n.atGateway).toBeGreaterThanOrEqual(2);
    expect(n.atOther).toBeGreaterThanOrEqual(2);
  }, 120_000);
});
