/**
 * The daemon's one libvirt connection: one reconnect with backoff, one loss detector, and the
 * events of that connection handed to every user once (the network manager and the guest-MAC
 * reader are its users; each used to keep its own connection, so libvirtd saw two clients and
 * every event arrived twice).
 *
 * libvirt runs the calls of one connection concurrently, so sharing it costs a user nothing;
 * what a user must not do is wait behind another's work (a guest-MAC read behind a network
 * sync). Each user therefore gets its own Lane: a JS-side queue that runs that user's calls one
 * at a time, next to the other lanes. One call at a time per lane also bounds how many of
 * libuv's pool threads libvirt can hold (one per lane) when libvirtd hangs: the pool also
 * serves the journal's fsyncs.
 *
 *   const session = new LibvirtSession({ uri, log });
 *   const lane = session.lane();
 *   session.onConnected((conn) => lane.run(() => refresh(conn)));
 *   session.onEvent((ev) => ...);                 // never 'closed': the session handles loss
 *   await session.start();                        // first attempt, then reconnects in the background
 *   await lane.run(async () => { const c = session.connection; ... if (session.lost(e)) ... });
 *   await session.stop();
 */
import type { Logger } from 'pino';
import { ErrorCode, isHostnetError } from '../errors.js';
import { connectionLost, LibvirtConnection, type LibvirtEvent } from './binding.js';
import { Lane } from '../model/concurrency.js';

export interface SessionOptions {
  /** libvirt URI, or 'none' to run without libvirt */
  uri: string;
  log: Logger;
  /** injectable for tests */
  connect?: (uri: string) => Promise<LibvirtConnection>;
  /** reconnect backoff, ms */
  backoff?: { initialMs: number; maxMs: number };
}

type ConnectedFn = (conn: LibvirtConnection) => void | Promise<void>;
type EventFn = (ev: Exclude<LibvirtEvent, { type: 'closed' }>) => void;

export class LibvirtSession {
  private conn: LibvirtConnection | undefined;
  private readonly connectedFns = new Set<ConnectedFn>();
  private readonly eventFns = new Set<EventFn>();
  private timer: NodeJS.Timeout | undefined;
  private delay: number;
  private stopped = true;
  private warned = false;
  private readonly connectFn: (uri: string) => Promise<LibvirtConnection>;
  private readonly backoff: { initialMs: number; maxMs: number };

  constructor(private readonly opts: SessionOptions) {
    this.connectFn = opts.connect ?? ((uri) => LibvirtConnection.open(uri));
    this.backoff = opts.backoff ?? { initialMs: 1000, maxMs: 30_000 };
    this.delay = this.backoff.initialMs;
  }

  get uri(): string {
    return this.opts.uri;
  }

  get connected(): boolean {
    return this.conn !== undefined && !this.conn.closed;
  }

  /** the live connection, or undefined while libvirt is away */
  get connection(): LibvirtConnection | undefined {
    return this.connected ? this.conn : undefined;
  }

  /** A queue of its own for one user of the connection. */
  lane(): Lane {
    return new Lane();
  }

  /**
   * Called after each (re)connection, before start() resolves for the first one: the place to
   * read what may have changed while libvirt was away. Returns the unsubscribe function.
   */
  onConnected(fn: ConnectedFn): () => void {
    this.connectedFns.add(fn);
    return () => this.connectedFns.delete(fn);
  }

  /** Events of the current connection, each delivered once. Returns the unsubscribe function. */
  onEvent(fn: EventFn): () => void {
    this.eventFns.add(fn);
    return () => this.eventFns.delete(fn);
  }

  /** Connect (returns after the first attempt and its onConnected calls); reconnects with backoff. */
  async start(): Promise<void> {
    this.stopped = false;
    if (this.opts.uri === 'none') {
      this.opts.log.info({ uri: 'none' }, 'libvirt disabled (--libvirt-uri none)');
      return;
    }
    await this.tryConnect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    const c = this.conn;
    this.conn = undefined;
    if (c) await c.close().catch(() => undefined);
  }

  /**
   * The one loss detector: when `e` says the connection is gone, drop it, schedule a reconnect
   * and return true; any other failure returns false (the caller reports it).
   */
  lost(e: unknown): boolean {
    if (!connectionLost(e)) return false;
    this.drop(`call failed: ${(e as Error).message}`);
    return true;
  }

  private drop(why: string): void {
    const c = this.conn;
    this.conn = undefined;
    if (c) {
      this.opts.log.warn({ uri: this.opts.uri, why }, 'libvirt connection lost; will reconnect');
      this.warned = true;
      void c.close().catch(() => undefined);
    }
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.timer || this.opts.uri === 'none') return;
    const wait = this.delay;
    this.delay = Math.min(this.delay * 2, this.backoff.maxMs);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.tryConnect();
    }, wait);
    this.timer.unref();
  }

  private async tryConnect(): Promise<void> {
    if (this.stopped || this.connected) return;
    let conn: LibvirtConnection;
    try {
      conn = await this.connectFn(this.opts.uri);
    } catch (e) {
      if (isHostnetError(e, ErrorCode.LIBVIRT_UNAVAILABLE)) {
        // cannot appear without a rebuild and restart: say so once, do not retry
        this.opts.log.warn({ reason: e.message }, 'libvirt addon missing; running without libvirt (guest ports keep learning)');
        return;
      }
      // once per outage, not once per attempt
      if (!this.warned) this.opts.log.warn({ uri: this.opts.uri, err: (e as Error).message }, 'libvirt unreachable; will retry');
      else this.opts.log.debug({ uri: this.opts.uri, err: (e as Error).message }, 'libvirt still unreachable');
      this.warned = true;
      this.scheduleReconnect();
      return;
    }
    if (this.stopped) {
      await conn.close().catch(() => undefined);
      return;
    }
    this.conn = conn;
    this.delay = this.backoff.initialMs;
    this.warned = false;
    conn.onEvent((ev) => this.dispatch(conn, ev));
    this.opts.log.info({ uri: this.opts.uri }, 'libvirt connected');
    await Promise.all([...this.connectedFns].map(async (fn) => {
      try {
        await fn(conn);
      } catch (e) {
        this.opts.log.error({ err: (e as Error).message }, 'libvirt: a reconnect handler failed');
      }
    }));
  }

  private dispatch(conn: LibvirtConnection, ev: LibvirtEvent): void {
    if (conn !== this.conn) return;
    if (ev.type === 'closed') {
      this.drop(`closed (${ev.reason})`);
      return;
    }
    for (const fn of this.eventFns) {
      try {
        fn(ev);
      } catch {
        // one user's bug must not stop the others
      }
    }
  }
}
