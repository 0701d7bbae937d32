/**
 * The in-process kernel view (src/kernel/view.ts) and the rtnetlink reader on a real kernel:
 * parsing checked against iproute2's JSON, the barrier with a stalled reader, hot-plug and
 * rename right before a read, many links created and deleted while readers run, changes made
 * behind an enumeration's dumps, and recovery from an overflowed socket. Bonds, VLANs on bonds and vlan_filtering: test/vm/kernel.test.ts.
 */
import { execFileSync } from 'node:child_process';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIproute } from '../../src/kernel/iproute.js';
import { parseJsonDump, parseRules } from '../../src/kernel/parse.js';
import { readKernelState, RULE_COMMANDS } from '../../src/kernel/snapshot.js';
import { KernelView } from '../../src/kernel/view.js';
import { comparable, noDad, viaIproute, viewScope } from '../helpers/kernel-compare.js';
import { createNetns, deleteNetns } from '../helpers/netns.js';

const log = pino({ level: 'silent' });
let ns: string;
let ip: (...a: string[]) => void;
let batch: (lines: string[]) => void;

beforeAll(async () => {
  ns = await createNetns('hnt-view');
  ip = (...a) => void execFileSync('ip', ['-n', ns, ...a]);
  batch = (lines) => void execFileSync('ip', ['-n', ns, '-batch', '-'], { input: `${lines.join('\n')}\n` });
  noDad(ns);
});
afterAll(async () => {
  if (ns) await deleteNetns(ns);
});

describe('rtnetlink reader vs iproute2 JSON', () => {
  it('parses every device kind managed in a namespace as the iproute2 parser does', async () => {
    batch([
      // this runner's kernel has no 8021q and no bridge VLAN filtering: the VM tier checks those
      'link add br0 type bridge stp_state 0 forward_delay 300',
      'link add brplain type bridge',
      'link add veth_0 type veth peer name veth_0b',
      'link add veth_1 type veth peer name veth_1b',
      'link set veth_0 master br0', 'link set veth_1 master brplain',
      'link add nic0 type veth peer name nic0b', 'link set nic0 mtu 9000 up',
      'link set br0 up', 'link set brplain up', 'link set veth_0 up', 'link set veth_0b up',
      'addr add 192.0.2.1/24 dev br0', 'addr add 2001:db8::1/64 dev br0 nodad', 'addr add 198.51.100.7/32 dev nic0',
      'route add default via 192.0.2.254 dev br0',
      'route add 10.10.0.0/16 via 192.0.2.9 table 100',
      'route add 2001:db8:5::/48 via 2001:db8::9 dev br0',
    ]);
    ip('link', 'set', 'veth_1', 'type', 'bridge_slave', 'isolated', 'on', 'learning', 'off', 'flood', 'off', 'mcast_flood', 'off');
    execFileSync('bridge', ['-n', ns, 'fdb', 'add', '02:00:00:00:00:09', 'dev', 'veth_1', 'master', 'static']);
    const native = await readKernelState({ netns: ns }, 'full');
    const json = await viaIproute(ns);
    expect(comparable(native)).toEqual(comparable(json));
    expect(native.links.veth_1!.bridgePort).toMatchObject({ isolated: true, learning: false, flood: false, mcastFlood: false });
    expect(native.links.br0!.bridge!.opts.forward_delay).toBe('300');
  });

  it('reads routing rules of both families, every selector, as `ip -j rule` shows them', async () => {
    const rules = [
      'rule add from 10.1.0.0/16 to 10.2.0.0/16 iif lo table 100 priority 100',
      'rule add not from 10.3.0.0/16 oif lo fwmark 0x10/0xff tos 0x10 table 101 priority 101',
      'rule add fwmark 7 table 101 priority 101',
      'rule add uidrange 100-200 ipproto tcp sport 1000-2000 dport 80 table 102 priority 102',
      'rule add from 10.4.0.0/16 priority 103 blackhole', 'rule add priority 104 unreachable',
      'rule add priority 105 goto 200', 'rule add priority 200 table main suppress_prefixlength 0',
      'rule add priority 106 prohibit', 'rule add priority 107 nop',
      'rule add from 192.0.2.0/24 priority 3200 table 4242', 'rule add to 192.0.2.0/24 priority 3200 table 4242',
    ];
    batch(rules);
    execFileSync('ip', ['-n', ns, '-6', '-batch', '-'], {
      input: 'rule add from 2001:db8::/32 to 2001:db8:1::/48 table 300 priority 300\nrule add from 2001:db8:1::/64 priority 3200 table 4242\n',
    });
    const viaIp = async (): Promise<string[]> => {
      const ipr = createIproute({ netns: ns });
      const out = [
        ...parseRules(parseJsonDump(await ipr.ip([...RULE_COMMANDS.rule4.args])), 'inet'),
        ...parseRules(parseJsonDump(await ipr.ip([...RULE_COMMANDS.rule6.args])), 'inet6'),
      ];
      return out.map((r) => JSON.stringify(r)).sort();
    };
    const native = (await readKernelState({ netns: ns }, 'full')).rules!.map((r) => JSON.stringify(r)).sort();
    expect(native.length).toBe(rules.length + 2 + 3 + 2); // ours, the v6 ones, the default rules of each family
    expect(native).toEqual(await viaIp());
    expect(native).toContain(JSON.stringify({ family: 'inet6', priority: 3200, table: '4242', src: '2001:db8:1::/64', dst: 'all', action: 'to_tbl', selectors: '' }));
    // the view follows rule notifications: a deletion and an addition behind its back
    const view = new KernelView({ log, netns: ns });
    await view.start();
    try {
      ip('rule', 'del', 'priority', '106');
      ip('rule', 'add', 'from', '203.0.113.0/24', 'table', '9', 'priority', '9');
      const seen = (await view.get('view')).rules!.map((r) => JSON.stringify(r)).sort();
      expect(seen).toEqual(await viaIp());
      expect(seen.some((r) => r.includes('"priority":106'))).toBe(false);
    } finally {
      await view.stop();
      execFileSync('ip', ['-n', ns, '-force', '-batch', '-'], { input: [...rules, 'rule add from 203.0.113.0/24 table 9 priority 9'].map((l) => l.replace('rule add', 'rule del')).join('\n') + '\n', stdio: 'ignore' });
      execFileSync('ip', ['-n', ns, '-6', '-force', '-batch', '-'], { input: 'rule del priority 300\nrule del priority 3200\n', stdio: 'ignore' });
    }
  });

  it('device names with a quote, a backslash, a control byte, UTF-8 and bytes that are not UTF-8 come through (dump and events)', async () => {
    // the addon writes each message as JSON text: every byte a name may hold must survive it
    const view = new KernelView({ log, netns: ns });
    await view.start();
    const names = ['q"1', 'b\\1', 'c\u00011', 'é1', 'u\ufffd1'];
    try {
      // a shell of the test's own, for the raw 0xff byte (Node passes argv as UTF-8)
      execFileSync('bash', ['-c', `set -e; n() { ip -n ${ns} link add "$(printf "$1")" type veth peer name "$2"; }
        n 'q"1' odd0; n 'b\\\\1' odd1; n 'c\\0011' odd2; n '\\303\\2511' odd3; n 'u\\3771' odd4`]);
      const dumped = Object.keys((await readKernelState({ netns: ns }, 'full')).links);
      const viewed = Object.keys((await view.get('view')).links);
      for (const name of names) {
        expect(dumped).toContain(name);
        expect(viewed).toContain(name);
      }
    } finally {
      await view.stop();
      for (let i = 0; i < 5; i++) execFileSync('ip', ['-n', ns, 'link', 'del', `odd${i}`], { stdio: 'ignore' });
    }
  });
});

describe('KernelView', () => {
  let view: KernelView;
  const devices: string[] = [];
  beforeAll(async () => {
    view = new KernelView({ log, netns: ns, onDevice: (n) => devices.push(n) });
    await view.start();
  });
  afterAll(async () => {
    await view?.stop();
  });

  it('matches iproute2 after it started, and again after changes made behind it', async () => {
    expect(comparable(await view.get())).toEqual(comparable(viewScope(await viaIproute(ns))));
    // the local table is left out of the view (its events too), not of a full snapshot
    expect((await viaIproute(ns)).routes.filter((r) => r.table === 'local').length).toBeGreaterThan(0);
    expect((await readKernelState({ netns: ns }, 'full')).routes.filter((r) => r.table === 'local').length).toBeGreaterThan(0);
    expect((await view.get()).routes.filter((r) => r.table === 'local')).toEqual([]);
    expect((await readKernelState({ netns: ns }, 'view')).routes.filter((r) => r.table === 'local')).toEqual([]);
    batch(['link add hot0 type veth peer name hot0b', 'addr add 203.0.113.1/24 dev hot0', 'link set hot0 up', 'link set veth_1 nomaster', 'link del brplain']);
    expect(comparable(await view.get())).toEqual(comparable(viewScope(await viaIproute(ns))));
    expect(devices).toContain('hot0');
    // hot0's address brought local-table routes with it: none reached the view
    expect((await viaIproute(ns)).routes.some((r) => r.table === 'local' && r.dev === 'hot0')).toBe(true);
    expect((await view.get()).routes.some((r) => r.table === 'local')).toBe(false);
  });

  it('a stalled reader still answers with every change made before the request (barrier)', async () => {
    await view.get();
    view.stall(true);
    try {
      ip('link', 'add', 'veth_late', 'type', 'veth', 'peer', 'name', 'veth_lateb');
      ip('addr', 'add', '192.0.2.77/24', 'dev', 'veth_late');
      const s = await view.get();
      expect(s.links.veth_late).toBeDefined();
      expect(s.addresses).toContainEqual(expect.objectContaining({ ifname: 'veth_late', local: '192.0.2.77' }));
    } finally {
      view.stall(false);
    }
  });

  it('a NIC plugged or renamed right before a read is seen by that read', async () => {
    for (let i = 0; i < 20; i++) {
      ip('link', 'add', `plug${i}`, 'type', 'veth', 'peer', 'name', `plug${i}b`);
      expect((await view.get()).links[`plug${i}`]).toBeDefined();
      ip('link', 'set', `plug${i}`, 'name', `ren${i}`);
      const s = await view.get();
      expect(s.links[`ren${i}`]).toBeDefined();
      expect(s.links[`plug${i}`]).toBeUndefined();
      ip('link', 'del', `ren${i}`);
      expect((await view.get()).links[`ren${i}`]).toBeUndefined();
    }
  });

  it('reading addresses again keeps the rendered state when they are as the view had them, and shows an IPv6 address at once', async () => {
    const settled = await view.get();
    expect(await view.get('view', { freshAddresses: true })).toBe(settled);
    // the kernel notifies an IPv6 address from its DAD work, after `ip` returned: a fresh read lists it at once
    batch(['link add nodad0 type veth peer name nodad0b', 'link set nodad0 up']);
    execFileSync('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv6.conf.nodad0.accept_dad=1']);
    const before = await view.get();
    ip('-6', 'addr', 'add', '2001:db8:77::1/64', 'dev', 'nodad0');
    const fresh = await view.get('view', { freshAddresses: true });
    expect(fresh).not.toBe(before);
    expect(fresh.addresses).toContainEqual(expect.objectContaining({ ifname: 'nodad0', local: '2001:db8:77::1', tentative: true }));
    ip('link', 'del', 'nodad0');
    expect((await view.get()).links.nodad0).toBeUndefined();
  });

  it('a port flag changed with `bridge link set` (an AF_BRIDGE notification only) is seen', async () => {
    execFileSync('bridge', ['-n', ns, 'link', 'set', 'dev', 'veth_0', 'isolated', 'on']);
    expect((await view.get()).links.veth_0!.bridgePort!.isolated).toBe(true);
    execFileSync('bridge', ['-n', ns, 'link', 'set', 'dev', 'veth_0', 'isolated', 'off']);
    expect((await view.get()).links.veth_0!.bridgePort!.isolated).toBe(false);
  });

  it('the config stamp stays through the kernel\'s running state and moves with what a config sets', async () => {
    // a port whose peer is in another namespace: its carrier moves with no change here
    const far = await createNetns('hnt-far');
    try {
      batch([`link add carrier0 type veth peer name carrier0p netns ${far}`, 'link set carrier0 master br0', 'link set carrier0 up']);
      const s0 = await view.get();
      const stamp = view.configStamp(s0);
      expect(stamp).toBeDefined();
      // running state: a port's flag (the port agent's), a static FDB entry, a port getting its
      // carrier, a link-local address and its route
      execFileSync('bridge', ['-n', ns, 'link', 'set', 'dev', 'veth_0', 'learning', 'off']);
      execFileSync('bridge', ['-n', ns, 'fdb', 'add', '02:00:00:00:aa:01', 'dev', 'veth_0', 'master', 'static']);
      execFileSync('ip', ['-n', far, 'link', 'set', 'carrier0p', 'up']);
      ip('addr', 'add', 'fe80::77/64', 'dev', 'br0', 'nodad');
      const s1 = await view.get();
      expect(s1).not.toBe(s0);
      expect(s0.links.carrier0!.operstate).not.toBe('UP');
      expect(s1.links.carrier0!.operstate).toBe('UP');
      expect(s1.fdb).toContainEqual(expect.objectContaining({ mac: '02:00:00:00:aa:01', ifname: 'veth_0' }));
      expect(s1.addresses).toContainEqual(expect.objectContaining({ ifname: 'br0', local: 'fe80::77' }));
      expect(view.configStamp(s1)).toBe(stamp);
      // what a config sets: each moves the stamp
      const moves: [string[], string[]][] = [
        [['link', 'set', 'veth_0', 'mtu', '1400'], ['link', 'set', 'veth_0', 'mtu', '1500']],
        [['addr', 'add', '192.0.2.2/24', 'dev', 'br0'], ['addr', 'del', '192.0.2.2/24', 'dev', 'br0']],
        [['link', 'set', 'br0', 'type', 'bridge', 'forward_delay', '400'], ['link', 'set', 'br0', 'type', 'bridge', 'forward_delay', '300']],
        [['route', 'add', '10.20.0.0/16', 'dev', 'br0'], ['route', 'del', '10.20.0.0/16']],
        [['link', 'set', 'carrier0', 'nomaster'], ['link', 'set', 'carrier0', 'master', 'br0']],
        [['link', 'set', 'carrier0', 'down'], ['link', 'set', 'carrier0', 'up']],
      ];
      for (const [change, back] of moves) {
        const before = view.configStamp(await view.get());
        ip(...change);
        expect(view.configStamp(await view.get()), change.join(' ')).not.toBe(before);
        ip(...back);
      }
    } finally {
      ip('link', 'del', 'carrier0');
      await deleteNetns(far);
    }
    execFileSync('bridge', ['-n', ns, 'link', 'set', 'dev', 'veth_0', 'learning', 'on']);
    ip('addr', 'del', 'fe80::77/64', 'dev', 'br0');
    expect(comparable(await view.get())).toEqual(comparable(viewScope(await viaIproute(ns))));
  });

  it('many links created and deleted while readers run: no missed or phantom device', async () => {
    const n = Number(process.env.HOSTNETD_VIEW_CHURN ?? 2000);
    let done = false;
    const readers = Promise.all([0, 1].map(async () => {
      let reads = 0;
      while (!done) {
        await view.get();
        reads++;
        await new Promise((r) => setImmediate(r));
      }
      return reads;
    }));
    const chunk = 250;
    for (let i = 0; i < n; i += chunk) {
      const ids = Array.from({ length: Math.min(chunk, n - i) }, (_, k) => i + k);
      batch(ids.map((k) => `link add ch${k} type bridge`));
      // one in eight goes again (a deletion waits for RCU: ~40 ms each), one in four is renamed
      batch(ids.filter((k) => k % 8 === 0).map((k) => `link del ch${k}`));
      batch(ids.filter((k) => k % 4 === 1).map((k) => `link set ch${k} name cr${k}`));
    }
    done = true;
    expect((await readers).every((r) => r > 0)).toBe(true);
    const mine = Object.keys((await view.get()).links).sort();
    const kernel = Object.keys((await viaIproute(ns)).links).sort();
    expect(mine).toEqual(kernel);
    expect(mine.filter((x) => /^c[hr]\d+$/.test(x))).toHaveLength(n - Math.ceil(n / 8));
  }, 300_000);

  it('a change made after an enumeration\'s dumps were read (on sockets of their own) is applied over them', async () => {
    // the kernel changes between the dumps and their use: the dumps are older than those
    // notifications, which must win (enumerate() applies the notifications after the dumps)
    let change: (() => void) | undefined;
    const late = new KernelView({ log, netns: ns, afterDumps: () => { change?.(); change = undefined; } });
    await late.start();
    try {
      batch(['link add en0 type bridge', 'link add en1 type bridge', 'link set en1 mtu 1400']);
      expect((await late.get()).links.en1!.mtu).toBe(1400);
      change = () => batch(['link set en1 mtu 1300', 'addr add 198.18.0.1/32 dev en1', 'link del en0', 'link add en2 type bridge']);
      late.invalidate();
      const before = late.enumerations;
      const s = await late.get();
      expect(late.enumerations).toBe(before + 1);
      expect(change).toBeUndefined();
      expect(s.links.en1!.mtu).toBe(1300);
      expect(s.addresses).toContainEqual(expect.objectContaining({ ifname: 'en1', local: '198.18.0.1' }));
      expect(s.links.en0).toBeUndefined();
      expect(s.links.en2).toBeDefined();
      expect(comparable(s)).toEqual(comparable(viewScope(await viaIproute(ns))));
    } finally {
      await late.stop();
      batch(['link del en1', 'link del en2']);
    }
  });

  it('paced (while its own batch runs) it still applies notifications by itself, and a barrier reads all', async () => {
    let seen: (name: string) => void = () => undefined;
    const paced = new KernelView({ log, netns: ns, onDevice: (name) => seen(name) });
    await paced.start();
    try {
      paced.pace(true);
      // no read is asked for: the pacing timer must apply the notification
      const arrived = new Promise<void>((resolve) => { seen = (name) => { if (name === 'pace0') resolve(); }; });
      ip('link', 'add', 'pace0', 'type', 'bridge');
      await arrived;
      ip('link', 'set', 'pace0', 'mtu', '1400');
      expect((await paced.get()).links.pace0!.mtu).toBe(1400);
      paced.pace(false);
      ip('link', 'del', 'pace0');
      expect((await paced.get()).links.pace0).toBeUndefined();
    } finally {
      await paced.stop();
    }
  });

  it('link notifications superseded within one read are left out, and what they changed still ends right', async () => {
    // stalled, the burst queues and is read in reads of many datagrams: each link's notifications
    // meet in one read. Kept are deletions, up/down flips (a link going down takes its IPv4 routes
    // without a notification) and master changes (a port leaving takes its FDB entries). The
    // route is onlink: a veth's carrier may wait for the kernel's linkwatch, up to a second here
    batch(['link add supA type bridge', 'link add supB type bridge', 'link set supA up', 'link set supB up',
      'link add sup0 type veth peer name sup0b', 'addr add 100.64.77.1/24 dev sup0', 'link set sup0 up', 'link set sup0b up',
      'route add 100.64.78.0/24 via 100.64.77.2 dev sup0 onlink', 'link add sup1 type veth peer name sup1b', 'link set sup1 master supA', 'link set sup1 up']);
    expect((await view.get()).routes.some((r) => r.dst === '100.64.78.0/24')).toBe(true);
    const events = new Map<string, number>();
    const off = view.onLink((ev) => events.set(ev.name, (events.get(ev.name) ?? 0) + 1));
    view.stall(true);
    try {
      batch([
        ...Array.from({ length: 20 }, (_, k) => `link set supA mtu ${1400 + k}`),
        'link set sup0 down', 'link set sup0 mtu 1400', 'link set sup0 mtu 1450', 'link set sup0 up',
        'link set sup1 master supB', 'link set sup1 mtu 1400', 'link set sup1 master supA', 'link set sup1 mtu 1450', 'link set sup1 master supB',
        'link set sup1b name sup1c', 'link set sup1c mtu 1400',
        'link add supgone type bridge', 'link set supgone mtu 1400', 'link del supgone',
      ]);
      execFileSync('bridge', ['-n', ns, 'link', 'set', 'dev', 'sup1', 'isolated', 'on']);
      execFileSync('bridge', ['-n', ns, 'link', 'set', 'dev', 'sup1', 'learning', 'off']);
    } finally {
      view.stall(false);
    }
    const s = await view.get();
    off();
    expect(comparable(s)).toEqual(comparable(viewScope(await viaIproute(ns))));
    expect(s.links.supA!.mtu).toBe(1419);
    expect(s.links.sup1!.master).toBe('supB');
    expect(s.links.sup1!.bridgePort).toMatchObject({ isolated: true, learning: false });
    expect(s.links.sup1c!.mtu).toBe(1400);
    expect(s.links.supgone).toBeUndefined();
    expect(s.routes.filter((r) => r.dst === '100.64.78.0/24')).toEqual([]);
    // 20 notifications of supA, one event: the others were left out
    expect(events.get('supA')).toBeLessThan(5);
    batch(['link del supA', 'link del supB', 'link del sup0', 'link del sup1']);
  });

  it('an overflowed socket (ENOBUFS) is enumerated again and ends right', async () => {
    const small = new KernelView({ log, netns: ns, rcvbuf: 4096 });
    await small.start();
    try {
      const before = small.enumerations;
      small.stall(true);
      batch(Array.from({ length: 300 }, (_, k) => `link add of${k} type bridge`));
      small.stall(false);
      const s = await small.get();
      expect(small.enumerations).toBeGreaterThan(before);
      expect(Object.keys(s.links).filter((x) => x.startsWith('of'))).toHaveLength(300);
      expect(Object.keys(s.links).sort()).toEqual(Object.keys((await viaIproute(ns)).links).sort());
    } finally {
      await small.stop();
    }
  }, 60_000);
});
