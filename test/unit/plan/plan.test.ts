/** The planner on synthetic snapshots: what a request turns into, without a kernel. */
import { describe, expect, it } from 'vitest';
import type { KernelLink, KernelState } from '../../../src/model/kernel-state.js';
import { renderBatch } from '../../../src/kernel/batch.js';
import { mergeRequest } from '../../../src/model/merge.js';
import { emptyConfig, type HostConfig } from '../../../src/model/types.js';
import { desiredKernel } from '../../../src/plan/desired.js';
import { deviceClashes, diff } from '../../../src/plan/diff.js';
import { HostnetError } from '../../../src/errors.js';
import { rollbackTarget, touchedDevices } from '../../../src/plan/rollback.js';
import type { DesiredKernel, Op } from '../../../src/model/op.js';
import { canonicalizeRequest } from '../../../src/validate/request.js';

function link(name: string, extra: Partial<KernelLink> = {}): KernelLink {
  return { ifindex: 1, name, kind: 'device', mtu: 1500, address: '02:00:00:00:00:01', up: true, operstate: 'UP', promiscuity: 0, ...extra };
}
function state(links: KernelLink[], extra: Partial<KernelState> = {}): KernelState {
  return { links: Object.fromEntries(links.map((l) => [l.name, l])), addresses: [], routes: [], fdb: [], takenAt: 0, ...extra };
}
function plan(running: HostConfig, s: KernelState, networks: Record<string, Record<string, unknown>>, bondings: Record<string, Record<string, unknown>> = {}) {
  const desired = mergeRequest(running, canonicalizeRequest({ networks, bondings, options: {} }), new Set());
  const ops = diff(desiredKernel(desired, running, (d) => d in s.links), s);
  return { desired, ops, script: renderBatch(ops).text };
}
const opsOf = (ops: Op[], kind: Op['op']) => ops.filter((o) => o.op === kind);

const nics = state([link('eth0'), link('eth1'), link('eth2')]);

describe('planner', () => {
  it('a new bridge is created one off its MTU (above it at the smallest MTU) and gets it before its ports join', () => {
    const lines = (mtu: number) => plan(emptyConfig(), nics, { net: { nic: 'eth0', mtu } }).script.split('\n');
    const at68 = lines(68);
    expect(at68).toContain('link add name net mtu 69 type bridge stp_state 0');
    expect(at68.indexOf('link set dev net mtu 68 up')).toBeLessThan(at68.indexOf('link set dev eth0 master net'));
    expect(lines(9000)).toContain('link add name net mtu 8999 type bridge stp_state 0');
  });

  it('a bridged VLAN network: vlan on the NIC, bridge over it, MTU bottom-up', () => {
    const { ops, script } = plan(emptyConfig(), nics, { net: { nic: 'eth0', vlan: 100, mtu: 2000 } });
    expect(script).toBe([
      'link set dev eth0 mtu 2000',
      'link add link eth0 name eth0.100 mtu 2000 type vlan id 100',
      // created one off its MTU, so that setting it marks it as the user's (diff.ts, createBridge)
      'link add name net mtu 1999 type bridge stp_state 0',
      'link set dev net mtu 2000 up',
      'link set dev eth0.100 master net',
      'link set dev eth0.100 up',
      '',
    ].join('\n'));
    expect(opsOf(ops, 'del')).toEqual([]);
  });

  it('from the bridges on, runs network by network: each bridge with its port, their ups and addresses', () => {
    const { script } = plan(emptyConfig(), nics, { a: { nic: 'eth0', ipaddr: '192.0.2.1', prefix: 24 }, b: { nic: 'eth1', ipaddr: '198.51.100.1', prefix: 24 } });
    expect(script.split('\n')).toEqual([
      'link add name a mtu 1499 type bridge stp_state 0', 'link set dev a mtu 1500 up', 'link set dev eth0 master a', 'address add 192.0.2.1/24 dev a',
      'link add name b mtu 1499 type bridge stp_state 0', 'link set dev b mtu 1500 up', 'link set dev eth1 master b', 'address add 198.51.100.1/24 dev b',
      '',
    ]);
  });

  it("a VLAN device comes up after its base, whichever network's bridge the base is a port of", () => {
    const down = state([link('eth0', { up: false }), link('eth1', { up: false })]);
    for (const networks of [
      { tagged: { nic: 'eth0', vlan: 100 }, untagged: { nic: 'eth0' } },
      { untagged: { nic: 'eth0' }, tagged: { nic: 'eth0', vlan: 100 } },
    ]) {
      const lines = plan(emptyConfig(), down, networks).script.split('\n');
      expect(lines).toContain('link set dev eth0 up');
      expect(lines.indexOf('link set dev eth0 up')).toBeLessThan(lines.indexOf('link set dev eth0.100 up'));
      expect(lines.indexOf('link add name untagged mtu 1499 type bridge stp_state 0')).toBeLessThan(lines.indexOf('link set dev eth0 master untagged'));
    }
    // a rollback's target lists its devices by name: here the VLAN's bridge before the base's
    const want: DesiredKernel = {
      links: {
        abc: { name: 'abc', kind: 'bridge', master: null, up: true, bridge: { stp: false, opts: {} } },
        'eth0.100': { name: 'eth0.100', kind: 'vlan', master: 'abc', up: true, vlan: { base: 'eth0', id: 100 } },
        eth0: { name: 'eth0', kind: 'nic', master: 'zzz', up: true },
        zzz: { name: 'zzz', kind: 'bridge', master: null, up: true, bridge: { stp: false, opts: {} } },
      },
      remove: [], defaultRoutes: { inet: null, inet6: null }, routeDevices: [],
    };
    const lines = renderBatch(diff(want, down)).text.split('\n');
    expect(lines.indexOf('link set dev eth0 up')).toBeGreaterThanOrEqual(0);
    expect(lines.indexOf('link set dev eth0 up')).toBeLessThan(lines.indexOf('link set dev eth0.100 up'));
  });

  it('a base device carries the largest MTU of its networks, and follows when the largest leaves', () => {
    const { desired } = plan(emptyConfig(), nics, { a: { nic: 'eth0', vlan: 1, mtu: 1600 }, b: { nic: 'eth0', vlan: 2, mtu: 2000 } });
    const s = state([
      link('eth0', { mtu: 2000 }),
      link('eth0.1', { kind: 'vlan', mtu: 1600, link: 'eth0', vlan: { id: 1, protocol: '802.1Q' }, master: 'a' }),
      link('eth0.2', { kind: 'vlan', mtu: 2000, link: 'eth0', vlan: { id: 2, protocol: '802.1Q' }, master: 'b' }),
      link('a', { kind: 'bridge', mtu: 1600, bridge: { stp: false, vlanFiltering: false, opts: {} } }),
      link('b', { kind: 'bridge', mtu: 2000, bridge: { stp: false, vlanFiltering: false, opts: {} } }),
    ]);
    expect(plan(desired, s, { a: { nic: 'eth0', vlan: 1, mtu: 1600 }, b: { nic: 'eth0', vlan: 2, mtu: 2000 } }).ops).toEqual([]);
    const { ops } = plan(desired, s, { b: { remove: true } });
    expect(ops).toEqual([
      { op: 'del', dev: 'b' },
      { op: 'del', dev: 'eth0.2' },
      { op: 'mtu', dev: 'eth0', mtu: 1600 },
    ]);
  });

  it('changing a vlan id replaces the vlan device and keeps the bridge', () => {
    const { desired } = plan(emptyConfig(), nics, { n: { nic: 'eth0', vlan: 101 } });
    const s = state([
      link('eth0'),
      link('eth0.101', { kind: 'vlan', link: 'eth0', vlan: { id: 101, protocol: '802.1Q' }, master: 'n' }),
      link('n', { kind: 'bridge', bridge: { stp: false, vlanFiltering: false, opts: {} } }),
    ]);
    const { ops } = plan(desired, s, { n: { nic: 'eth0', vlan: 102 } });
    expect(ops.map((o) => `${o.op} ${'dev' in o ? o.dev : ''}`)).toEqual([
      'del eth0.101', 'add-vlan eth0.102', 'master eth0.102', 'up eth0.102',
    ]);
  });

  it('a bond with options, and a network over it', () => {
    const { script } = plan(emptyConfig(), nics, { n: { bonding: 'bond0' } }, { bond0: { nics: ['eth0', 'eth1'], options: 'mode=3 miimon=150' } });
    expect(script).toContain('link add name bond0 type bond mode broadcast miimon 150');
    expect(script).toContain('link set dev eth0 down\nlink set dev eth0 master bond0');
    expect(script).toContain('link set dev bond0 master n');
  });

  it('a NIC that leaves every network goes back to no master and MTU 1500', () => {
    const { desired } = plan(emptyConfig(), nics, { n: { nic: 'eth0', mtu: 9000 } });
    const s = state([link('eth0', { mtu: 9000, master: 'n' }), link('n', { kind: 'bridge', mtu: 9000, bridge: { stp: false, vlanFiltering: false, opts: {} } })]);
    const { ops } = plan(desired, s, { n: { remove: true } });
    expect(ops).toEqual([{ op: 'master', dev: 'eth0', master: null }, { op: 'del', dev: 'n' }, { op: 'mtu', dev: 'eth0', mtu: 1500 }]);
  });

  it('names a foreign device the plan would have to turn into a bridge; diff() itself throws no client error', () => {
    const s = state([link('eth0'), link('taken', { kind: 'veth' }), link('oldbr', { kind: 'vlan', vlan: { id: 5, protocol: '802.1Q' }, link: 'eth0' })]);
    const desired = mergeRequest(emptyConfig(), canonicalizeRequest({ networks: { taken: { nic: 'eth0' }, oldbr: { nic: 'eth0', vlan: 7 } }, bondings: {}, options: {} }), new Set());
    const want = desiredKernel(desired, emptyConfig(), (d) => d in s.links);
    // the vlan device named like a wanted bridge is replaced; only the veth is refused
    expect(deviceClashes(want, s)).toEqual([{ name: 'taken', want: 'bridge', have: 'veth' }]);
    const err = (() => { try { diff(want, s); return undefined; } catch (e) { return e; } })();
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(HostnetError);
    expect((err as Error).message).toMatch(/'taken' is a veth/);
  });

  it("a DHCP network's leased address and learned default route are the client's; a static one is replaced", () => {
    const bridge = link('m', { kind: 'bridge', bridge: { stp: false, vlanFiltering: false, opts: {} } });
    const leased = state([link('eth0', { master: 'm' }), bridge], {
      addresses: [
        { ifname: 'm', family: 'inet', local: '192.0.2.120', prefixlen: 24, scope: 'global', dynamic: true, tentative: false },
        { ifname: 'm', family: 'inet', local: '192.0.2.9', prefixlen: 24, scope: 'global', dynamic: false, tentative: false },
      ],
      routes: [
        { family: 'inet', table: 'main', dst: 'default', gateway: '192.0.2.1', dev: 'm', protocol: 'dhcp', type: 'unicast' },
        { family: 'inet', table: 'main', dst: 'default', gateway: '192.0.2.254', dev: 'm', protocol: 'boot', type: 'unicast' },
      ],
    });
    const running = mergeRequest(emptyConfig(), canonicalizeRequest({ networks: { m: { nic: 'eth0', ipaddr: '192.0.2.9', prefix: 24 } }, bondings: {}, options: {} }), new Set());
    const { ops } = plan(running, leased, { m: { nic: 'eth0', bootproto: 'dhcp', defaultRoute: true } });
    expect(ops).toEqual([
      { op: 'route-del', family: 'inet', dev: 'm', gateway: '192.0.2.254' },
      { op: 'addr-del', dev: 'm', cidr: '192.0.2.9/24' },
    ]);
    // without the default route, the learned one goes too (the client is told nogateway)
    const off = plan(running, leased, { m: { nic: 'eth0', bootproto: 'dhcp' } }).ops;
    expect(opsOf(off, 'route-del')).toHaveLength(2);
  });

  it('rollback plans the way back from the snapshot before', () => {
    const before = state([link('eth0', { mtu: 1500 })], {
      addresses: [{ ifname: 'eth0', family: 'inet', local: '192.0.2.5', prefixlen: 24, scope: 'global', dynamic: false, tentative: false }],
    });
    const { ops } = plan(emptyConfig(), before, { n: { nic: 'eth0', ipaddr: '192.0.2.9', prefix: 24 } });
    const touched = touchedDevices(ops, before);
    expect(touched).toEqual(['eth0', 'n']);
    const after = state([link('eth0', { master: 'n' }), link('n', { kind: 'bridge', bridge: { stp: false, vlanFiltering: false, opts: {} } })], {
      addresses: [{ ifname: 'n', family: 'inet', local: '192.0.2.9', prefixlen: 24, scope: 'global', dynamic: false, tentative: false }],
    });
    expect(diff(rollbackTarget(before, after, touched), after)).toEqual([
      { op: 'master', dev: 'eth0', master: null },
      { op: 'del', dev: 'n' },
      { op: 'addr-add', dev: 'eth0', cidr: '192.0.2.5/24' },
    ]);
  });

  it('a rollback re-creates a removed bridge, vlan and bond with their old MACs (issue 10, defect 3)', () => {
    const br = { stp: false, vlanFiltering: false, opts: {} };
    const before = state([
      link('eth0', { master: 'bond0', slaveKind: 'bond' }),
      link('bond0', { kind: 'bond', address: '02:00:00:00:0b:01', bond: { mode: 'active-backup', opts: {}, slaves: ['eth0'] } as never }),
      link('bond0.7', { kind: 'vlan', address: '02:00:00:00:0a:07', link: 'bond0', vlan: { id: 7, protocol: '802.1Q' }, master: 'net' }),
      link('net', { kind: 'bridge', address: '02:00:00:00:0c:01', bridge: br }),
      link('iso', { kind: 'bridge', address: '02:00:00:00:0d:01', bridge: br }),
    ]);
    const now = state([link('eth0')]);
    const ops = diff(rollbackTarget(before, now, ['bond0', 'bond0.7', 'eth0', 'iso', 'net']), now);
    const created = (dev: string) => ops.findIndex((o) => o.op.startsWith('add-') && 'dev' in o && o.dev === dev);
    const macOf = (dev: string) => ops.findIndex((o) => o.op === 'hwaddr' && o.dev === dev);
    for (const [dev, mac] of [['bond0', '02:00:00:00:0b:01'], ['bond0.7', '02:00:00:00:0a:07'], ['net', '02:00:00:00:0c:01'], ['iso', '02:00:00:00:0d:01']]) {
      expect(ops, dev).toContainEqual({ op: 'hwaddr', dev, hwaddr: mac });
      expect(macOf(dev!), dev).toBeGreaterThan(created(dev!));
    }
    // set before the bridge takes its port: an explicit MAC does not follow the ports
    expect(macOf('net')).toBeLessThan(ops.findIndex((o) => o.op === 'master' && o.dev === 'bond0.7'));
    // a device that still has its MAC is left alone; one whose MAC moved gets it back
    const kept = state([...Object.values(before.links)]);
    expect(opsOf(diff(rollbackTarget(before, kept, ['iso', 'net']), kept), 'hwaddr')).toEqual([]);
    const moved = state([...Object.values(before.links).map((l) => (l.name === 'net' ? { ...l, address: '02:00:00:00:00:99' } : l))]);
    expect(opsOf(diff(rollbackTarget(before, moved, ['iso', 'net']), moved), 'hwaddr')).toEqual([{ op: 'hwaddr', dev: 'net', hwaddr: '02:00:00:00:0c:01' }]);
  });
});
