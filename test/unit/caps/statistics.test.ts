import { describe, expect, it } from 'vitest';
import { buildStatistics } from '../../../src/caps/statistics.js';
import { parseSpeed } from '../../../src/caps/speed.js';
import type { KernelLink, KernelState } from '../../../src/model/kernel-state.js';
import { fixtureState } from '../kernel/fixtures.js';

describe('buildStatistics on the bridged fixture', () => {
  const state = fixtureState('bridged');
  const { network } = buildStatistics(state, ['veth_*'], 1_700_000_000_500);

  it('reports NICs and bridges, not loopback or taps', () => {
    expect(Object.keys(network)).toEqual(['br0', 'br1', 'veth_0', 'veth_1', 'veth_2', 'veth_3']);
  });

  it('renders counters as strings from stats64, with the sample time in seconds', () => {
    const br0 = network.br0!;
    const st = state.links.br0!.stats!;
    expect(br0).toEqual({
      name: 'br0', rx: String(st.rxBytes), tx: String(st.txBytes), rxDropped: String(st.rxDropped),
      txDropped: String(st.txDropped), rxErrors: String(st.rxErrors), txErrors: String(st.txErrors),
      speed: '0', duplex: 'unknown', state: 'up', sampleTime: 1_700_000_000.5,
    });
    expect(Number(br0.tx)).toBeGreaterThan(0);
  });

  it('reports operational state', () => {
    expect(network.veth_0?.state).toBe('up');
    expect(network.veth_3?.state).toBe('down'); // admin down
  });
});

describe('speeds', () => {
  const link = (l: Partial<KernelLink> & { name: string }): KernelLink => ({
    ifindex: 0, kind: 'device', mtu: 1500, address: '', up: true, operstate: 'UP', promiscuity: 0, parentBus: 'pci', ...l,
  });
  const state = (mode: string, active?: string): KernelState => ({
    links: {
      eth0: link({ name: 'eth0', master: 'bond0' }),
      eth1: link({ name: 'eth1', master: 'bond0' }),
      bond0: link({ name: 'bond0', kind: 'bond', bond: { mode, opts: {}, ...(active ? { activeSlave: active } : {}) } }),
      'bond0.7': link({ name: 'bond0.7', kind: 'vlan', link: 'eth0', vlan: { id: 7, protocol: '802.1Q' } }),
    },
    addresses: [], routes: [], fdb: [], takenAt: 0,
  });
  const speeds = { eth0: { speed: 10000, duplex: 'full' }, eth1: { speed: 1000, duplex: 'full' } };

  it('sums slaves for load-balancing bonds, takes the active slave for active-backup', () => {
    expect(buildStatistics(state('802.3ad'), [], 0, speeds).network.bond0?.speed).toBe('11000');
    expect(buildStatistics(state('active-backup', 'eth1'), [], 0, speeds).network.bond0?.speed).toBe('1000');
    expect(buildStatistics(state('active-backup'), [], 0, speeds).network.bond0?.speed).toBe('0');
  });

  it('gives a NIC its own speed and a vlan its base device\'s', () => {
    const n = buildStatistics(state('802.3ad'), [], 0, speeds).network;
    expect(n.eth0).toMatchObject({ speed: '10000', duplex: 'full' });
    expect(n['bond0.7']).toMatchObject({ speed: '10000', duplex: 'full' });
  });

  it('parses sysfs speed and duplex, -1 meaning unknown', () => {
    expect(parseSpeed('10000\n', 'full\n')).toEqual({ speed: 10000, duplex: 'full' });
    expect(parseSpeed('-1\n', 'unknown\n')).toEqual({ speed: 0, duplex: 'unknown' });
    expect(parseSpeed('', '')).toEqual({ speed: 0, duplex: 'unknown' });
  });
});
