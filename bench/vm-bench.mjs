#!/usr/bin/env node
/**
 * The VM tier benchmark (issue 4): N bridged VLAN networks over one two-NIC bond, set up by
 * hostnetd in ONE Host.setupNetworks request, against one raw `ip -batch` that builds the same
 * kernel objects (the bond and its slaves, N vlan devices on it, N bridges each with its vlan
 * as port, everything up), in the same VM and the same run. Prints both times and the ratio
 * (goal: at most 1.5), then the identical request again and the removal of all networks.
 *
 * Usage (host): npm run build && node bench/vm-bench.mjs [N] [rounds]   (default 1000, 2)
 *   boots a VM of the test tier (2 virtio NICs) and runs itself inside it. Absolute times under
 *   TCG are several times those of real hardware: only the ratio travels.
 * Inside a VM (HOSTNETD_VM=1) it measures directly; it owns the VM's root namespace.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from './rpc.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const N = Number(process.argv[2] ?? 1000);
const ROUNDS = Number(process.argv[3] ?? 2);
if (!Number.isInteger(N) || N < 1 || N > 4094 || !Number.isInteger(ROUNDS) || ROUNDS < 1) {
  console.error('usage: node bench/vm-bench.mjs [N: 1..4094] [rounds, default 2]');
  process.exit(2);
}

if (process.env.HOSTNETD_VM !== '1') {
  if (!existsSync(path.join(root, 'dist/daemon/main.js'))) {
    console.error('bench/vm-bench.mjs: build first (npm run build)');
    process.exit(2);
  }
  // 2 GiB: a thousand bridges and vlans, the daemon and two snapshots of them
  const env = process.env.BENCH_LOG ? ['--env', `BENCH_LOG=${process.env.BENCH_LOG}`] : [];
  const child = spawn('bash', [path.join(root, 'scripts/vm/run.sh'), '--nics', '2', '--mem', '2048', '--timeout', '1800', ...env,
    '--', 'node', 'bench/vm-bench.mjs', String(N), String(ROUNDS)], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  // the console carries firmware and kernel noise; show the benchmark's own lines only
  let seen = false;
  let buf = '';
  child.stdout.setEncoding('utf8').on('data', (chunk) => {
    buf += chunk;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl).replace(/\r$/, '');
      buf = buf.slice(nl + 1);
      if (line.includes('@@HOSTNETD-VM-BEGIN@@')) seen = true;
      else if (line.includes('@@HOSTNETD-VM-END')) seen = false;
      else if (seen) console.log(line);
    }
  });
  child.on('exit', (code) => process.exit(code ?? 1));
} else {
  await benchInVm();
}

async function benchInVm() {
  const ip = (args, input) => execFileSync('ip', args, { input, stdio: ['pipe', 'pipe', 'inherit'], maxBuffer: 1 << 30 }).toString();
  const now = () => process.hrtime.bigint();
  const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;
  const BOND = 'bond1';
  const NICS = ['eth0', 'eth1'];
  const net = (i) => `net${i}`;
  const vid = (i) => i + 1;

  function rawScript() {
    let s = `link add name ${BOND} type bond mode balance-rr\n`;
    for (const nic of NICS) s += `link set dev ${nic} down\nlink set dev ${nic} master ${BOND}\n`;
    s += `link set dev ${BOND} up\n`;
    for (let i = 0; i < N; i++) {
      s += `link add link ${BOND} name ${BOND}.${vid(i)} type vlan id ${vid(i)}\n`;
      s += `link add name ${net(i)} type bridge stp_state 0\n`;
      s += `link set dev ${BOND}.${vid(i)} master ${net(i)}\nlink set dev ${BOND}.${vid(i)} up\nlink set dev ${net(i)} up\n`;
    }
    return s;
  }

  function rawCleanup() {
    let s = '';
    for (let i = 0; i < N; i++) s += `link del dev ${net(i)}\n`;
    s += `link del dev ${BOND}\n`; // takes its vlan devices with it
    ip(['-force', '-batch', '-'], s);
  }

  const linkCount = () => JSON.parse(ip(['-j', 'link', 'show'])).length;

  console.log(`hostnetd VM benchmark (${new Date().toISOString()}): ${N} bridged VLAN networks over one bond (${NICS.join('+')}), ${ROUNDS} rounds, kernel ${execFileSync('uname', ['-r']).toString().trim()}`);
  const baseLinks = linkCount();
  const dir = mkdtempSync(path.join(tmpdir(), 'hostnetd-vmbench-'));
  const f = (x) => `${(x / 1000).toFixed(2)} s`;
  const rows = [];
  let daemon;
  try {
    const networks = {};
    for (let i = 0; i < N; i++) networks[net(i)] = { bonding: BOND, vlan: vid(i) };
    const bondings = { [BOND]: { nics: NICS } };
    const options = { connectivityCheck: false };
    const removal = Object.fromEntries(Object.keys(networks).map((n) => [n, { remove: true }]));
    // rounds alternate raw and hostnetd: TCG timings drift with the host's load, so both
    // sides of a ratio are measured close together, and the best of each side is compared
    for (let round = 1; round <= ROUNDS; round++) {
      let t0 = now();
      ip(['-batch', '-'], rawScript());
      const raw = ms(t0);
      const rawLinks = linkCount() - baseLinks;
      rawCleanup();

      // the daemon runs only during its own measurements: its link monitor would otherwise
      // compete with the raw batch for the VM's CPUs
      daemon = await startDaemon(dir);
      const { client } = daemon;
      t0 = now();
      await client.call('Host.setupNetworks', { networks, bondings, options });
      const setup = ms(t0);
      const hostLinks = linkCount() - baseLinks;
      if (hostLinks !== rawLinks) throw new Error(`not the same objects: raw made ${rawLinks} links, hostnetd ${hostLinks}`);
      t0 = now();
      await client.call('Host.setupNetworks', { networks, bondings, options });
      const again = ms(t0);
      t0 = now();
      await client.call('Host.setupNetworks', { networks: removal, bondings: { [BOND]: { remove: true } }, options });
      const remove = ms(t0);
      await stopDaemon(daemon);
      daemon = undefined;
      rows.push({ raw, setup, again, remove });
      console.log(`round ${round}: raw ip -batch ${f(raw)} (${rawLinks} links), setupNetworks ${f(setup)}, ratio ${(setup / raw).toFixed(2)}; identical again ${f(again)}; remove all ${f(remove)}`);
    }
  } finally {
    if (daemon) await stopDaemon(daemon);
    rmSync(dir, { recursive: true, force: true });
  }
  const best = (k) => Math.min(...rows.map((r) => r[k]));
  const ratio = best('setup') / best('raw');
  console.log(`best raw ip -batch:         ${f(best('raw'))}`);
  console.log(`best Host.setupNetworks:    ${f(best('setup'))}`);
  console.log(`ratio (best / best):        ${ratio.toFixed(2)} (goal <= 1.5)`);
  console.log(`RESULT n=${N} rounds=${ROUNDS} raw_ms=${best('raw').toFixed(0)} setup_ms=${best('setup').toFixed(0)} ratio=${ratio.toFixed(2)} again_ms=${best('again').toFixed(0)} remove_ms=${best('remove').toFixed(0)}`);
}

async function stopDaemon({ proc, client }) {
  client.close();
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGTERM');
  await exited;
}

async function startDaemon(dir) {
  const sock = path.join(dir, 'run', 'hostnetd.sock');
  const proc = spawn(process.execPath, [path.join(root, 'dist/daemon/main.js'),
    '--state-dir', path.join(dir, 'state'), '--run-dir', path.join(dir, 'run'), '--listen', `unix:${sock}`,
    '--resolv-conf', path.join(dir, 'resolv.conf'), '--libvirt-uri', 'none', '--log-level', process.env.BENCH_LOG ?? 'warn'],
  { stdio: ['ignore', process.env.BENCH_LOG ? 'inherit' : 'ignore', 'inherit'] });
  for (let i = 0; i < 1200; i++) {
    try {
      return { proc, client: await connect(sock) };
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  proc.kill('SIGKILL');
  throw new Error('daemon did not start');
}

