/**
 * Parser on fixtures/iproute2/vm-bond-vlan: iproute2 6.1 on a Debian 6.1 kernel with bonds,
 * VLANs and a vlan_filtering bridge (captured by the VM tier, scripts/vm/capture-fixtures.sh).
 */
import { describe, expect, it } from 'vitest';
import { bridgeShowsVlanFiltering, vlanFilteringFromState } from '../../../src/kernel/features.js';
import { fixtureState } from './fixtures.js';

describe('parse: vm-bond-vlan scenario (Debian 6.1 kernel)', () => {
  const s = fixtureState('vm-bond-vlan');

  it('reads virtio NICs as hardware devices with their parent bus', () => {
    for (const [nic, mac] of [['eth0', '52:54:00:00:00:01'], ['eth1', '52:54:00:00:00:02']] as const) {
      expect(s.links[nic]).toMatchObject({ kind: 'device', parentBus: 'virtio', address: mac });
    }
  });

  it('reads an active-backup bond: mode, options by sysfs name, active slave', () => {
    const b = s.links.bond1!.bond!;
    expect(b.mode).toBe('active-backup');
    expect(b.activeSlave).toBe('eth1');
    expect(b.opts).toMatchObject({
      mode: 'active-backup', miimon: '150', primary: 'eth1', primary_reselect: 'always', arp_validate: 'none',
      peer_notif_delay: '0', lacp_active: 'on', lacp_rate: 'slow', num_grat_arp: '1', num_unsol_na: '1',
    });
    expect(b.adInfo).toBeUndefined();
  });

  it('reads bond slaves with state and permanent address (eth2 took the bond\'s MAC)', () => {
    expect(s.links.eth1).toMatchObject({ master: 'bond1', slaveKind: 'bond', bondSlave: { state: 'ACTIVE', permHwaddr: '52:54:00:00:00:02' } });
    expect(s.links.eth2).toMatchObject({
      address: '52:54:00:00:00:02', master: 'bond1', bondSlave: { state: 'BACKUP', permHwaddr: '52:54:00:00:00:03' },
    });
  });

  it('reads 802.3ad bonds with their aggregator and LACP partner', () => {
    expect(s.links.bonda?.bond).toMatchObject({
      mode: '802.3ad', opts: { miimon: '100', lacp_rate: 'fast', xmit_hash_policy: 'layer2+3' },
      adInfo: { aggregatorId: 1, partnerMac: '02:00:00:00:0b:00' },
    });
    expect(s.links.bondb?.bond?.adInfo?.partnerMac).toBe('02:00:00:00:0a:00');
    expect(s.links.va0?.bondSlave).toEqual({ state: 'ACTIVE', permHwaddr: '02:00:00:00:0a:00', adAggregatorId: 1 });
    // veth peers in the same namespace are named
    expect(s.links.va0?.link).toBe('vb0');
  });

  it('reads vlans with id and base device', () => {
    expect(s.links['eth0.100']).toMatchObject({ kind: 'vlan', link: 'eth0', vlan: { id: 100, protocol: '802.1Q' }, master: 'br100' });
    expect(s.links['bond1.200']).toMatchObject({ kind: 'vlan', link: 'bond1', vlan: { id: 200, protocol: '802.1Q' } });
  });

  it('reads a vlan_filtering bridge and recognises the kernel supports it', () => {
    const br = s.links.br100!;
    expect(br.bridge?.vlanFiltering).toBe(true);
    expect(br.bridge?.opts).toMatchObject({ vlan_filtering: '1', vlan_protocol: '0x8100', default_pvid: '1', vlan_stats_enabled: '0' });
    expect(bridgeShowsVlanFiltering(br)).toBe(true);
    expect(vlanFilteringFromState(s)).toBe(true);
  });

  it('reads routes of other tables, and IPv6 routes only once with their own family', () => {
    expect(s.routes.filter((r) => r.dst === 'default')).toEqual([
      { family: 'inet', table: 'main', dst: 'default', gateway: '192.0.2.254', dev: 'br100', type: 'unicast' },
    ]);
    expect(s.routes.find((r) => r.dst === '10.10.0.0/16')).toMatchObject({ family: 'inet', table: '100', gateway: '198.51.100.1', dev: 'bond1.200' });
    const ll = s.routes.filter((r) => r.dst === 'fe80::/64');
    expect(ll.every((r) => r.family === 'inet6')).toBe(true);
    expect(ll.map((r) => r.dev).sort()).toEqual(['bond1', 'bond1.200', 'bonda', 'bondb', 'br100', 'eth0', 'eth0.100']);
  });

  it('reads a static FDB entry on a vlan', () => {
    expect(s.fdb.filter((e) => e.state === 'static')).toEqual([
      { mac: '52:54:00:aa:bb:cc', ifname: 'eth0.100', master: 'br100', vlan: 100, state: 'static', flags: [] },
    ]);
  });
});
