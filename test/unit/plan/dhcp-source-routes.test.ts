/** Source routing of DHCP networks in the pure planner: from the lease, at lease time and in a change. */
import { describe, expect, it } from 'vitest';
import { renderBatch } from '../../../src/kernel/batch.js';
import type { KernelRoute, KernelRule, KernelState } from '../../../src/model/kernel-state.js';
import { mergeRequest } from '../../../src/model/merge.js';
import { emptyConfig, type HostConfig } from '../../../src/model/types.js';
import { desiredKernel, learnedSourceOps } from '../../../src/plan/desired.js';
import { diff } from '../../../src/plan/diff.js';
import { rollbackTarget } from '../../../src/plan/rollback.js';
import { learnedIpv4, SOURCE_RULE_PRIORITY, sourceRouteTable, type Learned, type LearnedIpv4 } from '../../../src/plan/source-routes.js';
import { canonicalizeRequest } from '../../../src/validate/request.js';
import { bridge, state } from '../../helpers/kernel-fixtures.js';

const config = (networks: Record<string, Record<string, unknown>>, running: HostConfig = emptyConfig()): HostConfig =>
  mergeRequest(running, canonicalizeRequest({ networks, bondings: {}, options: {} }), new Set());
const rule = (table: number, src: string, dst = 'all'): KernelRule =>
  ({ family: 'inet', priority: SOURCE_RULE_PRIORITY, table: String(table), src, dst, action: 'to_tbl', selectors: '' });
const route = (table: number, dst: string, dev: string, gateway?: string): KernelRoute =>
  ({ family: 'inet', table: String(table), dst, dev, type: 'unicast', ...(gateway ? { gateway } : {}) });
const leases = (by: Record<string, LearnedIpv4>): Learned => (dev) => by[dev];
const lines = (ops: Parameters<typeof renderBatch>[0]) => renderBatch(ops).text.split('\n').filter(Boolean);

const T2 = sourceRouteTable('dnet2');
const dnet1 = { nic: 'eth0', bootproto: 'dhcp', defaultRoute: true };
const dnet2 = { nic: 'eth1', bootproto: 'dhcp' };
const lease2 = { address: '198.51.100.120', prefix: 24, gateway: '198.51.100.1' };
const kernel = (extra: Partial<KernelState> = {}) => state([...bridge('dnet1', 'eth0'), ...bridge('dnet2', 'eth1')], extra);
/** dnet2's table and rule as the lease of 198.51.100.120 puts them */
const sourceRouted = { routes: [route(T2, '198.51.100.0/24', 'dnet2'), route(T2, 'default', 'dnet2', '198.51.100.1')], rules: [rule(T2, '198.51.100.120/32')] };

describe('DHCP source routing', () => {
  it('reads a lease: its first address and router; nothing without either', () => {
    expect(learnedIpv4({ reason: 'BOUND', addresses: ['198.51.100.120/24'], routers: ['198.51.100.1', '198.51.100.2'], dns: [] }))
      .toEqual({ address: '198.51.100.120', prefix: 24, gateway: '198.51.100.1' });
    expect(learnedIpv4({ reason: 'BOUND', addresses: ['198.51.100.120/24'], routers: [], dns: [] })).toBeUndefined();
    expect(learnedIpv4({ reason: 'EXPIRE', addresses: [], routers: ['198.51.100.1'], dns: [] })).toBeUndefined();
    expect(learnedIpv4(undefined)).toBeUndefined();
  });

  it('a lease of a network without defaultRoute: its table (subnet, default via the router) and one rule from the leased address', () => {
    const ops = learnedSourceOps(config({ dnet1, dnet2 }), () => true, leases({ dnet1: { address: '192.0.2.120', prefix: 24, gateway: '192.0.2.1' }, dnet2: lease2 }), kernel());
    expect(lines(ops)).toEqual([
      `route replace 198.51.100.0/24 dev dnet2 table ${T2}`,
      `route replace 0.0.0.0/0 via 198.51.100.1 dev dnet2 table ${T2}`,
      `rule add from 198.51.100.120/32 priority 3200 table ${T2}`,
    ]);
  });

  it('in step: nothing to do', () => {
    expect(learnedSourceOps(config({ dnet1, dnet2 }), () => true, leases({ dnet2: lease2 }), kernel(sourceRouted))).toEqual([]);
  });

  it('a renewal with another address moves the rule; one with another router replaces the default route', () => {
    const moved = learnedSourceOps(config({ dnet2 }), () => true, leases({ dnet2: { ...lease2, address: '198.51.100.160' } }), kernel(sourceRouted));
    expect(lines(moved)).toEqual([`rule del from 198.51.100.120/32 priority 3200 table ${T2}`, `rule add from 198.51.100.160/32 priority 3200 table ${T2}`]);
    const rerouted = learnedSourceOps(config({ dnet2 }), () => true, leases({ dnet2: { ...lease2, gateway: '198.51.100.2' } }), kernel(sourceRouted));
    expect(lines(rerouted)).toEqual([
      `route del 0.0.0.0/0 via 198.51.100.1 dev dnet2 table ${T2}`,
      `route replace 0.0.0.0/0 via 198.51.100.2 dev dnet2 table ${T2}`,
    ]);
  });

  it('a lost lease (the kernel flushed the table with the address): the rule goes', () => {
    const ops = learnedSourceOps(config({ dnet2 }), () => true, leases({}), kernel({ rules: sourceRouted.rules }));
    expect(lines(ops)).toEqual([`rule del from 198.51.100.120/32 priority 3200 table ${T2}`]);
  });

  it('the defaultRoute network gets no table; its leftovers (defaultRoute moved to it) are deleted', () => {
    const ops = learnedSourceOps(config({ dnet2: { ...dnet2, defaultRoute: true } }), () => true, leases({ dnet2: lease2 }), kernel(sourceRouted));
    expect(lines(ops)).toEqual([
      `route del 198.51.100.0/24 dev dnet2 table ${T2}`,
      `route del 0.0.0.0/0 via 198.51.100.1 dev dnet2 table ${T2}`,
      `rule del from 198.51.100.120/32 priority 3200 table ${T2}`,
    ]);
  });

  it("at lease time a static network's table is never touched, nor a device that does not exist", () => {
    const TS = sourceRouteTable('snet');
    const s = state([...bridge('snet', 'eth2')], { rules: [rule(TS, '203.0.113.0/24')] });
    const cfg = config({ snet: { nic: 'eth2', ipaddr: '203.0.113.10', prefix: 24, gateway: '203.0.113.1' }, dnet2 });
    expect(learnedSourceOps(cfg, (d) => d in s.links || d === 'eth1', leases({ dnet2: lease2 }), s)).toEqual([]);
  });

  it('a change keeps the table of a lease it keeps, and removes it with the network or on a static edit', () => {
    const running = config({ dnet1, dnet2 });
    const s = kernel(sourceRouted);
    const kept = diff(desiredKernel(running, running, () => true, leases({ dnet2: lease2 })), s);
    expect(kept).toEqual([]);
    // without the lease (a client the change restarts): the table goes, the next lease brings it back
    expect(lines(diff(desiredKernel(running, running, () => true), s))).toContain(`rule del from 198.51.100.120/32 priority 3200 table ${T2}`);
    const removed = config({ dnet2: { remove: true } }, running);
    expect(lines(diff(desiredKernel(removed, running, () => true, leases({ dnet2: lease2 })), s)))
      .toEqual(expect.arrayContaining([`rule del from 198.51.100.120/32 priority 3200 table ${T2}`, 'link del dev dnet2']));
    const statik = config({ dnet2: { nic: 'eth1', ipaddr: '198.51.100.20', prefix: 24 } }, running);
    const toStatic = lines(diff(desiredKernel(statik, running, () => true, leases({ dnet2: lease2 })), s));
    expect(toStatic).toEqual(expect.arrayContaining([
      `route del 198.51.100.0/24 dev dnet2 table ${T2}`, `route del 0.0.0.0/0 via 198.51.100.1 dev dnet2 table ${T2}`,
      `rule del from 198.51.100.120/32 priority 3200 table ${T2}`,
    ]));
  });

  it("a rollback leaves a DHCP client's default route to the client it restarts, and puts a static one back", () => {
    const main = (dev: string, gateway: string, protocol: string): KernelRoute => ({ family: 'inet', table: 'main', dst: 'default', gateway, dev, protocol, type: 'unicast' });
    // before: dnet1's learned default route; now: its client released the lease and the route went with it
    const before = kernel({ routes: [main('dnet1', '192.0.2.1', 'dhcp')] });
    const target = rollbackTarget(before, kernel(), ['dnet1', 'eth0']);
    expect(target.defaultRoutes.inet).toBeNull();
    expect(diff(target, kernel())).toEqual([]);
    // the client is back before the next look: its route stays
    expect(diff(target, before)).toEqual([]);
    const staticBefore = kernel({ routes: [main('dnet1', '192.0.2.1', 'boot')] });
    expect(lines(diff(rollbackTarget(staticBefore, kernel(), ['dnet1', 'eth0']), kernel()))).toEqual(['route replace 0.0.0.0/0 via 192.0.2.1 dev dnet1']);
  });
});
