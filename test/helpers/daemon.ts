/**
 * Starting the real daemon (built code in dist/, as bin/hostnetd runs it) inside a namespace,
 * with state dir, run dir and resolver file in a temp folder, and waiting until its unix
 * socket accepts.
 *
 *   const host = await createNetnsHost({ prefix: 'hnr-' });
 *   const d = await startTestDaemon({ ns: host.ns });
 *   const c = await RpcTestClient.connect(d.target);
 *   ...
 *   await d.stop();            // SIGTERM, waits for exit; returns { code, signal }
 *   await host.destroy();
 *
 * d.logs holds the daemon's pino lines parsed; d.waitForLog(l => l.msg === 'x') waits for one.
 * Pass `stateDir` to start a second daemon on the same state (restart after kill -9 etc.).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { parseRecord } from '../../src/dhcp/clients.js';
import { FAULTS_ENV, type FaultRule } from '../../src/faults.js';
import type { RpcTarget } from './rpc-client.js';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const DAEMON_MAIN = path.join(REPO_ROOT, 'dist/daemon/main.js');
export const CLI_MAIN = path.join(REPO_ROOT, 'dist/cli/main.js');

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

export interface StartDaemonOptions {
  /** namespace to run in; omit only for tests that never read or change networking state */
  ns?: string;
  /** temp folder for state/run/resolv.conf (default: a fresh mkdtemp, removed by cleanup()) */
  dir?: string;
  /** override the state dir (e.g. to restart on the same state) */
  stateDir?: string;
  /** content of the resolver file given with --resolv-conf (default: none written) */
  resolvConf?: string;
  /** more daemon arguments; `--listen` here replaces the default unix socket only if you also pass noDefaultListen */
  args?: string[];
  /** do not pass the default --listen unix:<dir>/run/hostnetd.sock */
  noDefaultListen?: boolean;
  /** wait for the 'ready' log line and the socket to accept (default true) */
  waitReady?: boolean;
  /** ms (default 60000: a loaded CI machine can be slow) */
  readyTimeoutMs?: number;
  /** extra environment variables (e.g. the test-only HOSTNETD_TEST_FAULTS) */
  env?: Record<string, string>;
}

export interface TestDaemon {
  proc: ChildProcess;
  ns: string | undefined;
  dir: string;
  stateDir: string;
  runDir: string;
  socket: string;
  resolvConf: string;
  target: RpcTarget;
  logs: LogLine[];
  /** non-JSON stdout lines and all of stderr */
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  waitForLog(pred: (l: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** sends the signal (default SIGTERM) and waits for exit */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** stops if running and removes the temp folder (if the helper made it) */
  cleanup(): Promise<void>;
}

let built = false;

/** Temp folders this helper made; removed when the test process exits, even if a test forgot cleanup(). */
const ownDirs = new Set<string>();
/** Daemons still running when the test process exits are killed (a forgotten stop() must not leave them behind). */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const p of running) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  for (const d of ownDirs) rmSync(d, { recursive: true, force: true });
});

/**
 * Makes sure dist/ is current: runs `tsc` when any src file is newer than the last build.
 * Test files run in parallel processes, so builds are serialized by a lock directory.
 */
export async function ensureBuilt(): Promise<void> {
  if (built) return;
  const lock = path.join(REPO_ROOT, '.cache', 'build.lock');
  mkdirSync(path.dirname(lock), { recursive: true });
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      // a lock older than 3 minutes belongs to a dead build
      try {
        if (Date.now() - statSync(lock).mtimeMs > 180_000) rmdirSync(lock);
      } catch {
        /* gone meanwhile */
      }
      if (Date.now() > deadline) throw new Error(`waited too long for the build lock ${lock}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  try {
    const stamp = path.join(REPO_ROOT, 'dist', '.build-stamp');
    const builtAt = existsSync(stamp) ? statSync(stamp).mtimeMs : 0;
    if (newestMtime(path.join(REPO_ROOT, 'src')) > builtAt || !existsSync(DAEMON_MAIN)) {
      const started = Date.now();
      const r = await execa('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: REPO_ROOT, reject: false });
      // tsc emits despite type errors; a test of the daemon is still meaningful, but say so
      if (r.exitCode !== 0) process.stderr.write(`ensureBuilt: tsc reported errors:\n${r.stdout}\n`);
      if (!existsSync(DAEMON_MAIN)) throw new Error(`build produced no ${DAEMON_MAIN}: ${r.stdout}${r.stderr}`);
      writeFileSync(stamp, String(started));
    }
    built = true;
  } finally {
    rmdirSync(lock);
  }
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/** A command line that runs inside `ns` (or directly when ns is undefined). */
export function inNetns(ns: string | undefined, cmd: string, args: string[]): [string, string[]] {
  return ns === undefined ? [cmd, args] : ['ip', ['netns', 'exec', ns, cmd, ...args]];
}

export async function startTestDaemon(opts: StartDaemonOptions = {}): Promise<TestDaemon> {
  await ensureBuilt();
  const ownDir = opts.dir === undefined;
  const dir = opts.dir ?? mkdtempSync(path.join(tmpdir(), 'hostnetd-test-'));
  if (ownDir) ownDirs.add(dir);
  const stateDir = opts.stateDir ?? path.join(dir, 'state');
  const runDir = path.join(dir, 'run');
  const socket = path.join(runDir, 'hostnetd.sock');
  const resolvConf = path.join(dir, 'resolv.conf');
  if (opts.resolvConf !== undefined) writeFileSync(resolvConf, opts.resolvConf);
  const args = [
    DAEMON_MAIN,
    '--state-dir', stateDir,
    '--run-dir', runDir,
    '--resolv-conf', resolvConf,
    '--libvirt-uri', 'none',
    '--log-level', 'debug',
    ...(opts.noDefaultListen ? [] : ['--listen', `unix:${socket}`]),
    // the warm-up is pure and has tests of its own; in the VM tier's emulated CPU it costs seconds per start
    ...(opts.args?.includes('--warm-up') ? [] : ['--warm-up', '0']),
    ...(opts.args ?? []),
  ];
  const [cmd, argv] = inNetns(opts.ns, process.execPath, args);
  const proc = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], ...(opts.env ? { env: { ...process.env, ...opts.env } } : {}) });
  running.add(proc);
  proc.once('exit', () => running.delete(proc));
  const logs: LogLine[] = [];
  let other = '';
  const watchers = new Set<() => void>();
  let buffered = '';
  proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    let nl;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      try {
        logs.push(JSON.parse(line) as LogLine);
      } catch {
        other += line + '\n';
      }
    }
    for (const w of watchers) w();
  });
  proc.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    other += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.once('exit', (code, signal) => {
      for (const w of watchers) w();
      resolve({ code, signal });
    });
  });
  let hasExited = false;
  void exited.then(() => {
    hasExited = true;
  });

  const waitForLog = (pred: (l: LogLine) => boolean, timeoutMs = 10_000) =>
    new Promise<LogLine>((resolve, reject) => {
      const check = () => {
        const hit = logs.find(pred);
        if (hit) return done(() => resolve(hit));
        if (hasExited || proc.exitCode !== null) {
          return done(() => reject(new Error(`daemon exited before the awaited log line; output:\n${tail(logs, other)}`)));
        }
      };
      const timer = setTimeout(
        () => done(() => reject(new Error(`timed out waiting for a log line; output:\n${tail(logs, other)}`))),
        timeoutMs,
      );
      const done = (fn: () => void) => {
        clearTimeout(timer);
        watchers.delete(check);
        fn();
      };
      watchers.add(check);
      check();
    });

  const stop = async (signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 10_000) => {
    if (!hasExited && proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
    const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
    const r = await exited;
    clearTimeout(timer);
    return r;
  };

  const daemon: TestDaemon = {
    proc,
    ns: opts.ns,
    dir,
    stateDir,
    runDir,
    socket,
    resolvConf,
    target: { socket },
    logs,
    stderr: () => other,
    exited,
    waitForLog,
    stop,
    async cleanup() {
      await stop('SIGKILL');
      if (ownDir) {
        rmSync(dir, { recursive: true, force: true });
        ownDirs.delete(dir);
      }
    },
  };
  if (opts.waitReady === false) return daemon;
  try {
    await waitForLog((l) => l.msg === 'ready', opts.readyTimeoutMs ?? 60_000);
    if (!opts.noDefaultListen) await waitAccepting(socket, 5000);
  } catch (e) {
    await daemon.cleanup();
    throw e;
  }
  return daemon;
}

function tail(logs: LogLine[], other: string): string {
  return [...logs.slice(-15).map((l) => JSON.stringify(l)), other.slice(-2000)].join('\n');
}

/** Resolves once a unix socket accepts a connection. */
export async function waitAccepting(socket: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(socket);
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${socket} does not accept connections`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Makes a TCP address inside a namespace reachable from the test process through a unix
 * socket: a tiny forwarder runs inside the namespace. Use it as RpcTarget.socketPath with
 * the ws:// or wss:// URL. Returns a stop function.
 */
export async function forwardIntoNetns(
  ns: string,
  host: string,
  port: number,
  unixPath: string,
): Promise<{ stop(): Promise<void> }> {
  const script = `
    const net = require('node:net');
    const [path, host, port] = process.argv.slice(1);
    const srv = net.createServer((c) => {
      const up = net.connect(Number(port), host);
      c.pipe(up).pipe(c);
      const end = () => { c.destroy(); up.destroy(); };
      c.on('error', end); up.on('error', end); c.on('close', end); up.on('close', end);
    });
    srv.listen(path, () => process.stdout.write('listening\\n'));
    process.on('SIGTERM', () => srv.close(() => process.exit(0)));
  `;
  const [cmd, argv] = inNetns(ns, process.execPath, ['-e', script, unixPath, host, String(port)]);
  const proc = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    proc.stdout!.once('data', () => resolve());
    proc.once('exit', (code) => reject(new Error(`forwarder exited with ${code}`)));
  });
  return {
    async stop() {
      const gone = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await gone;
    },
  };
}

/** Runs the built CLI (dist/cli/main.js); never rejects. */
export async function runCli(args: string[], opts: { ns?: string; input?: string; timeoutMs?: number } = {}) {
  await ensureBuilt();
  const [cmd, argv] = inNetns(opts.ns, process.execPath, [CLI_MAIN, ...args]);
  const r = await execa(cmd, argv, {
    reject: false,
    timeout: opts.timeoutMs ?? 30_000,
    ...(opts.input !== undefined ? { input: opts.input } : { stdin: 'ignore' as const }),
  });
  return { code: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/**
 * The record the daemon keeps of `dev`'s DHCP client (run/dhcp/<dev>.json), checked as the daemon
 * itself reads it; null when there is none.
 */
export function dhcpClientRecord(d: Pick<TestDaemon, 'runDir'>, dev: string): ReturnType<typeof parseRecord> | null {
  const f = path.join(d.runDir, 'dhcp', `${dev}.json`);
  return existsSync(f) ? parseRecord(JSON.parse(readFileSync(f, 'utf8')), dev) : null;
}

/** The daemon's test-only fault seam (src/faults.ts): rules in a file the daemon reads at each fault point. */
export interface FaultRules {
  /** the environment that points a daemon at the file */
  env: Record<string, string>;
  /** replaces the rules (an empty list: no faults) */
  set(rules: readonly FaultRule[]): void;
}

/** `dir`/faults.json, written with `rules` (none by default). */
export function faultRules(dir: string, rules: readonly FaultRule[] = []): FaultRules {
  const file = path.join(dir, 'faults.json');
  const set = (r: readonly FaultRule[]) => writeFileSync(file, JSON.stringify(r));
  set(rules);
  return { env: { [FAULTS_ENV]: file }, set };
}
