/** Capabilities and statistics rendered from the VM tier's bonds/VLANs capture. */
import { describe, expect, it } from 'vitest';
import { buildNetworkCapabilities } from '../../../src/caps/network.js';
import { buildStatistics } from '../../../src/caps/statistics.js';
import type { HostConfig, Network } from '../../../src/model/types.js';
import { fixtureState } from '../kernel/fixtures.js';
import { features } from '../../helpers/kernel-fixtures.js';

const base: Omit<Network, 'name'> = {
  bridged: true, mtu: 1500, stp: false, ipv6: { addresses: [], autoconf: false }, defaultRoute: false, nameservers: [],
  bridgeOpts: {}, portIsolation: false, macTableManager: 'kernel', switch: 'legacy', bootproto: 'none', dhcpv6: false,
};

const RUNNING: HostConfig = {
  networks: {
    br100: { ...base, name: 'br100', nic: 'eth0', vlan: 100, defaultRoute: true,
      ipv4: { address: '192.0.2.1', prefix: 24, gateway: '192.0.2.254' } },
    net200: { ...base, name: 'net200', bridged: false, bonding: 'bond1', vlan: 200,
      ipv4: { address: '198.51.100.2', prefix: 24, gateway: '198.51.100.1' } },
  },
  bonds: { bond1: { name: 'bond1', nics: ['eth1', 'eth2'], options: { mode: 'active-backup', miimon: '150', primary: 'eth1' } } },
};

describe('capabilities of vm-bond-vlan', () => {
  const state = fixtureState('vm-bond-vlan');
  const caps = buildNetworkCapabilities({
    state, running: RUNNING, netConfigDirty: false,
    features: features({ bonding: true, vlan: true, vlanFiltering: true }),
    fakeNics: [], nameservers: [], version: 'test', libvirt: { uri: 'qemu:///system', connected: true },
  });

  it('lists the virtio NICs (not the veths behind the LACP bonds), slaves with permhwaddr', () => {
    expect(Object.keys(caps.nics)).toEqual(['eth0', 'eth1', 'eth2']);
    expect(caps.nics.eth2).toMatchObject({ hwaddr: '52:54:00:00:00:02', permhwaddr: '52:54:00:00:00:03', mtu: '1500', speed: 0 });
    expect(caps.nics.eth1).toMatchObject({ permhwaddr: '52:54:00:00:00:02' });
    expect(caps.nics.eth0).not.toHaveProperty('permhwaddr');
  });

  it('renders bonds with VDSM numeric non-default options', () => {
    expect(caps.bondings.bond1).toMatchObject({
      slaves: ['eth1', 'eth2'], hwaddr: '52:54:00:00:00:02', active_slave: 'eth1', switch: 'legacy', mtu: '1500',
      opts: { mode: '1', miimon: '150', primary: 'eth1' },
    });
    expect(Object.keys(caps.bondings.bond1!.opts as object).sort()).toEqual(['miimon', 'mode', 'primary']);
    expect(caps.bondings.bonda).toMatchObject({
      slaves: ['va0', 'va1'], active_slave: '', opts: { mode: '4', lacp_rate: '1', xmit_hash_policy: '2' },
      ad_aggregator_id: '1', ad_partner_mac: '02:00:00:00:0b:00',
    });
    expect(Object.keys(caps.bondings.bonda!.opts as object).sort()).toEqual(['lacp_rate', 'mode', 'xmit_hash_policy']);
  });

  it('renders vlans with base device, id and IP keys', () => {
    expect(caps.vlans['bond1.200']).toMatchObject({
      iface: 'bond1', vlanid: 200, addr: '198.51.100.2', netmask: '255.255.255.0', ipv4addrs: ['198.51.100.2/24'],
      ipv6addrs: [], gateway: '', mtu: '1500',
    });
    expect(caps.vlans['eth0.100']).toMatchObject({ iface: 'eth0', vlanid: 100 });
  });

  it('renders the vlan_filtering bridge with its static FDB entry and default route', () => {
    expect(caps.bridges.br100).toMatchObject({
      ports: ['eth0.100'], stp: 'off', addr: '192.0.2.1', ipv6addrs: ['2001:db8:100::1/64'], gateway: '192.0.2.254',
      ipv4defaultroute: true, fdb: [{ mac: '52:54:00:aa:bb:cc', port: 'eth0.100' }],
      portFlags: { 'eth0.100': { isolated: false, learning: true, flood: true } },
    });
    expect((caps.bridges.br100!.opts as Record<string, string>).vlan_filtering).toBe('1');
  });

  it('renders networks on a vlan of a NIC and on a vlan of a bond', () => {
    expect(caps.networks.br100).toMatchObject({
      bridged: true, iface: 'br100', southbound: 'eth0.100', vlanid: 100, ports: ['eth0.100'], gateway: '192.0.2.254', ipv4defaultroute: true,
    });
    expect(caps.networks.net200).toMatchObject({
      bridged: false, iface: 'bond1.200', southbound: 'bond1.200', vlanid: 200, addr: '198.51.100.2',
      gateway: '198.51.100.1', ipv4defaultroute: false,
    });
  });

  it('reports statistics for NICs, bonds, vlans and bridges only', () => {
    expect(Object.keys(buildStatistics(state, [], 0).network)).toEqual(
      ['bond1', 'bond1.200', 'bonda', 'bondb', 'br100', 'eth0', 'eth0.100', 'eth1', 'eth2'],
    );
  });
});
