/** Source routing (VDSM's multiple gateways) in the pure planner: tables, rules, edits, rollback. */
import { describe, expect, it } from 'vitest';
import { renderBatch } from '../../../src/kernel/batch.js';
import type { KernelRoute, KernelRule, KernelState } from '../../../src/model/kernel-state.js';
import { mergeRequest } from '../../../src/model/merge.js';
import { emptyConfig, type HostConfig } from '../../../src/model/types.js';
import { desiredKernel } from '../../../src/plan/desired.js';
import { diff } from '../../../src/plan/diff.js';
import { rollbackTarget, sliceState, touchedDevices } from '../../../src/plan/rollback.js';
import { SOURCE_RULE_PRIORITY, sourceRouteTable } from '../../../src/plan/source-routes.js';
import { canonicalizeRequest } from '../../../src/validate/request.js';
import { bridge, link, state } from '../../helpers/kernel-fixtures.js';

function plan(running: HostConfig, s: KernelState, networks: Record<string, Record<string, unknown>>) {
  const desired = mergeRequest(running, canonicalizeRequest({ networks, bondings: {}, options: {} }), new Set());
  const ops = diff(desiredKernel(desired, running, (d) => d in s.links), s);
  return { desired, ops, lines: renderBatch(ops).text.split('\n').filter(Boolean) };
}
const addr = (ifname: string, local: string, prefixlen: number) =>
  ({ ifname, family: local.includes(':') ? 'inet6' : 'inet', local, prefixlen, scope: 'global', dynamic: false, tentative: false }) as const;
const rule = (table: number, src: string, dst: string, family: 'inet' | 'inet6' = 'inet'): KernelRule =>
  ({ family, priority: SOURCE_RULE_PRIORITY, table: String(table), src, dst, action: 'to_tbl', selectors: '' });
const route = (table: number, dst: string, dev: string, gateway?: string): KernelRoute =>
  ({ family: dst.includes(':') || gateway?.includes(':') ? 'inet6' : 'inet', table: String(table), dst, dev, type: 'unicast', ...(gateway ? { gateway } : {}) });

const T1 = sourceRouteTable('net1');
const T2 = sourceRouteTable('net2');
const net1 = { nic: 'eth0', ipaddr: '192.0.2.10', prefix: 24, gateway: '192.0.2.1', defaultRoute: true };
const net2 = { nic: 'eth1', ipaddr: '198.51.100.10', netmask: '255.255.255.0', gateway: '198.51.100.1' };

/** The kernel after net1 (default route) and net2 (source routed) are applied. */
function applied(): KernelState {
  return state([...bridge('net1', 'eth0'), ...bridge('net2', 'eth1'), link('eth2')], {
    addresses: [addr('net1', '192.0.2.10', 24), addr('net2', '198.51.100.10', 24)],
    routes: [
      { family: 'inet', table: 'main', dst: 'default', gateway: '192.0.2.1', dev: 'net1', type: 'unicast' },
      route(T2, '198.51.100.0/24', 'net2'), route(T2, 'default', 'net2', '198.51.100.1'),
    ],
    rules: [
      { family: 'inet', priority: 0, table: 'local', src: 'all', dst: 'all', action: 'to_tbl', selectors: '' },
      rule(T2, '198.51.100.0/24', 'all'), rule(T2, 'all', '198.51.100.0/24'),
    ],
  });
}

describe('source routing', () => {
  it("numbers a device's table as VDSM does: zlib's adler32 of its name", () => {
    // python3 -c "import zlib; print(zlib.adler32(b'net1'), zlib.adler32(b'eth1'), zlib.adler32(b'__proto__'))"
    expect(sourceRouteTable('net1')).toBe(67371385);
    expect(sourceRouteTable('eth1')).toBe(66388339);
    expect(sourceRouteTable('__proto__')).toBe(309920689);
  });

  it('a network with a gateway off the default route gets its table and two rules at 3200; the default route holder none', () => {
    const s = state([link('eth0'), link('eth1')]);
    const { lines } = plan(emptyConfig(), s, { net1, net2 });
    const routing = lines.filter((l) => l.startsWith('route') || l.startsWith('rule'));
    expect(routing).toEqual([
      'route replace 0.0.0.0/0 via 192.0.2.1 dev net1',
      `route replace 198.51.100.0/24 dev net2 table ${T2}`,
      `route replace 0.0.0.0/0 via 198.51.100.1 dev net2 table ${T2}`,
      `rule add from 198.51.100.0/24 priority 3200 table ${T2}`,
      `rule add from 0.0.0.0/0 to 198.51.100.0/24 priority 3200 table ${T2}`,
    ]);
    // the routing lines come after the addresses they need
    expect(lines.indexOf('address add 198.51.100.10/24 dev net2')).toBeLessThan(lines.indexOf(routing[1]!));
  });

  it('IPv6 too: the subnet of the first address, a canonical gateway, rules of the inet6 family', () => {
    const s = state([link('eth1')]);
    const { ops, lines } = plan(emptyConfig(), s, { net2: { nic: 'eth1', bridged: false, ipv6addr: '2001:DB8:0:1::10/64', ipv6gateway: '2001:db8:0:1:0:0:0:1' } });
    const T = sourceRouteTable('eth1');
    expect(lines.filter((l) => l.startsWith('route') || l.startsWith('rule'))).toEqual([
      `route replace 2001:db8:0:1::/64 dev eth1 table ${T}`,
      `route replace ::/0 via 2001:db8:0:1::1 dev eth1 table ${T}`,
      `rule add from 2001:db8:0:1::/64 priority 3200 table ${T}`,
      `rule add from ::/0 to 2001:db8:0:1::/64 priority 3200 table ${T}`,
    ]);
    expect(ops.filter((o) => o.op === 'rule-add').every((o) => 'family' in o && o.family === 'inet6')).toBe(true);
  });

  it('applied: nothing to do (idempotent); rules and tables of others are left alone', () => {
    const s = applied();
    const { desired } = plan(emptyConfig(), state([link('eth0'), link('eth1')]), { net1, net2 });
    s.rules!.push({ ...rule(T2, '10.9.0.0/16', 'all'), selectors: 'iif eth2' }, rule(12345, '10.0.0.0/8', 'all'));
    s.routes.push(route(12345, 'default', 'eth2', '10.0.0.1'));
    expect(plan(desired, s, { net1, net2 }).ops).toEqual([]);
  });

  it('moving defaultRoute: the old holder gets a table, the new one loses its own', () => {
    const s = applied();
    const { desired } = plan(emptyConfig(), state([link('eth0'), link('eth1')]), { net1, net2 });
    const { lines } = plan(desired, s, { net1: { ...net1, defaultRoute: false }, net2: { ...net2, defaultRoute: true } });
    expect(lines).toEqual([
      'route del 0.0.0.0/0 via 192.0.2.1 dev net1',
      `route del 198.51.100.0/24 dev net2 table ${T2}`,
      `route del 0.0.0.0/0 via 198.51.100.1 dev net2 table ${T2}`,
      `rule del from 198.51.100.0/24 priority 3200 table ${T2}`,
      `rule del from 0.0.0.0/0 to 198.51.100.0/24 priority 3200 table ${T2}`,
      'route replace 0.0.0.0/0 via 198.51.100.1 dev net2',
      `route replace 192.0.2.0/24 dev net1 table ${T1}`,
      `route replace 0.0.0.0/0 via 192.0.2.1 dev net1 table ${T1}`,
      `rule add from 192.0.2.0/24 priority 3200 table ${T1}`,
      `rule add from 0.0.0.0/0 to 192.0.2.0/24 priority 3200 table ${T1}`,
    ]);
  });

  it('editing the gateway replaces the default route only; removing it drops table and rules', () => {
    const s = applied();
    const { desired } = plan(emptyConfig(), state([link('eth0'), link('eth1')]), { net1, net2 });
    expect(plan(desired, s, { net2: { ...net2, gateway: '198.51.100.254' } }).lines).toEqual([
      `route del 0.0.0.0/0 via 198.51.100.1 dev net2 table ${T2}`,
      `route replace 0.0.0.0/0 via 198.51.100.254 dev net2 table ${T2}`,
    ]);
    const { gateway: _, ...noGateway } = net2;
    expect(plan(desired, s, { net2: noGateway }).lines).toEqual([
      `route del 198.51.100.0/24 dev net2 table ${T2}`,
      `route del 0.0.0.0/0 via 198.51.100.1 dev net2 table ${T2}`,
      `rule del from 198.51.100.0/24 priority 3200 table ${T2}`,
      `rule del from 0.0.0.0/0 to 198.51.100.0/24 priority 3200 table ${T2}`,
    ]);
  });

  it('a new address re-installs the table routes (the kernel flushes them with the old one) and moves the rules', () => {
    const s = applied();
    const { desired } = plan(emptyConfig(), state([link('eth0'), link('eth1')]), { net1, net2 });
    const { lines } = plan(desired, s, { net2: { nic: 'eth1', ipaddr: '203.0.113.5', prefix: 24, gateway: '203.0.113.1' } });
    expect(lines.filter((l) => l.startsWith('rule'))).toEqual([
      `rule del from 198.51.100.0/24 priority 3200 table ${T2}`,
      `rule del from 0.0.0.0/0 to 198.51.100.0/24 priority 3200 table ${T2}`,
      `rule add from 203.0.113.0/24 priority 3200 table ${T2}`,
      `rule add from 0.0.0.0/0 to 203.0.113.0/24 priority 3200 table ${T2}`,
    ]);
    expect(lines).toContain(`route replace 0.0.0.0/0 via 203.0.113.1 dev net2 table ${T2}`);
  });

  it('removing the network: its rules go, its routes go with its bridge (no line for them)', () => {
    const s = applied();
    const { desired } = plan(emptyConfig(), state([link('eth0'), link('eth1')]), { net1, net2 });
    const { lines } = plan(desired, s, { net2: { remove: true } });
    expect(lines).toEqual([
      `rule del from 198.51.100.0/24 priority 3200 table ${T2}`,
      `rule del from 0.0.0.0/0 to 198.51.100.0/24 priority 3200 table ${T2}`,
      'link set dev eth1 nomaster',
      'link del dev net2',
    ]);
  });

  it('a bridgeless network removed from a NIC that stays: its table routes are deleted too', () => {
    const T = sourceRouteTable('eth1');
    const running = plan(emptyConfig(), state([link('eth1')]), { n: { nic: 'eth1', bridged: false, ipaddr: '198.51.100.10', prefix: 24, gateway: '198.51.100.1' } }).desired;
    const s = state([link('eth1')], {
      addresses: [addr('eth1', '198.51.100.10', 24)],
      routes: [route(T, '198.51.100.0/24', 'eth1'), route(T, 'default', 'eth1', '198.51.100.1')],
      rules: [rule(T, '198.51.100.0/24', 'all'), rule(T, 'all', '198.51.100.0/24')],
    });
    expect(plan(running, s, { n: { remove: true } }).ops.map((o) => o.op)).toEqual(['table-route-del', 'table-route-del', 'rule-del', 'rule-del', 'addr-del']);
  });

  it('rollback: the journal keeps the touched tables and rules, and the rollback plan puts them back', () => {
    const before = applied();
    const { desired } = plan(emptyConfig(), state([link('eth0'), link('eth1')]), { net1, net2 });
    const { ops } = plan(desired, before, { net2: { remove: true } });
    const touched = touchedDevices(ops, before);
    const journaled = sliceState(before, touched);
    expect(journaled.rules).toEqual([rule(T2, '198.51.100.0/24', 'all'), rule(T2, 'all', '198.51.100.0/24')]);
    // the change ran: net2 and its rules are gone
    const now = state([...bridge('net1', 'eth0'), link('eth1'), link('eth2')], {
      addresses: [addr('net1', '192.0.2.10', 24)],
      routes: [before.routes[0]!],
      rules: [before.rules![0]!],
    });
    const back = renderBatch(diff(rollbackTarget(journaled, now, touched), now)).text.split('\n').filter(Boolean);
    expect(back.filter((l) => l.startsWith('route') || l.startsWith('rule'))).toEqual([
      `route replace 198.51.100.0/24 dev net2 table ${T2}`,
      `route replace 0.0.0.0/0 via 198.51.100.1 dev net2 table ${T2}`,
      `rule add from 198.51.100.0/24 priority 3200 table ${T2}`,
      `rule add from 0.0.0.0/0 to 198.51.100.0/24 priority 3200 table ${T2}`,
    ]);
  });
});
