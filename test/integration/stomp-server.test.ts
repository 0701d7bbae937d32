/**
 * STOMP 1.2 and WebSocket on one port, in process, with a fake method table: framing (split,
 * merged, escaped, oversize, garbage), version negotiation, SUBSCRIBE before CONNECT, reply
 * routing across connections, DISCONNECT receipts, heart-beats both ways, limits, TLS, and
 * notifications. The real daemon speaking STOMP is covered by stomp-daemon.test.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect as netConnect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Dispatcher } from '../../src/rpc/dispatch.js';
import { parseListen } from '../../src/rpc/listen.js';
import type { MethodTable } from '../../src/rpc/methods.js';
import { RpcServer, type RpcServerOptions } from '../../src/rpc/server.js';
import { RpcTestClient } from '../helpers/rpc-client.js';
import { StompTestClient } from '../helpers/stomp-client.js';
import { makeTestPki, type TestPki } from '../helpers/tls.js';

const dir = mkdtempSync(path.join(tmpdir(), 'hnr-stomp-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface LogRecord {
  msg: string;
  [k: string]: unknown;
}
const records: LogRecord[] = [];
const log = pino({ level: 'debug' }, { write: (line: string) => void records.push(JSON.parse(line) as LogRecord) });

/** Resolves when a log record matches (every record so far included). */
async function logged(pred: (r: LogRecord) => boolean, timeoutMs = 10_000): Promise<LogRecord> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const hit = records.find(pred);
    if (hit) return hit;
    if (Date.now() > until) throw new Error('no such log record');
    await new Promise((r) => setTimeout(r, 20));
  }
}

let running = 0;
let peak = 0;
const releases: (() => void)[] = [];
const methods: MethodTable = {
  'Host.ping2': { params: [], handler: () => true },
  'Test.echo': { params: [{ name: 'value' }], handler: (p) => p.value },
  'Test.block': {
    params: [],
    handler: async () => {
      running++;
      peak = Math.max(peak, running);
      await new Promise<void>((r) => releases.push(r));
      running--;
      return 'released';
    },
  },
  'Host.subscribeEvents': { params: [], handler: (_p, ctx) => { ctx.events!.subscribe(); return true; } },
};

async function startServer(over: Partial<RpcServerOptions> & { listen: string[] }): Promise<RpcServer> {
  const dispatcher = new Dispatcher({ methods, log, defaultTimeoutMs: 5000 });
  const server = new RpcServer({
    listeners: over.listen.map(parseListen),
    allowOrigins: [],
    maxPayload: 64 * 1024,
    maxConnections: 100,
    keepaliveMs: 30_000,
    maxInFlight: 4,
    log,
    handleFrame: (t, f, o) => dispatcher.handleFrame(t, f, o),
    ...over,
  });
  await server.start();
  return server;
}

const portOf = (server: RpcServer) => Number(/:(\d+)$/.exec(server.addresses()[0]!)![1]);

describe('STOMP on a tcp:// listener', () => {
  let server: RpcServer;
  let port: number;
  beforeAll(async () => {
    server = await startServer({ listen: ['tcp://127.0.0.1:0'] });
    port = portOf(server);
  });
  afterAll(() => server.close());
  const open = () => StompTestClient.open({ host: '127.0.0.1', port });

  it('CONNECT with 1.2 in its list: CONNECTED 1.2, heart-beats swapped and raised to 1000 ms', async () => {
    const c = await open();
    const f = await c.connect({ 'accept-version': '1.0,1.1,1.2', 'heart-beat': '500,15000' });
    expect(f).toMatchObject({ command: 'CONNECTED', headers: { version: '1.2', 'heart-beat': '15000,1000' } });
    c.close();
    const s = await open();
    s.send('STOMP', { 'accept-version': '1.2', 'heart-beat': '0,0' });
    expect(await s.next()).toMatchObject({ command: 'CONNECTED', headers: { 'heart-beat': '0,0' } });
    s.close();
  });

  it('no 1.2 in accept-version: ERROR "Version unsupported", then the connection closes', async () => {
    for (const headers of [{ 'accept-version': '1.0,1.1' }, {}] as Record<string, string>[]) {
      const c = await open();
      c.send('CONNECT', headers);
      const f = await c.next();
      expect(f.command).toBe('ERROR');
      expect(f.headers.message).toBe('Version unsupported');
      await c.closed;
    }
  });

  it('engine style: SUBSCRIBE before CONNECT, one object in, one object out, with the MESSAGE headers clients need', async () => {
    const c = await open();
    c.subscribe('jms.topic.vdsm_responses', 'engine-sub');
    c.subscribe('jms.queue.events', 'engine-events');
    await c.connect({ 'heart-beat': '0,15000' });
    const answer = await c.call('Test.echo', { value: { vlan: '100' } }, { headers: { ovirtCorrelationId: 'flow-42' } });
    expect(answer).toMatchObject({ jsonrpc: '2.0', result: { vlan: '100' } });
    const msg = c.frames.find((f) => f.command === 'MESSAGE')!;
    expect(msg.headers).toMatchObject({
      destination: 'jms.topic.vdsm_responses',
      subscription: 'engine-sub',
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(msg.body)),
    });
    await logged((r) => r.msg === 'request' && r.method === 'Test.echo' && r.flowId === 'flow-42' && r.transport === 'stomp');
    c.close();
  });

  it('vdsm-client style: a one-element batch is answered with a bare object; a longer batch with an array', async () => {
    const c = await open();
    await c.connect();
    c.subscribe('a-uuid-reply-to', 'r1');
    const one = await c.call('Host.ping2', undefined, { replyTo: 'a-uuid-reply-to', batch: true });
    expect(one).toMatchObject({ jsonrpc: '2.0', result: true });
    c.send('SEND', { destination: 'jms.topic.vdsm_requests', 'reply-to': 'a-uuid-reply-to' },
      JSON.stringify([{ jsonrpc: '2.0', id: 'b1', method: 'Host.ping2' }, { jsonrpc: '2.0', id: 'b2', method: 'Nope.nope' }]));
    const two = await c.next((f) => f.command === 'MESSAGE' && f.body.includes('b2'));
    expect(JSON.parse(two.body)).toEqual([
      { jsonrpc: '2.0', id: 'b1', result: true },
      { jsonrpc: '2.0', id: 'b2', error: { code: -32601, message: "Method not found: Nope.nope (hostnetd serves VDSM's network verbs only)" } },
    ]);
    c.close();
  });

  it('routes an answer through another connection subscription when the asker has none, and drops it when nobody subscribes', async () => {
    const listener = await open();
    await listener.connect();
    listener.subscribe('shared-replies', 'L');
    const asker = await open();
    await asker.connect();
    // a receipt proves the subscription is in place before the request goes out
    listener.send('SUBSCRIBE', { destination: 'barrier', id: 'B', receipt: 'sub-done' });
    await listener.next((f) => f.command === 'RECEIPT');
    asker.send('SEND', { destination: 'jms.topic.vdsm_requests', 'reply-to': 'shared-replies' }, '{"jsonrpc":"2.0","id":"x","method":"Host.ping2"}');
    const got = await listener.next((f) => f.command === 'MESSAGE' && f.headers.destination === 'shared-replies');
    expect(got.headers.subscription).toBe('L');
    asker.send('SEND', { destination: 'jms.topic.vdsm_requests', 'reply-to': 'nobody-listens' }, '{"jsonrpc":"2.0","id":"y","method":"Host.ping2"}');
    await logged((r) => r.msg.includes('no subscription to its reply-to') && r.replyTo === 'nobody-listens');
    listener.close();
    asker.close();
  });

  it('reads frames split byte by byte and several frames merged in one write, with or without content-length', async () => {
    const c = await open();
    const n2 = '{"jsonrpc":"2.0","id":"n2","method":"Host.ping2"}';
    const wire = Buffer.from(
      'CONNECT\naccept-version:1.2\n\n\0' +
        'SUBSCRIBE\ndestination:jms.topic.vdsm_responses\nid:s\n\n\0\n\n' +
        'SEND\ndestination:jms.topic.vdsm_requests\n\n{"jsonrpc":"2.0","id":"n1","method":"Host.ping2"}\0' +
        `SEND\r\ndestination:jms.topic.vdsm_requests\r\ncontent-length:${n2.length}\r\n\r\n${n2}\0`,
    );
    for (const byte of wire.subarray(0, 40)) {
      c.write(Buffer.from([byte]));
      await new Promise((r) => setImmediate(r));
    }
    c.write(wire.subarray(40));
    const ids = [];
    for (let i = 0; i < 2; i++) ids.push(JSON.parse((await c.next((f) => f.command === 'MESSAGE')).body).id);
    expect(ids.sort()).toEqual(['n1', 'n2']);
    c.close();
  });

  it('escapes header values both ways', async () => {
    const c = await open();
    await c.connect();
    c.subscribe('dest:with\\odd\nchars', 'id:1');
    const raw: Buffer[] = [];
    c.socket.on('data', (d: Buffer) => raw.push(d));
    const a = await c.call('Host.ping2', undefined, { replyTo: 'dest:with\\odd\nchars' });
    expect(a.result).toBe(true);
    const text = Buffer.concat(raw).toString();
    expect(text).toContain('destination:dest\\cwith\\\\odd\\nchars\n');
    expect(text).toContain('subscription:id\\c1\n');
    c.close();
  });

  it('DISCONNECT with a receipt: RECEIPT with its id, then the server closes', async () => {
    const c = await open();
    await c.connect();
    c.send('DISCONNECT', { receipt: 'bye-77' });
    expect(await c.next()).toMatchObject({ command: 'RECEIPT', headers: { 'receipt-id': 'bye-77' } });
    await c.closed;
  });

  it('SEND elsewhere: forwarded to subscribers, else ERROR "Subscription not available" on a connection that stays open', async () => {
    const sub = await open();
    await sub.connect();
    sub.send('SUBSCRIBE', { destination: 'chat', id: 'c1', receipt: 'r' });
    await sub.next((f) => f.command === 'RECEIPT');
    const pub = await open();
    await pub.connect();
    pub.send('SEND', { destination: 'chat.room', 'x-note': 'hi' }, 'hello');
    expect(await sub.next((f) => f.command === 'MESSAGE')).toMatchObject({ headers: { destination: 'chat', subscription: 'c1', 'x-note': 'hi' }, body: 'hello' });
    pub.send('SEND', { destination: 'void' }, 'x');
    expect(await pub.next()).toMatchObject({ command: 'ERROR', headers: { message: 'Subscription not available' } });
    pub.send('SEND', { destination: 'jms.topic.vdsm_requests', 'reply-to': 'own' }, '{"jsonrpc":"2.0","id":"early","method":"Host.ping2"}');
    await logged((r) => r.msg.includes('no subscription to its reply-to') && r.replyTo === 'own');
    pub.subscribe('own', 'o');
    expect((await pub.call('Host.ping2', undefined, { replyTo: 'own' })).result).toBe(true);
    sub.close();
    pub.close();
  });

  it('heart-beats: sent only to a client that asked, and a client that promised beats and went silent is dropped', async () => {
    const wants = await open();
    await wants.connect({ 'heart-beat': '0,1000' });
    const quiet = await open();
    await quiet.connect({ 'heart-beat': '0,0' });
    const promiser = await open();
    await promiser.connect({ 'heart-beat': '1000,0' });
    await promiser.closed;
    await logged((r) => r.msg.includes('missed its heart-beats'));
    // the promiser was dropped after more than 2 s of silence: the asking client had beats meanwhile
    expect(wants.heartbeats).toBeGreaterThanOrEqual(2);
    expect(quiet.heartbeats).toBe(0);
    expect(quiet.socket.destroyed).toBe(false);
    wants.close();
    quiet.close();
  });

  it('malformed frames, oversize frames and garbage close only that connection', async () => {
    const good = await open();
    await good.connect();
    good.subscribe('r', 'r');
    const cases = [
      'CONNECT\naccept-version:1.2\n\n\0FROB\n\n\0',
      'CONNECT\naccept-version:1.2\n\n\0SEND\nbad header\n\n\0',
      'CONNECT\naccept-version:1.2\n\n\0SEND\ndestination:x\ncontent-length:5\n\nabcdefg\0',
      `CONNECT\naccept-version:1.2\n\n\0SEND\ndestination:jms.topic.vdsm_requests\n\n${'x'.repeat(70 * 1024)}`,
    ];
    for (const wire of cases) {
      const bad = await open();
      bad.write(wire);
      expect(await bad.next((f) => f.command === 'ERROR')).toMatchObject({ command: 'ERROR' });
      await bad.closed;
    }
    const garbage = await open();
    garbage.write('\x16\x03\x01hello');
    await garbage.closed;
    await logged((r) => r.msg.includes('speaking neither HTTP nor STOMP'));
    expect((await good.call('Host.ping2', undefined, { replyTo: 'r' })).result).toBe(true);
    good.close();
  });

  it('a request that is not JSON-RPC gets the JSON-RPC error, not a STOMP one', async () => {
    const c = await open();
    await c.connect();
    c.subscribe('jms.topic.vdsm_responses', 's');
    c.send('SEND', { destination: 'jms.topic.vdsm_requests' }, '{"jsonrpc":');
    const m = await c.next((f) => f.command === 'MESSAGE');
    expect(JSON.parse(m.body)).toMatchObject({ id: null, error: { code: -32700 } });
    c.close();
  });

  it("the project's own client speaks STOMP too: calls, VDSM errors, events on jms.queue.events", async () => {
    const c = await RpcTestClient.connect({ url: `tcp://127.0.0.1:${port}`, protocol: 'stomp' });
    expect(await c.call('Test.echo', { value: [1, 'two'] })).toEqual([1, 'two']);
    expect(await c.callError('Nope.nope')).toMatchObject({ code: -32601 });
    const note = { jsonrpc: '2.0', method: '|net|host_conn|no_id', params: { notify_time: 7 } };
    // its SUBSCRIBE to jms.queue.events went out before its CONNECT was answered
    expect(server.notify(JSON.stringify(note))).toBeGreaterThanOrEqual(1);
    expect(await c.nextUnmatched()).toEqual(note);
    await c.close();
  });

  it('WebSocket and STOMP on the same port at once', async () => {
    const ws = await RpcTestClient.connect({ url: `ws://127.0.0.1:${port}/` });
    const st = await open();
    await st.connect();
    st.subscribe('jms.topic.vdsm_responses', 's');
    const [a, b] = await Promise.all([ws.call('Test.echo', { value: 'ws' }), st.call('Test.echo', { value: 'stomp' })]);
    expect(a).toBe('ws');
    expect(b.result).toBe('stomp');
    await ws.close();
    st.close();
  });

  it('a client that does not read its answers stops being read, and is served again once it reads', async () => {
    const c = await open();
    await c.connect();
    c.subscribe('jms.topic.vdsm_responses', 's');
    c.socket.pause();
    const value = 'v'.repeat(60 * 1024);
    for (let i = 0; i < 400; i++) {
      c.send('SEND', { destination: 'jms.topic.vdsm_requests' }, JSON.stringify({ jsonrpc: '2.0', id: `big${i}`, method: 'Test.echo', params: { value } }));
    }
    await logged((r) => r.msg.includes('does not read its answers'));
    c.socket.resume();
    await c.next((f) => f.command === 'MESSAGE' && f.body.includes('"big399"'), 60_000);
    expect(c.frames.filter((f) => f.command === 'MESSAGE')).toHaveLength(400);
    c.close();
  });

  it('the same over WebSocket: a client that does not read its answers stops being read until it does', async () => {
    const c = await RpcTestClient.connect({ url: `ws://127.0.0.1:${port}/` });
    const raw = (c.ws as unknown as { _socket: import('node:net').Socket })._socket;
    raw.pause();
    const value = 'w'.repeat(60 * 1024);
    const answers = Array.from({ length: 400 }, () => c.call('Test.echo', { value }));
    await logged((r) => r.msg.includes('does not read its answers') && r.transport === 'ws');
    raw.resume();
    expect((await Promise.all(answers)).every((a) => a === value)).toBe(true);
    await c.close();
  });

  it('counts requests, not frames: a batch runs at most maxInFlight at once', async () => {
    const c = await open();
    await c.connect();
    c.subscribe('jms.topic.vdsm_responses', 's');
    peak = 0;
    const batch = Array.from({ length: 12 }, (_, i) => ({ jsonrpc: '2.0', id: `q${i}`, method: 'Test.block' }));
    c.send('SEND', { destination: 'jms.topic.vdsm_requests' }, JSON.stringify(batch));
    c.send('SEND', { destination: 'jms.topic.vdsm_requests' }, JSON.stringify(batch.map((r) => ({ ...r, id: `w${r.id}` }))));
    while (releases.length < 4) await new Promise((r) => setTimeout(r, 10));
    expect(running).toBe(4);
    while (releases.length > 0 || running > 0) {
      releases.shift()?.();
      await new Promise((r) => setImmediate(r));
    }
    const answers = [await c.next((f) => f.command === 'MESSAGE'), await c.next((f) => f.command === 'MESSAGE')];
    expect(answers.map((m) => (JSON.parse(m.body) as unknown[]).length)).toEqual([12, 12]);
    expect(peak).toBe(4);
    c.close();
  });

  it('notifications reach STOMP subscribers of jms.queue.events and WebSocket clients that opted in, nobody else', async () => {
    const st = await open();
    st.subscribe('jms.queue.events', 'ev');
    await st.connect();
    const optedIn = await RpcTestClient.connect({ url: `ws://127.0.0.1:${port}/` });
    expect(await optedIn.call('Host.subscribeEvents')).toBe(true);
    const other = await RpcTestClient.connect({ url: `ws://127.0.0.1:${port}/` });
    const note = JSON.stringify({ jsonrpc: '2.0', method: '|net|host_conn|no_id', params: { notify_time: 1 } });
    expect(server.notify(note)).toBe(2);
    expect(await st.next((f) => f.command === 'MESSAGE')).toMatchObject({ headers: { destination: 'jms.queue.events', subscription: 'ev' }, body: note });
    expect(await optedIn.nextUnmatched()).toEqual(JSON.parse(note));
    expect(await other.call('Host.ping2')).toBe(true);
    expect(other.unmatchedCount()).toBe(0);
    st.close();
    await optedIn.close();
    await other.close();
  });
});

describe('limits on accepted sockets', () => {
  it('a socket that never upgrades or CONNECTs is closed after the handshake timeout; SUBSCRIBE alone is not enough', async () => {
    const server = await startServer({ listen: ['tcp://127.0.0.1:0'], handshakeTimeoutMs: 300 });
    const port = portOf(server);
    try {
      const idle = netConnect({ host: '127.0.0.1', port });
      idle.on('error', () => undefined);
      const subOnly = await StompTestClient.open({ host: '127.0.0.1', port });
      subOnly.subscribe('x', 'y');
      const connected = await StompTestClient.open({ host: '127.0.0.1', port });
      await connected.connect();
      await new Promise((r) => idle.once('close', r));
      await subOnly.closed;
      expect(connected.socket.destroyed).toBe(false);
      await logged((r) => r.msg.includes('did not complete its WebSocket upgrade or STOMP CONNECT'));
      connected.close();
    } finally {
      await server.close();
    }
  });

  it('counts raw sockets in maxConnections: over it, HTTP gets 503 and STOMP an ERROR', async () => {
    const server = await startServer({ listen: ['tcp://127.0.0.1:0'], maxConnections: 3 });
    const port = portOf(server);
    const idle = await Promise.all([0, 1, 2].map(() => new Promise<import('node:net').Socket>((resolve) => {
      const s = netConnect({ host: '127.0.0.1', port }, () => resolve(s));
      s.on('error', () => undefined);
    })));
    try {
      while (server.connectionCount < 3) await new Promise((r) => setTimeout(r, 10));
      await expect(RpcTestClient.connect({ url: `ws://127.0.0.1:${port}/` })).rejects.toThrow(/503/);
      const st = await StompTestClient.open({ host: '127.0.0.1', port });
      st.send('CONNECT', { 'accept-version': '1.2' });
      expect(await st.next()).toMatchObject({ command: 'ERROR', headers: { message: 'too many connections' } });
      await st.closed;
      idle[0]!.destroy();
      while (server.connectionCount >= 3) await new Promise((r) => setTimeout(r, 10));
      const ok = await StompTestClient.open({ host: '127.0.0.1', port });
      expect((await ok.connect()).command).toBe('CONNECTED');
      ok.close();
    } finally {
      for (const s of idle) s.destroy();
      await server.close();
    }
  });
});

describe('tls:// listener', () => {
  let pki: TestPki;
  let server: RpcServer;
  let port: number;
  beforeAll(async () => {
    pki = await makeTestPki(mkdtempSync(path.join(dir, 'pki-')));
    server = await startServer({ listen: ['tls://127.0.0.1:0'], tls: { cert: pki.server.cert, key: pki.server.key, ca: pki.ca } });
    port = (server as unknown as { bound: { server: { address(): AddressInfo } }[] }).bound[0]!.server.address().port;
  });
  afterAll(() => server.close());

  it('STOMP and WebSocket with a client certificate from the CA, logged with its subject', async () => {
    const c = await StompTestClient.open({ host: '127.0.0.1', port, tls: { ...pki.client, ca: pki.ca } });
    await c.connect({ 'heart-beat': '0,15000' });
    c.subscribe('jms.topic.vdsm_responses', 's');
    expect((await c.call('Host.ping2', undefined, { headers: { ovirtCorrelationId: 'tls-flow' } })).result).toBe(true);
    await logged((r) => r.msg === 'request' && r.flowId === 'tls-flow' && r.certSubject === 'O=hostnetd-test,CN=engine');
    c.close();
    const ws = await RpcTestClient.connect({ url: `wss://127.0.0.1:${port}/`, tls: { ...pki.client, ca: pki.ca } });
    expect(await ws.call('Host.ping2')).toBe(true);
    await ws.close();
  });

  it('refuses a client without a certificate and one with a certificate from another CA', async () => {
    for (const tls of [{ ca: pki.ca }, { ...pki.rogue, ca: pki.ca }]) {
      let answered = false;
      try {
        const c = await StompTestClient.open({ host: '127.0.0.1', port, tls });
        const f = await Promise.race([c.connect(), c.closed.then(() => undefined)]);
        answered = f?.command === 'CONNECTED';
        c.close();
      } catch {
        answered = false;
      }
      expect(answered).toBe(false);
    }
    await logged((r) => r.msg === 'TLS handshake refused');
  });
});
