/**
 * kill -9 at every phase of a change, then an immediate restart (issue 10). The first start must
 * leave the host at the before- or the after-state, with the running config agreeing with the
 * kernel; no second start is needed.
 *
 * - The representative change (test/helpers/representative-change.ts) is killed at each of its
 *   fault points (src/faults.ts with action "kill": the journal's write, the resolver
 *   and sysctl writes, the journal's removal) and inside its batch at sampled lines (every line
 *   with HOSTNETD_TEST_KILL_LINES=all).
 * - A change waiting for its connectivity check (confirming) is killed from outside.
 * - A removal of HOSTNETD_TEST_KILL_NETS networks (default 40) is killed from outside while its
 *   `ip -batch` runs, HOSTNETD_TEST_KILL_ROUNDS times (default 2): the batch must die with the
 *   daemon, and the restart must recover fully (issue 10, defect 2).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNetnsHost, type NetnsHost } from '../helpers/netns.js';
import { faultRules, startTestDaemon, type FaultRules, type LogLine, type TestDaemon } from '../helpers/daemon.js';
import { RpcTestClient } from '../helpers/rpc-client.js';
import { expectRunningMatchesCaps, readRunning } from '../helpers/state.js';
import { hostState, withoutMacs, type HostState } from '../helpers/host-state.js';
import { backToInitial, change, initial, setupNetworks } from '../helpers/representative-change.js';

const NETS = Number(process.env.HOSTNETD_TEST_KILL_NETS ?? 40);
const ROUNDS = Number(process.env.HOSTNETD_TEST_KILL_ROUNDS ?? 2);
const ALL_LINES = process.env.HOSTNETD_TEST_KILL_LINES === 'all';

let host: NetnsHost;
let daemon: TestDaemon;
let client: RpcTestClient;
let dir: string;
let faults: FaultRules;
let kills = 0;

const snapshot = (): Promise<HostState> => hostState(host.ns, daemon.stateDir, daemon.resolvConf);

async function start(): Promise<void> {
  daemon = await startTestDaemon({ ns: host.ns, dir, stateDir: path.join(dir, 'state'), env: faults.env });
  client = await RpcTestClient.connect({ socket: daemon.socket });
}

/** After the daemon died: restart at once; the first start must be serving, journal settled, config agreeing with the kernel. */
async function restartAfterKill(): Promise<LogLine[]> {
  const killed = await daemon.exited;
  expect(killed.signal).toBe('SIGKILL');
  await client.close().catch(() => undefined);
  kills++;
  faults.set([]); // the restart's own recovery passes fault points too
  await start();
  expect(existsSync(path.join(daemon.stateDir, 'journal.jsonl'))).toBe(false);
  expectRunningMatchesCaps(readRunning(daemon.stateDir), await client.call('Host.getNetworkCapabilities'));
  return daemon.logs;
}

beforeAll(async () => {
  host = await createNetnsHost({ prefix: 'hnk-', nics: 3 });
  dir = mkdtempSync(path.join(tmpdir(), 'hostnetd-kill-'));
  faults = faultRules(dir);
  writeFileSync(path.join(dir, 'resolv.conf'), 'nameserver 192.0.2.99\n');
  faults.set([]);
  await start();
  await setupNetworks(client, initial);
  await client.call('Host.setSafeNetworkConfig');
}, 120_000);

afterAll(async () => {
  await client?.close().catch(() => undefined);
  await daemon?.cleanup();
  await host?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
  process.stdout.write(`kill -9: ${kills} kills, each followed by one restart that recovered\n`);
});

describe('kill -9 at every phase of a change, then one restart', () => {
  it('at each fault point of the representative change: before- or after-state, config and kernel agreeing', async () => {
    // the after-state and the points, from one uninterrupted run
    const mark = daemon.logs.length;
    await setupNetworks(client, change);
    const points = daemon.logs.slice(mark).filter((l) => l.event === 'fault-point')
      .map((l) => ({ point: String(l.point), n: Number(l.n), lines: Number(l.lines ?? 0) }));
    const after = withoutMacs(await snapshot());
    const runningAfter = readRunning(daemon.stateDir);
    await backToInitial(client, host);

    const rules: { point: string; n: number; line?: number }[] = [];
    for (const p of points) {
      if (p.point !== 'batch') rules.push({ point: p.point, n: p.n });
      else {
        const lines = ALL_LINES ? [...Array(p.lines).keys()].map((i) => i + 1) : [...new Set([1, Math.ceil(p.lines / 2), p.lines])];
        for (const line of lines) rules.push({ point: 'batch', n: p.n, line });
      }
    }
    const outcomes = { before: 0, after: 0 };
    for (const rule of rules) {
      const before = await snapshot();
      const runningBefore = readRunning(daemon.stateDir);
      faults.set([{ ...rule, action: 'kill' }]);
      await setupNetworks(client, change).catch(() => undefined); // the connection drops with the daemon
      await restartAfterKill();
      const now = await snapshot();
      const label = JSON.stringify(rule);
      if (JSON.stringify(withoutMacs(now)) === JSON.stringify(after)) {
        expect(readRunning(daemon.stateDir), label).toEqual(runningAfter);
        outcomes.after++;
        await backToInitial(client, host);
      } else {
        expect(now, label).toEqual(before);
        expect(readRunning(daemon.stateDir), label).toEqual(runningBefore);
        outcomes.before++;
      }
    }
    // a kill before the running config's rename rolls back; only one after it can keep the change
    expect(outcomes.before).toBeGreaterThan(0);
    expect(outcomes.before + outcomes.after).toBe(rules.length);
    process.stdout.write(`kill -9 at ${rules.length} fault points: ${outcomes.before} rolled back, ${outcomes.after} kept\n`);
  }, 900_000);

  it('while waiting for the connectivity check: rolled back by the first start', async () => {
    const before = await snapshot();
    const mark = daemon.logs.length;
    void setupNetworks(client, change, { connectivityCheck: true, connectivityTimeout: 120 }).catch(() => undefined);
    await daemon.waitForLog((l) => daemon.logs.indexOf(l) >= mark && l.event === 'await-connectivity', 60_000);
    daemon.proc.kill('SIGKILL');
    const logs = await restartAfterKill();
    expect(logs.some((l) => l.event === 'recovered')).toBe(true);
    expect(await snapshot()).toEqual(before);
  }, 120_000);

  it(`during the ip -batch of a removal of ${NETS} networks, ${ROUNDS} times: the batch dies with the daemon and one start recovers`, async () => {
    const many = Object.fromEntries([...Array(NETS).keys()].map((i) => [`many${i}`, {}]));
    await setupNetworks(client, many);
    for (let round = 1; round <= ROUNDS; round++) {
      const before = await snapshot();
      const runningBefore = readRunning(daemon.stateDir);
      const mark = daemon.logs.length;
      const pidsFile = path.join(daemon.stateDir, 'batch.pids');
      void setupNetworks(client, Object.fromEntries(Object.keys(many).map((n) => [n, { remove: true }]))).catch(() => undefined);
      await daemon.waitForLog((l) => daemon.logs.indexOf(l) >= mark && l.event === 'fault-point' && l.point === 'batch', 60_000);
      // the batch is running once its pid is recorded; later rounds let it delete more first
      const batchPid = await until(() => firstBatchPid(pidsFile));
      const gone = Math.floor((NETS * (round - 1)) / ROUNDS);
      await until(async () => Object.keys(await host.links()).filter((n) => n.startsWith('many')).length <= NETS - gone || undefined);
      daemon.proc.kill('SIGKILL');
      const logs = await restartAfterKill(); // at once: the batch may still be dying
      // the batch died with the daemon (PR_SET_PDEATHSIG), or the new start ended it before recovering
      expect(processAlive(batchPid), `round ${round}: batch pid ${batchPid}`).toBe(false);
      expect(logs.some((l) => l.event === 'recovered'), `round ${round}`).toBe(true);
      expect(logs.some((l) => l.event === 'rollback-incomplete'), `round ${round}`).toBe(false);
      expect(await snapshot(), `round ${round}`).toEqual(before);
      expect(readRunning(daemon.stateDir)).toEqual(runningBefore);
    }
  }, 900_000);
});

/**
 * The first pid in the daemon's batch record, or undefined while there is none. The daemon renames
 * the file into place, so a read sees a whole one or none: a torn one fails the test.
 */
function firstBatchPid(file: string): number | undefined {
  try {
    return (JSON.parse(readFileSync(file, 'utf8')) as { pid: number }[])[0]?.pid;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** A process that exists and is not a zombie. */
function processAlive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** Polls a condition (an event in the kernel or the state dir that nothing announces) until it yields a value. */
async function until<T>(probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
