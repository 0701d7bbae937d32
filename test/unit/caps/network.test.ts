import { describe, expect, it } from 'vitest';
import { buildNetworkCapabilities } from '../../../src/caps/network.js';
import { bondCapsOpts } from '../../../src/caps/bond-opts.js';
import { globToRegExp, globMatcher } from '../../../src/kernel/nics.js';
import { prefixToNetmask } from '../../../src/model/ip.js';
import type { CapsInput } from '../../../src/caps/types.js';
import type { KernelLink, KernelState } from '../../../src/model/kernel-state.js';
import type { HostConfig, Network } from '../../../src/model/types.js';
import { fixtureState } from '../kernel/fixtures.js';
import { features } from '../../helpers/kernel-fixtures.js';

function net(name: string, over: Partial<Network>): Network {
  return {
    name, bridged: true, mtu: 1500, stp: false, ipv6: { addresses: [], autoconf: false }, defaultRoute: false,
    nameservers: [], bridgeOpts: {}, portIsolation: false, macTableManager: 'kernel', switch: 'legacy',
    bootproto: 'none', dhcpv6: false, ...over,
  };
}

const FEATURES = features();

function input(state: KernelState, running: HostConfig, over: Partial<CapsInput> = {}): CapsInput {
  return {
    state, running, netConfigDirty: true, features: FEATURES, fakeNics: ['veth_*'],
    nameservers: ['192.0.2.53'], version: '0.1.0',
    libvirt: { uri: 'test:///default', connected: true, networks: { br0: { name: 'vdsm-br0', active: true } } },
    ...over,
  };
}

const RUNNING: HostConfig = {
  networks: {
    br0: net('br0', {
      nic: 'veth_0', ipv4: { address: '192.0.2.10', prefix: 24, gateway: '192.0.2.1' },
      ipv6: { addresses: ['2001:db8:1::10/64'], gateway: '2001:db8:1::1', autoconf: false },
      defaultRoute: true, portIsolation: true, nameservers: ['192.0.2.53'],
    }),
    br1: net('br1', { stp: true, macTableManager: 'libvirt' }),
    storage: net('storage', {
      bridged: false, nic: 'veth_2', mtu: 9000, ipv4: { address: '198.51.100.5', prefix: 25, gateway: '198.51.100.1' },
    }),
    missing: net('missing', { nic: 'veth_9' }),
  },
  bonds: {},
};

describe('buildNetworkCapabilities on the bridged fixture', () => {
  const caps = buildNetworkCapabilities(input(fixtureState('bridged'), RUNNING));

  it('lists fake NICs by glob, never loopback, taps or bridges', () => {
    expect(Object.keys(caps.nics)).toEqual(['veth_0', 'veth_1', 'veth_2', 'veth_3']);
    const none = buildNetworkCapabilities(input(fixtureState('bridged'), RUNNING, { fakeNics: [] }));
    expect(none.nics).toEqual({});
  });

  it('renders a NIC with VDSM IP keys, mtu as a string', () => {
    expect(caps.nics.veth_2).toEqual({
      hwaddr: '02:00:00:00:00:12', speed: 0, mtu: '9000',
      addr: '198.51.100.5', netmask: '255.255.255.128', ipv4addrs: ['198.51.100.5/25'], ipv6addrs: [],
      gateway: '', ipv6gateway: '::', ipv4defaultroute: false, dhcpv4: false, dhcpv6: false, ipv6autoconf: false, bootproto4: 'none',
    });
    // link-local addresses are left out; a tentative global one is reported
    expect(caps.nics.veth_3?.ipv6addrs).toEqual(['2001:db8:3::13/64']);
    expect(caps.nics.veth_0?.ipv6addrs).toEqual([]);
  });

  it('renders bridges with ports, stp, sysfs opts, IP keys, port flags and static FDB', () => {
    const br0 = caps.bridges.br0!;
    expect(br0).toMatchObject({
      ports: ['tap0', 'veth_0', 'veth_1'], stp: 'off', mtu: '1500',
      addr: '192.0.2.10', netmask: '255.255.255.0', ipv4addrs: ['192.0.2.10/24', '192.0.2.11/24'],
      ipv6addrs: ['2001:db8:1::10/64'], gateway: '192.0.2.1', ipv6gateway: '2001:db8:1::1', ipv4defaultroute: true,
    });
    expect((br0.opts as Record<string, string>).forward_delay).toBe('1500');
    expect((br0.opts as Record<string, string>).stp_state).toBe('0');
    expect(br0.portFlags).toEqual({
      tap0: { isolated: true, learning: true, flood: false },
      veth_0: { isolated: false, learning: true, flood: true },
      veth_1: { isolated: true, learning: false, flood: true },
    });
    expect(br0.fdb).toEqual(expect.arrayContaining([
      { mac: '52:54:00:00:00:01', port: 'tap0' }, { mac: '52:54:00:00:00:02', port: 'veth_1' },
    ]));
    expect(br0.fdb).toHaveLength(2);
    expect(caps.bridges.br1).toMatchObject({ ports: ['tap1'], stp: 'on', addr: '', netmask: '', gateway: '', ipv4defaultroute: false });
    expect((caps.bridges.br1!.opts as Record<string, string>).forward_delay).toBe('400');
  });

  it('renders a bridged network on its bridge', () => {
    expect(caps.networks.br0).toEqual({
      bridged: true, iface: 'br0', southbound: 'veth_0', ports: ['tap0', 'veth_0', 'veth_1'], stp: 'off', mtu: '1500',
      addr: '192.0.2.10', netmask: '255.255.255.0', ipv4addrs: ['192.0.2.10/24', '192.0.2.11/24'],
      ipv6addrs: ['2001:db8:1::10/64'], gateway: '192.0.2.1', ipv6gateway: '2001:db8:1::1', ipv4defaultroute: true,
      dhcpv4: false, dhcpv6: false, ipv6autoconf: false, bootproto4: 'none', switch: 'legacy', portIsolation: true,
      macTableManager: 'kernel', libvirtNetwork: { name: 'vdsm-br0', active: true },
    });
  });

  it('renders a bridgeless network with its configured gateway when it has no default route', () => {
    expect(caps.networks.storage).toMatchObject({
      bridged: false, iface: 'veth_2', southbound: 'veth_2', mtu: '9000', addr: '198.51.100.5',
      gateway: '198.51.100.1', ipv6gateway: '::', ipv4defaultroute: false, libvirtNetwork: null,
    });
    expect(caps.networks.storage).not.toHaveProperty('ports');
    expect(caps.networks.storage).not.toHaveProperty('stp');
  });

  it('renders an isolated network (no uplink) and skips networks whose device is gone', () => {
    expect(caps.networks.br1).toMatchObject({ bridged: true, iface: 'br1', ports: ['tap1'], stp: 'on', macTableManager: 'libvirt' });
    // VDSM reports the key for every network: null without a NIC or bond
    expect(caps.networks.br1).toHaveProperty('southbound', null);
    expect(Object.keys(caps.networks)).toEqual(['br0', 'br1', 'storage']);
  });

  it('reports host-level keys', () => {
    expect(caps.nameservers).toEqual(['192.0.2.53']);
    expect(caps.supportsIPv6).toBe(true);
    expect(caps.netConfigDirty).toBe(true);
    expect(caps.bondings).toEqual({});
    expect(caps.vlans).toEqual({});
    expect(caps.hostnet).toEqual({
      version: '0.1.0', kernel: FEATURES, libvirt: { uri: 'test:///default', connected: true }, mirrors: {},
    });
    const pending = buildNetworkCapabilities(input(fixtureState('bridged'), RUNNING, {
      libvirt: { uri: 'qemu:///system', connected: false, pending: ['br0'] },
    }));
    expect(pending.hostnet.libvirt).toEqual({ uri: 'qemu:///system', connected: false, pending: ['br0'] });
    expect(pending.networks.br0?.libvirtNetwork).toBeNull();
  });

  it('reports the nwfilters hostnetd keeps and the port mirrors', () => {
    const caps = buildNetworkCapabilities(input(fixtureState('bridged'), RUNNING, {
      libvirt: { uri: 'qemu:///system', connected: true, nwfilters: { 'vdsm-no-mac-spoofing': 'defined' } },
      mirrors: { br0: ['vnet1', 'vnet2'] },
    }));
    expect(caps.hostnet.libvirt.nwfilters).toEqual({ 'vdsm-no-mac-spoofing': 'defined' });
    expect(caps.hostnet.mirrors).toEqual({ br0: ['vnet1', 'vnet2'] });
  });
});

describe('bonds and vlans (synthetic state: this kernel has neither)', () => {
  const link = (l: Partial<KernelLink> & { name: string }): KernelLink => ({
    ifindex: 0, kind: 'device', mtu: 1500, address: '52:54:00:00:00:00', up: true, operstate: 'UP', promiscuity: 0, ...l,
  });
  const state: KernelState = {
    links: {
      eth0: link({ name: 'eth0', parentBus: 'pci', address: '52:54:00:00:00:aa', master: 'bond0', slaveKind: 'bond',
        bondSlave: { state: 'ACTIVE', permHwaddr: '52:54:00:00:00:aa', adAggregatorId: 1 } }),
      eth1: link({ name: 'eth1', parentBus: 'pci', address: '52:54:00:00:00:aa', master: 'bond0', slaveKind: 'bond',
        bondSlave: { state: 'ACTIVE', permHwaddr: '52:54:00:00:00:bb', adAggregatorId: 1 } }),
      eth2: link({ name: 'eth2', parentBus: 'virtio', address: '52:54:00:00:00:cc', mtu: 9000 }),
      bond0: link({ name: 'bond0', kind: 'bond', address: '52:54:00:00:00:aa', bond: {
        mode: '802.3ad',
        opts: { mode: '802.3ad', miimon: '100', lacp_rate: 'fast', xmit_hash_policy: 'layer3+4', updelay: '0',
          ad_actor_sys_prio: '65535', arp_validate: 'none', num_grat_arp: '1', coupled_control: '1' },
        adInfo: { aggregatorId: 1, partnerMac: '00:11:22:33:44:55' } } }),
      'bond0.100': link({ name: 'bond0.100', kind: 'vlan', link: 'bond0', vlan: { id: 100, protocol: '802.1Q' } }),
    },
    addresses: [{ ifname: 'bond0.100', family: 'inet', local: '10.0.0.2', prefixlen: 16, scope: 'global', dynamic: false, tentative: false }],
    routes: [], fdb: [], takenAt: 0,
  };
  const caps = buildNetworkCapabilities(input(state, {
    networks: { vm100: net('vm100', { bridged: false, bonding: 'bond0', vlan: 100, ipv4: { address: '10.0.0.2', prefix: 16, gateway: '10.0.0.1' } }) },
    bonds: {},
  }, { fakeNics: [] }));

  it('renders a bond with numeric non-default options and 802.3ad info', () => {
    expect(caps.bondings.bond0).toMatchObject({
      slaves: ['eth0', 'eth1'], hwaddr: '52:54:00:00:00:aa', active_slave: '', switch: 'legacy', mtu: '1500',
      opts: { mode: '4', lacp_rate: '1', xmit_hash_policy: '1' },
      ad_aggregator_id: '1', ad_partner_mac: '00:11:22:33:44:55',
    });
  });

  it('renders hardware NICs, slaves with their permanent address', () => {
    expect(Object.keys(caps.nics)).toEqual(['eth0', 'eth1', 'eth2']);
    expect(caps.nics.eth1).toMatchObject({ hwaddr: '52:54:00:00:00:aa', permhwaddr: '52:54:00:00:00:bb', ad_aggregator_id: '1' });
    expect(caps.nics.eth2).toMatchObject({ mtu: '9000' });
    expect(caps.nics.eth2).not.toHaveProperty('permhwaddr');
  });

  it('renders a vlan and a network on it', () => {
    expect(caps.vlans['bond0.100']).toMatchObject({ iface: 'bond0', vlanid: 100, addr: '10.0.0.2', netmask: '255.255.0.0', mtu: '1500' });
    expect(caps.networks.vm100).toMatchObject({
      bridged: false, iface: 'bond0.100', southbound: 'bond0.100', vlanid: 100, gateway: '10.0.0.1', ipv4defaultroute: false,
    });
    expect(caps.supportsIPv6).toBe(false);
  });
});

describe('bond option rendering', () => {
  it('reports the mode always and only options differing from the mode default', () => {
    expect(bondCapsOpts({ mode: 'balance-rr', opts: { mode: 'balance-rr', miimon: '0', updelay: '0' } })).toEqual({ mode: '0' });
    // miimon 100 is the default of 802.3ad but not of active-backup
    expect(bondCapsOpts({ mode: '802.3ad', opts: { miimon: '100' } })).toEqual({ mode: '4' });
    expect(bondCapsOpts({ mode: 'active-backup', opts: { miimon: '100', fail_over_mac: 'active', primary: 'eth1' } }))
      .toEqual({ mode: '1', miimon: '100', fail_over_mac: '1', primary: 'eth1' });
  });
});

describe('helpers', () => {
  it('matches globs with * and ?', () => {
    expect(globToRegExp('veth_*').test('veth_0')).toBe(true);
    expect(globToRegExp('veth_*').test('veth_')).toBe(true);
    expect(globToRegExp('veth_*').test('xveth_0')).toBe(false);
    expect(globToRegExp('eth?').test('eth1')).toBe(true);
    expect(globToRegExp('eth?').test('eth10')).toBe(false);
    expect(globToRegExp('a.b').test('axb')).toBe(false);
    expect(globMatcher(['dummy_*', 'veth_*'])('dummy_3')).toBe(true);
    expect(globMatcher([])('veth_0')).toBe(false);
  });
  it('turns prefixes into dotted netmasks', () => {
    expect(prefixToNetmask(24)).toBe('255.255.255.0');
    expect(prefixToNetmask(25)).toBe('255.255.255.128');
    expect(prefixToNetmask(32)).toBe('255.255.255.255');
    expect(prefixToNetmask(0)).toBe('0.0.0.0');
    expect(prefixToNetmask(1)).toBe('128.0.0.0');
  });
});
