/**
 * Bond edits on synthetic snapshots: what the kernel refuses in place (mode, lacp_rate, ...,
 * clearing primary) and how the plan gets around it; slave changes that never empty the bond;
 * comparing options the way the kernel reports them. The same behaviour is checked on a real
 * kernel by test/vm/inner/bonds.inner.ts.
 */
import { describe, expect, it } from 'vitest';
import { renderBatch } from '../../../src/kernel/batch.js';
import type { BondInfo, KernelLink, KernelState } from '../../../src/model/kernel-state.js';
import { mergeRequest } from '../../../src/model/merge.js';
import type { HostConfig } from '../../../src/model/types.js';
import { bondEdit, creationBondOptions, kernelBondOptions, planBondRebuilds } from '../../../src/plan/bond.js';
import { rollbackTarget } from '../../../src/plan/rollback.js';
import { desiredKernel } from '../../../src/plan/desired.js';
import { diff } from '../../../src/plan/diff.js';
import { canonicalizeRequest } from '../../../src/validate/request.js';

/** What `ip -j -d link show` gives for a fresh bond of the mode (Linux 6.1, read in the VM), as parse.ts names it. */
function kernelBond(mode: string, opts: Record<string, string> = {}, extra: Partial<BondInfo> = {}): BondInfo {
  const miimon = ['802.3ad', 'balance-tlb', 'balance-alb'].includes(mode) ? '100' : '0';
  const base: Record<string, string> = {
    mode, miimon, updelay: '0', downdelay: '0', peer_notif_delay: '0', use_carrier: '1', arp_interval: '0', arp_missed_max: '2',
    arp_validate: 'none', arp_all_targets: 'any', primary_reselect: 'always', fail_over_mac: 'none', xmit_hash_policy: 'layer2',
    resend_igmp: '1', num_grat_arp: '1', num_unsol_na: '1', all_slaves_active: '0', min_links: '0', lp_interval: '1',
    packets_per_slave: '1', lacp_active: 'on', lacp_rate: 'slow', ad_select: 'stable', tlb_dynamic_lb: '1',
    ...(mode === '802.3ad' ? { ad_actor_sys_prio: '65535', ad_user_port_key: '0', ad_actor_system: '00:00:00:00:00:00' } : {}),
  };
  return { mode, opts: { ...base, ...opts }, ...extra };
}

function link(name: string, extra: Partial<KernelLink> = {}): KernelLink {
  return { ifindex: 1, name, kind: 'device', mtu: 1500, address: '02:00:00:00:00:01', up: true, operstate: 'UP', promiscuity: 0, ...extra };
}
const slave = (name: string, bond: string, extra: Partial<KernelLink> = {}) =>
  link(name, { master: bond, slaveKind: 'bond', bondSlave: { state: 'ACTIVE', permHwaddr: `02:00:00:00:00:${name.slice(-1)}9` }, ...extra });
const bondLink = (name: string, info: BondInfo, extra: Partial<KernelLink> = {}) => link(name, { kind: 'bond', bond: info, ...extra });

function state(links: KernelLink[], extra: Partial<KernelState> = {}): KernelState {
  return { links: Object.fromEntries(links.map((l) => [l.name, l])), addresses: [], routes: [], fdb: [], takenAt: 0, ...extra };
}

function plan(running: HostConfig, s: KernelState, networks: Record<string, Record<string, unknown>>, bondings: Record<string, Record<string, unknown>> = {}) {
  const desired = mergeRequest(running, canonicalizeRequest({ networks, bondings, options: {} }), new Set());
  const want = desiredKernel(desired, running, (d) => d in s.links);
  const ops = diff(want, s);
  return { desired, want, ops, script: renderBatch(ops).text.trimEnd().split('\n') };
}

const config = (bonds: HostConfig['bonds'], networks: HostConfig['networks'] = {}): HostConfig => ({ networks, bonds });

describe('bondEdit: comparing with what the kernel reports', () => {
  it('equal when the kernel reports by name what the config says by number (and the reverse)', () => {
    expect(bondEdit({ mode: '802.3ad', lacp_rate: '1', xmit_hash_policy: 'layer2+3' }, kernelBond('802.3ad', { lacp_rate: 'fast', xmit_hash_policy: 'layer2+3' }))).toBeNull();
    expect(bondEdit({ mode: '802.3ad', lacp_rate: 'fast', ad_actor_system: '02:AA:00:00:00:01' }, kernelBond('802.3ad', { lacp_rate: 'fast', ad_actor_system: '02:aa:00:00:00:01' }))).toBeNull();
    expect(bondEdit({ mode: 'active-backup', arp_validate: '0', num_unsol_na: '3' }, kernelBond('active-backup', { num_grat_arp: '3', num_unsol_na: '3' }))).toBeNull();
  });

  it('options left out go back to the default of the mode, in place', () => {
    const cur = kernelBond('active-backup', { miimon: '100', updelay: '200', num_grat_arp: '3', num_unsol_na: '3', primary: 'eth1' });
    expect(bondEdit({ mode: 'active-backup', miimon: '100', primary: 'eth1' }, cur)).toEqual({
      before: {}, set: { updelay: '0', num_grat_arp: '1' }, emptyDown: false, recreate: false,
    });
    // 802.3ad's default miimon is 100: leaving it out keeps it
    expect(bondEdit({ mode: '802.3ad' }, kernelBond('802.3ad'))).toBeNull();
  });

  it('a mode change empties the bond and takes it down; options the new mode does not know are reset first', () => {
    const cur = kernelBond('802.3ad', { lacp_rate: 'fast', xmit_hash_policy: 'layer2+3' });
    expect(bondEdit({ mode: 'balance-rr' }, cur)).toEqual({
      before: { lacp_rate: '0', xmit_hash_policy: '0' }, set: { mode: 'balance-rr', miimon: '0' }, emptyDown: true, recreate: false,
    });
  });

  it('lacp_rate, ad_select, fail_over_mac, tlb_dynamic_lb need an empty bond that is down; xmit_hash_policy does not', () => {
    expect(bondEdit({ mode: '802.3ad', lacp_rate: 'fast' }, kernelBond('802.3ad'))?.emptyDown).toBe(true);
    expect(bondEdit({ mode: '802.3ad', ad_select: 'count' }, kernelBond('802.3ad'))?.emptyDown).toBe(true);
    expect(bondEdit({ mode: 'active-backup', fail_over_mac: 'active' }, kernelBond('active-backup'))?.emptyDown).toBe(true);
    expect(bondEdit({ mode: 'balance-tlb', tlb_dynamic_lb: '0' }, kernelBond('balance-tlb'))?.emptyDown).toBe(true);
    expect(bondEdit({ mode: '802.3ad', xmit_hash_policy: 'layer3+4' }, kernelBond('802.3ad'))).toEqual({
      before: {}, set: { xmit_hash_policy: '1' }, emptyDown: false, recreate: false,
    });
  });

  it('clearing primary re-creates the bond (iproute2 cannot send ifindex 0)', () => {
    expect(bondEdit({ mode: 'active-backup' }, kernelBond('active-backup', { primary: 'eth1' }))?.recreate).toBe(true);
  });

  it('delays read 0 while miimon is off: not compared then, and set again whenever miimon changes', () => {
    const arp = kernelBond('active-backup', { arp_interval: '200', arp_ip_target: '192.0.2.1' });
    expect(bondEdit({ mode: 'active-backup', arp_interval: '200', arp_ip_target: '192.0.2.1' }, arp)).toBeNull();
    expect(bondEdit({ mode: 'active-backup', miimon: '100', downdelay: '300' }, arp)).toEqual({
      before: {},
      set: { miimon: '100', updelay: '0', downdelay: '300', peer_notif_delay: '0', arp_interval: '0', arp_ip_target: '' },
      emptyDown: false,
      recreate: false,
    });
  });
});

describe('bond plans', () => {
  const running = config({ bond0: { name: 'bond0', nics: ['eth0', 'eth1'], options: { mode: 'balance-rr', miimon: '100' } } });
  const s = state([
    link('eth0'), link('eth2'), link('eth3'),
    bondLink('bond0', kernelBond('balance-rr', { miimon: '100' }), { address: '02:00:00:00:00:09' }),
    slave('eth0', 'bond0', { address: '02:00:00:00:00:09' }), slave('eth1', 'bond0', { address: '02:00:00:00:00:09' }),
  ]);

  it('slaves [eth0,eth1] → [eth0,eth2]: the new slave joins before the old one leaves; it gets MTU 1500 after', () => {
    const { script } = plan(running, s, {}, { bond0: { nics: ['eth0', 'eth2'], options: 'miimon=100' } });
    expect(script).toEqual([
      'link set dev eth2 down', 'link set dev eth2 master bond0',
      'link set dev eth1 nomaster',
    ]);
    const withMtu = state(Object.values({ ...s.links, eth1: { ...s.links.eth1!, mtu: 9000 } }));
    expect(plan(running, withMtu, {}, { bond0: { nics: ['eth0', 'eth2'], options: 'miimon=100' } }).script).toEqual([
      'link set dev eth2 down', 'link set dev eth2 master bond0',
      'link set dev eth1 nomaster', 'link set dev eth1 mtu 1500',
    ]);
  });

  it('2 → 4 → 3 slaves: only the NICs that change are touched', () => {
    expect(plan(running, s, {}, { bond0: { nics: ['eth0', 'eth1', 'eth2', 'eth3'], options: 'miimon=100' } }).script).toEqual([
      'link set dev eth2 down', 'link set dev eth2 master bond0', 'link set dev eth3 down', 'link set dev eth3 master bond0',
    ]);
  });

  it('a mode change: release, down, reset, set, enslave, up; the vlan device on the bond is kept', () => {
    const r = config({ bond0: { name: 'bond0', nics: ['eth0', 'eth1'], options: { mode: '802.3ad', lacp_rate: 'fast' } } });
    const s4 = state([
      ...Object.values(s.links).filter((l) => l.name !== 'bond0'),
      bondLink('bond0', kernelBond('802.3ad', { lacp_rate: 'fast' })),
      link('bond0.10', { kind: 'vlan', link: 'bond0', vlan: { id: 10, protocol: '802.1Q' } }),
    ], {
      addresses: [{ ifname: 'bond0', family: 'inet6', local: '2001:db8::5', prefixlen: 64, scope: 'global', dynamic: false, tentative: false }],
    });
    r.networks.v = {
      name: 'v', bridged: false, bonding: 'bond0', vlan: 10, mtu: 1500, stp: false, ipv6: { addresses: [], autoconf: false }, defaultRoute: false,
      nameservers: [], bridgeOpts: {}, portIsolation: false, macTableManager: 'kernel', switch: 'legacy', bootproto: 'none', dhcpv6: false,
    };
    r.networks.top = { ...r.networks.v, name: 'top', vlan: undefined as never, ipv6: { addresses: ['2001:db8::5/64'], autoconf: false } };
    delete (r.networks.top as { vlan?: number }).vlan;
    const { script } = plan(r, s4, {}, { bond0: { nics: ['eth0', 'eth1'], options: 'mode=balance-rr' } });
    expect(script).toEqual([
      'link set dev eth0 nomaster', 'link set dev eth1 nomaster', 'link set dev bond0 down',
      'link set dev bond0 type bond lacp_rate 0',
      'link set dev bond0 type bond mode balance-rr miimon 0',
      'link set dev eth0 down', 'link set dev eth0 master bond0', 'link set dev eth1 down', 'link set dev eth1 master bond0',
      'link set dev bond0 up', 'link set dev eth0 up', 'link set dev eth1 up',
      'address replace 2001:db8::5/64 dev bond0 nodad',
    ]);
  });

  it('a configured hwaddr is set again after emptying (the driver gives an empty bond a random MAC)', () => {
    const r = config({ bond0: { name: 'bond0', nics: ['eth0', 'eth1'], options: { mode: 'balance-rr', miimon: '100' }, hwaddr: '02:00:00:00:00:09' } });
    const { script } = plan(r, s, {}, { bond0: { nics: ['eth0', 'eth1'], options: 'mode=active-backup miimon=100', hwaddr: '02:00:00:00:00:09' } });
    expect(script.slice(0, 5)).toEqual([
      'link set dev eth0 nomaster', 'link set dev eth1 nomaster', 'link set dev bond0 down',
      'link set dev bond0 type bond mode active-backup', 'link set dev bond0 address 02:00:00:00:00:09',
    ]);
  });

  it('clearing primary deletes and re-creates the bond with its vlan devices', () => {
    const r = config({ bond0: { name: 'bond0', nics: ['eth0', 'eth1'], options: { mode: 'active-backup', miimon: '100', primary: 'eth1' } } });
    r.networks.v = {
      name: 'v', bridged: true, bonding: 'bond0', vlan: 10, mtu: 1500, stp: false, ipv6: { addresses: [], autoconf: false }, defaultRoute: false,
      nameservers: [], bridgeOpts: {}, portIsolation: false, macTableManager: 'kernel', switch: 'legacy', bootproto: 'none', dhcpv6: false,
    };
    const sp = state([
      ...Object.values(s.links).filter((l) => l.name !== 'bond0'),
      bondLink('bond0', kernelBond('active-backup', { miimon: '100', primary: 'eth1' })),
      link('bond0.10', { kind: 'vlan', link: 'bond0', vlan: { id: 10, protocol: '802.1Q' }, master: 'v' }),
      link('v', { kind: 'bridge', bridge: { stp: false, vlanFiltering: false, opts: {} } }),
    ]);
    const { script, want } = plan(r, sp, {}, { bond0: { nics: ['eth0', 'eth1'], options: 'mode=1 miimon=100' } });
    expect(planBondRebuilds(want, sp).recreate).toEqual(['bond0']);
    expect(script).toEqual([
      'link del dev bond0',
      'link add name bond0 type bond mode active-backup miimon 100',
      'link set dev eth0 down', 'link set dev eth0 master bond0', 'link set dev eth1 down', 'link set dev eth1 master bond0',
      'link set dev bond0 mtu 1500',
      'link add link bond0 name bond0.10 mtu 1500 type vlan id 10',
      // the bond's group (its slaves with it) before the group of the bridge its vlan device joins
      'link set dev bond0 up', 'link set dev eth0 up', 'link set dev eth1 up',
      'link set dev bond0.10 master v', 'link set dev bond0.10 up',
    ]);
  });

  it('clearing arp_ip_target: the keyword last, with no value', () => {
    expect(renderBatch([{ op: 'set-bond', dev: 'bond0', options: { arp_ip_target: '', miimon: '100' } }]).text)
      .toBe('link set dev bond0 type bond miimon 100 arp_ip_target\n');
  });

  it('adopting a bond keeps its non-default options as the kernel names them', () => {
    expect(kernelBondOptions(kernelBond('active-backup', { miimon: '150', primary: 'eth1' }))).toEqual({ mode: 'active-backup', miimon: '150', primary: 'eth1' });
    expect(kernelBondOptions(kernelBond('802.3ad', { lacp_rate: 'fast', ad_actor_system: '02:00:00:00:00:aa' })))
      .toEqual({ mode: '802.3ad', lacp_rate: 'fast', ad_actor_system: '02:00:00:00:00:aa' });
    expect(kernelBondOptions(kernelBond('balance-rr'))).toEqual({ mode: 'balance-rr' });
  });

  it('removing the networks and their bond in one request: the vlan devices go with the bond, not deleted twice', () => {
    const r = config({ bond0: { name: 'bond0', nics: ['eth0', 'eth1'], options: { mode: 'balance-rr', miimon: '100' } } });
    r.networks.v = {
      name: 'v', bridged: true, bonding: 'bond0', vlan: 10, mtu: 1500, stp: false, ipv6: { addresses: [], autoconf: false }, defaultRoute: false,
      nameservers: [], bridgeOpts: {}, portIsolation: false, macTableManager: 'kernel', switch: 'legacy', bootproto: 'none', dhcpv6: false,
    };
    const sv = state([
      ...Object.values(s.links),
      link('bond0.10', { kind: 'vlan', link: 'bond0', vlan: { id: 10, protocol: '802.1Q' }, master: 'v' }),
      link('v', { kind: 'bridge', bridge: { stp: false, vlanFiltering: false, opts: {} } }),
    ]);
    const { ops } = plan(r, sv, { v: { remove: true } }, { bond0: { remove: true } });
    expect(ops.filter((o) => o.op === 'del').map((o) => o.dev)).toEqual(['bond0', 'v']);
  });

  it("a bond is created with its mode and non-default options only (a rollback's snapshot has them all)", () => {
    const snapshot = state([link('eth0'), link('eth1'), bondLink('bond0', kernelBond('balance-rr'), { address: '02:00:00:00:00:09' })]);
    const target = rollbackTarget(snapshot, state([link('eth0'), link('eth1')]), ['bond0']);
    expect(renderBatch(diff(target, state([link('eth0'), link('eth1')]))).text.split('\n')[0]).toBe('link add name bond0 type bond mode balance-rr');
    expect(creationBondOptions({ mode: 'active-backup', miimon: '100', updelay: '0', primary: 'eth1', lacp_rate: 'slow', num_unsol_na: '1' }))
      .toEqual({ mode: 'active-backup', miimon: '100', primary: 'eth1' });
  });

  it('a NIC leaving a bond to carry a network is brought up again (the driver closes a released slave)', () => {
    const { script } = plan(running, s, { n: { nic: 'eth1', bridged: false, ipaddr: '192.0.2.7', prefix: 24 } }, {
      bond0: { nics: ['eth0', 'eth2'], options: 'miimon=100' },
    });
    expect(script).toEqual([
      'link set dev eth2 down', 'link set dev eth2 master bond0',
      'link set dev eth1 nomaster',
      'link set dev eth1 up',
      'address add 192.0.2.7/24 dev eth1',
    ]);
    const toBridge = plan(running, s, { br: { nic: 'eth1' } }, { bond0: { nics: ['eth0', 'eth2'], options: 'miimon=100' } }).script;
    expect(toBridge).toContain('link set dev eth1 master br');
    expect(toBridge).toContain('link set dev eth1 up');
  });
});

describe('a NIC with addresses becoming a bond slave', () => {
  it("deletes its addresses before the enslave flushes the IPv6 ones (deleting after would fail with 'Cannot assign')", () => {
    const addr = (local: string, prefixlen: number) =>
      ({ ifname: 'eth1', family: local.includes(':') ? 'inet6' : 'inet', local, prefixlen, scope: 'global', dynamic: false, tentative: false }) as const;
    const running = config({}, plan(config({}), state([link('eth1')]), { flat: { nic: 'eth1', bridged: false, ipv6addr: '2001:db8::5/64', ipaddr: '192.0.2.5', prefix: 24 } }).desired.networks);
    const s = state([link('eth0'), link('eth1')], { addresses: [addr('192.0.2.5', 24), addr('2001:db8::5', 64)] });
    const { script } = plan(running, s, { flat: { remove: true }, net: { bonding: 'bond0' } }, { bond0: { nics: ['eth0', 'eth1'] } });
    const enslave = script.indexOf('link set dev eth1 master bond0');
    expect(enslave).toBeGreaterThan(0);
    expect(script.indexOf('address del 2001:db8::5/64 dev eth1')).toBeGreaterThanOrEqual(0);
    expect(script.indexOf('address del 2001:db8::5/64 dev eth1')).toBeLessThan(enslave);
    expect(script.indexOf('address del 192.0.2.5/24 dev eth1')).toBeLessThan(enslave);
  });
});
