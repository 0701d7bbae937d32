import { describe, expect, it } from 'vitest';
import {
  bridgeIdToSysfs, parseBondInfo, parseBondSlaveInfo, parseJsonDump, parseLinks, parseRoutes,
} from '../../../src/kernel/parse.js';
import { fixtureState } from './fixtures.js';

describe('parse: bridged scenario (iproute2 6.1, kernel 6.18)', () => {
  const s = fixtureState('bridged');

  it('reads every link with its kind', () => {
    expect(Object.keys(s.links).sort()).toEqual(
      ['br0', 'br1', 'lo', 'tap0', 'tap1', 'veth_0', 'veth_1', 'veth_2', 'veth_3'],
    );
    expect(s.links.lo?.kind).toBe('loopback');
    expect(s.links.br0?.kind).toBe('bridge');
    expect(s.links.tap0?.kind).toBe('tun');
    expect(s.links.veth_0?.kind).toBe('veth');
  });

  it('reads mac, mtu, admin state and master', () => {
    expect(s.links.veth_0).toMatchObject({
      address: '02:00:00:00:00:10', mtu: 1500, up: true, master: 'br0', slaveKind: 'bridge',
    });
    expect(s.links.veth_2).toMatchObject({ address: '02:00:00:00:00:12', mtu: 9000, up: true });
    expect(s.links.veth_2?.master).toBeUndefined();
    expect(s.links.veth_3?.up).toBe(false);
    // the peer lives in another namespace: no peer name
    expect(s.links.veth_0?.link).toBeUndefined();
    // virtual links have no parent bus
    expect(s.links.veth_0?.parentBus).toBeUndefined();
  });

  it('reads bridge options by their sysfs names and sysfs units', () => {
    const br0 = s.links.br0!.bridge!;
    expect(br0.stp).toBe(false);
    expect(br0.vlanFiltering).toBe(false);
    expect(br0.opts).toMatchObject({
      forward_delay: '1500', hello_time: '200', max_age: '2000', ageing_time: '30000',
      stp_state: '0', priority: '32768', multicast_snooping: '1', hash_max: '4096',
      multicast_last_member_count: '2', multicast_membership_interval: '26000',
      group_fwd_mask: '0x0', group_addr: '01:80:c2:00:00:00', bridge_id: '8000.020000000b00',
    });
    expect(br0.opts.gc_timer).toMatch(/^\d+$/);
    // no sysfs file, so not reported
    expect(br0.opts.mcast_vlan_snooping).toBeUndefined();
    const br1 = s.links.br1!.bridge!;
    expect(br1.stp).toBe(true);
    expect(br1.opts).toMatchObject({ stp_state: '1', forward_delay: '400', ageing_time: '12000' });
  });

  it('reads bridge port flags from info_slave_data', () => {
    expect(s.links.veth_0?.bridgePort).toMatchObject({ isolated: false, learning: true, flood: true, mcastFlood: true });
    expect(s.links.veth_1?.bridgePort).toMatchObject({ isolated: true, learning: false, flood: true });
    expect(s.links.tap0?.bridgePort).toMatchObject({ isolated: true, learning: true, flood: false });
    expect(s.links.tap1?.bridgePort).toMatchObject({ isolated: false, learning: true, flood: true });
    expect(s.links.veth_0?.bridgePort?.state).toBe('forwarding');
  });

  it('reads stats64', () => {
    const st = s.links.br0!.stats!;
    expect(Object.keys(st).sort()).toEqual(
      ['rxBytes', 'rxDropped', 'rxErrors', 'rxPackets', 'txBytes', 'txDropped', 'txErrors', 'txPackets'],
    );
    expect(st.txPackets).toBeGreaterThan(0);
  });

  it('reads addresses with scope, and flags a tentative IPv6 address', () => {
    const br0 = s.addresses.filter((a) => a.ifname === 'br0');
    expect(br0.filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`))
      .toEqual(['192.0.2.10/24', '192.0.2.11/24']);
    expect(br0.find((a) => a.local === '2001:db8:1::10')).toMatchObject({ scope: 'global', tentative: false, dynamic: false });
    expect(br0.some((a) => a.family === 'inet6' && a.scope === 'link')).toBe(true);
    expect(s.addresses.find((a) => a.local === '2001:db8:3::13')).toMatchObject({ ifname: 'veth_3', tentative: true });
  });

  it('reads routes of every table with family, table and gateway', () => {
    const def4 = s.routes.filter((r) => r.family === 'inet' && r.dst === 'default');
    expect(def4).toEqual([{ family: 'inet', table: 'main', dst: 'default', gateway: '192.0.2.1', dev: 'br0', type: 'unicast' }]);
    const def6 = s.routes.filter((r) => r.family === 'inet6' && r.dst === 'default');
    expect(def6).toHaveLength(1);
    expect(def6[0]).toMatchObject({ gateway: '2001:db8:1::1', dev: 'br0', table: 'main', metric: 1024 });
    expect(s.routes.find((r) => r.dst === '203.0.113.0/24')).toMatchObject({ gateway: '198.51.100.1', dev: 'veth_2', metric: 50 });
    expect(s.routes.some((r) => r.table === 'local' && r.type === 'local' && r.dst === '192.0.2.10')).toBe(true);
  });

  it('reads FDB entries with state and master', () => {
    const statics = s.fdb.filter((e) => e.state === 'static');
    expect(statics.map((e) => [e.mac, e.ifname, e.master]).sort()).toEqual([
      ['52:54:00:00:00:01', 'tap0', 'br0'],
      ['52:54:00:00:00:02', 'veth_1', 'br0'],
    ]);
    expect(s.fdb.some((e) => e.ifname === 'veth_0' && e.state === 'permanent' && e.mac === '02:00:00:00:00:10')).toBe(true);
  });
});

describe('parse: host-novlan scenario', () => {
  const s = fixtureState('host-novlan');
  it('has no bridge, no fdb static entries, one default route each family', () => {
    expect(Object.values(s.links).some((l) => l.kind === 'bridge')).toBe(false);
    expect(s.fdb.some((e) => e.state === 'static')).toBe(false);
    expect(s.routes.filter((r) => r.dst === 'default').map((r) => [r.family, r.gateway, r.dev])).toEqual([
      ['inet', '192.0.2.1', 'veth_0'], ['inet6', '2001:db8:2::1', 'veth_0'],
    ]);
  });
});

describe('parse: shapes not on this kernel', () => {
  it('converts bridge ids to the sysfs spelling', () => {
    expect(bridgeIdToSysfs('8000.2:6d:2a:ea:41:38')).toBe('8000.026d2aea4138');
    expect(bridgeIdToSysfs('8000.0:0:0:0:0:0')).toBe('8000.000000000000');
  });

  it('reads bond info_data as sysfs option names', () => {
    const b = parseBondInfo({
      mode: '802.3ad', active_slave: 'eth1', miimon: 100, updelay: 0, downdelay: 0, use_carrier: 1,
      arp_interval: 0, arp_validate: null, arp_all_targets: 'any', primary_reselect: 'always',
      fail_over_mac: 'none', xmit_hash_policy: 'layer3+4', resend_igmp: 1, num_peer_notif: 1,
      all_slaves_active: 0, min_links: 0, lp_interval: 1, packets_per_slave: 1, ad_lacp_rate: 'fast',
      ad_select: 'stable', ad_info: { aggregator: 1, num_ports: 2, partner_mac: '00:00:00:00:00:00' },
      ad_actor_sys_prio: 65535, ad_user_port_key: 0, ad_actor_system: '00:00:00:00:00:00',
      tlb_dynamic_lb: 1, arp_ip_target: ['192.0.2.1', '192.0.2.2'],
    });
    expect(b.mode).toBe('802.3ad');
    expect(b.activeSlave).toBe('eth1');
    expect(b.adInfo).toEqual({ aggregatorId: 1, partnerMac: '00:00:00:00:00:00' });
    expect(b.opts).toMatchObject({
      mode: '802.3ad', miimon: '100', lacp_rate: 'fast', xmit_hash_policy: 'layer3+4', arp_validate: 'none',
      num_grat_arp: '1', num_unsol_na: '1', arp_ip_target: '192.0.2.1,192.0.2.2',
    });
    expect(b.opts.active_slave).toBeUndefined();
    expect(b.opts.ad_info).toBeUndefined();
  });

  it('reads bond slave data', () => {
    expect(parseBondSlaveInfo({ state: 'BACKUP', mii_status: 'UP', perm_hwaddr: '52:54:00:12:34:56', ad_aggregator_id: 2 }))
      .toEqual({ state: 'BACKUP', permHwaddr: '52:54:00:12:34:56', adAggregatorId: 2 });
  });

  it('reads a vlan and a hardware NIC', () => {
    const links = parseLinks([
      { ifindex: 2, ifname: 'eth0', mtu: 1500, flags: ['UP'], link_type: 'ether', address: '52:54:00:AA:00:01', parentbus: 'virtio', parentdev: 'virtio0' },
      { ifindex: 5, ifname: 'eth0.100', link: 'eth0', mtu: 1500, flags: ['UP'], linkinfo: { info_kind: 'vlan', info_data: { protocol: '802.1Q', id: 100, flags: ['REORDER_HDR'] } } },
    ]);
    expect(links.eth0).toMatchObject({ kind: 'device', parentBus: 'virtio', address: '52:54:00:aa:00:01' });
    expect(links['eth0.100']).toMatchObject({ kind: 'vlan', link: 'eth0', vlan: { id: 100, protocol: '802.1Q' } });
  });

  it('takes a gateway given as via (IPv4 route over an IPv6 next hop)', () => {
    expect(parseRoutes([{ dst: 'default', via: { family: 'inet6', host: 'fe80::1' }, dev: 'eth0', flags: [] }], 'inet')[0])
      .toMatchObject({ gateway: 'fe80::1', table: 'main', type: 'unicast' });
  });

  it('treats an empty dump as an empty list and rejects a non-list', () => {
    expect(parseJsonDump('')).toEqual([]);
    expect(parseJsonDump('[]\n')).toEqual([]);
    expect(() => parseJsonDump('{}')).toThrow();
  });
});
