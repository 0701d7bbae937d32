import { describe, expect, it, vi } from 'vitest';
import { managedDevices, monitorLineDevice, NetworkEvents } from '../../../src/api/events.js';
import type { HostConfig, Network } from '../../../src/model/types.js';

const net = (over: Partial<Network> & { name: string }): Network => ({
  bridged: true, mtu: 1500, stp: false, ipv6: { addresses: [], autoconf: false }, defaultRoute: false, nameservers: [],
  bridgeOpts: {}, portIsolation: false, macTableManager: 'kernel', switch: 'legacy', bootproto: 'none', dhcpv6: false, ...over,
});

describe('monitorLineDevice', () => {
  it('names the device of link and address lines, added or deleted (lines as ip -ts -o monitor prints them)', () => {
    expect(monitorLineDevice('[2026-12-02T08:00:00.123456] 3: veth_0@if2: <NO-CARRIER,BROADCAST,MULTICAST,UP> mtu 1500 qdisc noqueue master br0 state DOWN')).toBe('veth_0');
    expect(monitorLineDevice('[2026-12-02T08:00:00.123456] 7: br0: <BROADCAST,MULTICAST> mtu 1500 state DOWN')).toBe('br0');
    expect(monitorLineDevice('[2026-12-02T08:00:00.123456] 7: br0    inet 192.0.2.10/24 scope global br0\\       valid_lft forever')).toBe('br0');
    expect(monitorLineDevice('[2026-12-02T08:00:00.123456] Deleted 7: br0    inet6 2001:db8::10/64 scope global')).toBe('br0');
    expect(monitorLineDevice('[2026-12-02T08:00:00.123456] Deleted 9: vlan.100@bond0: <BROADCAST> mtu 1500')).toBe('vlan.100');
    expect(monitorLineDevice('[2026-12-02T08:00:00.123456] 192.0.2.0/24 dev br0 proto kernel scope link src 192.0.2.10')).toBeUndefined();
  });
});

describe('managedDevices', () => {
  it('every device a network stands on: bridge, nic, bond and its slaves, vlan device', () => {
    const config: HostConfig = {
      networks: { mgmt: net({ name: 'mgmt', nic: 'eth0' }), vm: net({ name: 'vm', bonding: 'bond0', vlan: 100, bridged: false }) },
      bonds: { bond0: { name: 'bond0', nics: ['eth1', 'eth2'], options: { mode: 'balance-rr' } }, idle: { name: 'idle', nics: ['eth3'], options: { mode: 'balance-rr' } } },
    };
    expect([...managedDevices(config)].sort()).toEqual(['bond0', 'bond0.100', 'eth0', 'eth1', 'eth2', 'mgmt']);
  });
});

describe('NetworkEvents', () => {
  it('publishes |net|host_conn|no_id for managed devices only, at most once a second, never losing the last change', () => {
    vi.useFakeTimers();
    try {
      const sent: unknown[] = [];
      const e = new NetworkEvents({ publish: (j) => sent.push(JSON.parse(j)), managed: () => new Set(['br0']), now: () => Date.now() });
      e.kernelEvent('[x] 3: other: <UP> mtu 1500 state UP');
      expect(sent).toHaveLength(0);
      e.kernelEvent('[x] 7: br0: <UP> mtu 1500 state UP');
      expect(sent).toEqual([{ jsonrpc: '2.0', method: '|net|host_conn|no_id', params: { notify_time: Date.now() } }]);
      // a burst within the second: one more notification, at the end of the second
      e.kernelEvent('[x] 7: br0: <UP> mtu 1500 state DOWN');
      e.kernelEvent('[x] 7: br0    inet 192.0.2.1/24');
      expect(sent).toHaveLength(1);
      vi.advanceTimersByTime(999);
      expect(sent).toHaveLength(1);
      vi.advanceTimersByTime(1);
      expect(sent).toHaveLength(2);
      vi.advanceTimersByTime(5000);
      expect(sent).toHaveLength(2);
      e.stop();
    } finally {
      vi.useRealTimers();
    }
  });
});
