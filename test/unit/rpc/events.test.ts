import { describe, expect, it, vi } from 'vitest';
import { managedDevices, NetworkEvents } from '../../../src/api/events.js';
import { deepFreeze } from '../../../src/model/freeze.js';
import type { HostConfig, Network } from '../../../src/model/types.js';

const net = (over: Partial<Network> & { name: string }): Network => ({
  bridged: true, mtu: 1500, stp: false, ipv6: { addresses: [], autoconf: false }, defaultRoute: false, nameservers: [],
  bridgeOpts: {}, portIsolation: false, macTableManager: 'kernel', switch: 'legacy', bootproto: 'none', dhcpv6: false, ...over,
});

describe('managedDevices', () => {
  it('every device a network stands on: bridge, nic, bond and its slaves, vlan device', () => {
    const config: HostConfig = {
      networks: { mgmt: net({ name: 'mgmt', nic: 'eth0' }), vm: net({ name: 'vm', bonding: 'bond0', vlan: 100, bridged: false }) },
      bonds: { bond0: { name: 'bond0', nics: ['eth1', 'eth2'], options: { mode: 'balance-rr' } }, idle: { name: 'idle', nics: ['eth3'], options: { mode: 'balance-rr' } } },
    };
    expect([...managedDevices(config)].sort()).toEqual(['bond0', 'bond0.100', 'eth0', 'eth1', 'eth2', 'mgmt']);
  });

  it('is computed once per frozen running config (asked on every kernel event), anew for the next config', () => {
    const first = deepFreeze<HostConfig>({ networks: { a: net({ name: 'a', nic: 'eth0' }) }, bonds: {} });
    const set = managedDevices(first);
    expect(managedDevices(first)).toBe(set);
    const next = deepFreeze<HostConfig>({ networks: { b: net({ name: 'b', nic: 'eth1' }) }, bonds: {} });
    expect([...managedDevices(next)].sort()).toEqual(['b', 'eth1']);
    expect([...managedDevices(first)].sort()).toEqual(['a', 'eth0']);
    // a config still being built (not frozen) is never cached: its later edits count
    const open: HostConfig = { networks: {}, bonds: {} };
    expect(managedDevices(open).size).toBe(0);
    open.networks.c = net({ name: 'c', nic: 'eth2' });
    expect([...managedDevices(open)].sort()).toEqual(['c', 'eth2']);
  });
});

describe('NetworkEvents', () => {
  it('publishes |net|host_conn|no_id for managed devices only, at most once a second, never losing the last change', () => {
    vi.useFakeTimers();
    try {
      const sent: unknown[] = [];
      const e = new NetworkEvents({ publish: (j) => sent.push(JSON.parse(j)), managed: () => new Set(['br0']), now: () => Date.now() });
      e.deviceEvent('other');
      expect(sent).toHaveLength(0);
      e.deviceEvent('br0');
      expect(sent).toEqual([{ jsonrpc: '2.0', method: '|net|host_conn|no_id', params: { notify_time: Date.now() } }]);
      // a burst within the second: one more notification, at the end of the second
      e.deviceEvent('br0');
      e.deviceEvent('br0');
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
