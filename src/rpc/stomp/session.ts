/**
 * One STOMP 1.2 connection, server side, behaving as VDSM's StompAdapterImpl towards the
 * clients that exist (the engine's Java client, vdsm-client, virt-who, stomp.py):
 *
 * - CONNECT/STOMP whose accept-version list holds 1.2 → CONNECTED with the heart-beats
 *   negotiated (the client's two values swapped, non-zero ones at least 1000 ms); otherwise
 *   ERROR "Version unsupported" and close. We send a heart-beat only when the client asked
 *   for them (virt-who breaks on an unrequested one).
 * - SUBSCRIBE/UNSUBSCRIBE at any time (the engine may subscribe before it connects).
 * - SEND to a request queue: the body is JSON-RPC; the answer goes as MESSAGE to the request's
 *   `reply-to`, through a subscription to it (ours first, else another connection's).
 *   SEND elsewhere is forwarded to that destination's subscribers.
 * - Any frame with `receipt` gets a RECEIPT once handled; DISCONNECT then closes.
 * - A frame that cannot be read gets ERROR and closes this connection, never the daemon.
 */
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { Answer } from '../codec.js';
import type { FrameOptions, Peer } from '../dispatch.js';
import { ErrorCode, isHostnetError } from '../../errors.js';
import { RequestLimiter } from '../limit.js';
import { Broker, DEFAULT_REPLY_TO, isRequestDestination, messageFrame, type Subscriber, type Subscription } from './broker.js';
import { encodeFrame, FrameParser, HEARTBEAT, type StompFrame } from './frame.js';

export interface StompSessionOptions {
  socket: Socket;
  from: Peer;
  broker: Broker;
  log: Logger;
  maxFrameBytes: number;
  maxInFlight: number;
  handleFrame(text: string, from: Peer, opts: FrameOptions): Promise<Answer | undefined>;
  /** the client completed CONNECT: its handshake deadline no longer applies */
  onConnected(): void;
}

/** Heart-beats under a second are raised to one, as VDSM does. */
const MIN_HEARTBEAT_MS = 1000;
/** Answers queued for a client that does not read them: past this, we stop reading its requests. */
const MAX_UNSENT_BYTES = 16 * 1024 * 1024;

export class StompSession implements Subscriber {
  readonly connId: number;
  private readonly parser: FrameParser;
  private readonly subs = new Map<string, Subscription>();
  private readonly limiter: RequestLimiter;
  private connected = false;
  private closed = false;
  private sendEveryMs = 0;
  private expectEveryMs = 0;
  private lastSent = Date.now();
  private lastHeard = Date.now();
  private heartbeatTimer: NodeJS.Timeout | undefined;
  /** why reading is paused: requests waiting for a turn, or answers the client does not read */
  private readonly holds = new Set<'backlog' | 'unsent'>();

  constructor(private readonly o: StompSessionOptions) {
    this.connId = o.from.connId;
    this.parser = new FrameParser(o.maxFrameBytes);
    this.limiter = new RequestLimiter(o.maxInFlight, (backlogged) => this.hold('backlog', backlogged));
    o.socket.on('data', (chunk: Buffer) => this.receive(chunk));
    o.socket.on('close', () => this.onClose());
    o.socket.on('drain', () => this.hold('unsent', false));
  }

  /** Bytes read before the protocol was known. */
  start(initial: Buffer): void {
    if (initial.length > 0) this.receive(initial);
  }

  sendFrame(frame: Buffer | readonly Buffer[]): boolean {
    if (this.closed || this.o.socket.destroyed) return false;
    if (Buffer.isBuffer(frame)) this.o.socket.write(frame);
    else {
      // one writev for the pieces
      this.o.socket.cork();
      for (const piece of frame) this.o.socket.write(piece);
      this.o.socket.uncork();
    }
    this.lastSent = Date.now();
    if (this.o.socket.writableLength > MAX_UNSENT_BYTES && !this.holds.has('unsent')) {
      this.o.log.warn({ unsentBytes: this.o.socket.writableLength }, 'client does not read its answers; its requests wait until it does');
      this.hold('unsent', true);
    }
    return true;
  }

  private hold(why: 'backlog' | 'unsent', on: boolean): void {
    if (on) this.holds.add(why);
    else this.holds.delete(why);
    if (this.holds.size > 0) this.o.socket.pause();
    else this.o.socket.resume();
  }

  private receive(chunk: Buffer): void {
    if (this.closed) return;
    this.lastHeard = Date.now();
    let frames: StompFrame[];
    try {
      frames = this.parser.push(chunk);
    } catch (e) {
      if (!isHostnetError(e, ErrorCode.BAD_FRAME)) throw e;
      this.fail(`malformed frame: ${e.message}`);
      return;
    }
    for (const frame of frames) {
      if (this.closed) return;
      this.handle(frame);
    }
  }

  private handle(frame: StompFrame): void {
    const h = frame.headers;
    switch (frame.command) {
      case 'CONNECT':
      case 'STOMP':
        return this.connect(h);
      case 'SUBSCRIBE':
        return this.subscribe(h);
      case 'UNSUBSCRIBE':
        return this.unsubscribe(h);
      case 'SEND':
        return this.send(frame);
      case 'DISCONNECT':
        this.receipt(h);
        this.o.log.info({ event: 'stomp-disconnect' }, 'client disconnected');
        return this.end();
      case 'ACK':
      case 'NACK':
        // every subscription is ack:auto, as VDSM's
        return this.receipt(h);
      default:
        return this.fail(`${frame.command} is not supported by hostnetd`);
    }
  }

  private connect(h: Map<string, string>): void {
    const versions = (h.get('accept-version') ?? '').split(',').map((v) => v.trim());
    if (!versions.includes('1.2')) {
      this.o.log.warn({ acceptVersion: h.get('accept-version') ?? null }, 'STOMP client does not speak 1.2; refused');
      return this.fail('Version unsupported', `hostnetd speaks STOMP 1.2 only; the client offered ${h.get('accept-version') ?? 'none (STOMP 1.0)'}`);
    }
    const [cx, cy] = parseHeartBeat(h.get('heart-beat'));
    // cx: how often the client will send; cy: how often it wants to hear from us
    this.sendEveryMs = cy === 0 ? 0 : Math.max(cy, MIN_HEARTBEAT_MS);
    this.expectEveryMs = cx === 0 ? 0 : Math.max(cx, MIN_HEARTBEAT_MS);
    this.connected = true;
    this.o.onConnected();
    this.sendFrame(encodeFrame('CONNECTED', [['version', '1.2'], ['heart-beat', `${this.sendEveryMs},${this.expectEveryMs}`]]));
    this.o.log.info({ event: 'stomp-connected', heartBeat: `${this.sendEveryMs},${this.expectEveryMs}` }, 'STOMP session opened');
    this.armHeartbeats();
    this.receipt(h);
  }

  private subscribe(h: Map<string, string>): void {
    const destination = h.get('destination');
    const id = h.get('id');
    if (!destination || !id) return this.error('Missing destination or subscription id header');
    if (this.subs.has(id)) return this.error(`Subscription id ${id} already exists`);
    const sub: Subscription = { id, destination, owner: this };
    this.subs.set(id, sub);
    this.o.broker.add(sub);
    this.o.log.debug({ destination, subscription: id }, 'subscribed');
    this.receipt(h);
  }

  private unsubscribe(h: Map<string, string>): void {
    const id = h.get('id');
    if (!id) return this.error('Missing id header');
    const sub = this.subs.get(id);
    if (sub) {
      this.subs.delete(id);
      this.o.broker.remove(sub);
    }
    this.receipt(h);
  }

  private send(frame: StompFrame): void {
    const h = frame.headers;
    const destination = h.get('destination');
    if (!destination) return this.error('Missing destination header');
    const listeners = this.o.broker.subscribersOf(destination);
    for (const sub of listeners) sub.owner.sendFrame(messageFrame(sub, frame.body, [...h]));
    if (isRequestDestination(destination)) {
      this.request(frame.body.toString('utf8'), h.get('reply-to') || DEFAULT_REPLY_TO, h.get('ovirtCorrelationId'));
    } else if (listeners.length === 0) {
      return this.error('Subscription not available', `nobody subscribes to ${destination}`);
    }
    this.receipt(h);
  }

  private request(body: string, replyTo: string, flowId: string | undefined): void {
    const opts: FrameOptions = { limiter: this.limiter, unwrapSingleBatch: true };
    if (flowId !== undefined) opts.flowId = flowId;
    this.o
      .handleFrame(body, this.o.from, opts)
      .then((answer) => {
        if (answer === undefined) return;
        if (this.closed) {
          this.o.log.info({ replyTo }, 'client left before its answer; dropped');
          return;
        }
        const target = this.o.broker.replyTarget(replyTo, this);
        if (!target) {
          this.o.log.warn({ replyTo }, 'answer dropped: no subscription to its reply-to destination');
          return;
        }
        target.owner.sendFrame(messageFrame(target, answer));
      })
      .catch((err: unknown) => this.o.log.error({ err }, 'frame handling failed'));
  }

  private receipt(h: Map<string, string>): void {
    const id = h.get('receipt');
    if (id !== undefined) this.sendFrame(encodeFrame('RECEIPT', [['receipt-id', id]]));
  }

  /** ERROR that leaves the connection open, as VDSM answers a bad SUBSCRIBE or an unknown destination. */
  private error(message: string, detail = message): void {
    this.o.log.warn({ event: 'stomp-error', error: message }, detail);
    this.sendFrame(encodeFrame('ERROR', [['message', message], ['content-type', 'text/plain']], detail));
  }

  /** ERROR, then close: the stream cannot be trusted any more. */
  private fail(message: string, detail = message): void {
    this.error(message, detail);
    this.end();
  }

  private end(): void {
    if (this.closed) return;
    this.o.socket.end();
    this.onClose();
  }

  private armHeartbeats(): void {
    clearTimeout(this.heartbeatTimer);
    if (this.closed || (this.sendEveryMs === 0 && this.expectEveryMs === 0)) return;
    const now = Date.now();
    if (this.expectEveryMs > 0 && now - this.lastHeard > 2 * this.expectEveryMs + MIN_HEARTBEAT_MS) {
      this.o.log.warn({ silentMs: now - this.lastHeard, promisedMs: this.expectEveryMs }, 'STOMP client missed its heart-beats; dropped');
      this.o.socket.destroy();
      return;
    }
    if (this.sendEveryMs > 0 && now - this.lastSent >= this.sendEveryMs) this.sendFrame(HEARTBEAT);
    const untilSend = this.sendEveryMs > 0 ? this.sendEveryMs - (Date.now() - this.lastSent) : Infinity;
    const untilCheck = this.expectEveryMs > 0 ? this.expectEveryMs : Infinity;
    this.heartbeatTimer = setTimeout(() => this.armHeartbeats(), Math.max(10, Math.min(untilSend, untilCheck)));
    this.heartbeatTimer.unref();
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.heartbeatTimer);
    for (const sub of this.subs.values()) this.o.broker.remove(sub);
    this.subs.clear();
    this.o.log.info({ connected: this.connected, inFlight: this.limiter.inFlight }, 'connection closed');
  }
}

/** 'cx,cy' in ms; anything unreadable counts as 0 (no heart-beats), as VDSM reads it. */
export function parseHeartBeat(v: string | undefined): [number, number] {
  const m = /^\s*(\d+)\s*,\s*(\d+)\s*$/.exec(v ?? '');
  if (!m) return [0, 0];
  return [Number(m[1]), Number(m[2])];
}
