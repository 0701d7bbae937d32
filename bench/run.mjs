#!/usr/bin/env node
/**
 * npm run bench: hostnetd against raw iproute2, in fresh namespaces, in the same run.
 *
 *  1. setupNetworks: N bridged networks, each on its own veth NIC with an address, in one request
 *     (libvirt off, no connectivity check: the figure is hostnetd's own), against one raw
 *     `ip -batch` that builds the same kernel objects; then an identical second request (right
 *     after), 21 more once the host is quiet (settled: their median), and the removal of all.
 *  2. getNetworkCapabilities latency (median, p95) with those networks in place: right after the
 *     change (the kernel still sends its events) and once the host is quiet.
 *
 * Each size runs BENCH_ROUNDS rounds (default 3), each in fresh namespaces with a fresh daemon,
 * raw and hostnetd one after the other; the table shows the medians of the rounds.
 *
 * Usage: node bench/run.mjs [N ...]   (default 100 500 1000). Needs root; deletes what it creates.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from './rpc.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const sizes = process.argv.slice(2).map(Number).filter((n) => n > 0);
const Ns = sizes.length ? sizes : [100, 500, 1000];
const tag = `hnb-${process.pid}`;
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const created = [];

const ip = (args, input) => execFileSync('ip', args, { input, stdio: ['pipe', 'pipe', 'inherit'], maxBuffer: 1 << 30 }).toString();
const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;
const now = () => process.hrtime.bigint();

function namespaceWithNics(name, n) {
  ip(['netns', 'add', name]);
  created.push(name);
  ip(['netns', 'add', `${name}-sw`]);
  created.push(`${name}-sw`);
  let script = '';
  for (let i = 0; i < n; i++) script += `link add veth_${i} type veth peer name p_${i} netns ${name}-sw\n`;
  ip(['-n', name, '-batch', '-'], script);
}

const addr = (i) => `10.${(i >> 8) & 255}.${i & 255}.1/24`;

function rawScript(n) {
  let s = '';
  for (let i = 0; i < n; i++) {
    s += `link add name net${i} type bridge stp_state 0\nlink set dev veth_${i} master net${i}\n`;
    s += `link set dev veth_${i} up\nlink set dev net${i} up\naddress add ${addr(i)} dev net${i}\n`;
  }
  return s;
}

async function startDaemon(ns, dir) {
  const sock = path.join(dir, 'run', 'hostnetd.sock');
  // BENCH_NODE_ARGS: extra node flags for the daemon, e.g. '--cpu-prof --cpu-prof-dir=/tmp/prof'
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const proc = spawn('ip', ['netns', 'exec', ns, process.execPath, ...nodeArgs, path.join(root, 'dist/daemon/main.js'),
    '--state-dir', path.join(dir, 'state'), '--run-dir', path.join(dir, 'run'), '--listen', `unix:${sock}`,
    '--resolv-conf', path.join(dir, 'resolv.conf'), '--libvirt-uri', 'none', '--log-level', process.env.BENCH_LOG ?? 'warn'], { stdio: ['ignore', process.env.BENCH_LOG ? 'inherit' : 'ignore', 'inherit'] });
  for (let i = 0; i < 200; i++) {
    try {
      return { proc, client: await connect(sock) };
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error('daemon did not start');
}


function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function benchSize(n) {
  const rawNs = `${tag}-raw${n}`;
  const hostNs = `${tag}-hn${n}`;
  namespaceWithNics(rawNs, n);
  namespaceWithNics(hostNs, n);

  let t0 = now();
  ip(['-n', rawNs, '-batch', '-'], rawScript(n));
  const raw = ms(t0);
  let removeScript = '';
  for (let i = 0; i < n; i++) removeScript += `link set dev veth_${i} nomaster\nlink del dev net${i}\n`;
  t0 = now();
  ip(['-n', rawNs, '-batch', '-'], removeScript);
  const rawRemove = ms(t0);

  const dir = mkdtempSync(path.join(tmpdir(), 'hostnetd-bench-'));
  const { proc, client } = await startDaemon(hostNs, dir);
  try {
    const networks = {};
    for (let i = 0; i < n; i++) networks[`net${i}`] = { nic: `veth_${i}`, ipaddr: addr(i).split('/')[0], prefix: 24 };
    const options = { connectivityCheck: false };
    t0 = now();
    await client.call('Host.setupNetworks', { networks, bondings: {}, options });
    const setup = ms(t0);
    t0 = now();
    await client.call('Host.setupNetworks', { networks, bondings: {}, options });
    const again = ms(t0);

    const lat = [];
    for (let i = 0; i < 30; i++) {
      t0 = now();
      await client.call('Host.getNetworkCapabilities', {});
      lat.push(ms(t0));
    }
    lat.sort((a, b) => a - b);
    // the same request once the kernel's event burst from the first one has passed
    await new Promise((r) => setTimeout(r, 1000));
    const settledRuns = [];
    for (let i = 0; i < 21; i++) {
      t0 = now();
      await client.call('Host.setupNetworks', { networks, bondings: {}, options });
      settledRuns.push(ms(t0));
    }
    const settled = percentile(settledRuns.sort((a, b) => a - b), 50);
    // capabilities once the host is quiet: built once per kernel state, then served as encoded
    const quiet = [];
    for (let i = 0; i < 30; i++) {
      t0 = now();
      await client.call('Host.getNetworkCapabilities', {});
      quiet.push(ms(t0));
    }
    quiet.sort((a, b) => a - b);
    const links = JSON.parse(ip(['-n', hostNs, '-j', 'link', 'show'])).length;

    const removal = {};
    for (let i = 0; i < n; i++) removal[`net${i}`] = { remove: true };
    t0 = now();
    await client.call('Host.setupNetworks', { networks: removal, bondings: {}, options });
    const remove = ms(t0);
    return { n, raw, setup, ratio: setup / raw, again, settled, remove, rawRemove, links, capsMedian: percentile(lat, 50), capsP95: percentile(lat, 95), quietMedian: percentile(quiet, 50), quietP95: percentile(quiet, 95) };
  } finally {
    client.close();
    proc.kill('SIGTERM');
    await new Promise((r) => proc.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

function cleanup() {
  for (const ns of created.splice(0)) {
    try { ip(['netns', 'del', ns]); } catch { /* already gone */ }
  }
}

process.on('SIGINT', () => { cleanup(); process.exit(130); });
try {
  console.log(`hostnetd benchmark (${new Date().toISOString()}), ${Ns.join(', ')} networks, medians of ${ROUNDS} round(s)`);
  console.log('N      raw ip -batch   setupNetworks   ratio   identical: right after / settled   remove all (raw)   caps median/p95 (links)   caps settled median/p95');
  for (const n of Ns) {
    const rounds = [];
    for (let i = 0; i < ROUNDS; i++) {
      rounds.push(await benchSize(n));
      cleanup();
    }
    const r = Object.fromEntries(Object.keys(rounds[0]).map((k) => [k, median(rounds.map((x) => x[k]))]));
    if (ROUNDS > 1) console.log(`       rounds: ${rounds.map((x) => `${x.raw.toFixed(0)}/${x.setup.toFixed(0)}/${x.settled.toFixed(0)} ms`).join(', ')} (raw/setupNetworks/settled identical)`);
    console.log(`${String(r.n).padEnd(6)} ${r.raw.toFixed(0).padStart(10)} ms ${r.setup.toFixed(0).padStart(12)} ms ${r.ratio.toFixed(2).padStart(7)} ${r.again.toFixed(0).padStart(14)} ms / ${r.settled.toFixed(0).padStart(4)} ms ${r.remove.toFixed(0).padStart(10)} ms (${r.rawRemove.toFixed(0)} ms)   ${r.capsMedian.toFixed(0)}/${r.capsP95.toFixed(0)} ms (${r.links})   ${r.quietMedian.toFixed(1)}/${r.quietP95.toFixed(1)} ms`);
    cleanup();
  }
} finally {
  cleanup();
}
