#!/usr/bin/env node
/**
 * The transports' cost, in the same run (part of `npm run bench`):
 *  1. Host.ping2 round trips over one WebSocket and one STOMP connection, alternating rounds,
 *     p50/p99 each and the STOMP/WebSocket ratio (goal: STOMP adds under 10 %);
 *  2. C concurrent STOMP connections making K calls each (default 100 × 100): wall time,
 *     calls per second, p50/p99.
 *
 * The daemon runs in a fresh namespace with libvirt off and serves both protocols on its one
 * unix socket. Usage: node bench/protocol.mjs [rounds=10] [callsPerRound=300] [C=100] [K=100]
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, connectStomp } from './rpc.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const [rounds = 10, perRound = 300, conns = 100, callsEach = 100] = process.argv.slice(2).map(Number);
const ns = `hnb-proto-${process.pid}`;
const now = () => process.hrtime.bigint();
const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;
const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

async function startDaemon(dir) {
  const sock = path.join(dir, 'run', 'hostnetd.sock');
  const proc = spawn('ip', ['netns', 'exec', ns, process.execPath, path.join(root, 'dist/daemon/main.js'),
    '--state-dir', path.join(dir, 'state'), '--run-dir', path.join(dir, 'run'), '--listen', `unix:${sock}`,
    '--resolv-conf', path.join(dir, 'resolv.conf'), '--libvirt-uri', 'none', '--log-level', process.env.BENCH_LOG ?? 'warn'],
  { stdio: ['ignore', process.env.BENCH_LOG ? 'inherit' : 'ignore', 'inherit'] });
  for (let i = 0; i < 400; i++) {
    try {
      const probe = await connect(sock);
      probe.close();
      return { proc, sock };
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error('daemon did not start');
}

async function timedCalls(client, n, into) {
  for (let i = 0; i < n; i++) {
    const t0 = now();
    await client.call('Host.ping2', {});
    into.push(ms(t0));
  }
}

execFileSync('ip', ['netns', 'add', ns]);
const dir = mkdtempSync(path.join(tmpdir(), 'hostnetd-bench-proto-'));
let daemon;
try {
  daemon = await startDaemon(dir);
  const ws = await connect(daemon.sock);
  const stomp = await connectStomp(daemon.sock);
  await timedCalls(ws, 200, []);
  await timedCalls(stomp, 200, []);
  const wsLat = [];
  const stompLat = [];
  for (let r = 0; r < rounds; r++) {
    await timedCalls(ws, perRound, wsLat);
    await timedCalls(stomp, perRound, stompLat);
  }
  ws.close();
  stomp.close();
  wsLat.sort((a, b) => a - b);
  stompLat.sort((a, b) => a - b);

  const clients = await Promise.all(Array.from({ length: conns }, () => connectStomp(daemon.sock)));
  const many = [];
  const t0 = now();
  await Promise.all(clients.map((c) => timedCalls(c, callsEach, many)));
  const wall = ms(t0);
  for (const c of clients) c.close();
  many.sort((a, b) => a - b);

  console.log(`hostnetd transport benchmark (${new Date().toISOString()}), Host.ping2 over the unix socket`);
  console.log(`one connection, ${rounds} alternating rounds of ${perRound} calls each:`);
  console.log(`  WebSocket  p50 ${pct(wsLat, 50).toFixed(3)} ms  p99 ${pct(wsLat, 99).toFixed(3)} ms`);
  console.log(`  STOMP      p50 ${pct(stompLat, 50).toFixed(3)} ms  p99 ${pct(stompLat, 99).toFixed(3)} ms`);
  console.log(`  STOMP / WebSocket: p50 ${(pct(stompLat, 50) / pct(wsLat, 50)).toFixed(2)}  p99 ${(pct(stompLat, 99) / pct(wsLat, 99)).toFixed(2)}`);
  console.log(`${conns} STOMP connections × ${callsEach} calls: ${wall.toFixed(0)} ms, ${((conns * callsEach) / (wall / 1000)).toFixed(0)} calls/s, p50 ${pct(many, 50).toFixed(2)} ms, p99 ${pct(many, 99).toFixed(2)} ms`);
} finally {
  if (daemon) {
    daemon.proc.kill('SIGTERM');
    await new Promise((r) => daemon.proc.once('exit', r));
  }
  rmSync(dir, { recursive: true, force: true });
  execFileSync('ip', ['netns', 'del', ns]);
}
