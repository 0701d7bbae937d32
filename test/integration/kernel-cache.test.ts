/**
 * The event-invalidated kernel view on a real kernel: no dump while nothing changes, and a
 * change made by anyone (here: by hand, behind the daemon) is seen by the next read.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { KernelCache } from '../../src/kernel/cache.js';
import { createIproute } from '../../src/kernel/iproute.js';
import { readKernelState, type SnapshotScope } from '../../src/kernel/snapshot.js';

const ns = `hnt-cache-${randomBytes(3).toString('hex')}`;
const ipr = createIproute({ netns: ns });
const ip = (...a: string[]) => execFileSync('ip', ['-n', ns, ...a]);
let reads = 0;
const cache = new KernelCache(ipr, pino({ level: 'silent' }), {
  graceMs: 200,
  read: (scope: SnapshotScope) => {
    reads++;
    return readKernelState(ipr, scope);
  },
});
/** The monitors are up and the grace time passed: two reads in a row are served from one snapshot. */
const trusted = () => vi.waitFor(async () => {
  const a = await cache.get();
  expect(await cache.get()).toBe(a);
}, { timeout: 10_000, interval: 20 });

beforeAll(async () => {
  execFileSync('ip', ['netns', 'add', ns]);
  ip('link', 'add', 'veth_0', 'type', 'veth', 'peer', 'name', 'p0');
  cache.start();
  await trusted();
});
afterAll(async () => {
  await cache.stop();
  execFileSync('ip', ['netns', 'del', ns]);
});

describe('KernelCache', () => {
  it('serves the same snapshot while nothing changes', async () => {
    const first = await cache.get();
    const n = reads;
    expect(await cache.get()).toBe(first);
    expect(await cache.get()).toBe(first);
    expect(reads).toBe(n);
  });

  it.each<[string, string[][], (s: Awaited<ReturnType<typeof cache.get>>) => boolean]>([
    ['a new link', [['link', 'add', 'br9', 'type', 'bridge']], (s) => s.links.br9 !== undefined],
    ['an MTU', [['link', 'set', 'dev', 'veth_0', 'mtu', '1400']], (s) => s.links.veth_0?.mtu === 1400],
    ['a master', [['link', 'set', 'dev', 'veth_0', 'master', 'br9']], (s) => s.links.veth_0?.master === 'br9'],
    ['an address', [['address', 'add', '192.0.2.7/24', 'dev', 'br9'], ['link', 'set', 'br9', 'up']], (s) => s.addresses.some((a) => a.local === '192.0.2.7')],
    ['a route', [['route', 'add', '198.51.100.0/24', 'via', '192.0.2.1', 'dev', 'br9']], (s) => s.routes.some((r) => r.dst === '198.51.100.0/24')],
    // the kernel notifies a port flag change only for a port that is up (netdev_state_change)
    ['a bridge port flag', [['link', 'set', 'dev', 'veth_0', 'up'], ['link', 'set', 'dev', 'veth_0', 'type', 'bridge_slave', 'isolated', 'on']], (s) => s.links.veth_0?.bridgePort?.isolated === true],
    ['a static FDB entry', [['__bridge', 'fdb', 'add', '02:00:00:00:00:09', 'dev', 'veth_0', 'master', 'static']], (s) => s.fdb.some((f) => f.mac === '02:00:00:00:00:09')],
  ])('sees %s changed behind its back', async (_what, cmds, seen) => {
    await cache.get();
    for (const c of cmds) {
      if (c[0] === '__bridge') execFileSync('bridge', ['-n', ns, ...c.slice(1)]);
      else ip(...c);
    }
    // the monitor delivers within milliseconds; poll briefly rather than sleep blindly
    const deadline = Date.now() + 2000;
    let state = await cache.get();
    while (!seen(state) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
      state = await cache.get();
    }
    expect(seen(state)).toBe(true);
  });

  it('drops the cached view when told that something changed out of the monitors\' sight', async () => {
    const before = await cache.get();
    cache.invalidate();
    expect(await cache.get()).not.toBe(before);
  });

  it('reads fresh while a monitor is down', async () => {
    await cache.stop();
    const n = reads;
    await cache.get();
    await cache.get();
    expect(reads).toBe(n + 2);
    cache.start();
    await trusted();
  });
});
