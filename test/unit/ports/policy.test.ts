import { describe, expect, it } from 'vitest';
import type { FdbEntry, KernelLink, KernelState } from '../../../src/model/kernel-state.js';
import type { HostConfig, Network } from '../../../src/model/types.js';
import { flagLine, managedBridges, normalizeMacs, planPorts } from '../../../src/ports/policy.js';
import { features } from '../../helpers/kernel-fixtures.js';

const FEATURES = features();

function net(name: string, over: Partial<Network> = {}): Network {
  return {
    name, bridged: true, mtu: 1500, stp: false, ipv6: { addresses: [], autoconf: false }, defaultRoute: false,
    nameservers: [], bridgeOpts: {}, portIsolation: false, macTableManager: 'kernel', switch: 'legacy',
    bootproto: 'none', dhcpv6: false, ...over,
  };
}

let nextIndex = 10;
function bridge(name: string, vlanFiltering = false): KernelLink {
  return {
    ifindex: nextIndex++, name, kind: 'bridge', mtu: 1500, address: '02:00:00:00:00:01', up: true, operstate: 'up',
    promiscuity: 0, bridge: { stp: false, vlanFiltering, opts: {} },
  };
}
type Flags = { isolated?: boolean; learning?: boolean; flood?: boolean };
function port(name: string, master: string, f: Flags = {}): KernelLink {
  return {
    ifindex: nextIndex++, name, kind: 'veth', mtu: 1500, address: '02:00:00:00:00:02', up: true, operstate: 'up',
    promiscuity: 1, master, slaveKind: 'bridge',
    bridgePort: { isolated: f.isolated ?? false, learning: f.learning ?? true, flood: f.flood ?? true, mcastFlood: true, state: 'forwarding' },
  };
}
function state(links: KernelLink[], fdb: FdbEntry[] = []): KernelState {
  return { links: Object.fromEntries(links.map((l) => [l.name, l])), addresses: [], routes: [], fdb, takenAt: 0 };
}
const config = (...nets: Network[]): HostConfig => ({ networks: Object.fromEntries(nets.map((n) => [n.name, n])), bonds: {} });
const fdb = (mac: string, ifname: string, master: string, st = 'static', vlan?: number): FdbEntry =>
  ({ mac, ifname, master, state: st, flags: [], ...(vlan !== undefined ? { vlan } : {}) });
const noMacs = new Map<string, string[]>();

describe('managedBridges', () => {
  it('lists bridged networks with their uplink (vlan device when tagged), not bridgeless ones', () => {
    const got = managedBridges(config(
      net('a', { nic: 'eth0', portIsolation: true }),
      net('b', { bonding: 'bond0', vlan: 100, macTableManager: 'libvirt' }),
      net('iso'),
      net('flat', { bridged: false, nic: 'eth1' }),
    ));
    expect(got).toEqual([
      { bridge: 'a', uplink: 'eth0', portIsolation: true, macTableManager: 'kernel' },
      { bridge: 'b', uplink: 'bond0.100', portIsolation: false, macTableManager: 'libvirt' },
      { bridge: 'iso', portIsolation: false, macTableManager: 'kernel' },
    ]);
  });
});

describe('planPorts: portIsolation', () => {
  it('isolates every port but the uplink, and forces the uplink out of isolation', () => {
    const s = state([bridge('vmnet'), port('eth0', 'vmnet', { isolated: true }), port('vnet0', 'vmnet'), port('vnet1', 'vmnet')]);
    const p = planPorts({ state: s, config: config(net('vmnet', { nic: 'eth0', portIsolation: true })), guestMacs: noMacs, features: FEATURES });
    expect(p.ipLines).toEqual([
      'link set dev eth0 type bridge_slave isolated off learning on flood on',
      'link set dev vnet0 type bridge_slave isolated on learning on flood on',
      'link set dev vnet1 type bridge_slave isolated on learning on flood on',
    ]);
    expect(p.bridgeLines).toEqual([]);
    expect(p.warnings).toEqual([]);
    expect(p.targets.map((t) => [t.port, t.role])).toEqual([['eth0', 'uplink'], ['vnet0', 'guest'], ['vnet1', 'guest']]);
  });

  it('does nothing when every port is in policy (idempotent)', () => {
    const s = state([bridge('vmnet'), port('eth0', 'vmnet'), port('vnet0', 'vmnet', { isolated: true })]);
    const p = planPorts({ state: s, config: config(net('vmnet', { nic: 'eth0', portIsolation: true })), guestMacs: noMacs, features: FEATURES });
    expect(p.ipLines).toEqual([]);
    expect(p.bridgeLines).toEqual([]);
  });

  it('un-isolates ports of a network without portIsolation', () => {
    const s = state([bridge('vmnet'), port('eth0', 'vmnet'), port('vnet0', 'vmnet', { isolated: true })]);
    const p = planPorts({ state: s, config: config(net('vmnet', { nic: 'eth0' })), guestMacs: noMacs, features: FEATURES });
    expect(p.ipLines).toEqual(['link set dev vnet0 type bridge_slave isolated off learning on flood on']);
  });

  it('isolates every port of an isolated network (no uplink)', () => {
    const s = state([bridge('iso'), port('vnet0', 'iso'), port('vnet1', 'iso')]);
    const p = planPorts({ state: s, config: config(net('iso', { portIsolation: true })), guestMacs: noMacs, features: FEATURES });
    expect(p.ipLines).toHaveLength(2);
    expect(p.ipLines.every((l) => l.includes('isolated on'))).toBe(true);
  });

  it('never touches ports of bridges hostnetd does not manage, nor a network whose bridge is missing', () => {
    const s = state([
      bridge('virbr0'), port('vnet5', 'virbr0'), port('vnet6', 'virbr0', { isolated: true, learning: false, flood: false }),
    ], [fdb('52:54:00:00:00:09', 'vnet5', 'virbr0')]);
    const p = planPorts({
      state: s,
      config: config(net('gone', { portIsolation: true, macTableManager: 'libvirt' })),
      guestMacs: new Map([['vnet5', ['52:54:00:00:00:01']]]),
      features: { ...FEATURES, vlanFiltering: true },
    });
    expect(p).toEqual({ ipLines: [], bridgeLines: [], targets: [], warnings: [] });
  });

  it('warns instead of isolating on a kernel without port isolation', () => {
    const s = state([bridge('vmnet'), port('vnet0', 'vmnet')]);
    const p = planPorts({
      state: s, config: config(net('vmnet', { portIsolation: true })), guestMacs: noMacs, features: { ...FEATURES, portIsolation: false },
    });
    expect(p.ipLines).toEqual([]);
    expect(p.warnings[0]).toMatchObject({ port: 'vnet0', reason: expect.stringMatching(/cannot isolate/) });
  });
});

describe('planPorts: macTableManager libvirt', () => {
  const libvirtNet = () => config(net('vmnet', { nic: 'eth0', macTableManager: 'libvirt' }));

  it('adds the guests\' entries first, then turns learning and flood off; the uplink keeps learning', () => {
    const s = state([bridge('vmnet'), port('eth0', 'vmnet'), port('vnet0', 'vmnet'), port('vnet1', 'vmnet')]);
    const p = planPorts({
      state: s, config: libvirtNet(), features: FEATURES,
      guestMacs: new Map([['vnet0', ['52:54:00:AA:00:01']], ['vnet1', ['52:54:00:aa:00:02', '52:54:00:aa:00:03']]]),
    });
    expect(p.bridgeLines).toEqual([
      'fdb replace 52:54:00:aa:00:01 dev vnet0 master static',
      'fdb replace 52:54:00:aa:00:02 dev vnet1 master static',
      'fdb replace 52:54:00:aa:00:03 dev vnet1 master static',
    ]);
    expect(p.ipLines).toEqual([
      'link set dev vnet0 type bridge_slave isolated off learning off flood off',
      'link set dev vnet1 type bridge_slave isolated off learning off flood off',
    ]);
    expect(p.warnings).toEqual([]);
  });

  it('a guest port whose MAC is unknown keeps learning and flood on, with a warning, and its entries stay', () => {
    const s = state([bridge('vmnet'), port('eth0', 'vmnet'), port('vnet0', 'vmnet', { learning: false, flood: false })],
      [fdb('52:54:00:aa:00:07', 'vnet0', 'vmnet')]);
    const p = planPorts({ state: s, config: libvirtNet(), guestMacs: noMacs, features: FEATURES });
    expect(p.ipLines).toEqual(['link set dev vnet0 type bridge_slave isolated off learning on flood on']);
    expect(p.bridgeLines).toEqual([]);
    expect(p.warnings).toEqual([{ bridge: 'vmnet', port: 'vnet0', ifindex: expect.any(Number), reason: expect.stringMatching(/learning and flood on.*vnet0/) }]);
  });

  it('removes stale static entries of a managed port, keeps present ones, ignores permanent, learned and per-VLAN ones', () => {
    const s = state([bridge('vmnet'), port('eth0', 'vmnet'), port('vnet0', 'vmnet', { learning: false, flood: false })], [
      fdb('52:54:00:aa:00:01', 'vnet0', 'vmnet'),
      fdb('52:54:00:aa:00:99', 'vnet0', 'vmnet'),
      fdb('52:54:00:aa:00:98', 'vnet0', 'vmnet', 'static', 1),
      fdb('02:00:00:00:00:02', 'vnet0', 'vmnet', 'permanent'),
      fdb('00:11:22:33:44:55', 'eth0', 'vmnet', ''),
      fdb('00:11:22:33:44:66', 'eth0', 'vmnet'),
    ]);
    const p = planPorts({ state: s, config: libvirtNet(), guestMacs: new Map([['vnet0', ['52:54:00:aa:00:01']]]), features: FEATURES });
    expect(p.bridgeLines).toEqual(['fdb del 52:54:00:aa:00:99 dev vnet0 master']);
    expect(p.ipLines).toEqual([]);
  });

  it('combines with portIsolation in one line per port', () => {
    const s = state([bridge('vmnet'), port('eth0', 'vmnet'), port('vnet0', 'vmnet')]);
    const p = planPorts({
      state: s, config: config(net('vmnet', { nic: 'eth0', macTableManager: 'libvirt', portIsolation: true })),
      guestMacs: new Map([['vnet0', ['52:54:00:aa:00:01']]]), features: FEATURES,
    });
    expect(p.ipLines).toEqual(['link set dev vnet0 type bridge_slave isolated on learning off flood off']);
  });

  it('turns vlan_filtering on where the kernel has it, and only then', () => {
    const mk = () => state([bridge('vmnet'), port('eth0', 'vmnet')]);
    const withVf = planPorts({ state: mk(), config: libvirtNet(), guestMacs: noMacs, features: { ...FEATURES, vlanFiltering: true } });
    expect(withVf.ipLines).toEqual(['link set dev vmnet type bridge vlan_filtering 1']);
    expect(planPorts({ state: mk(), config: libvirtNet(), guestMacs: noMacs, features: FEATURES }).ipLines).toEqual([]);
    const already = state([bridge('vmnet', true), port('eth0', 'vmnet')]);
    expect(planPorts({ state: already, config: libvirtNet(), guestMacs: noMacs, features: { ...FEATURES, vlanFiltering: true } }).ipLines).toEqual([]);
    const kernelMode = config(net('vmnet', { nic: 'eth0' }));
    expect(planPorts({ state: mk(), config: kernelMode, guestMacs: noMacs, features: { ...FEATURES, vlanFiltering: true } }).ipLines).toEqual([]);
  });

  it('back to macTableManager kernel: learning and flood on again, entries left alone', () => {
    const s = state([bridge('vmnet'), port('eth0', 'vmnet'), port('vnet0', 'vmnet', { learning: false, flood: false })],
      [fdb('52:54:00:aa:00:01', 'vnet0', 'vmnet')]);
    const p = planPorts({ state: s, config: config(net('vmnet', { nic: 'eth0' })), guestMacs: new Map([['vnet0', ['52:54:00:aa:00:01']]]), features: FEATURES });
    expect(p.ipLines).toEqual(['link set dev vnet0 type bridge_slave isolated off learning on flood on']);
    expect(p.bridgeLines).toEqual([]);
  });
});

describe('normalizeMacs and flagLine', () => {
  it('keeps valid unicast MACs, lower case, deduplicated, sorted; drops anything that could split a batch line', () => {
    expect(normalizeMacs(['52:54:00:AA:00:02', '52:54:00:aa:00:01', '52:54:00:aa:00:02', 'ff:ff:ff:ff:ff:ff',
      '01:00:5e:00:00:01', '52:54:00:aa:00:03 dev x', 'nonsense'])).toEqual(['52:54:00:aa:00:01', '52:54:00:aa:00:02']);
  });
  it('renders all three flags', () => {
    expect(flagLine('p', { isolated: true, learning: false, flood: true })).toBe('link set dev p type bridge_slave isolated on learning off flood on');
  });
});

describe('planPorts at scale', () => {
  it('1000 guest ports: one flag line per port and one entry per guest (timed by npm run bench:micro)', () => {
    const links = [bridge('vmnet'), port('eth0', 'vmnet')];
    const macs = new Map<string, string[]>();
    for (let i = 0; i < 1000; i++) {
      links.push(port(`vnet${i}`, 'vmnet'));
      macs.set(`vnet${i}`, [`52:54:00:00:${((i >> 8) & 0xff).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`]);
    }
    const p = planPorts({
      state: state(links), config: config(net('vmnet', { nic: 'eth0', portIsolation: true, macTableManager: 'libvirt' })), guestMacs: macs, features: FEATURES,
    });
    expect(p.ipLines).toHaveLength(1000);
    expect(p.bridgeLines).toHaveLength(1000);
  });
});
