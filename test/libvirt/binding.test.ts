/**
 * The libvirt binding against libvirt's test driver (inside libvirt.so: no libvirtd).
 * Needs the addon built (scripts/build-addon.sh) and libvirt0 installed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, HostnetError } from '../../src/errors.js';
import { DOMParser } from '@xmldom/xmldom';
import {
  addonStatus, isLibvirtError, loadAddon, LibvirtConnection, VirErr, type LibvirtEvent,
} from '../../src/libvirt/binding.js';
import { parseNetworkXml } from '../../src/libvirt/network-xml.js';
import { makeTestNode, VM } from './helpers/testdriver.js';

const netXml = (name: string, bridge: string) =>
  `<network><name>${name}</name><forward mode='bridge'/><bridge name='${bridge}' macTableManager='libvirt'/><port isolated='yes'/></network>`;

function waitFor<T>(pred: () => T | undefined, ms = 3000): Promise<T> {
  return new Promise((resolve, reject) => {
    const start = Date.now();
    const tick = () => {
      const v = pred();
      if (v !== undefined) return resolve(v);
      if (Date.now() - start > ms) return reject(new Error('timed out waiting'));
      setTimeout(tick, 20);
    };
    tick();
  });
}

describe('libvirt addon', () => {
  it('is built and loads (run scripts/build-addon.sh with libvirt-dev installed)', () => {
    const s = addonStatus();
    expect(s).toMatchObject({ available: true });
    if (s.available) expect(s.libvirtVersion).toBeGreaterThanOrEqual(6_001_000);
  });
});

describe('addon missing', () => {
  it('is a typed condition, not a crash', () => {
    const r = loadAddon('/nonexistent/hnl/hostnet_libvirt.node');
    expect('error' in r && r.error).toBeInstanceOf(HostnetError);
    expect('error' in r && r.error.code).toBe(ErrorCode.LIBVIRT_UNAVAILABLE);
    expect('error' in r && r.error.message).toContain('/nonexistent/hnl/hostnet_libvirt.node');
  });
});

describe('LibvirtConnection on test:///default', () => {
  let conn: LibvirtConnection;
  const events: LibvirtEvent[] = [];
  beforeAll(async () => {
    conn = await LibvirtConnection.open('test:///default');
    conn.onEvent((e) => events.push(e));
  });
  afterAll(async () => {
    await conn.close();
  });

  it('registers network and domain events', () => {
    expect(conn.eventKinds).toEqual(expect.arrayContaining(['network-lifecycle', 'domain-lifecycle']));
  });

  it('defines, starts, autostarts, lists, reads, destroys and undefines a network', async () => {
    const name = 'vdsm-hnl-bind1';
    const info = await conn.defineNetwork(netXml(name, 'hnlbind1'));
    expect(info).toMatchObject({ name, active: false, persistent: true, autostart: false });
    expect(info.uuid).toMatch(/^[0-9a-f-]{36}$/);

    await conn.startNetwork(name);
    expect(await conn.isNetworkActive(name)).toBe(true);
    await conn.setNetworkAutostart(name, true);
    expect(await conn.getNetworkAutostart(name)).toBe(true);

    const listed = (await conn.listNetworks()).find((n) => n.name === name);
    expect(listed).toEqual({ ...info, active: true, autostart: true });

    const def = parseNetworkXml(await conn.networkXml(name));
    expect(def.forward?.mode).toBe('bridge');
    expect(def.bridge?.name).toBe('hnlbind1');
    expect(def.port).toEqual({ isolated: true });
    expect(def.bridge?.macTableManager).toBe('libvirt');

    await conn.destroyNetwork(name);
    expect(await conn.isNetworkActive(name)).toBe(false);
    await conn.undefineNetwork(name);
    expect(await conn.findNetwork(name)).toBeNull();
  });

  it('delivers a network lifecycle event when a network is defined', async () => {
    const name = 'vdsm-hnl-ev1';
    await conn.defineNetwork(netXml(name, 'hnlev1'));
    const ev = await waitFor(() => events.find((e) => e.type === 'network-lifecycle' && e.name === name));
    expect(ev).toMatchObject({ type: 'network-lifecycle', name, event: 'defined' });
    await conn.undefineNetwork(name);
    await waitFor(() => events.find((e) => e.type === 'network-lifecycle' && e.name === name && e.event === 'undefined'));
  });

  it('rejects a bad call with a LIBVIRT_FAILED HostnetError carrying libvirt code and domain', async () => {
    const err = await conn.lookupNetwork('hnl-no-such-net').catch((e: unknown) => e);
    expect(isLibvirtError(err)).toBe(true);
    expect(err).toMatchObject({ code: ErrorCode.LIBVIRT_FAILED, detail: { kind: 'libvirt', virErr: VirErr.NO_NETWORK, domain: 12 /* VIR_FROM_TEST: the test driver reports it */ } });
    expect((err as Error).message).toContain('hnl-no-such-net');

    const bad = await conn.defineNetwork('<network><forward mode="bridge"/></network>').catch((e: unknown) => e);
    expect(isLibvirtError(bad) && bad.detail.virErr).toBeGreaterThan(0);
  });

  it('refuses to start a network twice (libvirt OPERATION_INVALID)', async () => {
    const name = 'vdsm-hnl-twice';
    await conn.defineNetwork(netXml(name, 'hnltwice'));
    await conn.startNetwork(name);
    const err = await conn.startNetwork(name).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCode.LIBVIRT_FAILED, detail: { virErr: VirErr.OPERATION_INVALID } });
    await conn.destroyNetwork(name);
    await conn.undefineNetwork(name);
  });
});

describe('LibvirtConnection on a private test:///file node', () => {
  let conn: LibvirtConnection;
  let cleanup: () => void;
  beforeAll(async () => {
    const node = makeTestNode();
    cleanup = node.cleanup;
    conn = await LibvirtConnection.open(node.uri);
  });
  afterAll(async () => {
    await conn.close();
    cleanup();
  });

  it('lists the networks of the node file', async () => {
    const names = (await conn.listNetworks()).map((n) => n.name).sort();
    expect(names).toEqual(['hnl-isolated', 'vdsm-hnlnet1']);
  });

  it('finds the running domain by name and by UUID', async () => {
    const active = await conn.listActiveDomains();
    expect(active.map((d) => d.name)).toContain(VM.name);
    const byName = await conn.lookupDomainByName(VM.name);
    expect(byName).toMatchObject({ name: VM.name, uuid: VM.uuid, active: true });
    expect(byName.id).toBeGreaterThan(0);
    expect(await conn.lookupDomainByUuid(VM.uuid)).toEqual(byName);
  });

  it('reads the domain interfaces back: MACs and the test driver target names', async () => {
    const xml = await conn.domainXml({ uuid: VM.uuid });
    const doc = new DOMParser().parseFromString(xml, 'text/xml');
    const ifaces = Array.from(doc.getElementsByTagName('interface'));
    const macs = ifaces.map((i) => i.getElementsByTagName('mac')[0]?.getAttribute('address'));
    const targets = ifaces.map((i) => i.getElementsByTagName('target')[0]?.getAttribute('dev'));
    expect(macs).toEqual(VM.macs);
    expect(targets).toEqual(['testnet0', 'testnet1']);
    expect(ifaces[0]?.getElementsByTagName('port')[0]?.getAttribute('isolated')).toBe('yes');
    expect(ifaces[0]?.getElementsByTagName('source')[0]?.getAttribute('network')).toBe('vdsm-hnlnet1');
  });

  it('lists every running domain with its XML in one call', async () => {
    const all = await conn.listActiveDomainsWithXml();
    const vm = all.find((d) => d.name === VM.name);
    expect(vm).toMatchObject({ name: VM.name, uuid: VM.uuid, active: true });
    expect(vm?.xml).toBe(await conn.domainXml({ uuid: VM.uuid }));
    expect(all.map((d) => d.name).sort()).toEqual((await conn.listActiveDomains()).map((d) => d.name).sort());
  });

  it('lists the networks of a name prefix with their XML in one call (the test driver gives the live XML for inactive)', async () => {
    const owned = await conn.listNetworksWithXml('vdsm-', { inactive: true });
    expect(owned.map((n) => n.name)).toEqual(['vdsm-hnlnet1']);
    expect(owned[0]).toMatchObject({ uuid: '0f4c7b36-8a4e-4d9b-a1c1-3e5d7f9a0b11', persistent: true });
    expect(owned[0]?.xml).toBe(await conn.networkXml('vdsm-hnlnet1'));
    expect((await conn.listNetworksWithXml('')).map((n) => n.name).sort()).toEqual(['hnl-isolated', 'vdsm-hnlnet1']);
  });

  it('rejects an unknown domain with NO_DOMAIN', async () => {
    const err = await conn.lookupDomainByName('hnl-nope').catch((e: unknown) => e);
    expect(isLibvirtError(err) && err.detail.virErr).toBe(VirErr.NO_DOMAIN);
  });

  it('keeps in-flight calls working across close(), then refuses new ones', async () => {
    const other = await LibvirtConnection.open('test:///default');
    const inflight = Promise.all([other.listNetworks(), other.listActiveDomains(), other.listNetworks()]);
    await other.close();
    const [nets, doms] = await inflight;
    expect(nets.length).toBeGreaterThan(0);
    expect(doms.length).toBeGreaterThan(0);
    const err = await other.listNetworks().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCode.LIBVIRT_FAILED, detail: { virErr: VirErr.INVALID_CONN } });
    await other.close(); // idempotent
  });
});

describe('opening a URI libvirt cannot reach', () => {
  it('rejects with a LIBVIRT_FAILED HostnetError', async () => {
    const err = await LibvirtConnection.open('qemu+unix:///system?socket=/nonexistent/hnl.sock').catch((e: unknown) => e);
    expect(isLibvirtError(err) && err.detail.virErr).toBeGreaterThan(0);
  });
});
