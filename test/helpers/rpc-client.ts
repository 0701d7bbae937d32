/**
 * The tests' JSON-RPC client: the project's one client (src/rpc/client.ts) plus what protocol
 * tests need: raw frames, replies nobody waits for, the raw WebSocket.
 *
 *   const c = await RpcTestClient.connect({ socket: daemon.socket });
 *   const caps = await c.call('Host.getNetworkCapabilities');
 *   const err = await c.callError('Host.nope');              // → { code: -32601, message }
 *   const reply = await c.sendRaw('{"jsonrpc":"2.0",');      // the next unmatched reply, parsed
 *   await c.close();
 *
 * Targets: { socket } for a unix socket; { url } for tcp://, tls://, ws:// or wss://, optionally
 * over `socketPath` (a unix socket forwarded into a namespace, see forwardIntoNetns) with
 * { tls: { cert, key, ca } } PEM buffers for client certificates; `protocol: 'stomp'` speaks
 * STOMP as the engine does instead of WebSocket.
 */
import { WebSocket } from 'ws';
import { RpcClient, type ClientTarget } from '../../src/rpc/client.js';

export type RpcTarget =
  | { socket: string; protocol?: 'ws' | 'stomp' }
  | { url: string; socketPath?: string; tls?: { cert?: Buffer; key?: Buffer; ca?: Buffer; servername?: string }; protocol?: 'ws' | 'stomp' };

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

/** The project's one JSON-RPC client (src/rpc/client.ts), with what protocol tests need on top. */
export class RpcTestClient {
  private unmatched: unknown[] = [];
  private unmatchedWaiters: ((v: unknown) => void)[] = [];
  /** resolves with the close code and reason */
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(private readonly client: RpcClient) {
    client.onUnmatched((msg) => {
      const w = this.unmatchedWaiters.shift();
      if (w) w(msg);
      else this.unmatched.push(msg);
    });
    this.closed = client.closed.then(({ code, reason }) => ({ code, reason }));
  }

  /** The raw WebSocket, for tests that must break the protocol on purpose. */
  get ws(): WebSocket {
    return this.client.underlying as WebSocket;
  }

  static async connect(target: RpcTarget, opts: ConnectOptions = {}): Promise<RpcTestClient> {
    const t: ClientTarget = 'socket' in target ? { url: `unix:${target.socket}` } : { url: target.url };
    if ('url' in target) {
      if (target.socketPath) t.socketPath = target.socketPath;
      if (target.tls) t.tls = target.tls;
    }
    if (target.protocol) t.protocol = target.protocol;
    const client = await RpcClient.open(t, {
      timeoutMs: opts.timeoutMs ?? 20_000,
      maxPayload: opts.maxPayload ?? 256 * 1024 * 1024,
      ...(opts.origin !== undefined ? { origin: opts.origin } : {}),
      ...(opts.headers ? { headers: opts.headers } : {}),
    }).catch((e: unknown) => {
      // keep the old helper's wording for refused upgrades ("upgrade refused: HTTP 503 ...")
      const m = /\(HTTP (\d+)\)/.exec((e as Error).message);
      throw m ? new Error(`upgrade refused: HTTP ${m[1]}: ${(e as Error).message}`) : e;
    });
    return new RpcTestClient(client);
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

  /** The whole response object; `id` picks the request id (default: the next number). */
  request(method: string, params?: unknown, id?: string | number): Promise<Reply> {
    return id === undefined ? this.client.request(method, params) : this.client.request(method, params, id);
  }

  /** Sends any text as one frame; resolves with the next reply no call is waiting for. */
  sendRaw(text: string | Buffer): Promise<unknown> {
    const next = this.nextUnmatched();
    this.client.sendRaw(text);
    return next;
  }

  /** Sends a frame and expects no answer within `ms` (notifications). */
  async sendExpectingSilence(text: string, ms = 300): Promise<boolean> {
    const next = this.nextUnmatched();
    this.client.sendRaw(text);
    const silent = await Promise.race([next.then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), ms))]);
    return silent;
  }

  close(): Promise<void> {
    if (this.client.underlying instanceof WebSocket && this.ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return this.client.close();
  }

  /** Replies and notifications received that no call was waiting for, and not yet taken. */
  unmatchedCount(): number {
    return this.unmatched.length;
  }

  /**
   * The next notification named `method`, dropping the others before it (a subscriber's own
   * changes also bring it their |net|progress|<id> phases).
   */
  async nextEvent(method: string): Promise<unknown> {
    for (;;) {
      const msg = await this.nextUnmatched();
      if ((msg as { method?: unknown } | null)?.method === method) return msg;
    }
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
}
