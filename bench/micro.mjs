#!/usr/bin/env node
/**
 * The timings the tests used to assert (issue 10 moved them here: a loaded machine is not a
 * bug, so tests wait for events and only this prints durations):
 *  - parsing a 1001-link snapshot (the five iproute2 JSON dumps), median of 11;
 *  - planning the port policy of 1000 guest ports on one bridge, median of 11;
 *  - a port joining an isolating bridge until the port agent's monitor path has isolated it.
 *
 * Usage: npm run build && node bench/micro.mjs (or npm run bench:micro). Needs root for the
 * namespace; deletes what it creates.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = (p) => import(path.join(root, 'dist', p));
const { createIproute } = await dist('kernel/iproute.js');
const { readDumps } = await dist('kernel/snapshot.js');
const { parseJsonDump, parseKernelState } = await dist('kernel/parse.js');
const { readKernelState } = await dist('kernel/snapshot.js');
const { planPorts } = await dist('ports/policy.js');
const { PortAgent } = await dist('ports/agent.js');
const { dict } = await dist('model/dict.js');

const ns = `hnm-bench-${process.pid}`;
const ip = (args, input) => execFileSync('ip', args, { input, stdio: ['pipe', 'pipe', 'inherit'], maxBuffer: 1 << 30 }).toString();
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const timed = (fn) => {
  const t = performance.now();
  fn();
  return performance.now() - t;
};

function net(name, over) {
  return {
    name, bridged: true, mtu: 1500, stp: false, ipv6: { addresses: [], autoconf: false }, defaultRoute: false, nameservers: [],
    bridgeOpts: {}, portIsolation: true, macTableManager: 'libvirt', switch: 'legacy', bootproto: 'none', dhcpv6: false, ...over,
  };
}
const FEATURES = { bonding: false, vlan: false, vlanFiltering: false, portIsolation: true };

ip(['netns', 'add', ns]);
try {
  // 1) parse: the same 1001 links as test/integration/snapshot.test.ts
  const lines = [];
  for (let i = 0; i < 200; i++) lines.push(`link add br${i} up type bridge`, `addr add 10.0.${i}.1/24 dev br${i}`);
  for (let i = 0; i < 400; i++) lines.push(`link add veth_${i} up master br${i % 200} type veth peer name vp_${i}`);
  ip(['-n', ns, '-batch', '-'], lines.join('\n') + '\n');
  const ipr = createIproute({ netns: ns });
  const text = await readDumps(ipr);
  const parse = Array.from({ length: 11 }, () => timed(() => parseKernelState({
    link: parseJsonDump(text.link), addr: parseJsonDump(text.addr), route4: parseJsonDump(text.route4),
    route6: parseJsonDump(text.route6), fdb: parseJsonDump(text.fdb),
  }, 0)));
  const links = Object.keys((await readKernelState(ipr)).links).length;
  console.log(`parse snapshot (${links} links): median ${median(parse).toFixed(1)} ms, max ${Math.max(...parse).toFixed(1)} ms`);

  // 2) plan 1000 guest ports (pure)
  const link = (name, extra) => ({ ifindex: 1, name, kind: 'veth', mtu: 1500, address: '02:00:00:00:00:01', up: true, operstate: 'UP', promiscuity: 0, ...extra });
  const port = (name) => link(name, { master: 'vmnet', slaveKind: 'bridge', bridgePort: { isolated: false, learning: true, flood: true, mcastFlood: true, state: 'forwarding' } });
  const all = [link('vmnet', { kind: 'bridge', bridge: { stp: false, vlanFiltering: false, opts: {} } }), port('eth0')];
  const macs = new Map();
  for (let i = 0; i < 1000; i++) {
    all.push(port(`vnet${i}`));
    macs.set(`vnet${i}`, [`52:54:00:00:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`]);
  }
  const state = { links: dict(all.map((l) => [l.name, l])), addresses: [], routes: [], fdb: [], takenAt: 0 };
  const config = { networks: dict([['vmnet', net('vmnet', { nic: 'eth0' })]]), bonds: dict() };
  const plan = Array.from({ length: 11 }, () => timed(() => planPorts({ state, config, guestMacs: macs, features: FEATURES })));
  console.log(`plan 1000 guest ports: median ${median(plan).toFixed(1)} ms, max ${Math.max(...plan).toFixed(1)} ms`);

  // 3) a port joining an isolating bridge, until the agent's monitor path isolated it
  ip(['-n', ns, '-batch', '-'], 'link add vmnet up type bridge\nlink add uplink0 up master vmnet type veth peer name uplink0p\nlink add vnetj up type veth peer name vnetjp\n');
  const iso = { networks: dict([['vmnet', net('vmnet', { nic: 'uplink0', macTableManager: 'kernel' })]]), bonds: dict() };
  const agent = new PortAgent({ ipr, config: () => iso, guestMacs: async () => new Map(), features: FEATURES, log: pino({ level: 'silent' }), periodMs: 0 });
  await agent.start();
  const rounds = [];
  for (let r = 0; r < 5; r++) {
    const t = performance.now();
    ip(['-n', ns, 'link', 'set', 'vnetj', 'master', 'vmnet']);
    for (;;) {
      const s = await readKernelState(ipr);
      if (s.links.vnetj?.bridgePort?.isolated) break;
      if (performance.now() - t > 10_000) throw new Error('port was not isolated within 10 s');
    }
    rounds.push(performance.now() - t);
    ip(['-n', ns, 'link', 'set', 'vnetj', 'nomaster']);
  }
  await agent.stop();
  console.log(`port joins an isolating bridge -> isolated (incl. one snapshot to see it): median ${median(rounds).toFixed(0)} ms, max ${Math.max(...rounds).toFixed(0)} ms`);
} finally {
  ip(['netns', 'del', ns]);
}
