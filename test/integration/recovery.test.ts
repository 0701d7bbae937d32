/**
 * Crash safety and the boot-time restore, on a real kernel with the real daemon:
 * - kill -9 while a change waits for its connectivity check (the kernel is changed, the journal
 *   is on disk): the next start rolls the namespace back before serving;
 * - safe config, then devices changed behind the daemon's back and an unsafe network added:
 *   `hostnetd restore` brings the safe config back exactly.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createNetnsHost, type NetnsHost } from '../helpers/netns.js';
import { DAEMON_MAIN, startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { RpcTestClient } from '../helpers/rpc-client.js';
import { comparableState, expectRunningMatchesCaps, readRunning } from '../helpers/state.js';

let host: NetnsHost;
let daemon: TestDaemon | undefined;

beforeEach(async () => {
  host = await createNetnsHost({ prefix: 'hnt-', nics: 3 });
});
afterEach(async () => {
  await daemon?.cleanup();
  daemon = undefined;
  await host.destroy();
});

const restoreArgs = (d: TestDaemon) => [
  DAEMON_MAIN, 'restore', '--state-dir', d.stateDir, '--run-dir', d.runDir, '--resolv-conf', d.resolvConf, '--libvirt-uri', 'none',
  '--log-level', 'warn',
];

describe('crash safety', () => {
  it('kill -9 mid-change, then restart: the host is rolled back before any request is served', async () => {
    daemon = await startTestDaemon({ ns: host.ns });
    const c = await RpcTestClient.connect({ socket: daemon.socket });
    await c.call('Host.setupNetworks', { networks: { keep: { nic: 'veth_0', ipaddr: '192.0.2.20', prefix: 24 } }, options: { connectivityCheck: false } });
    await c.call('Host.setSafeNetworkConfig');
    const before = await comparableState(host.ns);
    const runningBefore = readRunning(daemon.stateDir);

    const mark = daemon.logs.length;
    void c.call('Host.setupNetworks', {
      networks: { keep: { nic: 'veth_1', ipaddr: '192.0.2.21', prefix: 24, mtu: 1400 }, doomed: { nic: 'veth_2' } },
      options: { connectivityTimeout: 60 },
    }).catch(() => undefined);
    await daemon.waitForLog((l) => daemon!.logs.indexOf(l) >= mark && l.event === 'await-connectivity');
    expect(await comparableState(host.ns)).not.toEqual(before);
    expect(existsSync(path.join(daemon.stateDir, 'journal.jsonl'))).toBe(true);
    await daemon.stop('SIGKILL');
    await c.close().catch(() => undefined);

    const again = await startTestDaemon({ ns: host.ns, dir: daemon.dir, stateDir: daemon.stateDir });
    const recovered = again.logs.findIndex((l) => l.event === 'recovered');
    const ready = again.logs.findIndex((l) => l.msg === 'ready');
    expect(recovered).toBeGreaterThanOrEqual(0);
    expect(recovered).toBeLessThan(ready);
    expect(await comparableState(host.ns)).toEqual(before);
    expect(readRunning(again.stateDir)).toEqual(runningBefore);
    expect(existsSync(path.join(again.stateDir, 'journal.jsonl'))).toBe(false);
    const c2 = await RpcTestClient.connect({ socket: again.socket });
    expectRunningMatchesCaps(readRunning(again.stateDir), await c2.call('Host.getNetworkCapabilities'));
    await c2.close();
    await again.stop();
    daemon = again;
  });
});

describe('hostnetd restore', () => {
  it('brings the safe config back after devices were changed behind the daemon and an unsafe network was added', async () => {
    daemon = await startTestDaemon({ ns: host.ns });
    const c = await RpcTestClient.connect({ socket: daemon.socket });
    const opts = { connectivityCheck: false };
    await c.call('Host.setupNetworks', {
      networks: {
        safe1: { nic: 'veth_0', ipaddr: '192.0.2.30', prefix: 24, gateway: '192.0.2.1', defaultRoute: true, mtu: 1450 },
        safe2: {},
      },
      options: opts,
    });
    await c.call('Host.setSafeNetworkConfig');
    const safeState = await comparableState(host.ns);
    await c.call('Host.setupNetworks', { networks: { unsafe: { nic: 'veth_1', bridged: false, ipaddr: '198.51.100.9', prefix: 24 } }, options: opts });
    await c.close();
    await daemon.stop();

    // behind the daemon's back: a bridge deleted, an MTU and an address changed
    await host.ip(['link', 'del', 'safe2']);
    await host.ip(['link', 'set', 'dev', 'safe1', 'mtu', '1300']);
    await host.ip(['address', 'add', '203.0.113.1/24', 'dev', 'safe1']);

    const r = await execa('ip', ['netns', 'exec', host.ns, process.execPath, ...restoreArgs(daemon)], { reject: false });
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('restored safe config: 2 network(s) [safe1, safe2]');
    expect(await comparableState(host.ns)).toEqual(safeState);
    const safe = JSON.parse(readFileSync(path.join(daemon.stateDir, 'safe.json'), 'utf8'));
    expect(readRunning(daemon.stateDir)).toEqual({ networks: safe.networks, bonds: safe.bonds });
  });

  it('skips a network whose NIC is gone with a warning, and refuses while a daemon holds the state directory', async () => {
    daemon = await startTestDaemon({ ns: host.ns });
    const c = await RpcTestClient.connect({ socket: daemon.socket });
    await c.call('Host.setupNetworks', { networks: { a: { nic: 'veth_0' }, b: { nic: 'veth_2' } }, options: { connectivityCheck: false, commitOnSuccess: true } });
    await c.close();

    const busy = await execa('ip', ['netns', 'exec', host.ns, process.execPath, ...restoreArgs(daemon)], { reject: false });
    expect(busy.exitCode).toBe(1);
    expect(busy.stderr).toMatch(/locked by hostnetd daemon/);

    await daemon.stop();
    await host.ip(['link', 'del', 'veth_2']);
    const r = await execa('ip', ['netns', 'exec', host.ns, process.execPath, ...restoreArgs(daemon)], { reject: false });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('warning: skipped network b: NIC veth_2 is gone');
    expect((await host.links()).a).toBeDefined();
  });
});
