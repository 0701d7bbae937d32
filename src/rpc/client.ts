/**
 * The one JSON-RPC client: hostnetctl, the tests and the benchmarks talk to hostnetd through it,
 * over WebSocket or STOMP 1.2 (as the engine does), on a unix socket, tcp:// or tls://. Failures
 * to connect become messages an admin can act on at 3am (a HostnetError of code CONNECTION); an
 * error answer is a HostnetError with the daemon's code, message and data.
 *
 *   const c = await RpcClient.open({ url: 'unix:/run/hostnetd/hostnetd.sock' });
 *   await c.call('Host.ping2');                                   // → true
 *   const s = await RpcClient.open({ url: 'tls://hv1:54321', protocol: 'stomp', tls: { cert, key, ca } });
 *   s.onUnmatched((msg) => ...);                                   // notifications (after Host.subscribeEvents on WebSocket)
 */
import { randomUUID } from 'node:crypto';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { WebSocket } from 'ws';
import { connectionError, ErrorCode, HostnetError, isHostnetError } from '../errors.js';
import { encodeFrame, FrameParser } from './stomp/frame.js';
import { isPlainObject } from '../model/dict.js';

export interface ClientTls {
  cert?: Buffer;
  key?: Buffer;
  ca?: Buffer;
  servername?: string;
}

export interface ClientTarget {
  /** 'unix:/path', 'tcp://host:port', 'tls://host:port', 'ws://...', 'wss://...' */
  url: string;
  /** 'ws' (default) or 'stomp' */
  protocol?: 'ws' | 'stomp';
  tls?: ClientTls;
  /** reach a tcp/tls address through this unix socket (a forwarder into a namespace) */
  socketPath?: string;
}

export interface ClientOptions {
  /** connect/handshake deadline in ms (default 10000) */
  timeoutMs?: number;
  /** WebSocket only */
  origin?: string;
  headers?: Record<string, string>;
  /** largest frame accepted from the daemon (default 512 MiB) */
  maxPayload?: number;
}

export interface RpcReply {
  jsonrpc?: string;
  id?: unknown;
  method?: string;
  params?: unknown;
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
}

/** How the connection ended. */
export interface Closed {
  code: number;
  reason: string;
  error: HostnetError;
}

/** A transport carries JSON-RPC texts both ways. */
interface Transport {
  send(text: string | Buffer): void;
  close(): void;
  readonly closed: Promise<Closed>;
  /** the WebSocket or the STOMP socket, for protocol tests that must misbehave on purpose */
  readonly underlying: WebSocket | Socket;
}

const isTls = (url: string) => /^(tls|wss):/.test(url);
export const describeTarget = (t: ClientTarget): string => t.url.replace(/^unix:/, '');

export class RpcClient {
  private nextId = 1;
  private readonly pending = new Map<unknown, (r: RpcReply) => void>();
  private unmatched: ((msg: unknown) => void) | undefined;
  private closedWith: HostnetError | undefined;

  private constructor(private readonly transport: Transport) {
    void transport.closed.then((c) => {
      this.closedWith = c.error;
    });
  }

  static async open(target: ClientTarget, opts: ClientOptions = {}): Promise<RpcClient> {
    let client: RpcClient | undefined;
    const deliver = (text: string) => client?.receive(text);
    const transport = target.protocol === 'stomp' ? await openStomp(target, opts, deliver) : await openWs(target, opts, deliver);
    client = new RpcClient(transport);
    return client;
  }

  get closed(): Promise<Closed> {
    return this.transport.closed;
  }

  /** The WebSocket (or STOMP socket) under this client: only protocol tests touch it. */
  get underlying(): WebSocket | Socket {
    return this.transport.underlying;
  }

  /** The whole response; rejects with a CONNECTION error when the connection ends first. */
  request(method: string, params?: unknown, id: unknown = this.nextId++): Promise<RpcReply> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    const frame: Record<string, unknown> = { jsonrpc: '2.0', id, method };
    if (params !== undefined) frame.params = params;
    const answer = new Promise<RpcReply>((resolve) => this.pending.set(id, resolve));
    this.transport.send(JSON.stringify(frame));
    return Promise.race([answer, this.transport.closed.then((c) => Promise.reject(c.error))]);
  }

  /** The result; rejects with the daemon's error answer as a HostnetError, or a CONNECTION one. */
  async call<T = unknown>(method: string, params?: unknown): Promise<T> {
    const r = await this.request(method, params);
    if (r.error) throw new HostnetError(r.error.code, r.error.message, { data: r.error.data });
    return r.result as T;
  }

  /** Any text as one frame (tests of malformed input); answers come to onUnmatched. */
  sendRaw(text: string | Buffer): void {
    this.transport.send(text);
  }

  /** Where notifications and answers no call waits for go (one listener). */
  onUnmatched(listener: (msg: unknown) => void): void {
    this.unmatched = listener;
  }

  close(): Promise<void> {
    this.transport.close();
    return this.transport.closed.then(() => undefined);
  }

  private receive(text: string): void {
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch {
      return;
    }
    if (isPlainObject(msg)) {
      const r = msg as RpcReply;
      const waiter = r.id !== undefined ? this.pending.get(r.id) : undefined;
      if (waiter) {
        this.pending.delete(r.id);
        return waiter(r);
      }
      if (r.error && r.id === null && this.pending.size > 0 && !this.unmatched) {
        // the daemon could not read a frame of ours: every call waiting fails with its error
        for (const w of this.pending.values()) w(r);
        this.pending.clear();
        return;
      }
    }
    this.unmatched?.(msg);
  }
}

function openWs(target: ClientTarget, opts: ClientOptions, deliver: (text: string) => void): Promise<Transport> {
  const wsOpts: Record<string, unknown> = {
    handshakeTimeout: opts.timeoutMs ?? 10_000,
    maxPayload: opts.maxPayload ?? 512 * 1024 * 1024,
    ...(opts.origin !== undefined ? { origin: opts.origin } : {}),
    ...(opts.headers ? { headers: opts.headers } : {}),
    ...(target.tls ?? {}),
  };
  let address: string;
  if (target.url.startsWith('unix:')) {
    // ws reads `ws+unix://PATH:/` as host + path; the socket path must be absolute
    address = `ws+unix://${absolute(target.url.slice(5))}:/`;
  } else {
    address = target.url.replace(/^tcp:/, 'ws:').replace(/^tls:/, 'wss:');
    const via = target.socketPath;
    if (via) {
      wsOpts.createConnection = (o: Record<string, unknown>) =>
        isTls(address) ? tlsConnect({ ...(o as ConnectionOptions), path: via, host: undefined, port: undefined } as ConnectionOptions) : netConnect({ path: via });
    }
  }
  const ws = new WebSocket(address, wsOpts);
  ws.on('message', (data) => deliver(String(data)));
  const closed = new Promise<Closed>((resolve) =>
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString(), error: connectionError(closeMessage(target, code, reason.toString())) })),
  );
  const transport: Transport = { send: (t) => ws.send(t), close: () => ws.close(), closed, underlying: ws };
  return new Promise((resolve, reject) => {
    ws.once('open', () => {
      ws.on('error', () => undefined);
      resolve(transport);
    });
    ws.once('error', (e) => reject(connectionError(connectMessage(target, e as NodeJS.ErrnoException), e)));
    ws.once('unexpected-response', (_req, res) => {
      ws.terminate();
      reject(connectionError(refusedMessage(target, res.statusCode ?? 0)));
    });
  });
}

/**
 * STOMP as the engine speaks it: SUBSCRIBE to a fresh reply destination and to
 * jms.queue.events, CONNECT (no heart-beats asked), then every JSON-RPC text is a SEND to
 * jms.topic.vdsm_requests and every MESSAGE body comes back as a text.
 */
function openStomp(target: ClientTarget, opts: ClientOptions, deliver: (text: string) => void): Promise<Transport> {
  const replyTo = `jms.topic.vdsm_responses.${randomUUID()}`;
  const where = target.url.startsWith('unix:')
    ? { path: absolute(target.url.slice(5)) }
    : target.socketPath
      ? { path: target.socketPath }
      : hostPort(target.url);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(connectionError(`cannot connect to ${describeTarget(target)}: no answer in time: is hostnetd stuck? (journalctl -u hostnetd)`));
    }, opts.timeoutMs ?? 10_000);
    const socket: Socket = isTls(target.url)
      ? tlsConnect({ ...where, servername: target.tls?.servername ?? ('host' in where ? where.host : 'localhost'), ...target.tls })
      : netConnect(where);
    const parser = new FrameParser(opts.maxPayload ?? 512 * 1024 * 1024);
    let connected = false;
    let closeReason = '';
    const closed = new Promise<Closed>((res) =>
      socket.once('close', () => res({ code: 1006, reason: closeReason, error: connectionError(closeMessage(target, 1006, closeReason)) })),
    );
    socket.on('data', (chunk: Buffer) => {
      let frames;
      try {
        frames = parser.push(chunk);
      } catch (e) {
        if (!isHostnetError(e, ErrorCode.BAD_FRAME)) throw e;
        closeReason = `unreadable frame from the daemon: ${e.message}`;
        socket.destroy();
        return;
      }
      for (const f of frames) {
        if (f.command === 'CONNECTED' && !connected) {
          connected = true;
          clearTimeout(timer);
          resolve({
            send: (text) => socket.write(encodeFrame('SEND', [['destination', 'jms.topic.vdsm_requests'], ['reply-to', replyTo]], text)),
            close: () => socket.end(encodeFrame('DISCONNECT', [])),
            closed,
            underlying: socket,
          });
        } else if (f.command === 'MESSAGE') {
          deliver(f.body.toString('utf8'));
        } else if (f.command === 'ERROR') {
          closeReason = f.headers.get('message') ?? f.body.toString('utf8');
          if (!connected) {
            clearTimeout(timer);
            reject(connectionError(`${describeTarget(target)} refused the STOMP connection: ${closeReason}`));
          }
        }
      }
    });
    socket.once('error', (e) => {
      if (connected) return;
      clearTimeout(timer);
      reject(connectionError(connectMessage(target, e as NodeJS.ErrnoException), e));
    });
    socket.once('connect', () => undefined);
    socket.write(Buffer.concat([
      encodeFrame('SUBSCRIBE', [['destination', replyTo], ['id', 'replies'], ['ack', 'auto']]),
      encodeFrame('SUBSCRIBE', [['destination', 'jms.queue.events'], ['id', 'events'], ['ack', 'auto']]),
      encodeFrame('CONNECT', [['accept-version', '1.2'], ['host', 'hostnetd'], ['heart-beat', '0,0']]),
    ]));
  });
}

function hostPort(url: string): { host: string; port: number } {
  const m = /^[a-z]+:\/\/(\[[^\]]+\]|[^:/]+):(\d+)/i.exec(url);
  if (!m) throw connectionError(`${url}: expected tcp://HOST:PORT or tls://HOST:PORT`);
  return { host: m[1]!.replace(/^\[(.*)\]$/, '$1'), port: Number(m[2]) };
}

function absolute(p: string): string {
  return p.startsWith('/') ? p : `${process.cwd()}/${p}`;
}

const TLS_CODES = /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/;

export function connectMessage(target: ClientTarget, e: NodeJS.ErrnoException): string {
  const where = describeTarget(target);
  const code = e.code ?? '';
  if (target.url.startsWith('unix:')) {
    if (code === 'ENOENT') return `cannot connect to ${where}: no such socket: is hostnetd running? (systemctl status hostnetd)`;
    if (code === 'ECONNREFUSED') {
      return `cannot connect to ${where}: connection refused: hostnetd is not running (the socket file is stale) (systemctl status hostnetd)`;
    }
    if (code === 'EACCES' || code === 'EPERM') {
      return `cannot connect to ${where}: permission denied: the socket is root-only (mode 0600); run hostnetctl as root`;
    }
  } else {
    if (code === 'ECONNREFUSED') return `cannot connect to ${where}: connection refused: is hostnetd listening there? (see its --listen option)`;
    if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `cannot connect to ${where}: unknown host`;
    if (TLS_CODES.test(code) || TLS_CODES.test(e.message) || (isTls(target.url) && code === 'ECONNRESET')) {
      return (
        `TLS with ${where} failed: ${e.message}: check --tls-ca (the CA that signed the daemon's certificate) ` +
        `and --tls-cert/--tls-key (a client certificate signed by the daemon's --tls-ca)`
      );
    }
  }
  if (/timed out/i.test(e.message)) return `cannot connect to ${where}: no answer in time: is hostnetd stuck? (journalctl -u hostnetd)`;
  return `cannot connect to ${where}: ${e.message}`;
}

function refusedMessage(target: ClientTarget, status: number): string {
  const where = describeTarget(target);
  if (status === 403) return `${where} refused the connection (HTTP 403): Origin header not allowed (see hostnetd --allow-origin)`;
  if (status === 503) return `${where} refused the connection (HTTP 503): too many clients, or hostnetd is stopping; try again`;
  return `${where} refused the WebSocket upgrade (HTTP ${status}): is this hostnetd?`;
}

function closeMessage(target: ClientTarget, code: number, reason: string): string {
  const where = describeTarget(target);
  if (code === 1009) return `${where} closed the connection: the request is larger than hostnetd accepts`;
  if (code === 1001) return `${where} closed the connection: hostnetd is stopping${reason ? ` (${reason})` : ''}`;
  return `connection to ${where} closed before an answer (code ${code}${reason ? `: ${reason}` : ''}): did hostnetd restart? (journalctl -u hostnetd)`;
}
