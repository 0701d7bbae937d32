import { describe, expect, it } from 'vitest';
import { formatCapabilities, formatStatistics, portWithFlags, table } from '../../../src/cli/format.js';

describe('table', () => {
  it('aligns columns and says (none) when empty', () => {
    expect(table('T', ['A', 'BB'], [['xxx', 'y'], ['z', 'w']])).toBe('T\nA    BB\nxxx  y\nz    w\n');
    expect(table('T', ['A', 'B'], [])).toBe('T\nA  B\n(none)\n');
  });
});

describe('formatCapabilities', () => {
  const caps = {
    nics: {
      veth_10: { hwaddr: 'aa:00:00:00:00:0a', mtu: '1500', speed: 10000, ipv4addrs: [], ipv6addrs: [] },
      veth_2: { hwaddr: 'aa:00:00:00:00:02', mtu: '9000', speed: 0, ipv4addrs: ['192.0.2.10/24'], ipv6addrs: ['2001:db8::10/64'] },
    },
    bridges: {
      br0: {
        ports: ['veth_1', 'tap0'],
        stp: 'off',
        mtu: '1500',
        ipv4addrs: [],
        ipv6addrs: [],
        portFlags: { veth_1: { isolated: false, learning: true, flood: true }, tap0: { isolated: true, learning: false, flood: true } },
        fdb: [{ mac: '52:54:00:00:00:01', port: 'tap0' }],
      },
    },
    networks: { mgmt: { bridged: true, iface: 'mgmt', southbound: 'veth_0', mtu: '1500', ipv4addrs: ['192.0.2.5/24'], ipv6addrs: [], gateway: '192.0.2.1', ipv6gateway: '::', ipv4defaultroute: true } },
    bondings: {},
    vlans: {},
    nameservers: ['192.0.2.53'],
    supportsIPv6: true,
    netConfigDirty: true,
    hostnet: { version: '0.1.0', kernel: { bonding: false, vlan: false, vlanFiltering: false, portIsolation: true }, libvirt: { uri: 'none', connected: false } },
  };
  const text = formatCapabilities(caps);

  it('lists NICs in natural order with hwaddr, mtu and addresses', () => {
    const nicLines = text.split('\n').slice(2, 4);
    expect(nicLines[0]).toMatch(/^veth_2\s+aa:00:00:00:00:02\s+9000\s+0\s+192\.0\.2\.10\/24 2001:db8::10\/64$/);
    expect(nicLines[1]).toMatch(/^veth_10\s+aa:00:00:00:00:0a\s+1500\s+10000\s+-$/);
  });

  it('lists bridges with ports and the flags that differ from defaults', () => {
    expect(text).toMatch(/br0\s+off\s+1500\s+-\s+1\s+veth_1, tap0 \(isolated, no-learning\)/);
  });

  it('lists networks and the summary', () => {
    expect(text).toMatch(/mgmt\s+yes\s+mgmt\s+veth_0\s+-\s+1500\s+192\.0\.2\.5\/24\s+192\.0\.2\.1\s+yes/);
    expect(text).toContain('BONDS\nNAME  SLAVES  ACTIVE  MODE  MTU  ADDRESSES\n(none)');
    expect(text).toMatch(/nameservers:\s+192\.0\.2\.53/);
    expect(text).toMatch(/netConfigDirty:\s+yes .*hostnetctl persist/);
    expect(text).toMatch(/kernel features: bonding no, vlan no, vlanFiltering no, portIsolation yes/);
  });

  it('survives a result with nothing in it', () => {
    expect(formatCapabilities({})).toContain('NICS');
    expect(formatCapabilities(null)).toContain('(none)');
  });

  it('marks port flags', () => {
    expect(portWithFlags('p', { isolated: false, learning: true, flood: false })).toBe('p (no-flood)');
    expect(portWithFlags('p', undefined)).toBe('p');
  });
});

describe('formatStatistics', () => {
  it('lists interfaces with counters', () => {
    const text = formatStatistics({ network: { veth_0: { name: 'veth_0', rx: '100', tx: '200', rxDropped: '0', txDropped: '1', rxErrors: '0', txErrors: '0', speed: 10000, state: 'up' } } });
    expect(text).toMatch(/veth_0\s+up\s+10000\s+100\s+200\s+0\s+1\s+0\s+0/);
  });
});
