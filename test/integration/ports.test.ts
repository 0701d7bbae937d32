/**
 * The link monitor and the port agent on a real kernel, driven from outside a namespace
 * (createIproute({ netns }) and `ip -n NS monitor`), without the daemon.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { createIproute, iprouteError, type Iproute } from '../../src/kernel/iproute.js';
import { LinkMonitor, type LinkEvent } from '../../src/kernel/monitor.js';
import { KernelView } from '../../src/kernel/view.js';
import { readKernelState } from '../../src/kernel/snapshot.js';
import type { HostConfig, Network } from '../../src/model/types.js';
import { PortAgent } from '../../src/ports/agent.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { ConnectivityTracker } from '../../src/apply/connectivity.js';
import { makeTransactions } from '../../src/apply/factory.js';
import { noSysctls } from '../../src/kernel/sysctl.js';
import { ConfigStore } from '../../src/store/config-store.js';
import { createNetns, createNetnsHost, deleteNetns } from '../helpers/netns.js';
import { features } from '../helpers/kernel-fixtures.js';

const log = pino({ level: process.env.HNP_DEBUG ? 'debug' : 'silent' });
const FEATURES = features();

function net(name: string, over: Partial<Network> = {}): Network {
  return {
    name, bridged: true, mtu: 1500, stp: false, ipv6: { addresses: [], autoconf: false }, defaultRoute: false,
    nameservers: [], bridgeOpts: {}, portIsolation: false, macTableManager: 'kernel', switch: 'legacy',
    bootproto: 'none', dhcpv6: false, ...over,
  };
}

let ns: string;
let ipr: Iproute;

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function flags(port: string) {
  const s = await readKernelState(ipr);
  const bp = s.links[port]?.bridgePort;
  return bp ? { isolated: bp.isolated, learning: bp.learning, flood: bp.flood } : undefined;
}

const staticFdb = async (master: string) =>
  (await readKernelState(ipr)).fdb.filter((e) => e.master === master && e.state === 'static' && e.vlan === undefined)
    .map((e) => `${e.mac} ${e.ifname}`).sort();

beforeAll(async () => {
  ns = await createNetns('hnp-');
  ipr = createIproute({ netns: ns });
  await ipr.ip(['-batch', '-'], {
    input: [
      'link add vmnet type bridge', 'link set vmnet up',
      'link add other type bridge', 'link set other up',
      'link add veth_0 type veth peer name veth_0b', 'link set veth_0 master vmnet up',
      ...[0, 1, 2].map((i) => `link add vnet${i} type veth peer name vnet${i}b`),
      'link set vnet0 master vmnet up', 'link set vnet1 master vmnet up',
      'link add foreign0 type veth peer name foreign0b', 'link set foreign0 master other up',
      '',
    ].join('\n'),
  });
});
afterAll(async () => {
  if (ns) await deleteNetns(ns);
});

describe('LinkMonitor', () => {
  it('is subscribed when start() resolves, reports joins and deletions, and listens to a shared view without owning it', async () => {
    const mon = new LinkMonitor({ log, netns: ns, debounceMs: 20 });
    const events: LinkEvent[] = [];
    let changes = 0;
    mon.onEvent((e) => events.push(e));
    mon.onChange(() => changes++);
    try {
      await mon.start();
      expect(mon.running).toBe(true);
      // made right after start(): seen, so a reconcile after start() misses nothing
      await ipr.ip(['link', 'set', 'vnet2', 'master', 'other']);
      await until('join event', async () => events.find((e) => e.name === 'vnet2' && e.master === 'other' && !e.deleted));
      await until('debounced change', async () => (changes > 0 ? true : undefined));
      await ipr.ip(['link', 'add', 'gone0', 'type', 'veth', 'peer', 'name', 'gone0b']);
      await ipr.ip(['link', 'del', 'gone0']);
      await until('deletion event', async () => events.find((e) => e.name === 'gone0' && e.deleted));
      await ipr.ip(['link', 'set', 'vnet2', 'nomaster']);
      await until('leave event', async () => events.find((e) => e.name === 'vnet2' && e.master === undefined));
    } finally {
      await mon.stop();
    }
    expect(mon.running).toBe(false);

    const view = new KernelView({ log, netns: ns });
    await view.start();
    const shared = new LinkMonitor({ log, view, debounceMs: 20 });
    const seen: LinkEvent[] = [];
    shared.onEvent((e) => seen.push(e));
    try {
      await shared.start();
      await ipr.ip(['link', 'set', 'vnet2', 'master', 'other']);
      await until('event through the shared view', async () => seen.find((e) => e.name === 'vnet2' && e.master === 'other'));
      await shared.stop();
      expect(view.running).toBe(true);
      await ipr.ip(['link', 'set', 'vnet2', 'nomaster']);
      expect((await view.get()).links.vnet2?.master).toBeUndefined();
    } finally {
      await view.stop();
    }
  });
});

describe('PortAgent on a real kernel', () => {
  let config: HostConfig;
  let macs: Map<string, string[]>;
  let agent: PortAgent;

  beforeAll(async () => {
    config = { networks: { vmnet: net('vmnet', { nic: 'veth_0', portIsolation: true }) }, bonds: {} };
    macs = new Map();
    agent = new PortAgent({ ipr, config: () => config, guestMacs: async () => macs, features: FEATURES, log, periodMs: 0 });
    await ipr.ip(['link', 'set', 'foreign0', 'type', 'bridge_slave', 'learning', 'off']);
    await agent.start();
  });
  afterAll(async () => {
    await agent?.stop();
  });

  it('at start isolates every port of the managed bridge but the uplink; other bridges untouched', async () => {
    expect(await flags('veth_0')).toEqual({ isolated: false, learning: true, flood: true });
    expect(await flags('vnet0')).toEqual({ isolated: true, learning: true, flood: true });
    expect(await flags('vnet1')).toEqual({ isolated: true, learning: true, flood: true });
    expect(await flags('foreign0')).toEqual({ isolated: false, learning: false, flood: true });
  });

  it('a second reconcile changes nothing', async () => {
    const r = await agent.reconcile('test');
    expect(r).toMatchObject({ ipLines: 0, bridgeLines: 0, ports: 3, errors: [] });
  });

  it('a port that joins is isolated by the monitor path (no periodic pass runs in this test)', async () => {
    await ipr.ip(['link', 'set', 'vnet2', 'master', 'vmnet', 'up']);
    await until('vnet2 isolated', async () => ((await flags('vnet2'))?.isolated ? true : undefined));
  });

  it('a port removed and added again is isolated again; a flag changed behind its back is restored', async () => {
    await ipr.ip(['link', 'set', 'vnet1', 'nomaster']);
    await ipr.ip(['link', 'set', 'vnet1', 'master', 'vmnet']);
    await until('vnet1 isolated again', async () => ((await flags('vnet1'))?.isolated ? true : undefined));
    await ipr.ip(['link', 'set', 'vnet0', 'type', 'bridge_slave', 'isolated', 'off']);
    await until('vnet0 restored', async () => ((await flags('vnet0'))?.isolated ? true : undefined));
  });

  it('macTableManager libvirt: guest entries, learning and flood off; unknown guest keeps learning, with a warning', async () => {
    config = { networks: { vmnet: net('vmnet', { nic: 'veth_0', portIsolation: true, macTableManager: 'libvirt' }) }, bonds: {} };
    macs = new Map([['vnet0', ['52:54:00:10:00:01']], ['vnet1', ['52:54:00:10:00:02', '52:54:00:10:00:03']]]);
    const r = await agent.reconcile('test');
    expect(r.errors).toEqual([]);
    expect(r.warnings.map((w) => w.port)).toEqual(['vnet2']);
    expect(await flags('vnet0')).toEqual({ isolated: true, learning: false, flood: false });
    expect(await flags('vnet1')).toEqual({ isolated: true, learning: false, flood: false });
    expect(await flags('vnet2')).toEqual({ isolated: true, learning: true, flood: true });
    expect(await flags('veth_0')).toEqual({ isolated: false, learning: true, flood: true });
    expect(await staticFdb('vmnet')).toEqual(['52:54:00:10:00:01 vnet0', '52:54:00:10:00:02 vnet1', '52:54:00:10:00:03 vnet1']);

    // the guest behind vnet1 lost an interface: its entry goes, the other stays
    macs = new Map([['vnet0', ['52:54:00:10:00:01']], ['vnet1', ['52:54:00:10:00:02']]]);
    await agent.reconcile('test');
    expect(await staticFdb('vmnet')).toEqual(['52:54:00:10:00:01 vnet0', '52:54:00:10:00:02 vnet1']);
    // libvirt writing the same entry (its own type='network' guests) does not disturb anything
    await ipr.bridge(['fdb', 'replace', '52:54:00:10:00:01', 'dev', 'vnet0', 'master', 'static']);
    expect((await agent.reconcile('test')).bridgeLines).toBe(0);
  });
});

describe('PortAgent pause/resume', () => {
  it('a port that joins while paused is put in policy on resume', async () => {
    const config: HostConfig = { networks: { vmnet: net('vmnet', { nic: 'veth_0', portIsolation: true }) }, bonds: {} };
    const monitor = new LinkMonitor({ log, netns: ns });
    const agent = new PortAgent({ ipr, config: () => config, guestMacs: async () => new Map(), features: FEATURES, log, periodMs: 0, monitor });
    await agent.start();
    try {
      await agent.pause();
      // paused means the monitor process has ended and no periodic pass exists: nothing can
      // react to the join below until resume(), so there is nothing to wait for
      expect(monitor.running).toBe(false);
      await ipr.ip(['link', 'add', 'vnet9', 'type', 'veth', 'peer', 'name', 'vnet9b']);
      await ipr.ip(['link', 'set', 'vnet9', 'master', 'vmnet']);
      expect((await flags('vnet9'))?.isolated).toBe(false);
      await agent.resume();
      await until('vnet9 isolated after resume', async () => ((await flags('vnet9'))?.isolated ? true : undefined));
    } finally {
      await agent.stop();
    }
  });
});

/**
 * A change and the port agent wired as the daemon wires them (the transaction's watch pauses and
 * resumes the agent), in a namespace of their own. `hold` picks the change's ip call that stops
 * half way until release(); `fail` makes a call fail after it ran (to force a rollback).
 */
async function changeRig(opts: { hold: (args: readonly string[]) => boolean; fail?: (args: readonly string[]) => boolean }) {
  const host = await createNetnsHost({ prefix: 'hnq-', nics: 2 });
  const dir = mkdtempSync(join(tmpdir(), 'hnq-'));
  // the agent's log, to wait for the lines that say a pass is held and has run
  const lines: Record<string, unknown>[] = [];
  const waiters = new Set<() => void>();
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
      for (const w of waiters) w();
      done();
    },
  });
  /** the first line (by its index in the log) `pred` accepts, now or once it is logged */
  const logged = (pred: (l: Record<string, unknown>, index: number) => boolean) => new Promise<Record<string, unknown>>((resolve) => {
    const check = () => {
      const hit = lines.find(pred);
      if (hit) {
        waiters.delete(check);
        resolve(hit);
      }
    };
    waiters.add(check);
    check();
  });
  const nsIpr = createIproute({ netns: host.ns });
  // every command the agent runs, with whether the held call was running at the time
  let holding = false;
  const agentCalls: { args: string; held: boolean }[] = [];
  const agentIpr = {
    netns: host.ns,
    ip: (args: readonly string[], o?: { input?: string }) => (agentCalls.push({ args: args.join(' '), held: holding }), nsIpr.ip(args, o)),
    bridge: (args: readonly string[], o?: { input?: string }) => (agentCalls.push({ args: args.join(' '), held: holding }), nsIpr.bridge(args, o)),
  };
  let reachedHold: () => void = () => undefined;
  const reached = new Promise<void>((r) => {
    reachedHold = r;
  });
  let release: () => void = () => undefined;
  const released = new Promise<void>((r) => {
    release = r;
  });
  const txIpr = {
    netns: host.ns,
    ip: async (args: readonly string[], o?: { input?: string }) => {
      if (!opts.hold(args)) {
        const out = await nsIpr.ip(args, o);
        if (opts.fail?.(args)) throw iprouteError(['ip', ...args], 2, 'injected failure after the batch ran');
        return out;
      }
      holding = true;
      try {
        reachedHold();
        await released;
        return await nsIpr.ip(args, o);
      } finally {
        holding = false;
      }
    },
    bridge: (args: readonly string[], o?: { input?: string }) => nsIpr.bridge(args, o),
  };
  // where the log stood when the change last paused the agent
  let pausedAt = 0;
  const store = await ConfigStore.open(join(dir, 'state'));
  const agent = new PortAgent({
    ipr: agentIpr, config: () => store.running(), guestMacs: async () => new Map(), features: FEATURES,
    log: pino({ level: 'debug' }, sink), periodMs: 20,
  });
  const tx = await makeTransactions({
    stateDir: join(dir, 'state'), fakeNics: ['veth_*'], resolvConf: join(dir, 'resolv.conf'),
    log, ipr: txIpr, store, connectivity: new ConnectivityTracker(),
    // the namespace is driven from outside: its /proc/sys is not this process's
    sysctls: noSysctls,
    watch: {
      pause: () => {
        pausedAt = lines.length;
        return agent.pause();
      },
      resume: () => void agent.resume(),
    },
  });
  await agent.start();
  return {
    agent, tx, agentCalls, reached, release, logged, host, pausedAt: () => pausedAt,
    setup: () => tx.setup(
      { networks: { vmq: { nic: 'veth_0', portIsolation: true } }, bondings: {}, options: { connectivityCheck: false } },
      { requestId: 1, peer: 'test', log },
    ),
    async cleanup() {
      release();
      await agent.stop();
      await host.destroy();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const hasReason = (l: Record<string, unknown>, events: string[], reason: string) =>
  events.includes(String(l.event)) && Array.isArray(l.reasons) && l.reasons.includes(reason);

describe('the port agent and a change\'s kernel phases', () => {
  it('a timer-triggered pass waits for the change\'s batch, then runs', async () => {
    const rig = await changeRig({ hold: (args) => args.includes('-batch') && !args.includes('-force') });
    try {
      const setup = rig.setup();
      await rig.reached;
      const runsAtBatch = rig.agent.runs;
      // the safety-net timer fires during the batch: its pass waits
      await rig.logged((l) => hasReason(l, ['ports-held'], 'periodic'));
      expect(rig.agent.runs).toBe(runsAtBatch);
      rig.release();
      await setup;
      // after the change, a pass that includes the held timer request runs
      await rig.logged((l) => hasReason(l, ['ports-reconciled', 'ports-in-policy'], 'periodic'));
      expect(rig.agent.runs).toBeGreaterThan(runsAtBatch);
      // the agent reads the kernel in-process now: its commands are only its changes. A port
      // joining the new bridge makes it change something, through the recorded ipr
      await rig.host.ip(['link', 'add', 'vq0', 'type', 'veth', 'peer', 'name', 'vq0b']);
      await rig.host.ip(['link', 'set', 'vq0', 'master', 'vmq']);
      await until('vq0 isolated', async () => ((await readKernelState({ netns: rig.host.ns })).links.vq0?.bridgePort?.isolated ? true : undefined));
      expect(rig.agentCalls.length).toBeGreaterThan(0);
      expect(rig.agentCalls.filter((c) => c.held)).toEqual([]);
    } finally {
      await rig.cleanup();
    }
  });

  it('and waits for a rollback too', async () => {
    const rig = await changeRig({
      fail: (args) => args.includes('-batch') && !args.includes('-force'),
      hold: (args) => args.includes('-batch') && args.includes('-force'),
    });
    try {
      const setup = rig.setup().catch((e: unknown) => e);
      await rig.reached;
      // a pass asked for since the rollback paused the agent waits: the one resume() started
      // after the refused batch, or else the timer's (passes coalesce: a held pass logs its own
      // reasons, the requests that come while it waits join the next one)
      const paused = rig.pausedAt();
      await rig.logged((l, i) => i >= paused && l.event === 'ports-held');
      rig.release();
      expect(await setup).toMatchObject({ message: expect.stringContaining('injected failure') });
      await rig.logged((l) => hasReason(l, ['ports-reconciled', 'ports-in-policy'], 'resumed'));
      expect(rig.agentCalls.filter((c) => c.held)).toEqual([]);
      // rolled back: the bridge the change made is gone
      expect(await rig.host.ip(['-j', 'link', 'show'])).not.toContain('"vmq"');
    } finally {
      await rig.cleanup();
    }
  });
});
