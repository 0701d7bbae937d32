/**
 * A change's progress (issue 16, item 4), on the real daemon in a namespace: the phase
 * notifications `|net|progress|<id>` reach the requesting connection, in order, when it
 * subscribed to events, and nobody else; hostnetctl shows them on a terminal (a pseudo-terminal
 * made by util-linux's `script`), with the confirmation countdown, and never on a pipe or with
 * --json.
 */
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupStaleNetns, createNetnsHost, type NetnsHost } from '../helpers/netns.js';
import { CLI_MAIN, ensureBuilt, runCli, startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { RpcTestClient } from '../helpers/rpc-client.js';

let host: NetnsHost;
let daemon: TestDaemon;

beforeAll(async () => {
  await cleanupStaleNetns('hpg-');
  host = await createNetnsHost({ prefix: 'hpg-', nics: 2 });
  daemon = await startTestDaemon({ ns: host.ns });
});

afterAll(async () => {
  await daemon?.cleanup();
  await host?.destroy();
});

type Note = { method?: string; params?: Record<string, unknown> };

/** Everything the client got that no call waited for, so far. */
async function drain(c: RpcTestClient): Promise<Note[]> {
  const got: Note[] = [];
  while (c.unmatchedCount() > 0) got.push((await c.nextUnmatched()) as Note);
  return got;
}

const progressOf = (notes: Note[], id: string | number) => notes.filter((n) => n.method === `|net|progress|${id}`);
const phases = (notes: Note[]) => notes.map((n) => n.params?.phase);

describe('the daemon', () => {
  it('sends a subscribed requester its phases in order, before the answer; only to it', async () => {
    const asker = await RpcTestClient.connect(daemon.target);
    const other = await RpcTestClient.connect(daemon.target);
    const confirmer = await RpcTestClient.connect(daemon.target);
    try {
      expect(await asker.call('Host.subscribeEvents')).toBe(true);
      expect(await other.call('Host.subscribeEvents')).toBe(true);
      const answer = asker.request('Host.setupNetworks', {
        networks: { pgnet: { nic: 'veth_0', ipaddr: '192.0.2.61', prefix: 24 } },
        options: { connectivityCheck: true, connectivityTimeout: 60 },
      }, 'change-1');
      // the change waits for its confirmation: confirm once the requester has been told so
      const seen: Note[] = [];
      while (!seen.some((n) => n.params?.phase === 'confirming')) seen.push((await asker.nextUnmatched()) as Note);
      expect(await confirmer.call('Host.confirmConnectivity')).toBe(true);
      expect((await answer).result).toEqual({ code: 0, message: 'Done' });
      const notes = progressOf([...seen, ...(await drain(asker))], 'change-1');
      expect(phases(notes)).toEqual(['planning', 'applying', 'verifying', 'confirming', 'committing']);
      expect(notes[1]!.params!.ops).toBeGreaterThan(0);
      expect(notes[3]!.params!.timeoutSeconds).toBe(60);
      for (const n of notes) expect(n.params!.notify_time).toEqual(expect.any(Number));
      // monotonic and in order
      const times = notes.map((n) => n.params!.notify_time as number);
      expect([...times].sort((a, b) => a - b)).toEqual(times);
      // another subscriber hears the host's events, never someone else's progress
      await other.call('Host.ping2');
      expect((await drain(other)).filter((n) => n.method?.startsWith('|net|progress|'))).toEqual([]);
    } finally {
      await Promise.all([asker.close(), other.close(), confirmer.close()]);
    }
  });

  it('tells of the rollback; a requester that did not subscribe, or speaks STOMP as the engine does, gets no progress', async () => {
    const asker = await RpcTestClient.connect(daemon.target);
    const quiet = await RpcTestClient.connect(daemon.target);
    const engine = await RpcTestClient.connect({ socket: daemon.socket, protocol: 'stomp' });
    try {
      await asker.call('Host.subscribeEvents');
      const failed = await asker.request('Host.setupNetworks', {
        networks: { pgnet: { remove: true } }, options: { connectivityCheck: true, connectivityTimeout: 1 },
      }, 7);
      expect(failed.error?.code).toBe(10);
      const notes = progressOf(await drain(asker), 7);
      expect(phases(notes)).toEqual(['planning', 'applying', 'verifying', 'confirming', 'rolling-back']);
      expect(notes[4]!.params!.code).toBe(10);

      // the same change without subscribing: nothing but the answer
      const r = await quiet.request('Host.setupNetworks', { networks: { pgnet: { remove: true } }, options: { connectivityCheck: false } }, 8);
      expect(r.result).toEqual({ code: 0, message: 'Done' });
      expect(await drain(quiet)).toEqual([]);

      // STOMP: subscribed to jms.queue.events like the engine, which must never meet an event it does not know
      const e = await engine.request('Host.setupNetworks', { networks: { pgnet: { nic: 'veth_0' } }, options: { connectivityCheck: false } }, 9);
      expect(e.result).toEqual({ code: 0, message: 'Done' });
      await engine.call('Host.ping2');
      expect((await drain(engine)).filter((n) => n.method?.startsWith('|net|progress|'))).toEqual([]);
      expect((await engine.request('Host.setupNetworks', { networks: { pgnet: { remove: true } }, options: { connectivityCheck: false } })).result)
        .toEqual({ code: 0, message: 'Done' });
    } finally {
      await Promise.all([asker.close(), quiet.close(), engine.close()]);
    }
  });
});

/** hostnetctl under a pseudo-terminal: `script` runs it with its stdout (and stderr) a tty; the transcript is script's stdout. */
async function cliOnTerminal(args: string[]): Promise<{ code: number; out: string }> {
  await ensureBuilt();
  const cmd = [process.execPath, CLI_MAIN, '--socket', daemon.socket, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ');
  const r = await execa('script', ['-q', '-f', '-e', '-c', cmd, '/dev/null'], { reject: false, timeout: 60_000, stdin: 'ignore' });
  return { code: r.exitCode ?? -1, out: String(r.stdout).replace(/\r\n/g, '\n') };
}

describe('hostnetctl setup', () => {
  const change = ['setup', '--net', 'pgcli', '--nic', 'veth_1', '--ip', '192.0.2.62/24', '--no-confirm', '--timeout', '4'];

  it('on a terminal: the phases, then a countdown while it waits for its confirmation', async () => {
    const r = await cliOnTerminal(change);
    expect(r.code).toBe(1);
    const lines = r.out.split('\n');
    expect(lines.slice(0, 3)).toEqual(['planning the change', expect.stringMatching(/^applying \d+ kernel operations$/), 'verifying the kernel against the plan']);
    // one line rewritten in place each second: 4 s, then fewer
    const countdown = lines[3]!.split('\r\x1b[K');
    expect(countdown[0]).toMatch(/^waiting for Host\.confirmConnectivity: [1-4] s left$/);
    const left = countdown.map((c) => Number(/: (\d) s left$/.exec(c)?.[1]));
    expect(left.length).toBeGreaterThanOrEqual(2);
    expect(left.every((n, i) => i === 0 || n < left[i - 1]!)).toBe(true);
    expect(lines[4]).toBe('the change failed (error 10): rolling back');
    expect(r.out).toMatch(/hostnetctl: Host.setupNetworks failed: error 10: connectivity check failed/);
  });

  it('on a pipe, and with --json on a terminal: no progress (and no subscription)', async () => {
    const subscriptions = () => daemon.logs.filter((l) => l.msg === 'request' && l.method === 'Host.subscribeEvents').length;
    const before = subscriptions();
    const piped = await runCli(['--socket', daemon.socket, ...change]);
    expect(piped.code).toBe(1);
    expect(piped.stderr).toMatch(/error 10: connectivity check failed/);
    expect(piped.stdout).toBe('');
    const json = await cliOnTerminal(['--json', ...change]);
    expect(json.code).toBe(1);
    expect(json.out).not.toMatch(/planning|kernel operations|s left|rolling back/);
    expect(json.out).toMatch(/error 10: connectivity check failed/);
    expect(subscriptions()).toBe(before);
  });
});
