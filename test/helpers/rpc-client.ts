/**
 * A small JSON-RPC 2.0 WebSocket client for tests: calls, batches and raw frames.
 *
 *   const c = await RpcTestClient.connect({ socket: daemon.socket });
 *   const caps = await c.call('Host.getNetworkCapabilities');
 *   const err = await c.callError('Host.nope');              // → { code: -32601, message }
 *   const reply = await c.sendRaw('{"jsonrpc":"2.0",');      // the next unmatched reply, parsed
 *   await c.close();
 *
 * Targets: { socket } for a unix socket; { url } for ws:// or wss://, optionally over
 * `socketPath` (a unix socket forwarded into a namespace, see forwardIntoNetns) with
 * { tls: { cert, key, ca } } PEM buffers for client certificates.
 */
import { connect as netConnect } from 'node:net';
import { resolve as resolvePath } from 'node:path';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { WebSocket } from 'ws';

export type RpcTarget =
  | { socket: string }
  | { url: string; socketPath?: string; tls?: { cert?: Buffer; key?: Buffer; ca?: Buffer; servername?: string } };

export interface ConnectOptions {
  origin?: string;
  headers?: Record<string, string>;
  /** ms to wait for the connection (default 20000) */
  timeoutMs?: number;
  /** maxPayload for frames we receive (default 256 MiB) */
  maxPayload?: number;
}

export class RpcCallError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(`RPC error ${code}: ${message}`);
  }
}

type Reply = { id?: unknown; result?: unknown; error?: { code: number; message: string; data?: unknown } };

export class RpcTestClient {
  private nextId = 1;
  private pending = new Map<unknown, (r: Reply) => void>();
  private unmatched: unknown[] = [];
  private unmatchedWaiters: ((v: unknown) => void)[] = [];
  /** resolves with the close code and reason */
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => this.onMessage(String(data)));
    this.closed = new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    ws.on('error', () => undefined);
  }

  static connect(target: RpcTarget, opts: ConnectOptions = {}): Promise<RpcTestClient> {
    const wsOpts: Record<string, unknown> = {
      handshakeTimeout: opts.timeoutMs ?? 20_000,
      maxPayload: opts.maxPayload ?? 256 * 1024 * 1024,
      ...(opts.origin !== undefined ? { origin: opts.origin } : {}),
      ...(opts.headers ? { headers: opts.headers } : {}),
    };
    let address: string;
    if ('socket' in target) {
      address = `ws+unix://${resolvePath(target.socket)}:/`;
    } else {
      address = target.url;
      if (target.tls) Object.assign(wsOpts, target.tls);
      const socketPath = target.socketPath;
      if (socketPath) {
        // ws ignores socketPath for wss://; route the TCP (or TLS) stream through the unix socket
        wsOpts.createConnection = (o: Record<string, unknown>) =>
          address.startsWith('wss:')
            ? tlsConnect({ ...(o as ConnectionOptions), path: socketPath, host: undefined, port: undefined } as ConnectionOptions)
            : netConnect({ path: socketPath });
      }
    }
    const ws = new WebSocket(address, wsOpts);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(new RpcTestClient(ws)));
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => {
        reject(new Error(`upgrade refused: HTTP ${res.statusCode} ${res.statusMessage ?? ''}`.trim()));
        ws.terminate();
      });
    });
  }

  /** Calls a method; resolves with its result, rejects with RpcCallError. */
  async call<T = unknown>(method: string, params?: unknown): Promise<T> {
    const r = await this.request(method, params);
    if (r.error) throw new RpcCallError(r.error.code, r.error.message, r.error.data);
    return r.result as T;
  }

  /** Calls a method that must fail; resolves with the error object. */
  async callError(method: string, params?: unknown): Promise<{ code: number; message: string; data?: unknown }> {
    const r = await this.request(method, params);
    if (!r.error) throw new Error(`${method} was expected to fail but answered ${JSON.stringify(r.result).slice(0, 200)}`);
    return r.error;
  }

  /** The whole response object. */
  request(method: string, params?: unknown): Promise<Reply> {
    const id = this.nextId++;
    const frame: Record<string, unknown> = { jsonrpc: '2.0', id, method };
    if (params !== undefined) frame.params = params;
    const answer = new Promise<Reply>((resolve) => this.pending.set(id, resolve));
    this.ws.send(JSON.stringify(frame));
    return Promise.race([answer, this.closed.then(({ code }) => Promise.reject(new Error(`connection closed (${code}) before an answer to ${method}`)))]);
  }

  /** Sends any text as one frame; resolves with the next reply no call is waiting for. */
  sendRaw(text: string | Buffer): Promise<unknown> {
    const next = this.nextUnmatched();
    this.ws.send(text);
    return next;
  }

  /** Sends a frame and expects no answer within `ms` (notifications). */
  async sendExpectingSilence(text: string, ms = 300): Promise<boolean> {
    const next = this.nextUnmatched();
    this.ws.send(text);
    const silent = await Promise.race([next.then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), ms))]);
    return silent;
  }

  close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    this.ws.close();
    return this.closed.then(() => undefined);
  }

  /** Replies and notifications received that no call was waiting for, and not yet taken. */
  unmatchedCount(): number {
    return this.unmatched.length;
  }

  /** The next reply or notification no call is waiting for (notifications after Host.subscribeEvents). */
  nextUnmatched(): Promise<unknown> {
    const ready = this.unmatched.shift();
    if (ready !== undefined) return Promise.resolve(ready);
    return Promise.race([
      new Promise((resolve) => this.unmatchedWaiters.push(resolve)),
      this.closed.then(({ code }) => Promise.reject(new Error(`connection closed (${code}) before a reply`))),
    ]);
  }

  private onMessage(text: string): void {
    const msg = JSON.parse(text) as unknown;
    if (!Array.isArray(msg) && typeof msg === 'object' && msg !== null) {
      const id = (msg as Reply).id;
      const waiter = this.pending.get(id);
      if (waiter) {
        this.pending.delete(id);
        waiter(msg as Reply);
        return;
      }
    }
    const w = this.unmatchedWaiters.shift();
    if (w) w(msg);
    else this.unmatched.push(msg);
  }
}

/** Connects, calls one method, closes. */
export async function rpcOnce<T = unknown>(target: RpcTarget, method: string, params?: unknown): Promise<T> {
  const c = await RpcTestClient.connect(target);
  try {
    return await c.call<T>(method, params);
  } finally {
    await c.close();
  }
}
