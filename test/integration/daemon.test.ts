/**
 * The real daemon (dist/, as bin/hostnetd runs it) in a namespace of its own, talked to over
 * its socket like a client would: capabilities of hand-made devices, the protocol's errors,
 * concurrency and isolation between clients; then its lifecycle: the state lock, stale and
 * taken sockets, refused listeners, TLS with client certificates, SIGTERM.
 */
import { mkdtempSync, rmSync, statSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupStaleNetns, createNetnsHost, type NetnsHost } from '../helpers/netns.js';
import { forwardIntoNetns, startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { RpcTestClient } from '../helpers/rpc-client.js';
import { makeTestPki } from '../helpers/tls.js';

type Obj = Record<string, any>;

let host: NetnsHost;
let daemon: TestDaemon;
const tmp = mkdtempSync(path.join(tmpdir(), 'hnr-daemon-'));

beforeAll(async () => {
  await cleanupStaleNetns('hnr-');
  host = await createNetnsHost({ prefix: 'hnr-', nics: 3 });
  // a bridge made by hand, with one port isolated and not learning, and a static FDB entry
  await host.ip(['link', 'add', 'br_hand', 'type', 'bridge']);
  await host.ip(['link', 'set', 'veth_1', 'master', 'br_hand']);
  await host.ip(['link', 'set', 'veth_2', 'master', 'br_hand']);
  await host.ip(['link', 'set', 'br_hand', 'up']);
  await host.ip(['addr', 'add', '198.51.100.1/24', 'dev', 'br_hand']);
  await host.bridge(['link', 'set', 'dev', 'veth_2', 'isolated', 'on', 'learning', 'off']);
  await host.bridge(['fdb', 'add', '52:54:00:aa:bb:cc', 'dev', 'veth_2', 'master', 'static']);
  await host.ip(['link', 'set', 'veth_0', 'mtu', '1400']);
  await host.ip(['addr', 'add', '192.0.2.10/24', 'dev', 'veth_0']);
  daemon = await startTestDaemon({ ns: host.ns, resolvConf: '# test\nnameserver 192.0.2.53\n', args: ['--warm-up', '1'] });
});

afterAll(async () => {
  await daemon?.cleanup();
  await host?.destroy();
  rmSync(tmp, { recursive: true, force: true });
});

async function withClient<T>(fn: (c: RpcTestClient) => Promise<T>): Promise<T> {
  const c = await RpcTestClient.connect(daemon.target);
  try {
    return await fn(c);
  } finally {
    await c.close();
  }
}

describe('capabilities of a namespace with veth NICs and a hand-made bridge', () => {
  let caps: Obj;
  let links: Record<string, Obj>;
  beforeAll(async () => {
    caps = await withClient((c) => c.call<Obj>('Host.getNetworkCapabilities'));
    links = await host.links();
  });

  it('lists the NICs with hwaddr, mtu and addresses', () => {
    expect(Object.keys(caps.nics).sort()).toEqual(['veth_0', 'veth_1', 'veth_2']);
    expect(caps.nics.veth_0).toMatchObject({
      hwaddr: links.veth_0!.address,
      mtu: '1400',
      ipv4addrs: ['192.0.2.10/24'],
      addr: '192.0.2.10',
      netmask: '255.255.255.0',
    });
    expect(caps.nics.veth_1).toMatchObject({ hwaddr: links.veth_1!.address, mtu: '1500', ipv4addrs: [] });
  });

  it('lists the bridge with its ports, their flags and its static FDB entry', () => {
    const br = caps.bridges.br_hand;
    expect(br).toBeDefined();
    expect([...br.ports].sort()).toEqual(['veth_1', 'veth_2']);
    expect(br.stp).toBe('off');
    expect(br.ipv4addrs).toEqual(['198.51.100.1/24']);
    expect(br.portFlags.veth_2).toEqual({ isolated: true, learning: false, flood: true });
    expect(br.portFlags.veth_1).toEqual({ isolated: false, learning: true, flood: true });
    expect(br.fdb).toEqual(expect.arrayContaining([expect.objectContaining({ mac: '52:54:00:aa:bb:cc', port: 'veth_2' })]));
    expect(typeof br.opts).toBe('object');
  });

  it('reports nameservers from --resolv-conf, no networks, and the hostnet section', () => {
    expect(caps.nameservers).toEqual(['192.0.2.53']);
    expect(caps.networks).toEqual({});
    expect(caps.netConfigDirty).toBe(false);
    expect(caps.hostnet.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(Object.keys(caps.hostnet.kernel).sort()).toEqual(['bonding', 'fqCodel', 'hfsc', 'portIsolation', 'vlan', 'vlanFiltering']);
    expect(caps.hostnet.libvirt.uri).toBe('none');
  });

  it('getCapabilities carries the same network part plus host facts', async () => {
    const full = await withClient((c) => c.call<Obj>('Host.getCapabilities', []));
    expect(full.nics).toEqual(caps.nics);
    expect(full.bridges.br_hand.ports).toEqual(caps.bridges.br_hand.ports);
    expect(Number(full.cpuCores)).toBeGreaterThan(0);
    expect(Number(full.memSize)).toBeGreaterThan(0);
    expect(full.software_version).toBe(caps.hostnet.version);
  });

  it('getNetworkStatistics lists the NICs with their counters as the kernel has them now', async () => {
    // traffic out of veth_0 (ARP for an address nobody has), so the counter is not zero
    await host.exec('ping', ['-c', '1', '-W', '1', '192.0.2.11']).catch(() => undefined);
    const counters = async () => {
      const [l] = JSON.parse(await host.ip(['-j', '-s', 'link', 'show', 'veth_0'])) as Obj[];
      return { tx: Number(l?.stats64.tx.bytes), rx: Number(l?.stats64.rx.bytes) };
    };
    const before = await counters();
    const stats = await withClient((c) => c.call<Obj>('Host.getNetworkStatistics', {}));
    const after = await counters();
    expect(before.tx).toBeGreaterThan(0);
    expect(stats.network.veth_0).toMatchObject({ name: 'veth_0' });
    expect(Number(stats.network.veth_0.tx)).toBeGreaterThanOrEqual(before.tx);
    expect(Number(stats.network.veth_0.tx)).toBeLessThanOrEqual(after.tx);
    expect(Number(stats.network.veth_0.rx)).toBeGreaterThanOrEqual(before.rx);
    expect(Number(stats.network.veth_0.rx)).toBeLessThanOrEqual(after.rx);
    expect(stats.network.veth_0).toHaveProperty('sampleTime');
  });
});

describe('protocol through the daemon', () => {
  it('answers the liveness and connectivity verbs with true', async () => {
    await withClient(async (c) => {
      expect(await c.call('Host.ping2')).toBe(true);
      expect(await c.call('Host.ping')).toBe(true);
      expect(await c.call('Host.confirmConnectivity', {})).toBe(true);
    });
  });

  it('answers the standard error codes', async () => {
    await withClient(async (c) => {
      expect(await c.sendRaw('{"jsonrpc": "2.0", "id": 1, "method": "Host.ping2"')).toMatchObject({ error: { code: -32700 } });
      expect(await c.sendRaw('{"jsonrpc": "2.0", "id": 2, "params": {}}')).toMatchObject({ id: 2, error: { code: -32600 } });
      expect((await c.callError('Host.frobnicate')).code).toBe(-32601);
      expect((await c.callError('Host.setupNetworks', { networks: [] })).code).toBe(-32602);
      expect((await c.callError('Host.setupNetworks', { networks: { n: 'veth_0' } })).code).toBe(-32602);
      expect((await c.callError('Host.getCapabilities', { verbose: true })).code).toBe(-32602);
    });
  });

  it('answers a batch', async () => {
    await withClient(async (c) => {
      const reply = (await c.sendRaw(JSON.stringify([
        { jsonrpc: '2.0', id: 'a', method: 'Host.ping2' },
        { jsonrpc: '2.0', id: 'b', method: 'Host.nope' },
      ]))) as Obj[];
      expect(reply).toEqual([
        { jsonrpc: '2.0', id: 'a', result: true },
        { jsonrpc: '2.0', id: 'b', error: { code: -32601, message: "Method not found: Host.nope (hostnetd serves VDSM's network verbs only)" } },
      ]);
    });
  });

  it('creates its socket mode 0600', () => {
    expect(statSync(daemon.socket).mode & 0o777).toBe(0o600);
  });

  it('logs each request with id, method, peer, duration and outcome', async () => {
    await withClient((c) => c.call('Host.ping2'));
    const line = daemon.logs.find((l) => l.msg === 'request' && l.method === 'Host.ping2');
    expect(line).toMatchObject({ peer: 'unix', outcome: 'ok', durationMs: expect.any(Number), reqId: expect.anything() });
  });

  it('warms the change path up before it serves', () => {
    const warmed = daemon.logs.findIndex((l) => l.event === 'warmed-up');
    expect(warmed).toBeGreaterThanOrEqual(0);
    expect(daemon.logs[warmed]).toMatchObject({ ms: expect.any(Number), ops: expect.any(Number) });
    expect(daemon.logs[warmed]!.ops).toBeGreaterThan(500);
    expect(warmed).toBeLessThan(daemon.logs.findIndex((l) => l.msg === 'ready'));
  });

  it('gives a hundred concurrent clients all correct capabilities', async () => {
    const clients = await Promise.all(Array.from({ length: 100 }, () => RpcTestClient.connect(daemon.target)));
    const all = await Promise.all(clients.map((c) => c.call<Obj>('Host.getNetworkCapabilities')));
    await Promise.all(clients.map((c) => c.close()));
    for (const caps of all) {
      expect(Object.keys(caps.nics).sort()).toEqual(['veth_0', 'veth_1', 'veth_2']);
      expect(caps.nics.veth_0.ipv4addrs).toEqual(['192.0.2.10/24']);
      expect([...caps.bridges.br_hand.ports].sort()).toEqual(['veth_1', 'veth_2']);
      expect(caps.bridges.br_hand.portFlags.veth_2.isolated).toBe(true);
    }
  });

  it('a capabilities read after a change sees the change', async () => {
    await host.ip(['addr', 'add', '192.0.2.11/24', 'dev', 'veth_0']);
    try {
      const caps = await withClient((c) => c.call<Obj>('Host.getNetworkCapabilities'));
      expect(caps.nics.veth_0.ipv4addrs).toEqual(['192.0.2.10/24', '192.0.2.11/24']);
    } finally {
      await host.ip(['addr', 'del', '192.0.2.11/24', 'dev', 'veth_0']);
    }
  });

  it('is not disturbed by clients sending garbage, oversize frames, or leaving mid-request', async () => {
    const good = await RpcTestClient.connect(daemon.target);
    const pending = good.call<Obj>('Host.getNetworkCapabilities');
    const rude = await RpcTestClient.connect(daemon.target);
    rude.ws.send('\u0000garbage');
    rude.ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'Host.getCapabilities' }));
    rude.ws.terminate();
    const huge = await RpcTestClient.connect(daemon.target);
    huge.ws.send('x'.repeat(17 * 1024 * 1024));
    expect((await huge.closed).code).toBe(1009);
    expect(Object.keys((await pending).nics)).toContain('veth_0');
    expect(await good.call('Host.ping2')).toBe(true);
    await good.close();
  });

  it('accepts a frame as large as a 1000-network request', async () => {
    const networks: Obj = {};
    for (let i = 0; i < 1000; i++) {
      networks[`net${i}`] = { nic: 'veth_0', vlan: i + 1, ipaddr: `10.${i >> 8}.${i & 255}.1`, netmask: '255.255.255.0', mtu: 1500, bridged: true, stp: false, 'custom': { bridge_opts: 'forward_delay=0 multicast_snooping=0' } };
    }
    const frame = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'Host.getCapabilities', params: { networks } });
    expect(frame.length).toBeGreaterThan(150_000);
    // the params are wrong for this verb: what matters is that the frame is read and answered
    await withClient(async (c) => expect(await c.sendRaw(frame)).toMatchObject({ error: { code: -32602 } }));
  });

  it('refuses an upgrade with an Origin header', async () => {
    await expect(RpcTestClient.connect(daemon.target, { origin: 'http://localhost:8080' })).rejects.toThrow(/HTTP 403/);
  });
});

describe('daemon lifecycle', () => {
  it('refuses a second daemon on the same state dir', async () => {
    const second = await startTestDaemon({ ns: host.ns, stateDir: daemon.stateDir, waitReady: false });
    const { code } = await second.exited;
    expect(code).toBe(1);
    expect(second.stderr()).toMatch(/state directory .* is locked by hostnetd daemon pid \d+/);
    await second.cleanup();
    // the first one is unaffected
    await withClient(async (c) => expect(await c.call('Host.ping2')).toBe(true));
  });

  it('refuses a socket a live daemon listens on', async () => {
    const other = await startTestDaemon({ ns: host.ns, waitReady: false, noDefaultListen: true, args: ['--listen', `unix:${daemon.socket}`] });
    const { code } = await other.exited;
    expect(code).toBe(1);
    expect(other.stderr()).toMatch(/in use by a running process/);
    await other.cleanup();
    await withClient(async (c) => expect(await c.call('Host.ping2')).toBe(true));
  });

  it('refuses plain ws:// off loopback at start, with a clear message', async () => {
    const d = await startTestDaemon({ ns: host.ns, waitReady: false, args: ['--listen', 'ws://0.0.0.0:4044'] });
    const { code } = await d.exited;
    expect(code).toBe(2);
    expect(d.stderr()).toMatch(/refusing to listen on ws:\/\/0\.0\.0\.0:4044: plain ws:\/\/ is allowed only on loopback/);
    await d.cleanup();
  });

  it('starts over a stale socket after kill -9, and stops cleanly on SIGTERM', async () => {
    const dir = mkdtempSync(path.join(tmp, 'life-'));
    const first = await startTestDaemon({ ns: host.ns, dir });
    expect((await first.stop('SIGKILL')).signal).toBe('SIGKILL');
    expect(statSync(first.socket).isSocket()).toBe(true); // left behind
    const second = await startTestDaemon({ ns: host.ns, dir });
    expect(second.logs.some((l) => /stale socket/.test(l.msg))).toBe(true);
    expect(second.logs.some((l) => /stale state lock/.test(l.msg))).toBe(true);
    const c = await RpcTestClient.connect(second.target);
    expect(await c.call('Host.ping2')).toBe(true);
    const stopped = await second.stop('SIGTERM');
    expect(stopped).toEqual({ code: 0, signal: null });
    expect((await c.closed).code).toBe(1001);
    expect(existsSync(second.socket)).toBe(false);
    expect(existsSync(path.join(second.stateDir, 'hostnetd.lock'))).toBe(false);
    expect(second.logs.map((l) => l.msg)).toEqual(expect.arrayContaining(['stopping', 'stopped']));
    await second.cleanup();
  });

  it('serves wss:// with client certificates from the CA only, and ws:// on loopback', async () => {
    const dir = mkdtempSync(path.join(tmp, 'tls-'));
    const pki = await makeTestPki(dir);
    const d = await startTestDaemon({
      ns: host.ns,
      dir,
      args: [
        '--listen', 'wss://127.0.0.1:54321',
        '--listen', 'ws://127.0.0.1:54322',
        '--tls-cert', pki.files.serverCert,
        '--tls-key', pki.files.serverKey,
        '--tls-ca', pki.files.caCert,
      ],
    });
    const fwdTls = await forwardIntoNetns(host.ns, '127.0.0.1', 54321, path.join(dir, 'wss.sock'));
    const fwdPlain = await forwardIntoNetns(host.ns, '127.0.0.1', 54322, path.join(dir, 'ws.sock'));
    try {
      const wss = { url: 'wss://localhost:54321/', socketPath: path.join(dir, 'wss.sock') };
      const good = await RpcTestClient.connect({ ...wss, tls: { ...pki.client, ca: pki.ca } });
      expect(await good.call('Host.ping2')).toBe(true);
      await good.close();
      // the request's log line reaches the test through the daemon's stdout, after the answer
      const logged = await d.waitForLog((l) => l.msg === 'request' && l.method === 'Host.ping2');
      expect(logged).toMatchObject({ certSubject: 'O=hostnetd-test,CN=engine', peer: expect.stringMatching(/^127\.0\.0\.1:\d+$/) });

      for (const tls of [{ ca: pki.ca }, { ...pki.rogue, ca: pki.ca }]) {
        let answered = false;
        try {
          const c = await RpcTestClient.connect({ ...wss, tls });
          answered = (await c.call('Host.ping2')) === true;
          await c.close();
        } catch {
          answered = false;
        }
        expect(answered).toBe(false);
      }
      await d.waitForLog((l) => l.msg === 'TLS handshake refused');

      const plain = await RpcTestClient.connect({ url: 'ws://127.0.0.1:54322/', socketPath: path.join(dir, 'ws.sock') });
      expect(await plain.call('Host.ping2')).toBe(true);
      await plain.close();
    } finally {
      await fwdTls.stop();
      await fwdPlain.stop();
      await d.cleanup();
    }
  });
});
