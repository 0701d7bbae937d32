/**
 * The core loop on a real kernel, without the daemon: plan against a snapshot, run the batch,
 * and a fresh snapshot must leave nothing to do.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIproute } from '../../src/kernel/iproute.js';
import { readKernelState } from '../../src/kernel/snapshot.js';
import { executePlan } from '../../src/kernel/executor.js';
import { canonicalizeRequest } from '../../src/validate/request.js';
import { mergeRequest } from '../../src/model/merge.js';
import { emptyConfig, type HostConfig } from '../../src/model/types.js';
import { desiredKernel } from '../../src/plan/desired.js';
import { diff } from '../../src/plan/diff.js';

const ns = `hnt-plan-${randomBytes(3).toString('hex')}`;
const ipr = createIproute({ netns: ns });
const run = (...a: string[]) => execFileSync(a[0]!, a.slice(1));

beforeAll(() => {
  run('ip', 'netns', 'add', ns);
  for (const i of [0, 1, 2]) run('ip', '-n', ns, 'link', 'add', `veth_${i}`, 'type', 'veth', 'peer', 'name', `peer_${i}`);
});
afterAll(() => run('ip', 'netns', 'del', ns));

async function apply(running: HostConfig, networks: Record<string, Record<string, unknown>>) {
  const req = canonicalizeRequest({ networks, bondings: {}, options: {} });
  const desired = mergeRequest(running, req, new Set());
  const before = await readKernelState(ipr);
  const want = desiredKernel(desired, running, (d) => d in before.links);
  const ops = diff(want, before);
  await executePlan(ipr, ops);
  const after = await readKernelState(ipr);
  return { desired, ops, remaining: diff(want, after), after };
}

describe('plan → execute → verify on a real kernel', () => {
  let running = emptyConfig();

  it('creates bridged, bridgeless and isolated networks and verifies clean', async () => {
    const r = await apply(running, {
      net1: { nic: 'veth_0', ipaddr: '192.0.2.10', prefix: 24, gateway: '192.0.2.1', defaultRoute: true, mtu: 1400, ipv6addr: '2001:db8::10/64' },
      iso: {},
      flat: { nic: 'veth_1', bridged: false, ipaddr: '198.51.100.2', netmask: '255.255.255.0' },
    });
    expect(r.remaining).toEqual([]);
    expect(r.after.links.net1?.kind).toBe('bridge');
    expect(r.after.links.net1?.mtu).toBe(1400);
    expect(r.after.links.veth_0?.master).toBe('net1');
    expect(r.after.links.iso?.kind).toBe('bridge');
    const defaults = r.after.routes.filter((x) => x.dst === 'default' && x.family === 'inet');
    expect(defaults).toEqual([expect.objectContaining({ gateway: '192.0.2.1', dev: 'net1' })]);
    running = r.desired;
  });

  it('the same request again plans nothing', async () => {
    const r = await apply(running, {
      net1: { nic: 'veth_0', ipaddr: '192.0.2.10', prefix: 24, gateway: '192.0.2.1', defaultRoute: true, mtu: 1400, ipv6addr: '2001:db8::10/64' },
    });
    expect(r.ops).toEqual([]);
  });

  it("a port with a smaller MTU joining later (a guest's tap) does not lower the bridge's MTU", async () => {
    // the plan sets a new bridge's MTU in the message that brings it up: the kernel must still
    // count it as set by the user, or it follows the smallest port
    expect((await readKernelState(ipr)).links.net1?.mtu).toBe(1400);
    run('ip', '-n', ns, 'link', 'set', 'veth_2', 'mtu', '1300', 'master', 'net1');
    try {
      expect((await readKernelState(ipr)).links.net1?.mtu).toBe(1400);
    } finally {
      run('ip', '-n', ns, 'link', 'set', 'veth_2', 'nomaster', 'mtu', '1500');
    }
  });

  it('moves a network to another NIC and changes MTU and address in place', async () => {
    const before = await readKernelState(ipr);
    const r = await apply(running, {
      net1: { nic: 'veth_2', ipaddr: '192.0.2.11', prefix: 24, gateway: '192.0.2.1', defaultRoute: true, mtu: 1500 },
    });
    expect(r.remaining).toEqual([]);
    expect(r.ops.some((o) => o.op === 'del' || o.op === 'add-bridge')).toBe(false);
    expect(r.after.links.net1?.ifindex).toBe(before.links.net1?.ifindex);
    expect(r.after.links.veth_2?.master).toBe('net1');
    expect(r.after.links.veth_0?.master).toBeUndefined();
    expect(r.after.links.veth_0?.mtu).toBe(1500);
    running = r.desired;
  });

  it('removes networks and releases their NICs', async () => {
    const r = await apply(running, { net1: { remove: true }, iso: { remove: true }, flat: { remove: true } });
    expect(r.remaining).toEqual([]);
    expect(r.after.links.net1).toBeUndefined();
    expect(r.after.links.iso).toBeUndefined();
    expect(r.after.addresses.filter((a) => a.ifname === 'veth_1' && a.family === 'inet')).toEqual([]);
    expect(r.after.routes.filter((x) => x.dst === 'default')).toEqual([]);
  });
});
