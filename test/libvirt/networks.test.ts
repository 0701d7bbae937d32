import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import pino from 'pino';
import { isLibvirtError, libvirtError, libvirtUnavailable, LibvirtConnection, VirErr, type LibvirtEvent } from '../../src/libvirt/binding.js';
import { ErrorCode, HostnetError } from '../../src/errors.js';
import { parseNetworkXml } from '../../src/libvirt/network-xml.js';
import {
  buildNetworkXml, desiredFromConfig, LibvirtNetworkManager, plan,
  type CurrentLibvirtNetwork, type DesiredLibvirtNetwork,
} from '../../src/libvirt/networks.js';
import { LibvirtSession } from '../../src/libvirt/session.js';
import { makeTestNode } from './helpers/testdriver.js';

const log = pino({ level: 'silent' });
const vf = { vlanFiltering: true };
const desired = (name: string, over: Partial<DesiredLibvirtNetwork> = {}): DesiredLibvirtNetwork => ({
  name, portIsolation: false, macTableManager: 'kernel', ...over,
});
const current = (net: DesiredLibvirtNetwork, over: Partial<CurrentLibvirtNetwork> = {}): CurrentLibvirtNetwork => ({
  name: `vdsm-${net.name}`, uuid: '0f4c7b36-8a4e-4d9b-a1c1-3e5d7f9a0b11', active: true, autostart: true, persistent: true,
  xml: buildNetworkXml(net, vf, '0f4c7b36-8a4e-4d9b-a1c1-3e5d7f9a0b11'), ...over,
});

describe('buildNetworkXml', () => {
  it('writes a forward-mode-bridge network named vdsm-<net>', () => {
    const def = parseNetworkXml(buildNetworkXml(desired('ovirtmgmt', { portIsolation: true, macTableManager: 'libvirt' }), vf));
    expect(def).toMatchObject({
      name: 'vdsm-ovirtmgmt', forward: { mode: 'bridge' }, bridge: { name: 'ovirtmgmt', macTableManager: 'libvirt' },
      port: { isolated: true },
    });
    expect(def.mtu).toBeUndefined();
  });

  it('leaves macTableManager out when the kernel lacks vlan_filtering, and port out without isolation', () => {
    const def = parseNetworkXml(buildNetworkXml(desired('net1', { macTableManager: 'libvirt' }), { vlanFiltering: false }));
    expect(def.bridge).toEqual({ name: 'net1' });
    expect(def.port).toBeUndefined();
  });
});

describe('desiredFromConfig', () => {
  it('owes one libvirt network per bridged network only', () => {
    const base = {
      mtu: 9000, stp: false, ipv6: { addresses: [], autoconf: false }, defaultRoute: false, nameservers: [],
      bridgeOpts: {}, portIsolation: true, macTableManager: 'libvirt' as const, switch: 'legacy' as const,
      bootproto: 'none' as const, dhcpv6: false as const,
    };
    const got = desiredFromConfig({
      networks: { br: { ...base, name: 'br', bridged: true, nic: 'eth0' }, nobr: { ...base, name: 'nobr', bridged: false, nic: 'eth1' } },
      bonds: {},
    });
    expect(got).toEqual([{ name: 'br', portIsolation: true, macTableManager: 'libvirt' }]);
  });
});

describe('plan (pure)', () => {
  it('defines, starts and autostarts a new network', () => {
    const steps = plan([desired('a')], [], vf);
    expect(steps.map((s) => `${s.op} ${s.network}`)).toEqual(['define vdsm-a', 'start vdsm-a', 'autostart vdsm-a']);
  });

  it('does nothing when libvirt is in step', () => {
    const net = desired('a', { portIsolation: true });
    expect(plan([net], [current(net)], vf)).toEqual([]);
  });

  it('starts an inactive network and sets autostart when off', () => {
    const net = desired('a');
    const steps = plan([net], [current(net, { active: false, autostart: false })], vf);
    expect(steps.map((s) => s.op)).toEqual(['start', 'autostart']);
  });

  it('redefines a changed running network keeping its uuid, restarting it', () => {
    const old = desired('a');
    const now = desired('a', { portIsolation: true });
    const steps = plan([now], [current(old)], vf);
    expect(steps.map((s) => s.op)).toEqual(['destroy', 'define', 'start']);
    const def = steps[1]!.op === 'define' ? parseNetworkXml(steps[1]!.xml) : undefined;
    expect(def?.uuid).toBe('0f4c7b36-8a4e-4d9b-a1c1-3e5d7f9a0b11');
    expect(def?.port).toEqual({ isolated: true });
  });

  it('redefines when vlan_filtering support changes what may be written', () => {
    const net = desired('a', { macTableManager: 'libvirt' });
    const cur = current(net, { xml: buildNetworkXml(net, { vlanFiltering: false }) });
    expect(plan([net], [cur], vf).map((s) => s.op)).toEqual(['destroy', 'define', 'start']);
    expect(plan([net], [cur], { vlanFiltering: false })).toEqual([]);
  });

  it('compares only what hostnetd owns: foreign elements the strict parser refuses are no change', () => {
    const net = desired('a', { portIsolation: true, macTableManager: 'libvirt' });
    const ours = buildNetworkXml(net, vf, '0f4c7b36-8a4e-4d9b-a1c1-3e5d7f9a0b11');
    // an admin's DNS records (refused by the strict parser for forward mode bridge), a newer libvirt's element
    const foreign = ours.replace('</network>', `<dns><txt name='a' value='b'/></dns><futureThing x='1'/></network>`);
    expect(() => parseNetworkXml(foreign)).toThrow();
    expect(plan([net], [current(net, { xml: foreign })], vf)).toEqual([]);
    // each owned part, changed, is a change
    for (const [from, to] of [
      ['mode="bridge"', 'mode="nat"'], ['name="a"', 'name="b"'], ['macTableManager="libvirt"', 'macTableManager="kernel"'], ['isolated="yes"', 'isolated="no"'],
    ] as const) {
      expect(foreign).toContain(from);
      expect(plan([net], [current(net, { xml: foreign.replace(from, to) })], vf).map((st) => st.op)).toEqual(['destroy', 'define', 'start']);
    }
    // not a network document at all: redefined
    expect(plan([net], [current(net, { xml: '<network' })], vf).map((st) => st.op)).toEqual(['destroy', 'define', 'start']);
  });

  it('removes vdsm-* networks no longer desired and never touches other networks', () => {
    const gone = desired('old');
    const other: CurrentLibvirtNetwork = { ...current(gone), name: 'default' };
    const steps = plan([], [current(gone), other], vf);
    expect(steps.map((s) => `${s.op} ${s.network}`)).toEqual(['destroy vdsm-old', 'undefine vdsm-old']);
  });

  it('only destroys a transient leftover (it has no definition to undefine)', () => {
    const gone = desired('t');
    const steps = plan([], [current(gone, { persistent: false, autostart: false })], vf);
    expect(steps.map((s) => s.op)).toEqual(['destroy']);
  });
});

describe('LibvirtNetworkManager against the test driver', () => {
  let node: ReturnType<typeof makeTestNode>;
  let mgr: LibvirtNetworkManager;
  let session: LibvirtSession;
  let probe: LibvirtConnection;
  beforeAll(async () => {
    node = makeTestNode();
  });
  afterEach(async () => {
    await mgr?.stop();
    await session?.stop();
    await probe?.close();
  });
  afterAll(() => node.cleanup());

  // the test driver keeps one state per connection: the manager gets a view of the probe's
  // connection whose close() is a no-op, and whose startNetwork can be made to fail
  let failStart: string | undefined;
  async function withShared() {
    probe = await LibvirtConnection.open(node.uri);
    const shared = probe;
    failStart = undefined;
    session = new LibvirtSession({
      uri: node.uri, log,
      connect: async () => {
        const view = Object.create(shared) as LibvirtConnection;
        return Object.assign(view, {
          close: async () => undefined,
          startNetwork: async (name: string) => {
            if (name === failStart) throw libvirtError(VirErr.OPERATION_FAILED, 19, `injected: cannot start ${name}`);
            return shared.startNetwork(name);
          },
        });
      },
    });
    mgr = new LibvirtNetworkManager({ session, log, vlanFiltering: true });
    await session.start();
    return probe;
  }

  it('applies a plan, reports status, and undoes it', async () => {
    const conn = await withShared();
    const before = (await conn.listNetworks()).map((n) => n.name).sort();
    expect(before).toContain('vdsm-hnlnet1');

    const r = await mgr.sync([desired('hnlnetA', { portIsolation: true, macTableManager: 'libvirt' }), desired('hnlnet1')]);
    expect(r.applied).toBe(true);
    const a = await conn.lookupNetwork('vdsm-hnlnetA');
    expect(a).toMatchObject({ active: true, autostart: true, persistent: true });
    const def = parseNetworkXml(await conn.networkXml('vdsm-hnlnetA'));
    expect(def.bridge).toEqual({ name: 'hnlnetA', macTableManager: 'libvirt' });
    expect(def.port).toEqual({ isolated: true });
    expect(mgr.status()).toEqual({
      uri: node.uri, connected: true,
      networks: { hnlnetA: { name: 'vdsm-hnlnetA', active: true }, hnlnet1: { name: 'vdsm-hnlnet1', active: true } },
    });
    // the node's non-vdsm network is untouched
    expect((await conn.listNetworks()).map((n) => n.name)).toContain('hnl-isolated');

    const failed = await mgr.rollback(r.undo);
    expect(failed).toEqual([]);
    expect(await conn.findNetwork('vdsm-hnlnetA')).toBeNull();
    const n1 = await conn.lookupNetwork('vdsm-hnlnet1');
    expect(n1.autostart).toBe(false); // as in the node file
  });

  it('removes a dropped network and restores it on undo', async () => {
    const conn = await withShared();
    const xmlBefore = await conn.networkXml('vdsm-hnlnet1');
    const r = await mgr.sync([]);
    expect(r.steps.map((s) => `${s.op} ${s.network}`)).toEqual(['destroy vdsm-hnlnet1', 'undefine vdsm-hnlnet1']);
    expect(await conn.findNetwork('vdsm-hnlnet1')).toBeNull();
    expect(await conn.findNetwork('hnl-isolated')).not.toBeNull();
    await mgr.rollback(r.undo);
    expect(await conn.lookupNetwork('vdsm-hnlnet1')).toMatchObject({ active: true, persistent: true });
    expect(await conn.networkXml('vdsm-hnlnet1')).toBe(xmlBefore);
  });

  it('leaves a network with foreign XML alone: not restarted (same UUID, never inactive)', async () => {
    const conn = await withShared();
    const events: LibvirtEvent[] = [];
    conn.onEvent((ev) => events.push(ev));
    const want = [desired('hnlF', { portIsolation: true, macTableManager: 'libvirt' })];
    // a network as hostnetd writes it, plus elements it does not own (libvirt keeps them; the strict parser refuses the <dns> records)
    const xml = buildNetworkXml(want[0]!, vf).replace('</network>', "<dns><txt name='a' value='b'/></dns><bandwidth><inbound average='1000'/></bandwidth></network>");
    expect(() => parseNetworkXml(xml)).toThrow();
    await conn.defineNetwork(xml);
    await conn.startNetwork('vdsm-hnlF');
    await conn.setNetworkAutostart('vdsm-hnlF', true);
    const before = await conn.lookupNetwork('vdsm-hnlF');
    expect(before).toMatchObject({ active: true, autostart: true });
    const r = await mgr.sync(want);
    expect(r).toMatchObject({ applied: true });
    expect(r.steps.filter((st) => st.network === 'vdsm-hnlF')).toEqual([]);
    expect(await conn.lookupNetwork('vdsm-hnlF')).toEqual(before);
    expect(await conn.networkXml('vdsm-hnlF')).toContain("<txt name='a' value='b'/>");
    // events arrive in order: once a later network's 'defined' is seen, a stop of vdsm-hnlF would have been too
    const sentinel = new Promise<void>((resolve) => conn.onEvent((ev) => {
      if (ev.type === 'network-lifecycle' && ev.name === 'hnl-sentinel' && ev.event === 'defined') resolve();
    }));
    await conn.defineNetwork(`<network><name>hnl-sentinel</name><forward mode='bridge'/><bridge name='hnlsen'/></network>`);
    await sentinel;
    const mine = events.filter((ev) => ev.type === 'network-lifecycle' && ev.name === 'vdsm-hnlF').map((ev) => ev.type === 'network-lifecycle' && ev.event);
    expect(mine).not.toContain('stopped');
    expect(mine).not.toContain('undefined');
  });

  it('rolls its own steps back when libvirt refuses one, and reports LIBVIRT failure', async () => {
    const conn = await withShared();
    failStart = 'vdsm-hnlbusy';
    const err = await mgr.sync([desired('hnlnetB'), desired('hnlbusy', { portIsolation: true })]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HostnetError);
    const ae = err as HostnetError;
    expect(ae.code).toBe(ErrorCode.LIBVIRT_FAILED);
    expect(ae.data).toMatchObject({ leftover: [] });
    expect(isLibvirtError(ae.cause)).toBe(true);
    // hnlnetB was fully applied before the failure, and is gone again
    expect(await conn.findNetwork('vdsm-hnlnetB')).toBeNull();
    expect(await conn.findNetwork('vdsm-hnlbusy')).toBeNull();
    expect(ae.message).toContain('start of network vdsm-hnlbusy');
    expect(ae).toMatchObject({ code: 102, data: { step: { op: 'start', network: 'vdsm-hnlbusy' } } });
  });
});

describe('LibvirtNetworkManager while libvirt is away', () => {
  let mgr: LibvirtNetworkManager | undefined;
  let session: LibvirtSession | undefined;
  afterEach(async () => {
    await mgr?.stop();
    await session?.stop();
  });

  it('with uri none: disconnected, owes the networks as pending, never connects', async () => {
    let calls = 0;
    session = new LibvirtSession({ uri: 'none', log, connect: async () => { calls++; throw new Error('no'); } });
    mgr = new LibvirtNetworkManager({ session, log, vlanFiltering: false });
    await session.start();
    const r = await mgr.sync([desired('n1')]);
    expect(r).toEqual({ applied: false, steps: [], undo: [] });
    expect(mgr.status()).toEqual({ uri: 'none', connected: false, networks: { n1: null }, pending: ['n1'] });
    expect(calls).toBe(0);
  });

  it('with the addon missing: logs once and does not retry', async () => {
    let calls = 0;
    session = new LibvirtSession({
      uri: 'test:///default', log, backoff: { initialMs: 5, maxMs: 10 },
      connect: async () => { calls++; throw libvirtUnavailable('not built'); },
    });
    mgr = new LibvirtNetworkManager({ session, log, vlanFiltering: false });
    await session.start();
    await new Promise((r) => setTimeout(r, 50));
    expect(calls).toBe(1);
    expect(mgr.status().connected).toBe(false);
  });

  it('reconnects with backoff and brings pending networks in step', async () => {
    const node = makeTestNode();
    try {
      let attempts = 0;
      let real: LibvirtConnection | undefined;
      session = new LibvirtSession({
        uri: node.uri, log, backoff: { initialMs: 10, maxMs: 40 },
        connect: async (uri) => {
          attempts++;
          if (attempts < 3) throw libvirtError(VirErr.NO_CONNECT, 7, 'libvirtd down');
          real = await LibvirtConnection.open(uri);
          return real;
        },
      });
      mgr = new LibvirtNetworkManager({ session, log, vlanFiltering: true });
      await session.start();
      expect(mgr.status().connected).toBe(false);
      const r = await mgr.sync([desired('hnlnetP', { portIsolation: true })]);
      expect(r.applied).toBe(false);
      // never connected: it cannot know of vdsm-hnlnet1 yet, only of what it owes
      expect(mgr.status().pending).toEqual(['hnlnetP']);
      // wait for the event (connected, nothing pending); the bound only turns a hang into a failure
      await vi.waitFor(() => {
        const s = mgr!.status();
        if (!s.connected || s.pending) throw new Error(`not in step yet: ${JSON.stringify(s)}`);
      }, { timeout: 60_000, interval: 10 });
      expect(attempts).toBe(3);
      expect(mgr.status()).toEqual({ uri: node.uri, connected: true, networks: { hnlnetP: { name: 'vdsm-hnlnetP', active: true } } });
      // the node's vdsm-hnlnet1 was not desired: removed on reconnect
      expect(await real!.findNetwork('vdsm-hnlnet1')).toBeNull();
    } finally {
      await mgr?.stop();
      await session?.stop();
      node.cleanup();
    }
  });
});
