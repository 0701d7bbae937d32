/**
 * hostnetctl's connection to the daemon, with failures turned into messages an admin can act
 * on at 3am. ConnectionError → exit 2; RpcError (the daemon answered an error) → exit 1.
 */
import { resolve as resolvePath } from 'node:path';
import { WebSocket } from 'ws';

export type Target =
  | { kind: 'unix'; path: string }
  | { kind: 'url'; url: string; tls: { cert?: Buffer; key?: Buffer; ca?: Buffer } };

export class ConnectionError extends Error {}

export class RpcError extends Error {
  constructor(
    readonly code: number,
    readonly rpcMessage: string,
    readonly data?: unknown,
  ) {
    super(`error ${code}: ${rpcMessage}`);
  }
}

export const describeTarget = (t: Target): string => (t.kind === 'unix' ? t.path : t.url);

type Reply = { id?: unknown; method?: unknown; params?: unknown; result?: unknown; error?: { code: number; message: string; data?: unknown } };

/** A JSON-RPC notification from the daemon (after Host.subscribeEvents). */
export interface Notification {
  method: string;
  params: unknown;
}

export class CliClient {
  private nextId = 1;
  private pending = new Map<number, { resolve(r: Reply): void; reject(e: Error): void }>();
  private closedWith: Error | undefined;
  private notified: (n: Notification) => void = () => undefined;
  /** resolves with the reason when the connection ends */
  readonly closed: Promise<Error>;

  private constructor(
    private readonly ws: WebSocket,
    private readonly target: Target,
  ) {
    ws.on('message', (data) => this.onMessage(String(data)));
    ws.on('error', () => undefined);
    this.closed = new Promise((resolve) =>
      ws.on('close', (code, reason) => {
        this.closedWith = new ConnectionError(closeMessage(target, code, reason.toString()));
        for (const p of this.pending.values()) p.reject(this.closedWith);
        this.pending.clear();
        resolve(this.closedWith);
      }),
    );
  }

  static open(target: Target, timeoutMs = 10_000): Promise<CliClient> {
    const base = { handshakeTimeout: timeoutMs, maxPayload: 512 * 1024 * 1024 };
    const ws =
      target.kind === 'unix'
        ? // ws reads `ws+unix://HOST/PATH:/` as host + path: a relative socket path must be made absolute first
          new WebSocket(`ws+unix://${resolvePath(target.path)}:/`, base)
        : new WebSocket(target.url, { ...base, ...target.tls });
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(new CliClient(ws, target)));
      ws.once('error', (e) => reject(new ConnectionError(connectMessage(target, e as NodeJS.ErrnoException))));
      ws.once('unexpected-response', (_req, res) => {
        ws.terminate();
        reject(new ConnectionError(refusedMessage(target, res.statusCode ?? 0)));
      });
    });
  }

  /** Resolves with the result; rejects with RpcError or ConnectionError. */
  call(method: string, params?: unknown): Promise<unknown> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    const id = this.nextId++;
    const frame: Record<string, unknown> = { jsonrpc: '2.0', id, method };
    if (params !== undefined) frame.params = params;
    return new Promise<Reply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.ws.send(JSON.stringify(frame));
    }).then((r) => {
      if (r.error) throw new RpcError(r.error.code, r.error.message, r.error.data);
      return r.result;
    });
  }

  close(): void {
    this.ws.close();
  }

  /** Where notifications go (one listener). */
  onNotification(listener: (n: Notification) => void): void {
    this.notified = listener;
  }

  private onMessage(text: string): void {
    let msg: Reply;
    try {
      msg = JSON.parse(text) as Reply;
    } catch {
      return;
    }
    if (msg.id === undefined && typeof msg.method === 'string') {
      this.notified({ method: msg.method, params: msg.params });
      return;
    }
    const waiter = typeof msg.id === 'number' ? this.pending.get(msg.id) : undefined;
    if (waiter) {
      this.pending.delete(msg.id as number);
      waiter.resolve(msg);
    } else if (msg.error && msg.id === null) {
      // the daemon could not even read our frame: fail every call waiting
      for (const p of this.pending.values()) p.reject(new RpcError(msg.error.code, msg.error.message));
      this.pending.clear();
    }
  }
}

const TLS_CODES = /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/;

export function connectMessage(target: Target, e: NodeJS.ErrnoException): string {
  const where = describeTarget(target);
  const code = e.code ?? '';
  if (target.kind === 'unix') {
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
    if (TLS_CODES.test(code) || TLS_CODES.test(e.message) || (target.url.startsWith('wss:') && code === 'ECONNRESET')) {
      return (
        `TLS with ${where} failed: ${e.message}: check --tls-ca (the CA that signed the daemon's certificate) ` +
        `and --tls-cert/--tls-key (a client certificate signed by the daemon's --tls-ca)`
      );
    }
  }
  if (/timed out/i.test(e.message)) return `cannot connect to ${where}: no answer in time: is hostnetd stuck? (journalctl -u hostnetd)`;
  return `cannot connect to ${where}: ${e.message}`;
}

function refusedMessage(target: Target, status: number): string {
  const where = describeTarget(target);
  if (status === 403) return `${where} refused the connection (HTTP 403): Origin header not allowed (see hostnetd --allow-origin)`;
  if (status === 503) return `${where} refused the connection (HTTP 503): too many clients, or hostnetd is stopping; try again`;
  return `${where} refused the WebSocket upgrade (HTTP ${status}): is this hostnetd?`;
}

function closeMessage(target: Target, code: number, reason: string): string {
  const where = describeTarget(target);
  if (code === 1009) return `${where} closed the connection: the request is larger than hostnetd accepts`;
  if (code === 1001) return `${where} closed the connection: hostnetd is stopping${reason ? ` (${reason})` : ''}`;
  return `connection to ${where} closed before an answer (code ${code}${reason ? `: ${reason}` : ''}): did hostnetd restart? (journalctl -u hostnetd)`;
}
