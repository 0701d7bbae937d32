#!/usr/bin/env node
/**
 * Port agent at scale: N ports (default 1000; a bridge takes at most 1023) on one bridge of a
 * network with portIsolation and macTableManager 'libvirt', one guest MAC per port.
 *
 *  - raw:   one `bridge -batch` (N static FDB entries) + one `ip -batch` (N flag lines), the
 *           least any tool can do, on a fresh namespace;
 *  - agent: PortAgent.reconcile() on an identical fresh namespace, reading a kernel view started
 *           before (the daemon's is long-lived): a barrier + plan + the same two batches;
 *  - agent, in policy: a second reconcile with nothing to do (the periodic safety net's cost).
 * BENCH_ROUNDS rounds (default 3) on fresh namespaces; the medians are printed.
 *
 * Usage: npm run build && node bench/ports.mjs [N]. Needs root; deletes what it creates.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { PortAgent } = await import(path.join(root, 'dist/ports/agent.js'));
const { createIproute } = await import(path.join(root, 'dist/kernel/iproute.js'));
const { KernelView } = await import(path.join(root, 'dist/kernel/view.js'));

const N = Number(process.argv[2] ?? 1000);
if (!(N > 0 && N <= 1022)) throw new Error('N must be 1..1022 (a bridge takes at most 1023 ports, one is the uplink)');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const tag = `hnp-bench-${process.pid}`;
const created = [];
const ip = (args, input) => execFileSync('ip', args, { input, stdio: ['pipe', 'pipe', 'inherit'], maxBuffer: 1 << 30 }).toString();
const bridgeCmd = (args, input) => execFileSync('bridge', args, { input, stdio: ['pipe', 'pipe', 'inherit'], maxBuffer: 1 << 30 }).toString();
const now = () => process.hrtime.bigint();
const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;

const mac = (i) => `52:54:00:00:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;

/** a namespace with bridge vmnet, uplink veth_0 and N ports vnetI (peers in a second namespace) */
function build(name) {
  ip(['netns', 'add', name]);
  created.push(name);
  ip(['netns', 'add', `${name}-p`]);
  created.push(`${name}-p`);
  let s = 'link add vmnet type bridge\nlink set vmnet up\n';
  s += `link add veth_0 type veth peer name up_0 netns ${name}-p\nlink set veth_0 master vmnet up\n`;
  for (let i = 0; i < N; i++) s += `link add vnet${i} type veth peer name g_${i} netns ${name}-p\nlink set vnet${i} master vmnet up\n`;
  ip(['-n', name, '-batch', '-'], s);
}

const network = {
  name: 'vmnet', bridged: true, nic: 'veth_0', mtu: 1500, stp: false, ipv6: { addresses: [], autoconf: false },
  defaultRoute: false, nameservers: [], bridgeOpts: {}, portIsolation: true, macTableManager: 'libvirt',
  switch: 'legacy', bootproto: 'none', dhcpv6: false,
};
const macs = new Map(Array.from({ length: N }, (_, i) => [`vnet${i}`, [mac(i)]]));

let fdb = '';
let flags = '';
for (let i = 0; i < N; i++) {
  fdb += `fdb replace ${mac(i)} dev vnet${i} master static\n`;
  flags += `link set dev vnet${i} type bridge_slave isolated on learning off flood off\n`;
}

/** One round: raw and the agent on two fresh, identical namespaces, one after the other. */
async function round(k) {
  const a = `${tag}-raw${k}`;
  const b = `${tag}-agent${k}`;
  build(a);
  build(b);
  let t0 = now();
  bridgeCmd(['-n', a, '-batch', '-'], fdb);
  ip(['-n', a, '-batch', '-'], flags);
  const raw = ms(t0);

  const view = new KernelView({ log: pino({ level: 'silent' }), netns: b });
  await view.start();
  const agent = new PortAgent({
    ipr: createIproute({ netns: b }),
    view,
    config: () => ({ networks: { vmnet: network }, bonds: {} }),
    guestMacs: async () => macs,
    features: { bonding: false, vlan: false, vlanFiltering: false, portIsolation: true },
    log: pino({ level: 'silent' }),
    monitor: false,
    periodMs: 0,
  });
  t0 = now();
  const r = await agent.reconcile('bench');
  const full = ms(t0);
  t0 = now();
  const again = await agent.reconcile('bench');
  const noop = ms(t0);
  await view.stop();

  if (r.ipLines !== N || r.bridgeLines !== N || r.errors.length) throw new Error(`unexpected reconcile: ${JSON.stringify({ ...r, warnings: r.warnings.length })}`);
  if (again.ipLines + again.bridgeLines !== 0) throw new Error('second reconcile was not a no-op');
  // the agent's result must equal the raw one
  const pick = (ns) => JSON.parse(ip(['-n', ns, '-j', '-d', 'link', 'show', 'master', 'vmnet']))
    .map((l) => `${l.ifname} ${l.linkinfo.info_slave_data.isolated} ${l.linkinfo.info_slave_data.learning} ${l.linkinfo.info_slave_data.flood}`).sort().join('\n');
  if (pick(a) !== pick(b)) throw new Error('agent and raw batches left different port flags');
  for (const ns of [a, `${a}-p`, b, `${b}-p`]) ip(['netns', 'del', ns]);
  created.splice(0, created.length, ...created.filter((c) => !c.startsWith(a) && !c.startsWith(b)));
  return { raw, full, noop, lines: r };
}

try {
  const rounds = [];
  for (let k = 0; k < ROUNDS; k++) rounds.push(await round(k));
  const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
  const raw = median(rounds.map((r) => r.raw));
  const full = median(rounds.map((r) => r.full));
  const noop = median(rounds.map((r) => r.noop));
  const pad = (s) => String(s).padEnd(44);
  console.log(`ports on one bridge: ${N} (portIsolation + macTableManager libvirt, one guest MAC each), medians of ${ROUNDS} round(s)`);
  console.log(`${pad('raw bridge -batch + ip -batch')}${raw.toFixed(0)} ms`);
  console.log(`${pad('agent full reconcile (view + 2 batches)')}${full.toFixed(0)} ms   (${N} flag lines, ${N} FDB lines)`);
  console.log(`${pad('ratio agent / raw')}${(full / raw).toFixed(2)}   (rounds: ${rounds.map((r) => `${r.raw.toFixed(0)}/${r.full.toFixed(0)}`).join(', ')} ms raw/agent)`);
  console.log(`${pad('agent reconcile, already in policy')}${noop.toFixed(0)} ms`);
} finally {
  for (const ns of created.reverse()) {
    try {
      ip(['netns', 'del', ns]);
    } catch {
      /* already gone */
    }
  }
}
