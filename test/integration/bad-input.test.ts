/**
 * Bad input and bad files against the real daemon in a namespace (issue 10, defects 4, 5, 8, 9):
 * networks named like Object.prototype members are set up, reported and removed like any other;
 * bad values answer their code and change nothing; a state file of the wrong shape stops
 * `hostnetd restore` and the daemon with 103 and changes nothing; an unsafe state directory is
 * fixed with a warning or refused.
 */
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import type { NetnsHost } from '../helpers/netns.js';
import { useDaemonHost } from '../helpers/daemon-host.js';
import { DAEMON_MAIN, inNetns, startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { RpcTestClient } from '../helpers/rpc-client.js';
import { comparableState, expectRunningMatchesCaps, readRunning } from '../helpers/state.js';

let host: NetnsHost;
let daemon: TestDaemon;
let client: RpcTestClient;

const PROTO = ['toString', 'constructor', '__proto__'] as const;

useDaemonHost({ prefix: 'hbi-', nics: 4 }, (e) => ({ host, daemon, client } = e));

/** The request as text: a JS object literal cannot carry an own "__proto__" key, JSON can. */
const setupFrame = (id: number, networksJson: string, bondingsJson = '{}') =>
  `{"jsonrpc":"2.0","id":${id},"method":"Host.setupNetworks","params":{"networks":${networksJson},"bondings":${bondingsJson},"options":{"connectivityCheck":false}}}`;

let nextId = 1000;
async function raw(networksJson: string, bondingsJson = '{}'): Promise<{ result?: unknown; error?: { code: number; message: string } }> {
  return (await client.sendRaw(setupFrame(nextId++, networksJson, bondingsJson))) as { result?: unknown; error?: { code: number; message: string } };
}

async function expectRefusedUnchanged(code: number, word: string, networksJson: string, bondingsJson = '{}') {
  const before = await comparableState(host.ns);
  const running = readFileSync(path.join(daemon.stateDir, 'running.json'), 'utf8');
  const r = await raw(networksJson, bondingsJson);
  expect(r.error?.code, JSON.stringify(r)).toBe(code);
  expect(r.error?.message).toContain(word);
  expect(await comparableState(host.ns)).toEqual(before);
  expect(readFileSync(path.join(daemon.stateDir, 'running.json'), 'utf8')).toBe(running);
}

describe('networks named toString, constructor and __proto__', () => {
  it('are set up, reported in capabilities and in running.json', async () => {
    const nets = PROTO.map((n, i) => `"${n}": {"nic": "veth_${i}", "ipaddr": "192.0.2.${i + 10}", "prefix": 24, "portIsolation": true}`);
    const r = await raw(`{${nets.join(',')}}`);
    expect(r).toMatchObject({ result: { code: 0, message: 'Done' } });
    const links = await host.links();
    for (const [i, name] of PROTO.entries()) {
      expect(Object.hasOwn(links, name)).toBe(true);
      expect(links[name]?.linkinfo).toMatchObject({ info_kind: 'bridge' });
      expect((links[`veth_${i}`] as { master?: string }).master).toBe(name);
    }
    const caps = await client.call<Record<string, Record<string, unknown>>>('Host.getNetworkCapabilities');
    expect(Object.keys(caps.networks!).sort()).toEqual([...PROTO].sort());
    expect(Object.keys(caps.bridges!).filter((b) => (PROTO as readonly string[]).includes(b)).sort()).toEqual([...PROTO].sort());
    expect(caps.networks!.__proto__).toMatchObject({ iface: '__proto__', addr: '192.0.2.12', portIsolation: true });
    const running = readRunning(daemon.stateDir);
    expect(Object.keys(running.networks).sort()).toEqual([...PROTO].sort());
    expectRunningMatchesCaps(running, caps);
  });

  it('an edit of toString keeps its rules (portIsolation is fixed: 21, naming it)', async () => {
    await expectRefusedUnchanged(ErrorCode.BAD_PARAMS, "network 'toString': 'portIsolation' is fixed", '{"toString": {"nic": "veth_0"}}');
  });

  it('bridge option toString=1 is 21 and bond option toString=1 is 25, before anything changes', async () => {
    await expectRefusedUnchanged(ErrorCode.BAD_PARAMS, "unknown bridge option 'toString'",
      '{"net9": {"nic": "veth_3", "custom": {"bridge_opts": "toString=1"}}}');
    await expectRefusedUnchanged(ErrorCode.BAD_BONDING, "unknown bond option 'toString'",
      '{}', '{"bond0": {"nics": ["veth_3"], "options": "mode=1 toString=1"}}');
  });

  it('bad addresses answer 22 and change nothing', async () => {
    await expectRefusedUnchanged(ErrorCode.BAD_ADDR, 'ipv6addr', '{"net9": {"nic": "veth_3", "ipv6addr": "fe80::1%veth_3/64"}}');
    await expectRefusedUnchanged(ErrorCode.BAD_ADDR, 'nameserver',
      '{"net9": {"nic": "veth_3", "ipaddr": "192.0.2.40", "prefix": 24, "defaultRoute": true, "nameservers": ["fe80::1%eth0"]}}');
    await expectRefusedUnchanged(ErrorCode.BAD_ADDR, 'prefix', '{"net9": {"nic": "veth_3", "ipaddr": "192.0.2.40", "prefix": 0}}');
    await expectRefusedUnchanged(ErrorCode.BAD_ADDR, 'multicast',
      '{"net9": {"nic": "veth_3", "ipaddr": "192.0.2.40", "prefix": 24, "gateway": "224.0.0.1"}}');
    const deep = `${'['.repeat(20_000)}"192.0.2.1"${']'.repeat(20_000)}`;
    await expectRefusedUnchanged(ErrorCode.BAD_ADDR, 'ipaddr', `{"net9": {"nic": "veth_3", "ipaddr": ${deep}, "prefix": 24}}`);
    const r = await raw(deep);
    expect(r.error?.code).toBe(ErrorCode.INVALID_PARAMS);
  });

  it('are removed; removing one that is gone is 27', async () => {
    const r = await raw(`{${PROTO.map((n) => `"${n}": {"remove": true}`).join(',')}}`);
    expect(r).toMatchObject({ result: { code: 0, message: 'Done' } });
    const links = await host.links();
    for (const name of PROTO) expect(Object.hasOwn(links, name)).toBe(false);
    const caps = await client.call<Record<string, Record<string, unknown>>>('Host.getNetworkCapabilities');
    expect(caps.networks).toEqual({});
    await expectRefusedUnchanged(ErrorCode.BAD_BRIDGE, "network 'constructor': cannot remove it, no such network", '{"constructor": {"remove": true}}');
  });
});

function runRestore(stateDir: string, dir: string): Promise<{ code: number | null; out: string }> {
  const [cmd, argv] = inNetns(host.ns, process.execPath, [
    DAEMON_MAIN, 'restore', '--state-dir', stateDir, '--run-dir', path.join(dir, 'run'),
    '--resolv-conf', path.join(dir, 'resolv.conf'), '--libvirt-uri', 'none',
  ]);
  return new Promise((resolve) => {
    const p = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += String(d)));
    p.stderr.on('data', (d: Buffer) => (out += String(d)));
    p.once('exit', (code) => resolve({ code, out }));
  });
}

describe('state files of the wrong shape', () => {
  it('`hostnetd restore` with a bad safe.json changes nothing and exits non-zero naming the file and the field', async () => {
    const dir = path.join(daemon.dir, 'restore-bad-safe');
    const stateDir = path.join(dir, 'state');
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    const bad = JSON.stringify({
      version: 1, bonds: {},
      networks: { br9: { name: 'br9', bridged: true, nic: 'veth_3', mtu: 'abc', stp: false, ipv6: { addresses: [], autoconf: false },
        defaultRoute: false, nameservers: [], bridgeOpts: {}, portIsolation: false, macTableManager: 'kernel', switch: 'legacy', bootproto: 'none', dhcpv6: false } },
    });
    writeFileSync(path.join(stateDir, 'safe.json'), bad);
    const before = await comparableState(host.ns);
    const r = await runRestore(stateDir, dir);
    expect(r.code).toBe(1);
    expect(r.out).toContain(`${path.join(stateDir, 'safe.json')} is corrupt: field networks.br9.mtu`);
    expect(await comparableState(host.ns)).toEqual(before);
    expect(readFileSync(path.join(stateDir, 'safe.json'), 'utf8')).toBe(bad);
  });

  it('the daemon refuses to start on a running.json of the wrong shape, and leaves it as it is', async () => {
    const dir = path.join(daemon.dir, 'start-bad-running');
    const stateDir = path.join(dir, 'state');
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    const bad = JSON.stringify({ version: 1, bonds: {}, networks: { 'br 0': { name: 'br 0' } } });
    writeFileSync(path.join(stateDir, 'running.json'), bad);
    const d = await startTestDaemon({ ns: host.ns, dir, waitReady: false });
    try {
      expect((await d.exited).code).toBe(1);
      expect(d.stderr()).toContain(`${path.join(stateDir, 'running.json')} is corrupt: field networks.br 0`);
      expect(readFileSync(path.join(stateDir, 'running.json'), 'utf8')).toBe(bad);
    } finally {
      await d.cleanup();
    }
  });
});

describe('state directory permissions', () => {
  it('a state directory writable by others gets its mode fixed, with a warning in the log', async () => {
    const dir = path.join(daemon.dir, 'perm-fix');
    const stateDir = path.join(dir, 'state');
    mkdirSync(stateDir, { recursive: true });
    chmodSync(stateDir, 0o777);
    const d = await startTestDaemon({ ns: host.ns, dir });
    try {
      const warn = await d.waitForLog((l) => l.event === 'state-permissions-fixed');
      expect(warn).toMatchObject({ path: stateDir, from: '0777', to: '0755' });
      expect(statSync(stateDir).mode & 0o777).toBe(0o755);
    } finally {
      await d.cleanup();
    }
  });

  it('a state file owned by another user: the daemon refuses to start, saying which and why', async () => {
    const dir = path.join(daemon.dir, 'perm-owner');
    const stateDir = path.join(dir, 'state');
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    writeFileSync(path.join(stateDir, 'safe.json'), JSON.stringify({ version: 1, networks: {}, bonds: {} }));
    chownSync(path.join(stateDir, 'safe.json'), 65534, 65534);
    const d = await startTestDaemon({ ns: host.ns, dir, waitReady: false });
    try {
      expect((await d.exited).code).toBe(1);
      expect(d.stderr()).toContain(`refusing to use the state directory: file ${path.join(stateDir, 'safe.json')} is owned by uid 65534`);
    } finally {
      await d.cleanup();
    }
  });
});
