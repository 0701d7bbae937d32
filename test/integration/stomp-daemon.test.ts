/**
 * The real daemon as the engine reaches it: JSON-RPC inside STOMP 1.2 frames on a tcp:// and a
 * tls:// listener in a namespace (reached through unix forwarders, or from inside the namespace
 * for python3-stomp), with the engine's string-typed values, VDSM's result shapes and error
 * codes, a 40 s call kept alive by server heart-beats, and |net|host_conn|no_id after a NIC's
 * carrier changes.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forwardIntoNetns, startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { createNetnsHost, type NetnsHost } from '../helpers/netns.js';
import { RpcTestClient } from '../helpers/rpc-client.js';
import { StompTestClient } from '../helpers/stomp-client.js';
import { expectRunningMatchesCaps, readRunning } from '../helpers/state.js';
import { makeTestPki, type TestPki } from '../helpers/tls.js';

const TCP_PORT = 54321;
const TLS_PORT = 54322;

let host: NetnsHost;
let daemon: TestDaemon;
let pki: TestPki;
let dir: string;
const forwarders: { stop(): Promise<void> }[] = [];
let plainSock: string;
let tlsSock: string;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'hnr-stompd-'));
  pki = await makeTestPki(dir);
  host = await createNetnsHost({ prefix: 'hns-', nics: 3 });
  daemon = await startTestDaemon({
    ns: host.ns,
    args: [
      '--listen', `tcp://127.0.0.1:${TCP_PORT}`,
      '--listen', `tls://127.0.0.1:${TLS_PORT}`,
      '--tls-cert', pki.files.serverCert,
      '--tls-key', pki.files.serverKey,
      '--tls-ca', pki.files.caCert,
    ],
  });
  plainSock = path.join(dir, 'tcp.sock');
  tlsSock = path.join(dir, 'tls.sock');
  forwarders.push(await forwardIntoNetns(host.ns, '127.0.0.1', TCP_PORT, plainSock));
  forwarders.push(await forwardIntoNetns(host.ns, '127.0.0.1', TLS_PORT, tlsSock));
});
afterAll(async () => {
  for (const f of forwarders) await f.stop();
  await daemon?.cleanup();
  await host?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

/** An engine-like session: SUBSCRIBE before CONNECT, heart-beat 0,15000, a uuid reply-to. */
async function engine(over: 'tcp' | 'tls' = 'tcp'): Promise<StompTestClient & { replyTo: string }> {
  const c = over === 'tcp'
    ? await StompTestClient.open({ path: plainSock })
    : await StompTestClient.open({ path: tlsSock, tls: { ...pki.client, ca: pki.ca } });
  const replyTo = `jms.topic.vdsm_responses.${Math.random().toString(16).slice(2)}`;
  c.subscribe(replyTo, 'engine-responses');
  c.subscribe('jms.queue.events', 'engine-events');
  const connected = await c.connect({ host: 'hostnetd', 'heart-beat': '0,15000' });
  expect(connected.command).toBe('CONNECTED');
  return Object.assign(c, { replyTo });
}

describe('the daemon over STOMP, as the engine drives it', () => {
  it('getCapabilities (with lastClientIface), getNetworkCapabilities, and setupNetworks with string-typed values', async () => {
    const e = await engine();
    const caps = await e.call('Host.getCapabilities', {}, { replyTo: e.replyTo });
    expect(caps.error).toBeUndefined();
    expect(caps.result).toMatchObject({ lastClientIface: 'lo', nics: { veth_0: expect.any(Object) } });
    const net = await e.call('Host.getNetworkCapabilities', {}, { replyTo: e.replyTo });
    expect(net.result).toMatchObject({ nics: { veth_0: expect.any(Object) }, networks: {} });

    const setup = await e.call('Host.setupNetworks', {
      networks: { engnet: { nic: 'veth_0', bridged: 'true', stp: 'no', ipaddr: '192.0.2.40', prefix: '24', mtu: '1500' } },
      bondings: {},
      options: { connectivityCheck: 'false', connectivityTimeout: '120', commitOnSuccess: 'false' },
    }, { replyTo: e.replyTo, headers: { ovirtCorrelationId: 'engine-flow-1' } });
    expect(setup.result).toEqual({ code: 0, message: 'Done' });
    await daemon.waitForLog((l) => l.msg === 'request' && l.method === 'Host.setupNetworks' && l.flowId === 'engine-flow-1' && l.transport === 'stomp');
    const after = await e.call('Host.getNetworkCapabilities', {}, { replyTo: e.replyTo });
    expectRunningMatchesCaps(readRunning(daemon.stateDir), after.result as never);
    expect(after.result).toMatchObject({ networks: { engnet: { bridged: true, addr: '192.0.2.40', stp: 'off' } } });

    // VDSM's codes come back as JSON-RPC errors
    const bad = await e.call('Host.setupNetworks', { networks: { nonic: { nic: 'eth99' } }, options: { connectivityCheck: 'false' } }, { replyTo: e.replyTo });
    expect(bad.error).toMatchObject({ code: 23, message: expect.stringContaining('eth99') });
    const vlan = await e.call('Host.setupNetworks', { networks: { v: { nic: 'veth_1', vlan: 'abc' } }, options: { connectivityCheck: 'false' } }, { replyTo: e.replyTo });
    expect(vlan.error).toMatchObject({ code: 26 });
    const other = await e.call('Host.getStats', {}, { replyTo: e.replyTo });
    expect(other.error).toMatchObject({ code: -32601, message: expect.stringContaining('network verbs only') });

    const removed = await e.call('Host.setupNetworks', { networks: { engnet: { remove: 'true' } }, options: { connectivityCheck: 'false' } }, { replyTo: e.replyTo });
    expect(removed.result).toEqual({ code: 0, message: 'Done' });
    e.close();
  });

  it('over tls:// with the engine certificate; refused without one', async () => {
    const e = await engine('tls');
    const ping = await e.call('Host.ping2', undefined, { replyTo: e.replyTo });
    expect(ping.result).toBe(true);
    await daemon.waitForLog((l) => l.msg === 'request' && l.method === 'Host.ping2' && l.certSubject === 'O=hostnetd-test,CN=engine' && l.transport === 'stomp');
    e.close();
    let connected = false;
    try {
      const anon = await StompTestClient.open({ path: tlsSock, tls: { ca: pki.ca } });
      const f = await Promise.race([anon.connect(), anon.closed.then(() => undefined)]);
      connected = f?.command === 'CONNECTED';
      anon.close();
    } catch {
      connected = false;
    }
    expect(connected).toBe(false);
  });

  it('a 40 s setupNetworks completes over one STOMP connection kept alive by server heart-beats', async () => {
    const e = await engine();
    let longestSilence = 0;
    let last = Date.now();
    e.socket.on('data', () => {
      longestSilence = Math.max(longestSilence, Date.now() - last);
      last = Date.now();
    });
    const started = Date.now();
    const pending = e.call('Host.setupNetworks', {
      networks: { slow: { nic: 'veth_2', bridged: 'true' } },
      options: { connectivityCheck: 'true', connectivityTimeout: '120' },
    }, { replyTo: e.replyTo, timeoutMs: 80_000 });
    await daemon.waitForLog((l) => l.event === 'await-connectivity', 30_000);
    // the engine confirms late, from another connection
    await new Promise((r) => setTimeout(r, Math.max(0, 40_000 - (Date.now() - started))));
    const other = await RpcTestClient.connect({ socket: daemon.socket });
    expect(await other.call('Host.confirmConnectivity')).toBe(true);
    await other.close();
    const answer = await pending;
    expect(answer.result).toEqual({ code: 0, message: 'Done' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(40_000);
    // VDSM's python client drops a peer silent for 30 s; the engine for 22.5 s
    expect(longestSilence).toBeLessThan(22_500);
    expect(e.heartbeats).toBeGreaterThanOrEqual(2);
    const removed = await e.call('Host.setupNetworks', { networks: { slow: { remove: true } }, options: { connectivityCheck: false } }, { replyTo: e.replyTo });
    expect(removed.result).toEqual({ code: 0, message: 'Done' });
    e.close();
  }, 90_000);

  it('|net|host_conn|no_id reaches jms.queue.events after a managed NIC loses its carrier', async () => {
    const e = await engine();
    const setup = await e.call('Host.setupNetworks', { networks: { evnet: { nic: 'veth_1', bridged: 'false', ipaddr: '198.51.100.7', prefix: '24' } }, options: { connectivityCheck: 'false' } }, { replyTo: e.replyTo });
    expect(setup.result).toEqual({ code: 0, message: 'Done' });
    const ws = await RpcTestClient.connect({ socket: daemon.socket });
    expect(await ws.call('Host.subscribeEvents')).toBe(true);
    const seen = e.frames.length;
    const downAt = Number(process.hrtime.bigint() / 1_000_000n);
    await host.swIp(['link', 'set', 'sw_1', 'down']);
    const msg = await e.next((f) => f.command === 'MESSAGE' && f.headers.destination === 'jms.queue.events' && e.frames.indexOf(f) >= seen);
    expect(msg.headers.subscription).toBe('engine-events');
    const note = JSON.parse(msg.body) as { jsonrpc: string; method: string; params: { notify_time: number } };
    expect(note).toMatchObject({ jsonrpc: '2.0', method: '|net|host_conn|no_id', params: { notify_time: expect.any(Number) } });
    // monotonic ms, as VDSM's event_time(): the same clock as process.hrtime on this host
    expect(note.params.notify_time).toBeGreaterThanOrEqual(downAt);
    expect(await ws.nextUnmatched()).toMatchObject({ method: '|net|host_conn|no_id' });
    await host.swIp(['link', 'set', 'sw_1', 'up']);
    await ws.close();
    const removed = await e.call('Host.setupNetworks', { networks: { evnet: { remove: true } }, options: { connectivityCheck: false } }, { replyTo: e.replyTo });
    expect(removed.result).toEqual({ code: 0, message: 'Done' });
    e.close();
  });

  it("Debian's python3-stomp, driven as the engine drives it", async () => {
    const script = path.join(dir, 'engine.py');
    writeFileSync(script, PY_ENGINE);
    const r = await execa('ip', ['netns', 'exec', host.ns, '/usr/bin/python3', script, String(TCP_PORT)], { reject: false, timeout: 60_000 });
    expect(r.stderr).toBe('');
    const lines = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toEqual([
      { step: 'connected', version: '1.2' },
      { step: 'ping', answer: { jsonrpc: '2.0', id: 'p1', result: true } },
      { step: 'setup', answer: { jsonrpc: '2.0', id: 's1', result: { code: 0, message: 'Done' } } },
      { step: 'caps', bridged: true, addr: '192.0.2.77' },
      { step: 'bad', code: 26 },
      { step: 'remove', answer: { jsonrpc: '2.0', id: 'r1', result: { code: 0, message: 'Done' } } },
    ]);
    expect(r.exitCode).toBe(0);
  });
});

/** The engine's calls through stomp.py 8 (Debian 12's python3-stomp), inside the daemon's namespace. */
const PY_ENGINE = String.raw`
import json, sys, threading, uuid
import stomp

port = int(sys.argv[1])
reply_to = 'jms.topic.vdsm_responses.' + uuid.uuid4().hex
answers = {}
cond = threading.Condition()

class Listener(stomp.ConnectionListener):
    def on_message(self, frame):
        msg = json.loads(frame.body)
        with cond:
            answers[msg.get('id')] = msg
            cond.notify_all()
    def on_error(self, frame):
        print('ERROR frame: ' + frame.body, file=sys.stderr)

def call(method, params, id):
    body = json.dumps({'jsonrpc': '2.0', 'id': id, 'method': method, 'params': params})
    conn.send(destination='jms.topic.vdsm_requests', body=body, headers={'reply-to': reply_to, 'ovirtCorrelationId': 'py-' + id})
    with cond:
        cond.wait_for(lambda: id in answers, timeout=30)
    return answers[id]

def out(**kw):
    print(json.dumps(kw), flush=True)

conn = stomp.Connection12([('127.0.0.1', port)], heartbeats=(0, 15000))
conn.set_listener('engine', Listener())
conn.connect(wait=True)
out(step='connected', version=conn.version)
conn.subscribe(destination=reply_to, id='engine-sub', ack='auto')
conn.subscribe(destination='jms.queue.events', id='engine-events', ack='auto')
out(step='ping', answer=call('Host.ping2', {}, 'p1'))
nets = {'pynet': {'nic': 'veth_0', 'bridged': 'true', 'stp': 'no', 'ipaddr': '192.0.2.77', 'prefix': '24'}}
out(step='setup', answer=call('Host.setupNetworks', {'networks': nets, 'bondings': {}, 'options': {'connectivityCheck': 'false'}}, 's1'))
caps = call('Host.getNetworkCapabilities', {}, 'c1')['result']['networks']['pynet']
out(step='caps', bridged=caps['bridged'], addr=caps['addr'])
bad = call('Host.setupNetworks', {'networks': {'v': {'nic': 'veth_1', 'vlan': '5000'}}, 'bondings': {}, 'options': {'connectivityCheck': 'false'}}, 'b1')
out(step='bad', code=bad['error']['code'])
out(step='remove', answer=call('Host.setupNetworks', {'networks': {'pynet': {'remove': 'true'}}, 'bondings': {}, 'options': {'connectivityCheck': 'false'}}, 'r1'))
conn.disconnect()
`;
