import { describe, expect, it } from 'vitest';
import { loadAddon } from '../../../src/kernel/addon.js';
import { kernelChange, LINK_FIELDS } from '../../../src/kernel/config-change.js';
import type { AddrMsg, BridgeLinkMsg, FdbMsg, LinkMsg, RouteMsg, RuleMsg } from '../../../src/kernel/netlink.js';
import { KernelTables } from '../../../src/kernel/tables.js';

const base = { seq: 0, mine: false, del: false, replace: false } as const;
const port = { isolated: false, learning: true, flood: true, mcastFlood: true, state: 'forwarding' };

function optValues(values: Record<string, string>): string {
  return loadAddon().bridgeOptionNames().map((n) => values[n] ?? '').join(',');
}

const bridgeOpts = { forward_delay: '0', stp_state: '0', hello_timer: '0', gc_timer: '1200', root_id: '8000.020000000007' };
const bridge = (o: Partial<LinkMsg> = {}, opts: Record<string, string> = {}): LinkMsg => ({
  ...base, t: 'link', ifindex: 7, name: 'br0', kind: 'bridge', mtu: 1500, address: '02:00:00:00:00:07', up: true,
  operstate: 'UP', promiscuity: 0, bridge: { stp: false, vlanFiltering: false, optValues: optValues({ ...bridgeOpts, ...opts }) }, ...o,
});
const veth = (o: Partial<LinkMsg> = {}): LinkMsg => ({
  ...base, t: 'link', ifindex: 8, name: 'veth_0', kind: 'veth', mtu: 1500, address: '02:00:00:00:00:08', up: true,
  operstate: 'UP', promiscuity: 1, masterIndex: 7, slaveKind: 'bridge', bridgePort: port, ...o,
});
const addr = (local: string, o: Partial<AddrMsg> = {}): AddrMsg => ({
  ...base, t: 'addr', ifindex: 7, family: local.includes(':') ? 'inet6' : 'inet', local, prefixlen: 64, scope: 'global', dynamic: false, tentative: false, ...o,
});
const route = (family: string, dst: string, o: Partial<RouteMsg> = {}): RouteMsg => ({
  ...base, t: 'route', family, table: 'main', dst, oifIndex: 7, tos: 0, type: 'unicast', cloned: false, ...o,
});

function tablesWith(...msgs: LinkMsg[]): KernelTables {
  const t = new KernelTables();
  for (const m of msgs) t.apply(m);
  return t;
}

describe('kernelChange: what a plan can see of a message', () => {
  const t = tablesWith(bridge(), veth());

  it('a link the tables do not have, or a deletion, is config', () => {
    expect(kernelChange(veth({ ifindex: 9, name: 'veth_1' }), t)).toBe('config');
    expect(kernelChange(veth({ del: true }), t)).toBe('config');
  });

  it('the same link again is nothing; its operstate, promiscuity or port state alone is running state', () => {
    expect(kernelChange(veth(), t)).toBe('none');
    expect(kernelChange(veth({ operstate: 'LOWERLAYERDOWN' }), t)).toBe('state');
    expect(kernelChange(veth({ promiscuity: 2 }), t)).toBe('state');
    expect(kernelChange(veth({ bridgePort: { ...port, state: 'disabled' } }), t)).toBe('state');
  });

  it('what a config sets is config: MTU, MAC, up, master, name', () => {
    expect(kernelChange(veth({ mtu: 1400 }), t)).toBe('config');
    expect(kernelChange(veth({ address: '02:00:00:00:00:09' }), t)).toBe('config');
    expect(kernelChange(veth({ up: false }), t)).toBe('config');
    expect(kernelChange(veth({ masterIndex: undefined, slaveKind: undefined, bridgePort: undefined }), t)).toBe('config');
    expect(kernelChange(veth({ name: 'nic0' }), t)).toBe('config');
  });

  it('a bridge\'s STP timers and root are running state; its settings are config', () => {
    expect(kernelChange(bridge({}, { gc_timer: '731', hello_timer: '12', root_id: '8000.020000000008' }), t)).toBe('state');
    expect(kernelChange(bridge({}, { forward_delay: '1500' }), t)).toBe('config');
    expect(kernelChange(bridge({ bridge: { stp: true, vlanFiltering: false, optValues: optValues(bridgeOpts) } }), t)).toBe('config');
  });

  it('a port\'s own AF_BRIDGE notification is running state, or nothing when it says what the tables have', () => {
    const br: BridgeLinkMsg = { ...base, t: 'brlink', ifindex: 8, masterIndex: 7, bridgePort: port };
    expect(kernelChange(br, t)).toBe('none');
    expect(kernelChange({ ...br, bridgePort: { ...port, isolated: true } }, t)).toBe('state');
  });

  it('link-local addresses and their route are the kernel\'s; every other address and route is config', () => {
    expect(kernelChange(addr('fe80::1'), t)).toBe('state');
    expect(kernelChange(addr('fe80::1', { del: true, scope: 'link' }), t)).toBe('state');
    expect(kernelChange(addr('192.0.2.1', { prefixlen: 24 }), t)).toBe('config');
    expect(kernelChange(addr('2001:db8::1', { tentative: true }), t)).toBe('config');
    expect(kernelChange(route('inet6', 'fe80::/64', { protocol: 'kernel' }), t)).toBe('state');
    // one somebody added, or one in a source-routing table, is config
    expect(kernelChange(route('inet6', 'fe80::/64', { protocol: 'boot' }), t)).toBe('config');
    expect(kernelChange(route('inet6', 'fe80::/64', { protocol: 'kernel', table: '1234' }), t)).toBe('config');
    expect(kernelChange(route('inet6', 'default', { gateway: 'fe80::1' }), t)).toBe('config');
    expect(kernelChange(route('inet', '192.0.2.0/24'), t)).toBe('config');
  });

  it('the FDB is running state; rules are config', () => {
    const fdb: FdbMsg = { ...base, t: 'fdb', ifindex: 8, masterIndex: 7, mac: '02:00:00:00:00:aa', state: '', flags: [], self: 0 };
    expect(kernelChange(fdb, t)).toBe('state');
    const rule = { ...base, t: 'rule', family: 'inet', priority: 100, table: '100', src: 'all', dst: 'all', action: 'to_tbl' } as RuleMsg;
    expect(kernelChange(rule, t)).toBe('config');
  });
});

describe('kernelChange: every field of a link message, as LINK_FIELDS declares it', () => {
  // a second value of each field, of its type, that differs from veth()'s
  const other: Partial<Record<keyof LinkMsg, unknown>> = {
    name: 'veth_9', kind: 'dummy', mtu: 9000, address: '02:00:00:00:00:99', up: false, masterIndex: 3, linkIndex: 4,
    slaveKind: 'bond', parentBus: 'pci', vlan: { id: 5, protocol: '802.1Q' }, bond: { mode: 'active-backup', opts: {} },
    bondSlave: { state: 'BACKUP' }, bridge: { stp: false, vlanFiltering: false, optValues: optValues(bridgeOpts) },
    operstate: 'DOWN', promiscuity: 7, bridgePort: { ...port, learning: false },
    stats: { rxBytes: 1, txBytes: 1, rxPackets: 1, txPackets: 1, rxErrors: 0, txErrors: 0, rxDropped: 0, txDropped: 0 },
    seq: 9, mine: true, replace: true, t: 'link',
  };
  const t = tablesWith(bridge(), veth());
  for (const [field, declared] of Object.entries(LINK_FIELDS) as [keyof LinkMsg, string][]) {
    if (field === 'ifindex' || field === 'del') continue; // the tables' key; a deletion is config (above)
    it(`${field}: ${declared}`, () => {
      expect(other[field], `a test value for ${field}`).toBeDefined();
      expect(kernelChange({ ...veth(), [field]: other[field] } as LinkMsg, t)).toBe(declared);
    });
  }
});
