/**
 * Dispatch: a decoded frame's requests → their handlers → encoded answers. Every request
 * is logged once, when it ends, with its id, method, peer, certificate subject, duration and
 * outcome. Errors that are not HostnetError are internal (-32603): their stack goes to the
 * log, only their message to the client.
 */
import type { Logger } from 'pino';
import { ErrorCode, HostnetError } from '../errors.js';
import type { EventSubscription, RequestContext } from '../model/context.js';
import {
  decodeFrame,
  encodeResponses,
  errorResponse,
  resultResponse,
  type RpcRequest,
  type RpcResponse,
  type Answer,
} from './codec.js';
import type { RequestLimiter } from './limit.js';
import { bindParams, type MethodTable } from './methods.js';

/** Who is on the other end of a connection. */
export interface Peer {
  /** 'unix' or 'address:port' */
  peer: string;
  /** TLS client certificate subject, e.g. 'CN=engine,O=example' */
  certSubject?: string;
  /** a number unique within this daemon's lifetime, to follow one connection in the log */
  connId: number;
  transport: 'ws' | 'stomp';
  /** the host address the peer connected to (absent on the unix socket) */
  localAddress?: string;
  /** how this connection opts in to notifications, where it can */
  events?: EventSubscription;
}

/** How one frame is run; the transport decides. */
export interface FrameOptions {
  /** the connection's budget of requests at once; every request of a batch takes a turn */
  limiter?: RequestLimiter;
  /** STOMP: a one-element batch is answered with a bare object, as VDSM does (its clients expect one) */
  unwrapSingleBatch?: boolean;
  /** the engine's ovirtCorrelationId header, logged with each request as its flow id */
  flowId?: string;
}

export interface DispatcherOptions {
  methods: MethodTable;
  log: Logger;
  /** for verbs that do not set their own timeoutMs */
  defaultTimeoutMs: number;
}

export class Dispatcher {
  constructor(private readonly opts: DispatcherOptions) {}

  /** The answer frame for one received frame, or undefined when nothing is owed. */
  async handleFrame(text: string, from: Peer, opts: FrameOptions = {}): Promise<Answer | undefined> {
    const frame = decodeFrame(text);
    const responses = await Promise.all(
      frame.items.map((item) => {
        if (!item.ok) {
          this.logOutcome(from, null, undefined, 0, item.response, opts.flowId);
          return item.response;
        }
        const run = () => this.run(item.request, from, opts.flowId);
        return opts.limiter ? opts.limiter.run(run) : run();
      }),
    );
    const batch = frame.batch && !(opts.unwrapSingleBatch && frame.items.length === 1);
    return encodeResponses(batch, responses.filter((r): r is RpcResponse => r !== undefined));
  }

  private async run(request: RpcRequest, from: Peer, flowId: string | undefined): Promise<RpcResponse | undefined> {
    const started = performance.now();
    const log = this.opts.log.child({ reqId: request.id, method: request.method, peer: from.peer, conn: from.connId, flowId });
    const ctx: RequestContext = { requestId: request.id, peer: from.peer, transport: from.transport, log };
    if (from.certSubject !== undefined) ctx.certSubject = from.certSubject;
    if (from.localAddress !== undefined) ctx.localAddress = from.localAddress;
    if (from.events !== undefined) ctx.events = from.events;
    let response: RpcResponse;
    try {
      const result = await this.invoke(request, ctx);
      response = resultResponse(request.id, result);
    } catch (e) {
      response = this.errorFor(request, e, log);
    }
    this.logOutcome(from, request.id, request.method, performance.now() - started, response, flowId);
    return request.notification ? undefined : response;
  }

  private async invoke(request: RpcRequest, ctx: RequestContext): Promise<unknown> {
    const spec = Object.prototype.hasOwnProperty.call(this.opts.methods, request.method)
      ? this.opts.methods[request.method]
      : undefined;
    if (!spec) {
      throw new HostnetError(
        ErrorCode.METHOD_NOT_FOUND,
        `Method not found: ${request.method} (hostnetd serves VDSM's network verbs only)`,
      );
    }
    const params = bindParams(request.method, spec.params, request.params);
    const timeoutMs = spec.timeoutMs === undefined ? this.opts.defaultTimeoutMs : spec.timeoutMs;
    const work = Promise.resolve().then(() => spec.handler(params, ctx));
    return timeoutMs === null ? work : withTimeout(work, timeoutMs, request.method);
  }

  private errorFor(request: RpcRequest, e: unknown, log: Logger): RpcResponse {
    if (e instanceof HostnetError) return errorResponse(request.id, e.code, e.message, e.data);
    log.error({ err: e }, 'internal error');
    const why = e instanceof Error ? e.message : String(e);
    return errorResponse(request.id, ErrorCode.INTERNAL, `Internal error: ${why}`);
  }

  private logOutcome(from: Peer, id: RpcRequest['id'], method: string | undefined, ms: number, r: RpcResponse, flowId?: string): void {
    const line = {
      reqId: id,
      method,
      peer: from.peer,
      conn: from.connId,
      transport: from.transport,
      flowId,
      certSubject: from.certSubject,
      durationMs: Math.round(ms * 10) / 10,
      outcome: 'error' in r ? 'error' : 'ok',
      code: 'error' in r ? r.error.code : undefined,
      error: 'error' in r ? r.error.message : undefined,
    };
    if ('error' in r && r.error.code === ErrorCode.INTERNAL) this.opts.log.error(line, 'request');
    else this.opts.log.info(line, 'request');
  }
}

function withTimeout<T>(work: Promise<T>, ms: number, method: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new HostnetError(ErrorCode.TIMED_OUT, `${method} did not finish within ${ms / 1000} s`)),
      ms,
    );
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
