/**
 * hostnetctl (dist/cli/main.js, as bin/hostnetctl runs it) against the real daemon in a
 * namespace: exit codes 0/1/2, tables and --json, and setup confirming connectivity itself.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupStaleNetns, createNetnsHost, type NetnsHost } from '../helpers/netns.js';
import { spawn } from 'node:child_process';
import { CLI_MAIN, runCli, startTestDaemon, type TestDaemon } from '../helpers/daemon.js';

let host: NetnsHost;
let daemon: TestDaemon;
const tmp = mkdtempSync(path.join(tmpdir(), 'hnr-cli-'));
const ctl = (...args: string[]) => runCli(['--socket', daemon.socket, ...args]);

beforeAll(async () => {
  await cleanupStaleNetns('hnr-');
  host = await createNetnsHost({ prefix: 'hnr-', nics: 3 });
  await host.ip(['link', 'add', 'br_hand', 'type', 'bridge']);
  await host.ip(['link', 'set', 'veth_2', 'master', 'br_hand']);
  await host.bridge(['link', 'set', 'dev', 'veth_2', 'isolated', 'on']);
  await host.ip(['addr', 'add', '192.0.2.30/24', 'dev', 'veth_1']);
  daemon = await startTestDaemon({ ns: host.ns, resolvConf: 'nameserver 192.0.2.1\n' });
});

afterAll(async () => {
  await daemon?.cleanup();
  await host?.destroy();
  rmSync(tmp, { recursive: true, force: true });
});

describe('reading', () => {
  it('caps prints tables: NICs with addresses, the bridge with port flags', async () => {
    const r = await ctl('caps');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^NICS\nNAME\s+HWADDR\s+MTU\s+SPEED\s+ADDRESSES$/m);
    expect(r.stdout).toMatch(/^veth_1\s+([0-9a-f]{2}:){5}[0-9a-f]{2}\s+1500\s+\S+\s+192\.0\.2\.30\/24$/m);
    expect(r.stdout).toMatch(/^br_hand\s+off\s+.*veth_2 \(isolated\)$/m);
    expect(r.stdout).toMatch(/^nameservers:\s+192\.0\.2\.1$/m);
  });

  it('caps --json prints the JSON-RPC result', async () => {
    const r = await ctl('caps', '--json');
    expect(r.code).toBe(0);
    const caps = JSON.parse(r.stdout);
    expect(caps.nics.veth_1.ipv4addrs).toEqual(['192.0.2.30/24']);
    expect(caps.bridges.br_hand.ports).toEqual(['veth_2']);
  });

  it('stats prints a table, --json the result', async () => {
    const r = await ctl('stats');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^veth_0\s/m);
    const j = JSON.parse((await ctl('--json', 'stats')).stdout);
    expect(j.network.veth_0.name).toBe('veth_0');
  });

  it('takes a socket path relative to the current directory', async () => {
    const rel = path.relative(process.cwd(), daemon.socket);
    expect(rel.startsWith('/')).toBe(false);
    expect((await runCli(['--socket', rel, 'ping'])).code).toBe(0);
  });

  it('ping and confirm succeed', async () => {
    expect((await ctl('ping')).stdout).toMatch(/hostnetd answered in [\d.]+ ms/);
    expect((await ctl('confirm')).code).toBe(0);
  });

  it('call prints any verb result as JSON', async () => {
    const r = await ctl('call', 'Host.ping2');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toBe(true);
  });
});

describe('exit codes', () => {
  it('1 with code and message on stderr when hostnetd answers an error', async () => {
    const r = await ctl('call', 'Host.frobnicate');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Host.frobnicate failed: error -32601: Method not found: Host.frobnicate/);
    const p = await ctl('call', 'Host.setupNetworks', '{"networks": []}');
    expect(p.code).toBe(1);
    expect(p.stderr).toMatch(/error -32602/);
  });

  it('2 for usage errors, pointing at --help', async () => {
    for (const argv of [['frobnicate'], ['caps', '--nic', 'x'], ['call'], ['setup', '--nic', 'veth_0']]) {
      const r = await ctl(...argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/--help' for usage/);
    }
  });

  it('2 with an actionable message when the daemon cannot be reached', async () => {
    const r = await runCli(['--socket', path.join(tmp, 'nope.sock'), 'caps']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`cannot connect to ${path.join(tmp, 'nope.sock')}: no such socket: is hostnetd running? (systemctl status hostnetd)`);
    const u = await runCli(['--url', 'ws://127.0.0.1:1', 'caps']);
    expect(u.code).toBe(2);
    expect(u.stderr).toMatch(/connection refused: is hostnetd listening there/);
  });

  it('--help on every command, exit 0', async () => {
    const top = await runCli(['--help']);
    expect(top.code).toBe(0);
    expect(top.stdout).toMatch(/^Usage: hostnetctl \[options\] COMMAND/);
    for (const cmd of ['caps', 'stats', 'call', 'setup', 'persist', 'confirm', 'ping']) {
      const r = await runCli([cmd, '--help']);
      expect(r.code, cmd).toBe(0);
      expect(r.stdout, cmd).toContain(`Usage: hostnetctl ${cmd}`);
    }
  });
});

describe('changing networks', () => {
  it('setup from flags confirms connectivity itself and the network shows up', async () => {
    const r = await ctl('setup', '--net', 'clinet', '--nic', 'veth_0', '--ip', '192.0.2.20/24', '--timeout', '8');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/applied: clinet \(set up\)/);
    const caps = JSON.parse((await ctl('caps', '--json')).stdout);
    expect(caps.networks.clinet).toMatchObject({ bridged: true, southbound: 'veth_0', ipv4addrs: ['192.0.2.20/24'] });
    expect(caps.netConfigDirty).toBe(true);
    expect(daemon.logs.some((l) => l.msg === 'request' && l.method === 'Host.confirmConnectivity')).toBe(true);
  });

  it('persist makes it safe', async () => {
    expect((await ctl('persist')).code).toBe(0);
    expect(JSON.parse((await ctl('caps', '--json')).stdout).netConfigDirty).toBe(false);
  });

  it('without confirmation the change is rolled back and the CLI exits 1 with code 10', async () => {
    const r = await ctl('setup', '--remove', 'clinet', '--no-confirm', '--timeout', '1');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Host.setupNetworks failed: error 10:/);
    expect(JSON.parse((await ctl('caps', '--json')).stdout).networks.clinet).toBeDefined();
  });

  it('setup from a file; a bad NIC exits 1 with code 23', async () => {
    const file = path.join(tmp, 'bad.json');
    writeFileSync(file, JSON.stringify({ networks: { other: { nic: 'veth_9' } } }));
    const r = await ctl('setup', file);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error 23: .*veth_9/);
    const rm = path.join(tmp, 'rm.json');
    writeFileSync(rm, JSON.stringify({ networks: { clinet: { remove: true } } }));
    const ok = await ctl('setup', rm, '--no-check');
    expect(ok.code).toBe(0);
    expect(JSON.parse((await ctl('caps', '--json')).stdout).networks).toEqual({});
  });
});

describe('hostnetd attributes from flags', () => {
  it('--port-isolation and --mac-table-manager reach the daemon; a bond on a kernel without bonding is refused with its code', async () => {
    const r = await ctl('setup', '--net', 'isonet', '--nic', 'veth_1', '--port-isolation', '--mac-table-manager', 'kernel', '--no-check');
    expect(r.code).toBe(0);
    const caps = JSON.parse((await ctl('caps', '--json')).stdout);
    expect(caps.networks.isonet).toMatchObject({ portIsolation: true, macTableManager: 'kernel' });
    const bad = await ctl('setup', '--bond-def', 'bond7', '--slaves', 'veth_9', '--no-check');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/error 23: .*veth_9/);
    expect((await ctl('setup', '--remove', 'isonet', '--no-check')).code).toBe(0);
  });
});

describe('events', () => {
  it('prints |net|host_conn|no_id live when a managed NIC loses its carrier, and stops on Ctrl-C', async () => {
    expect((await ctl('setup', '--net', 'evnet', '--nic', 'veth_0', '--bridgeless', '--no-check')).code).toBe(0);
    const proc = spawn(process.execPath, [CLI_MAIN, '--socket', daemon.socket, 'events'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const until = (pred: () => boolean) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (pred()) resolve();
        };
        proc.stdout!.on('data', (d: Buffer) => { stdout += d; check(); });
        proc.stderr!.on('data', (d: Buffer) => { stderr += d; check(); });
        proc.once('exit', () => (pred() ? resolve() : reject(new Error(`hostnetctl events exited: ${stderr}`))));
        check();
      });
    try {
      await until(() => stderr.includes('waiting for events'));
      await host.swIp(['link', 'set', 'sw_0', 'down']);
      await until(() => stdout.includes('|net|host_conn|no_id'));
      expect(stdout).toMatch(/^\d{4}-\d\d-\d\dT\S+Z {2}\|net\|host_conn\|no_id {2}a managed network's device changed/m);
      const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
      proc.kill('SIGINT');
      expect(await exited).toBe(0);
    } finally {
      proc.kill('SIGKILL');
      await host.swIp(['link', 'set', 'sw_0', 'up']);
      expect((await ctl('setup', '--remove', 'evnet', '--no-check')).code).toBe(0);
    }
  });
});
