/**
 * A frame-level STOMP 1.2 client for tests, written independently of the server's parser so
 * that each checks the other. It records every frame and every heart-beat (a lone EOL between
 * frames) the server sends.
 *
 *   const c = await StompTestClient.open({ host: '127.0.0.1', port });
 *   await c.connect({ 'heart-beat': '0,15000' });          // → the CONNECTED frame
 *   c.subscribe('jms.topic.vdsm_responses', 'sub-1');
 *   const answer = await c.call('Host.ping2');             // SEND to jms.topic.vdsm_requests, MESSAGE back
 *   c.write('SEND\ndestination:x\n\n\0');                   // raw bytes
 *   const err = await c.next((f) => f.command === 'ERROR');
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { randomUUID } from 'node:crypto';

export interface Frame {
  command: string;
  headers: Record<string, string>;
  body: string;
}

type TlsOpts = { cert?: Buffer; key?: Buffer; ca?: Buffer; servername?: string };

/** A TCP address, or a unix socket (a listener's own, or a forwarder into a namespace); TLS over either. */
export type StompTarget = ({ host: string; port: number } | { path: string }) & { tls?: TlsOpts };

const unescape = (s: string) => s.replace(/\\([\\ncr])/g, (_m, c: string) => ({ '\\': '\\', n: '\n', c: ':', r: '\r' })[c]!);
const escape = (s: string) => s.replace(/[\\\r\n:]/g, (c) => ({ '\\': '\\\\', '\r': '\\r', '\n': '\\n', ':': '\\c' })[c]!);

export class StompTestClient {
  readonly frames: Frame[] = [];
  heartbeats = 0;
  /** Date.now() of the last byte received */
  lastHeard = Date.now();
  readonly closed: Promise<void>;
  private buf = Buffer.alloc(0);
  private waiters: { match: (f: Frame) => boolean; resolve: (f: Frame) => void }[] = [];
  private seen = 0;
  private nextId = 1;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
  }

  static open(target: StompTarget, timeoutMs = 20_000): Promise<StompTestClient> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('STOMP test client: connect timed out')), timeoutMs);
      const done = (s: Socket) => {
        clearTimeout(timer);
        s.off('error', reject);
        resolve(new StompTestClient(s));
      };
      const where = 'path' in target ? { path: target.path } : { host: target.host, port: target.port };
      const s: Socket = target.tls
        ? tlsConnect({ ...where, servername: 'localhost', ...target.tls }, () => done(s))
        : netConnect(where, () => done(s));
      s.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
  }

  write(raw: string | Buffer): void {
    this.socket.write(raw);
  }

  /** Encodes and sends a frame; body gets a content-length unless `noLength`. */
  send(command: string, headers: Record<string, string>, body = '', noLength = false): void {
    let head = `${command}\n`;
    for (const [k, v] of Object.entries(headers)) head += `${escape(k)}:${escape(v)}\n`;
    const payload = Buffer.from(body, 'utf8');
    if (body !== '' && !noLength) head += `content-length:${payload.length}\n`;
    this.write(Buffer.concat([Buffer.from(`${head}\n`), payload, Buffer.from([0])]));
  }

  /** CONNECT (accept-version 1.2 unless given) and the server's first answer frame. */
  async connect(headers: Record<string, string> = {}): Promise<Frame> {
    this.send('CONNECT', { 'accept-version': '1.2', host: 'localhost', ...headers });
    return this.next((f) => f.command === 'CONNECTED' || f.command === 'ERROR');
  }

  subscribe(destination: string, id: string, extra: Record<string, string> = {}): void {
    this.send('SUBSCRIBE', { destination, id, ack: 'auto', ...extra });
  }

  /**
   * One JSON-RPC call as the engine makes it: a single object SENT to the request queue with a
   * reply-to; resolves with the parsed JSON-RPC answer (a MESSAGE to reply-to).
   */
  async call(method: string, params?: unknown, opts: { replyTo?: string; batch?: boolean; headers?: Record<string, string>; timeoutMs?: number } = {}): Promise<{ id: unknown; result?: unknown; error?: { code: number; message: string } }> {
    const id = `${randomUUID()}-${this.nextId++}`;
    const req: Record<string, unknown> = { jsonrpc: '2.0', id, method };
    if (params !== undefined) req.params = params;
    const replyTo = opts.replyTo ?? 'jms.topic.vdsm_responses';
    this.send('SEND', { destination: 'jms.topic.vdsm_requests', 'reply-to': replyTo, ...opts.headers }, JSON.stringify(opts.batch ? [req] : req));
    const msg = await this.next((f) => f.command === 'MESSAGE' && f.headers.destination === replyTo && f.body.includes(id), opts.timeoutMs);
    return JSON.parse(msg.body) as { id: unknown; result?: unknown; error?: { code: number; message: string } };
  }

  /** The first frame (received since the last next() that matched, in order) that matches. */
  next(match: (f: Frame) => boolean = () => true, timeoutMs = 20_000): Promise<Frame> {
    for (let i = this.seen; i < this.frames.length; i++) {
      if (match(this.frames[i]!)) {
        this.seen = i + 1;
        return Promise.resolve(this.frames[i]!);
      }
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`STOMP test client: no matching frame within ${timeoutMs} ms; got ${JSON.stringify(this.frames.map((f) => f.command))}`)), timeoutMs);
      this.waiters.push({
        match,
        resolve: (f) => {
          clearTimeout(timer);
          resolve(f);
        },
      });
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.lastHeard = Date.now();
    this.buf = Buffer.concat([this.buf, chunk]);
    for (;;) {
      if (this.buf.length > 0 && (this.buf[0] === 0x0a || this.buf[0] === 0x0d)) {
        if (this.buf[0] === 0x0a) this.heartbeats++;
        this.buf = this.buf.subarray(1);
        continue;
      }
      const headEnd = this.buf.indexOf('\n\n');
      if (headEnd === -1) return;
      const lines = this.buf.subarray(0, headEnd).toString('utf8').split('\n');
      const headers: Record<string, string> = {};
      for (const line of lines.slice(1)) {
        const i = line.indexOf(':');
        const k = unescape(line.slice(0, i));
        if (!(k in headers)) headers[k] = unescape(line.slice(i + 1));
      }
      const start = headEnd + 2;
      let end: number;
      if (headers['content-length'] !== undefined) {
        end = start + Number(headers['content-length']);
        if (this.buf.length < end + 1) return;
        if (this.buf[end] !== 0) throw new Error('STOMP test client: frame does not end with NUL after content-length');
      } else {
        end = this.buf.indexOf(0, start);
        if (end === -1) return;
      }
      const frame: Frame = { command: lines[0]!, headers, body: this.buf.subarray(start, end).toString('utf8') };
      this.buf = this.buf.subarray(end + 1);
      this.frames.push(frame);
      const w = this.waiters.findIndex((x) => x.match(frame));
      if (w !== -1) {
        const [waiter] = this.waiters.splice(w, 1);
        this.seen = this.frames.length;
        waiter!.resolve(frame);
      }
    }
  }
}
