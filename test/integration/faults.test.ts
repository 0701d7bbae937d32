/**
 * Fault injection at every step of a change (issue 10), on the real daemon in a namespace.
 *
 * The daemon runs with the test-only HOSTNETD_TEST_FAULTS seam (src/faults.ts). A representative
 * change (a bridge removed, a bridge edited, a new bridge taking the default routes and the
 * nameservers, a bridgeless network on an existing NIC whose IPv6 sysctls change) is traced once
 * to list its fault points. Then each point is failed in turn, every line of the plan's batch
 * and every line of the rollback batch included, and each time the answer must carry the
 * documented code and the host must be exactly as before: links, MACs, addresses, routes,
 * sysctls, the resolver file and the state directory's files.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import type { FaultRule } from '../../src/faults.js';
import { createNetnsHost, type NetnsHost } from '../helpers/netns.js';
import { faultRules, startTestDaemon, type FaultRules, type LogLine, type TestDaemon } from '../helpers/daemon.js';
import { RpcCallError, RpcTestClient } from '../helpers/rpc-client.js';
import { expectRunningMatchesCaps, readRunning } from '../helpers/state.js';
import { hostState, type HostState } from '../helpers/host-state.js';
import { backToInitial, change, initial, options, setupNetworks } from '../helpers/representative-change.js';

let host: NetnsHost;
let daemon: TestDaemon;
let client: RpcTestClient;
let faults: FaultRules;
let dir: string | undefined;

interface Point { point: string; n: number; lines?: number }

/** The code each kind of point answers with when it fails (README, error codes). */
function expectedCode(point: string): number {
  if (point === 'batch' || point.startsWith('sysctl:')) return ErrorCode.APPLY_FAILED;
  if (point === 'libvirt') return ErrorCode.LIBVIRT_FAILED;
  return ErrorCode.STORE_FAILED; // fsync, rename, fsync-dir, unlink of the journal, the configs, the resolver file
}

const snapshot = (): Promise<HostState> => hostState(host.ns, daemon.stateDir, daemon.resolvConf);
const since = (mark: number, pred: (l: LogLine) => boolean) => daemon.logs.slice(mark).filter(pred);

const call = (networks: Record<string, unknown>) => setupNetworks(client, networks);

/** Run the change with these rules; it must fail with `code` and leave the host as `before`. */
async function expectFailsExactly(rules: FaultRule[], code: number, before: HostState, opts: Record<string, unknown> = options) {
  faults.set(rules);
  const mark = daemon.logs.length;
  const err = await setupNetworks(client, change, opts).then(() => null, (e: unknown) => e);
  const label = JSON.stringify(rules);
  expect(err, label).toBeInstanceOf(RpcCallError);
  expect((err as RpcCallError).code, `${label}: ${(err as Error).message}`).toBe(code);
  expect(since(mark, (l) => l.event === 'fault-injected').length, label).toBe(rules.length);
  expect(await snapshot(), label).toEqual(before);
  return mark;
}

let points: Point[] = [];
const injected = { steps: 0, batchLines: 0, safe: 0, rollbackLines: 0 };
const total = () => Object.values(injected).reduce((a, b) => a + b, 0);

beforeAll(async () => {
  host = await createNetnsHost({ prefix: 'hnf-', nics: 3 });
  dir = mkdtempSync(path.join(tmpdir(), 'hostnetd-faults-'));
  faults = faultRules(dir);
  daemon = await startTestDaemon({ ns: host.ns, dir, resolvConf: 'nameserver 192.0.2.99\n', env: faults.env });
  client = await RpcTestClient.connect({ socket: daemon.socket });
  faults.set([]);
  await call(initial);
  await client.call('Host.setSafeNetworkConfig');
}, 120_000);

afterAll(async () => {
  await client?.close();
  await daemon?.cleanup();
  await host?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('fault injection at every step of a change', () => {
  it('traces the change: every kind of step has a fault point', async () => {
    const mark = daemon.logs.length;
    await call(change);
    points = since(mark, (l) => l.event === 'fault-point').map((l) => ({ point: String(l.point), n: Number(l.n), ...(l.lines !== undefined ? { lines: Number(l.lines) } : {}) }));
    expectRunningMatchesCaps(readRunning(daemon.stateDir), await client.call('Host.getNetworkCapabilities'));
    await backToInitial(client, host);
    const names = points.map((p) => p.point);
    for (const kind of ['batch', 'fsync:journal.jsonl', 'rename:journal.jsonl', 'fsync-dir:journal.jsonl', 'unlink:journal.jsonl',
      'fsync:running.json', 'rename:running.json', 'fsync-dir:running.json', 'fsync:resolv.conf', 'rename:resolv.conf', 'sysctl:veth_2', 'libvirt']) {
      expect(names, kind).toContain(kind);
    }
    // the running config is the last thing committed: only the journal's removal comes after it
    const lastRunning = names.lastIndexOf('fsync-dir:running.json');
    expect(names.slice(lastRunning + 1).every((p) => p.endsWith(':journal.jsonl')), names.join(' ')).toBe(true);
  }, 60_000);

  it('each step failed in turn: the documented code, and the host exactly as before', async () => {
    expect(points.length).toBeGreaterThan(0);
    const before = await snapshot();
    for (const p of points) {
      if (p.point === 'batch') {
        for (let line = 1; line <= p.lines!; line++) {
          await expectFailsExactly([{ point: 'batch', n: p.n, line }], expectedCode('batch'), before);
          injected.batchLines++;
        }
      } else {
        await expectFailsExactly([{ point: p.point, n: p.n }], expectedCode(p.point), before);
        injected.steps++;
      }
    }
  }, 600_000);

  it('a change that makes itself safe (commitOnSuccess): each step of the safe config failed, safe.json and running.json as before', async () => {
    const before = await snapshot();
    for (const point of ['fsync:safe.json', 'rename:safe.json', 'fsync-dir:safe.json']) {
      await expectFailsExactly([{ point, n: 1 }], ErrorCode.STORE_FAILED, before, { ...options, commitOnSuccess: true });
      injected.safe++;
    }
  }, 120_000);

  it('a failing line of the rollback batch is retried: the host still ends exactly as before', async () => {
    const before = await snapshot();
    // the latest failure before the commit undoes everything: its rollback batch is the longest
    const late = { point: 'fsync:running.json', n: 1 };
    const mark = await expectFailsExactly([late], ErrorCode.STORE_FAILED, before);
    const rollback = since(mark, (l) => l.event === 'fault-point' && l.point === 'batch' && l.force === true)[0];
    expect(rollback, 'a rollback batch ran').toBeDefined();
    const { n, lines } = rollback as unknown as { n: number; lines: number };
    expect(lines).toBeGreaterThan(3);
    for (let line = 1; line <= lines; line++) {
      await expectFailsExactly([late, { point: 'batch', n, line }], ErrorCode.STORE_FAILED, before);
      injected.rollbackLines++;
    }
    // and the same request goes through once nothing fails
    faults.set([]);
    expect(await call(change)).toEqual({ code: 0, message: 'Done' });
    expectRunningMatchesCaps(readRunning(daemon.stateDir), await client.call('Host.getNetworkCapabilities'));
    process.stdout.write(`fault injection: ${total()} faults injected (${JSON.stringify(injected)}), host exact after each\n`);
  }, 600_000);
});
