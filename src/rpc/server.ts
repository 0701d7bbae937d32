/**
 * The transports. Every --listen address is one socket server (unix, TCP, or TLS with client
 * certificates) that serves two protocols on the one port, as VDSM's port 54321 does: the first
 * bytes after the TLS handshake decide (detect.ts). An HTTP request line goes to the WebSocket
 * upgrade (the ws library in noServer mode, fed by one listener-less http server); a STOMP
 * command goes to a StompSession; anything else, or nothing within handshakeTimeoutMs, is
 * closed with a log line.
 *
 * Isolation between clients: every accepted socket counts against maxConnections from the
 * moment it is accepted, and must finish its WebSocket upgrade or STOMP CONNECT within
 * handshakeTimeoutMs; a frame over maxPayload closes only that connection; a connection's
 * requests (not frames: each request of a batch counts) run at most maxInFlight at once, and a
 * connection with requests waiting for a turn is not read (TCP backpressure), so a flooding
 * client slows only itself; WebSocket peers are dropped by keepalive pings, STOMP peers by
 * their own heart-beats or TCP keepalive; an answer for a client that left is dropped.
 */
import { createServer as createHttpServer, type IncomingMessage } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import { chmod } from 'node:fs/promises';
import type { Logger } from 'pino';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import type { Answer } from './codec.js';
import { detectProtocol } from './detect.js';
import type { FrameOptions, Peer } from './dispatch.js';
import { RequestLimiter } from './limit.js';
import { isTlsListener, type ListenSpec } from './listen.js';
import { Broker, EVENTS_DESTINATION } from './stomp/broker.js';
import { encodeFrame } from './stomp/frame.js';
import { StompSession } from './stomp/session.js';
import { clearStaleSocket } from './unix.js';

export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  /** the CA client certificates must chain to */
  ca: Buffer;
}

export interface RpcServerOptions {
  listeners: ListenSpec[];
  /** required when a tls:// or wss:// listener is configured */
  tls?: TlsMaterial;
  /** Origin header values that may upgrade; any other Origin is refused (403) */
  allowOrigins: string[];
  /** bytes per frame (WebSocket or STOMP); past it the connection is closed */
  maxPayload: number;
  /** accepted sockets, whatever their state */
  maxConnections: number;
  /** WebSocket ping interval; a peer that did not answer the previous ping is dropped */
  keepaliveMs: number;
  /** requests of one connection running at once */
  maxInFlight: number;
  /** a connection must complete its TLS handshake and its WebSocket upgrade or STOMP CONNECT within this (default 10 s) */
  handshakeTimeoutMs?: number;
  log: Logger;
  handleFrame(text: string, from: Peer, opts: FrameOptions): Promise<Answer | undefined>;
}

/** 16 MiB: a 1000-network setupNetworks with every attribute is about 1 MiB. */
export const DEFAULT_MAX_PAYLOAD = 16 * 1024 * 1024;
const DEFAULT_HANDSHAKE_MS = 10_000;
/** a socket over the connection limit gets this long to show its protocol, to be refused in it */
const REFUSAL_GRACE_MS = 1000;

/** An accepted socket, from accept to close. */
interface Accepted {
  socket: Socket;
  spec: ListenSpec;
  peer: string;
  certSubject?: string;
  deadline: NodeJS.Timeout | undefined;
  /** once upgraded */
  ws?: WebSocket;
}

interface WsConnection {
  ws: WebSocket;
  from: Peer;
  alive: boolean;
  limiter: RequestLimiter;
  subscribed: boolean;
  /** answer bytes handed to the socket and not yet written out */
  unsent: number;
  /** why reading is paused: requests waiting for a turn, or answers the client does not read */
  holds: Set<'backlog' | 'unsent'>;
}

/** Answers queued for a client that does not read them: past this, we stop reading its requests. */
const MAX_UNSENT_BYTES = 16 * 1024 * 1024;

function hold(conn: WsConnection, why: 'backlog' | 'unsent', on: boolean): void {
  if (on) conn.holds.add(why);
  else conn.holds.delete(why);
  if (conn.holds.size > 0) conn.ws.pause();
  else conn.ws.resume();
}

interface Bound {
  spec: ListenSpec;
  server: Server;
  /** 'unix:/path' or 'tcp://127.0.0.1:40123' with the real port */
  address: string;
}

export class RpcServer {
  private readonly wss: WebSocketServer;
  /** parses HTTP for sockets detected as HTTP; it never listens itself */
  private readonly http = createHttpServer();
  private readonly bound: Bound[] = [];
  private readonly sockets = new Set<Accepted>();
  private readonly bySocket = new WeakMap<Duplex, Accepted>();
  private readonly wsConnections = new Set<WsConnection>();
  private readonly broker = new Broker();
  private keepalive: NodeJS.Timeout | undefined;
  private nextConnId = 1;
  private closing = false;

  constructor(private readonly opts: RpcServerOptions) {
    this.wss = new WebSocketServer({ noServer: true, maxPayload: opts.maxPayload, perMessageDeflate: false });
    this.http.on('request', (_req, res) => {
      res.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket', connection: 'close' });
      res.end('hostnetd speaks JSON-RPC 2.0 over WebSocket or STOMP 1.2: upgrade this connection\n');
    });
    this.http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.upgrade(req, socket, head));
    this.http.on('clientError', (err, socket) => {
      socket.destroy();
      this.opts.log.debug({ err: err.message }, 'bad HTTP request');
    });
  }

  /** Resolves once every listener accepts connections; on failure closes those already open. */
  async start(): Promise<void> {
    try {
      for (const spec of this.opts.listeners) this.bound.push(await this.listen(spec));
    } catch (e) {
      await this.close();
      throw e;
    }
    this.keepalive = setInterval(() => this.pingAll(), this.opts.keepaliveMs);
  }

  /** The listeners' addresses, with real ports (port 0 picks one). */
  addresses(): string[] {
    return this.bound.map((b) => b.address);
  }

  /** Accepted sockets, upgraded or not. */
  get connectionCount(): number {
    return this.sockets.size;
  }

  /**
   * A JSON-RPC notification for every client that asked for events: STOMP subscribers of
   * jms.queue.events, and WebSocket connections that called Host.subscribeEvents.
   */
  notify(json: string): number {
    let sent = this.broker.publish(EVENTS_DESTINATION, json);
    for (const c of this.wsConnections) {
      if (c.subscribed && c.ws.readyState === WebSocket.OPEN) {
        c.ws.send(json);
        sent++;
      }
    }
    return sent;
  }

  /** Stops listening, tells clients we are going away, and waits (briefly) for them to go. */
  async close(graceMs = 1000): Promise<void> {
    this.closing = true;
    clearInterval(this.keepalive);
    const listenersClosed = this.bound.map((b) => new Promise<void>((resolve) => b.server.close(() => resolve())));
    const gone = [...this.sockets].map(
      (a) =>
        new Promise<void>((resolve) => {
          if (a.socket.destroyed) return resolve();
          a.socket.once('close', () => resolve());
          if (a.ws) a.ws.close(1001, 'hostnetd is stopping');
          else a.socket.end();
        }),
    );
    const timer = setTimeout(() => {
      for (const a of this.sockets) a.socket.destroy();
    }, graceMs);
    await Promise.all(gone);
    clearTimeout(timer);
    await Promise.all(listenersClosed);
    this.bound.length = 0;
  }

  private async listen(spec: ListenSpec): Promise<Bound> {
    const handshakeMs = this.opts.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_MS;
    let server: Server;
    if (isTlsListener(spec)) {
      server = createTlsServer({ ...this.tlsOptions(spec), handshakeTimeout: handshakeMs }, (s) => this.accept(spec, s));
      server.on('tlsClientError', (err, socket) => {
        this.opts.log.warn({ listener: spec.url, peer: `${socket.remoteAddress}:${socket.remotePort}`, err: err.message }, 'TLS handshake refused');
      });
    } else {
      server = createNetServer((s) => this.accept(spec, s));
    }
    server.on('error', (err) => this.opts.log.error({ listener: spec.url, err: err.message }, 'listener error'));
    if (spec.kind === 'unix') {
      const stale = await clearStaleSocket(spec.path);
      if (stale === 'stale') this.opts.log.warn({ path: spec.path }, 'removed a stale socket file left by an earlier run');
      // never let the socket exist, even for a moment, with looser permissions than 0600
      const umask = process.umask(0o177);
      try {
        await listenOn(server, { path: spec.path });
      } finally {
        process.umask(umask);
      }
      await chmod(spec.path, 0o600);
      return { spec, server, address: `unix:${spec.path}` };
    }
    await listenOn(server, { host: spec.host, port: spec.port });
    const addr = server.address() as AddressInfo;
    const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    return { spec, server, address: `${spec.kind}://${host}:${addr.port}` };
  }

  private tlsOptions(spec: ListenSpec) {
    const tls = this.opts.tls;
    if (!tls) throw new Error(`${spec.url} needs --tls-cert, --tls-key and --tls-ca`);
    return { cert: tls.cert, key: tls.key, ca: tls.ca, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' as const };
  }

  /** A new socket: counted at once, then its first bytes decide the protocol. */
  private accept(spec: ListenSpec, socket: Socket): void {
    const a: Accepted = { socket, spec, peer: peerOf(spec, socket), deadline: undefined };
    if (isTlsListener(spec)) {
      const subject = certSubject(socket as TLSSocket);
      if (subject !== undefined) a.certSubject = subject;
    }
    this.sockets.add(a);
    this.bySocket.set(socket, a);
    socket.on('error', (err) => this.opts.log.debug({ peer: a.peer, err: err.message }, 'socket error'));
    socket.once('close', () => {
      clearTimeout(a.deadline);
      this.sockets.delete(a);
    });
    if (spec.kind !== 'unix') socket.setKeepAlive(true, 30_000);
    const refused = this.closing ? 'hostnetd is stopping' : this.sockets.size > this.opts.maxConnections ? 'too many connections' : undefined;
    if (refused === 'too many connections') {
      this.opts.log.warn({ listener: spec.url, peer: a.peer, limit: this.opts.maxConnections }, 'refused connection: too many connections');
    }
    a.deadline = setTimeout(() => {
      this.opts.log.warn({ listener: spec.url, peer: a.peer }, 'closed a connection that did not complete its WebSocket upgrade or STOMP CONNECT in time');
      socket.destroy();
    }, refused ? REFUSAL_GRACE_MS : this.opts.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_MS);
    this.detect(a, refused);
  }

  private detect(a: Accepted, refused: string | undefined): void {
    const chunks: Buffer[] = [];
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      const first = Buffer.concat(chunks);
      const protocol = detectProtocol(first);
      if (protocol === 'more' && first.length < 64) return;
      a.socket.off('data', onData);
      a.socket.pause();
      if (protocol === 'http') {
        if (refused) return refuseHttp(a.socket, 503, `Service Unavailable: ${refused}`);
        a.socket.unshift(first);
        this.http.emit('connection', a.socket);
        a.socket.resume();
      } else if (protocol === 'stomp') {
        if (refused) return refuseStomp(a.socket, refused);
        this.startStomp(a, first);
        a.socket.resume();
      } else {
        this.opts.log.warn({ listener: a.spec.url, peer: a.peer, first: first.subarray(0, 16).toString('latin1') }, 'closed a connection speaking neither HTTP nor STOMP');
        a.socket.destroy();
      }
    };
    a.socket.on('data', onData);
  }

  private startStomp(a: Accepted, first: Buffer): void {
    const from = this.peerFor(a, 'stomp');
    const log = this.opts.log.child({ conn: from.connId, peer: a.peer, certSubject: a.certSubject, transport: 'stomp' });
    log.info({ listener: a.spec.url }, 'connection opened');
    const session = new StompSession({
      socket: a.socket,
      from,
      broker: this.broker,
      log,
      maxFrameBytes: this.opts.maxPayload,
      maxInFlight: this.opts.maxInFlight,
      handleFrame: (text, f, o) => this.opts.handleFrame(text, f, o),
      onConnected: () => clearTimeout(a.deadline),
    });
    session.start(first);
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const a = this.bySocket.get(socket);
    if (!a) {
      socket.destroy();
      return;
    }
    // browsers always send Origin; a web page must not drive the host through a loopback port
    const origin = req.headers.origin ?? req.headers['sec-websocket-origin'];
    if (typeof origin === 'string' && !this.opts.allowOrigins.includes(origin)) {
      this.opts.log.warn({ listener: a.spec.url, peer: a.peer, origin }, 'refused upgrade: Origin not allowed (see --allow-origin)');
      return refuseHttp(socket, 403, 'Forbidden: Origin not allowed');
    }
    if (this.closing) return refuseHttp(socket, 503, 'Service Unavailable: hostnetd is stopping');
    this.wss.handleUpgrade(req, socket, head, (ws) => this.attach(ws, a, req));
  }

  private attach(ws: WebSocket, a: Accepted, req: IncomingMessage): void {
    clearTimeout(a.deadline);
    a.ws = ws;
    const conn: WsConnection = {
      ws,
      from: this.peerFor(a, 'ws'),
      alive: true,
      limiter: new RequestLimiter(this.opts.maxInFlight, (backlogged) => hold(conn, 'backlog', backlogged)),
      subscribed: false,
      unsent: 0,
      holds: new Set(),
    };
    conn.from.events = {
      subscribe: () => {
        conn.subscribed = true;
      },
      unsubscribe: () => {
        conn.subscribed = false;
      },
      notify: (json) => {
        if (!conn.subscribed || ws.readyState !== WebSocket.OPEN) return false;
        ws.send(json);
        return true;
      },
    };
    this.wsConnections.add(conn);
    const log = this.opts.log.child({ conn: conn.from.connId, peer: a.peer, certSubject: a.certSubject, transport: 'ws' });
    log.info({ listener: a.spec.url, path: req.url }, 'connection opened');

    ws.on('message', (data, isBinary) => this.receive(conn, data, isBinary, log));
    ws.on('pong', () => {
      conn.alive = true;
    });
    ws.on('error', (err) => log.warn({ err: err.message }, 'connection error'));
    ws.on('close', (code, reason) => {
      this.wsConnections.delete(conn);
      log.info({ code, reason: reason.toString(), inFlight: conn.limiter.inFlight }, 'connection closed');
    });
  }

  private receive(conn: WsConnection, data: RawData, isBinary: boolean, log: Logger): void {
    conn.alive = true;
    if (isBinary) log.debug('binary frame treated as UTF-8 text');
    this.opts
      .handleFrame(rawToString(data), conn.from, { limiter: conn.limiter })
      .then((answer) => this.answer(conn, answer, log))
      .catch((err: unknown) => log.error({ err }, 'frame handling failed'));
  }

  private answer(conn: WsConnection, answer: Answer | undefined, log: Logger): void {
    if (answer === undefined) return;
    if (conn.ws.readyState !== WebSocket.OPEN) {
      log.info('client left before its answer; dropped');
      return;
    }
    const pieces = typeof answer === 'string' ? [answer] : answer;
    const bytes = pieces.reduce((n, p) => n + (typeof p === 'string' ? Buffer.byteLength(p) : p.length), 0);
    conn.unsent += bytes;
    // one text message; pieces go as its fragments (RFC 6455 5.4), sent back to back so nothing interleaves
    pieces.forEach((p, i) => {
      const last = i === pieces.length - 1;
      conn.ws.send(p, { binary: false, fin: last }, last ? (err) => {
        if (err) log.warn({ err: err.message }, 'sending an answer failed');
        conn.unsent -= bytes;
        if (conn.unsent <= MAX_UNSENT_BYTES / 2 && conn.holds.has('unsent')) hold(conn, 'unsent', false);
      } : undefined);
    });
    if (conn.unsent > MAX_UNSENT_BYTES && !conn.holds.has('unsent')) {
      log.warn({ unsentBytes: conn.unsent }, 'client does not read its answers; its requests wait until it does');
      hold(conn, 'unsent', true);
    }
  }

  private peerFor(a: Accepted, transport: Peer['transport']): Peer {
    const from: Peer = { peer: a.peer, connId: this.nextConnId++, transport };
    if (a.certSubject !== undefined) from.certSubject = a.certSubject;
    if (a.spec.kind !== 'unix' && a.socket.localAddress) from.localAddress = a.socket.localAddress.replace(/^::ffff:/, '');
    return from;
  }

  private pingAll(): void {
    for (const conn of this.wsConnections) {
      // a paused connection is not being read, pongs included: it waits on us, not we on it
      if (conn.ws.isPaused) continue;
      if (!conn.alive) {
        this.opts.log.warn({ conn: conn.from.connId, peer: conn.from.peer }, 'peer did not answer keepalive ping; dropped');
        conn.ws.terminate();
        continue;
      }
      conn.alive = false;
      conn.ws.ping();
    }
  }
}

function listenOn(server: Server, where: { path: string } | { host: string; port: number }): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(where, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function refuseHttp(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

function refuseStomp(socket: Duplex, why: string): void {
  socket.end(encodeFrame('ERROR', [['message', why], ['content-type', 'text/plain']], why));
}

function peerOf(spec: ListenSpec, socket: Socket): string {
  if (spec.kind === 'unix') return 'unix';
  const { remoteAddress, remotePort } = socket;
  return remoteAddress?.includes(':') ? `[${remoteAddress}]:${remotePort}` : `${remoteAddress}:${remotePort}`;
}

/** 'CN=engine,O=Example' from the verified client certificate. */
export function certSubject(socket: TLSSocket): string | undefined {
  const cert = socket.getPeerCertificate?.();
  if (!cert || !cert.subject) return undefined;
  return Object.entries(cert.subject)
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('+') : v}`)
    .join(',');
}

function rawToString(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}
