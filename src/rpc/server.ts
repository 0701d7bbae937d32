/**
 * The transports: one http(s) server per --listen address, each upgrading to WebSocket on
 * any path (the ws library in noServer mode), all feeding frames to one handler.
 *
 * Isolation between clients: a frame over maxPayload closes only that connection (1009);
 * a connection with maxInFlight unanswered frames stops being read (TCP backpressure) until
 * answers go out, so a flooding client slows only itself; dead peers are dropped by keepalive
 * pings; an answer for a client that left is dropped.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { chmod } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import type { Peer } from './dispatch.js';
import type { ListenSpec } from './listen.js';
import { clearStaleSocket } from './unix.js';

export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  /** the CA client certificates must chain to */
  ca: Buffer;
}

export interface RpcServerOptions {
  listeners: ListenSpec[];
  /** required when a wss listener is configured */
  tls?: TlsMaterial;
  /** Origin header values that may upgrade; any other Origin is refused (403) */
  allowOrigins: string[];
  /** bytes per frame; past it the connection is closed */
  maxPayload: number;
  maxConnections: number;
  /** ping interval; a peer that did not answer the previous ping is dropped */
  keepaliveMs: number;
  /** unanswered frames per connection before it stops being read */
  maxInFlight: number;
  log: Logger;
  handleFrame(text: string, from: Peer): Promise<string | undefined>;
}

/** 16 MiB: a 1000-network setupNetworks with every attribute is about 1 MiB. */
export const DEFAULT_MAX_PAYLOAD = 16 * 1024 * 1024;

interface Connection {
  ws: WebSocket;
  from: Peer;
  alive: boolean;
  inFlight: number;
  /** frames read but not started: one socket read can carry many frames, pausing stops only the next read */
  waiting: string[];
}

interface Bound {
  spec: ListenSpec;
  server: Server;
  /** 'unix:/path' or 'ws://127.0.0.1:40123' with the real port */
  address: string;
}

export class RpcServer {
  private readonly wss: WebSocketServer;
  private readonly bound: Bound[] = [];
  private readonly connections = new Set<Connection>();
  private keepalive: NodeJS.Timeout | undefined;
  private nextConnId = 1;
  private closing = false;

  constructor(private readonly opts: RpcServerOptions) {
    this.wss = new WebSocketServer({ noServer: true, maxPayload: opts.maxPayload, perMessageDeflate: false });
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

  get connectionCount(): number {
    return this.connections.size;
  }

  /** Stops listening, tells clients we are going away, and waits (briefly) for them to go. */
  async close(graceMs = 1000): Promise<void> {
    this.closing = true;
    clearInterval(this.keepalive);
    const listenersClosed = this.bound.map((b) => new Promise<void>((resolve) => b.server.close(() => resolve())));
    const gone = [...this.connections].map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.ws.readyState === WebSocket.CLOSED) return resolve();
          c.ws.once('close', () => resolve());
          c.ws.close(1001, 'hostnetd is stopping');
        }),
    );
    const timer = setTimeout(() => {
      for (const c of this.connections) c.ws.terminate();
    }, graceMs);
    await Promise.all(gone);
    clearTimeout(timer);
    await Promise.all(listenersClosed);
    this.bound.length = 0;
  }

  private async listen(spec: ListenSpec): Promise<Bound> {
    const server =
      spec.kind === 'wss' ? createHttpsServer(this.tlsOptions(spec)) : createHttpServer();
    server.on('request', (_req, res) => {
      res.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket' });
      res.end('hostnetd speaks JSON-RPC 2.0 over WebSocket: upgrade this connection\n');
    });
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.upgrade(spec, req, socket, head));
    server.on('tlsClientError', (err, socket) => {
      this.opts.log.warn({ listener: spec.url, peer: `${socket.remoteAddress}:${socket.remotePort}`, err: err.message }, 'TLS handshake refused');
    });
    server.on('clientError', (err, socket) => {
      socket.destroy();
      this.opts.log.debug({ listener: spec.url, err: err.message }, 'bad HTTP request');
    });
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

  private upgrade(spec: ListenSpec, req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const peer = peerOf(spec, req);
    // browsers always send Origin; a web page must not drive the host through a loopback port
    const origin = req.headers.origin ?? req.headers['sec-websocket-origin'];
    if (typeof origin === 'string' && !this.opts.allowOrigins.includes(origin)) {
      this.opts.log.warn({ listener: spec.url, peer, origin }, 'refused upgrade: Origin not allowed (see --allow-origin)');
      return refuse(socket, 403, 'Forbidden: Origin not allowed');
    }
    if (this.closing) return refuse(socket, 503, 'Service Unavailable: hostnetd is stopping');
    if (this.connections.size >= this.opts.maxConnections) {
      this.opts.log.warn({ listener: spec.url, peer, limit: this.opts.maxConnections }, 'refused upgrade: too many connections');
      return refuse(socket, 503, 'Service Unavailable: too many connections');
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.attach(ws, spec, req, peer));
  }

  private attach(ws: WebSocket, spec: ListenSpec, req: IncomingMessage, peer: string): void {
    const from: Peer = { peer, connId: this.nextConnId++ };
    const subject = spec.kind === 'wss' ? certSubject(req.socket as TLSSocket) : undefined;
    if (subject !== undefined) from.certSubject = subject;
    const conn: Connection = { ws, from, alive: true, inFlight: 0, waiting: [] };
    this.connections.add(conn);
    const log = this.opts.log.child({ conn: from.connId, peer, certSubject: from.certSubject });
    log.info({ listener: spec.url, path: req.url }, 'connection opened');

    ws.on('message', (data, isBinary) => this.receive(conn, data, isBinary, log));
    ws.on('pong', () => {
      conn.alive = true;
    });
    ws.on('error', (err) => log.warn({ err: err.message }, 'connection error'));
    ws.on('close', (code, reason) => {
      this.connections.delete(conn);
      conn.waiting.length = 0;
      log.info({ code, reason: reason.toString(), inFlight: conn.inFlight }, 'connection closed');
    });
  }

  private receive(conn: Connection, data: RawData, isBinary: boolean, log: Logger): void {
    conn.alive = true;
    if (isBinary) log.debug('binary frame treated as UTF-8 text');
    conn.waiting.push(rawToString(data));
    this.pump(conn, log);
  }

  /** Starts waiting frames up to maxInFlight; stops reading the socket while the limit is reached. */
  private pump(conn: Connection, log: Logger): void {
    while (conn.inFlight < this.opts.maxInFlight && conn.waiting.length > 0) {
      const text = conn.waiting.shift()!;
      conn.inFlight++;
      this.opts
        .handleFrame(text, conn.from)
        .then((answer) => this.answer(conn, answer, log))
        .catch((err: unknown) => log.error({ err }, 'frame handling failed'))
        .finally(() => {
          conn.inFlight--;
          this.pump(conn, log);
        });
    }
    const full = conn.inFlight >= this.opts.maxInFlight;
    if (full && !conn.ws.isPaused) conn.ws.pause();
    else if (!full && conn.ws.isPaused) conn.ws.resume();
  }

  private answer(conn: Connection, answer: string | undefined, log: Logger): void {
    if (answer === undefined) return;
    if (conn.ws.readyState !== WebSocket.OPEN) {
      log.info('client left before its answer; dropped');
      return;
    }
    conn.ws.send(answer, (err) => {
      if (err) log.warn({ err: err.message }, 'sending an answer failed');
    });
  }

  private pingAll(): void {
    for (const conn of this.connections) {
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

function refuse(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

function peerOf(spec: ListenSpec, req: IncomingMessage): string {
  if (spec.kind === 'unix') return 'unix';
  const { remoteAddress, remotePort } = req.socket;
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
