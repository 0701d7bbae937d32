/**
 * The kernel state reader and the capabilities renderer against a real kernel: a namespace
 * with veth NICs (far ends in a switch namespace) and a bridge built by hand, read through
 * createIproute({ netns }) exactly as the daemon reads its own namespace.
 */
import { existsSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildNetworkCapabilities } from '../../src/caps/network.js';
import { buildStatistics } from '../../src/caps/statistics.js';
import { detectKernelFeatures } from '../../src/kernel/features.js';
import { createIproute, isIprouteError } from '../../src/kernel/iproute.js';
import { ErrorCode, HostnetError } from '../../src/errors.js';
import { readDumps, readKernelState } from '../../src/kernel/snapshot.js';
import type { KernelState } from '../../src/model/kernel-state.js';
import { parseJsonDump, parseKernelState } from '../../src/kernel/parse.js';
import type { HostConfig } from '../../src/model/types.js';
import { cleanupStaleNetns, createNetns, createNetnsHost, deleteNetns, type NetnsHost } from '../helpers/netns.js';
import { operstatesSettled } from '../helpers/kernel-compare.js';
import { features } from '../helpers/kernel-fixtures.js';

const PREFIX = 'hnk-';

describe('readKernelState + buildNetworkCapabilities in a namespace', () => {
  let host: NetnsHost;

  beforeAll(async () => {
    await cleanupStaleNetns(PREFIX);
    host = await createNetnsHost({ prefix: PREFIX, nics: 4 });
    try {
      const ipr = createIproute({ netns: host.ns });
      // the bridge is built by hand, not by hostnetd: the reader must not depend on who made it
      await ipr.ip(['-batch', '-'], {
        input: [
          'link add br0 type bridge stp_state 0 forward_delay 1200',
          'link set veth_0 master br0',
          'link set veth_1 master br0',
          'tuntap add tap0 mode tap',
          'link set tap0 master br0',
          'link set veth_1 type bridge_slave isolated on learning off',
          'link set tap0 type bridge_slave isolated on flood off',
          'link set br0 up',
          'addr add 192.0.2.10/24 dev br0',
          'addr add 2001:db8::10/64 dev br0 nodad',
          'route add default via 192.0.2.1 dev br0',
          'link set veth_2 mtu 1400',
          'addr add 198.51.100.7/24 dev veth_2',
          '',
        ].join('\n'),
      });
      await ipr.bridge(['fdb', 'add', '52:54:00:00:00:77', 'dev', 'tap0', 'master', 'static']);
    } catch (e) {
      await host.destroy();
      throw e;
    }
  });
  afterAll(async () => {
    await host?.destroy();
  });

  it('reads NICs, the bridge, its ports and their flags', async () => {
    const ipr = createIproute({ netns: host.ns });
    const state = await readKernelState(ipr);
    const real = await host.links();

    for (const nic of host.nics) {
      expect(state.links[nic]?.address).toBe(String(real[nic]?.address));
      expect(state.links[nic]?.kind).toBe('veth');
    }
    expect(state.links.veth_2?.mtu).toBe(1400);
    expect(state.links.br0).toMatchObject({ kind: 'bridge', up: true, bridge: { stp: false } });
    expect(state.links.br0?.bridge?.opts.forward_delay).toBe('1200');
    expect(state.links.veth_1?.bridgePort).toMatchObject({ isolated: true, learning: false, flood: true });
    expect(state.links.tap0?.bridgePort).toMatchObject({ isolated: true, learning: true, flood: false });
    expect(state.links.veth_0?.bridgePort).toMatchObject({ isolated: false, learning: true, flood: true });

    const running: HostConfig = {
      networks: {
        br0: {
          name: 'br0', bridged: true, nic: 'veth_0', mtu: 1500, stp: false,
          ipv4: { address: '192.0.2.10', prefix: 24, gateway: '192.0.2.1' }, ipv6: { addresses: ['2001:db8::10/64'], autoconf: false },
          defaultRoute: true, nameservers: [], bridgeOpts: {}, portIsolation: true, macTableManager: 'kernel',
          switch: 'legacy', bootproto: 'none', dhcpv6: false,
        },
      },
      bonds: {},
    };
    const caps = buildNetworkCapabilities({
      state, running, netConfigDirty: false, features: features(),
      fakeNics: ['veth_*'], nameservers: [], version: 'test', libvirt: { uri: 'test:///default', connected: false },
    });

    expect(Object.keys(caps.nics)).toEqual(['veth_0', 'veth_1', 'veth_2', 'veth_3']);
    expect(caps.nics.veth_2).toMatchObject({
      hwaddr: String(real.veth_2?.address), mtu: '1400', addr: '198.51.100.7', netmask: '255.255.255.0',
      ipv4addrs: ['198.51.100.7/24'], gateway: '', ipv4defaultroute: false,
    });
    expect(caps.bridges.br0).toMatchObject({
      ports: ['tap0', 'veth_0', 'veth_1'], stp: 'off', addr: '192.0.2.10', ipv4addrs: ['192.0.2.10/24'],
      ipv6addrs: ['2001:db8::10/64'], gateway: '192.0.2.1', ipv4defaultroute: true, mtu: '1500',
      portFlags: {
        tap0: { isolated: true, learning: true, flood: false },
        veth_0: { isolated: false, learning: true, flood: true },
        veth_1: { isolated: true, learning: false, flood: true },
      },
      fdb: [{ mac: '52:54:00:00:00:77', port: 'tap0' }],
    });
    expect(caps.networks.br0).toMatchObject({
      bridged: true, iface: 'br0', southbound: 'veth_0', ports: ['tap0', 'veth_0', 'veth_1'], gateway: '192.0.2.1',
      ipv4defaultroute: true, portIsolation: true, libvirtNetwork: null,
    });

    const stats = buildStatistics(state, ['veth_*'], Date.now()).network;
    expect(Object.keys(stats)).toEqual(['br0', 'veth_0', 'veth_1', 'veth_2', 'veth_3']);
    expect(stats.veth_0?.state).toBe('up');
  });

  it('reports a failing command as an APPLY_FAILED HostnetError with its exit code and stderr', async () => {
    const ipr = createIproute({ netns: host.ns });
    const err = await ipr.ip(['link', 'show', 'dev', 'nosuchdev0']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HostnetError);
    expect((err as HostnetError).code).toBe(ErrorCode.APPLY_FAILED);
    if (!isIprouteError(err)) throw new Error('expected an iproute failure');
    expect(err.detail.exitCode).toBe(1);
    expect(err.detail.stderr).toMatch(/does not exist/);
    expect(err.detail.command.slice(0, 3)).toEqual(['ip', '-n', host.ns]);
  });

  it('feeds a batch on stdin and reports which line failed', async () => {
    const ipr = createIproute({ netns: host.ns });
    await ipr.ip(['-batch', '-'], { input: 'link add hnkb0 type bridge\nlink set hnkb0 up\n' });
    expect((await readKernelState(ipr)).links.hnkb0?.up).toBe(true);
    const err = await ipr.ip(['-batch', '-'], { input: 'link del hnkb0\nlink del hnkb0\n' }).catch((e: unknown) => e);
    if (!isIprouteError(err)) throw new Error('expected an iproute failure');
    expect(err.detail.stderr).toMatch(/Command failed -:2/);
  });
});

describe('detectKernelFeatures on this machine', () => {
  /** run ip in a private namespace of its own: touches nothing else */
  const privately = async (batch: string) =>
    (await execa('unshare', ['--net', 'ip', '-batch', '-'], { input: batch, reject: false })).exitCode === 0;
  const canLoadModules = existsSync(`/lib/modules/${release()}`);

  it('agrees with what a private namespace can actually do', async () => {
    const f = await detectKernelFeatures();
    expect(f.vlanFiltering).toBe(await privately('link add b0 type bridge\nlink set b0 type bridge vlan_filtering 1\n'));
    expect(f.portIsolation).toBe(await privately(
      'link add b0 type bridge\nlink add v0 type veth peer name v1\nlink set v0 master b0\nlink set v0 type bridge_slave isolated on\n',
    ));
    if (!canLoadModules) {
      // no module tree: creating a bond or vlan cannot autoload anything, so probing is harmless
      expect(f.bonding).toBe(await privately('link add bond9 type bond\n'));
      expect(f.vlan).toBe(await privately('link add v0 type veth peer name v1\nlink add link v0 name v0.5 type vlan id 5\n'));
    } else {
      const lists = ['modules.dep', 'modules.builtin'].map((n) => {
        try { return readFileSync(`/lib/modules/${release()}/${n}`, 'utf8'); } catch { return ''; }
      }).join('\n');
      expect(f.bonding).toBe(existsSync('/sys/module/bonding') || /\/bonding\.ko/.test(lists));
      expect(f.vlan).toBe(existsSync('/sys/module/8021q') || /\/8021q\.ko/.test(lists));
    }
  });
});

describe('readKernelState at scale', () => {
  let ns: string;
  beforeAll(async () => {
    ns = await createNetns(PREFIX);
    // 1001 links: lo, 200 bridges (up, an address each), 400 veth pairs with one end a port.
    // Created with `up`/`master` on the add line: a third of the rtnl round trips.
    const lines: string[] = [];
    for (let i = 0; i < 200; i++) lines.push(`link add br${i} up type bridge`, `addr add 10.0.${i}.1/24 dev br${i}`);
    for (let i = 0; i < 400; i++) lines.push(`link add veth_${i} up master br${i % 200} type veth peer name vp_${i}`);
    await execa('ip', ['-n', ns, '-batch', '-'], { input: lines.join('\n') + '\n' });
    // the 200 bridges are UNKNOWN until linkwatch has run: the two reads compared must not straddle it
    await operstatesSettled(ns);
  }, 300_000);
  afterAll(async () => {
    if (ns) await deleteNetns(ns);
  });

  it('reads 1000+ links in-process, as iproute2\'s JSON parsed by the project\'s parser says', async () => {
    const ipr = createIproute({ netns: ns });
    const wall: number[] = [];
    let state: KernelState | undefined;
    for (let i = 0; i < 11; i++) {
      const t = performance.now();
      state = await readKernelState(ipr, 'full');
      wall.push(performance.now() - t);
    }
    expect(Object.keys(state!.links)).toHaveLength(1001);
    const text = await readDumps(ipr);
    const json = parseKernelState({
      link: parseJsonDump(text.link), addr: parseJsonDump(text.addr), route4: parseJsonDump(text.route4),
      route6: parseJsonDump(text.route6), fdb: parseJsonDump(text.fdb),
    }, 0);
    // what can differ between two reads: the bridges' running timers and the counters
    const strip = (s: KernelState) => Object.values(s.links).map((l) => ({
      ...l, stats: undefined, bridge: l.bridge && { ...l.bridge, opts: { ...l.bridge.opts, hello_timer: '', tcn_timer: '', topology_change_timer: '', gc_timer: '' } },
    }));
    expect(strip(state!)).toEqual(strip(json));
    expect(new Set(state!.addresses.map((a) => `${a.ifname} ${a.local}/${a.prefixlen}`)))
      .toEqual(new Set(json.addresses.map((a) => `${a.ifname} ${a.local}/${a.prefixlen}`)));
    // timing is bench/'s business; this is for the eye
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    console.log(`readKernelState (rtnetlink, in-process): ${Object.keys(state!.links).length} links; wall median ${median(wall).toFixed(1)} ms (min ${Math.min(...wall).toFixed(1)})`);
  });
});
