/**
 * The daemon's one view of the kernel: one rtnetlink socket, subscribed to the link, address,
 * route, rule and neighbour (FDB) groups, enumerated once and then kept current by applying every
 * notification in the order the kernel queued it. Capabilities, planning, the port agent and
 * the engine's device events all read it.
 *
 * Enumerating reads dumps on sockets of their own, in parallel, and applies them before the
 * notifications this socket queued meanwhile (enumerate()).
 *
 * The barrier: a read first sends a request on the same socket (RTM_GETLINK for lo) and
 * applies everything queued before its answer. The kernel answers inside our sendmsg, so the
 * answer sits behind every notification of a change that happened before the request: no read
 * returns a kernel older than itself, even when the background reading is late or stalled.
 *
 * The local routing table is left out in the addon (netlink.ts, OpenOptions.localTable): at
 * 1000 networks its notifications are a fifth of a change's burst, and nothing reads them. So
 * the view renders every scope but 'full'.
 *
 * Doubt means re-reading: a receive overflow (ENOBUFS) re-enumerates everything; the IPv4 route
 * flushes the kernel does not notify (tables.ts) re-read the routes.
 *
 * Two versions: a rendered state is shared until anything changes (a message that says what the
 * tables have changes nothing), and its config stamp moves only with what a config sets
 * (config-change.ts), so an identical request can tell that the kernel's running state alone
 * moved since its plan was found empty (apply/transaction.ts).
 *
 *   const view = new KernelView({ log, onDevice: (name) => events.deviceEvent(name) });
 *   await view.start();
 *   const state = await view.get();   // after a barrier
 */
import type { Logger } from 'pino';
import { dumpParallel, openRtnl, type AddrMsg, type RtnlMsg, type RtnlRequest, type RtnlSocket } from './netlink.js';
import { KernelTables, type ViewScope } from './tables.js';
import { kernelChange } from './config-change.js';
import type { KernelState } from '../model/kernel-state.js';
import { Lane } from '../model/concurrency.js';

export interface LinkEvent {
  ifindex: number;
  name: string;
  master?: string;
  deleted: boolean;
  /** IFF_UP */
  up: boolean;
}

export interface KernelViewOptions {
  log: Logger;
  /** a network namespace name (tests); default the daemon's own */
  netns?: string;
  /** a link or an address of this device changed (not called for what an enumeration finds) */
  onDevice?: (name: string) => void;
  /** receive buffer in bytes (default VIEW_RCVBUF) */
  rcvbuf?: number;
  /** tests: called when an enumeration's dumps are read, before they are applied */
  afterDumps?: () => void;
}

interface Pending {
  what: RtnlRequest;
  seq: number;
  done: boolean;
  failed?: Error;
  /** a request for one link (a single answer) */
  one: boolean;
}

/** the socket's receive buffer unless told (a 1000-network change queues tens of thousands of events) */
export const VIEW_RCVBUF = 64 << 20;
/** datagrams per read: a burst is applied in turns, the event loop runs in between */
const READ_DATAGRAMS = 256;
/** pace()'s reading interval */
const PACE_MS = 4;

export class KernelView {
  private readonly tables = new KernelTables();
  private sock: RtnlSocket | undefined;
  private seq = 1;
  private pending: Pending | undefined;
  /** one request at a time on the socket (the kernel runs one dump per socket) */
  private readonly lane = new Lane();
  private needEnumerate = true;
  private version = 0;
  /** moves only with what a config sets (config-change.ts); every such move is also a version */
  private configVersion = 0;
  private rendered = new Map<ViewScope, { version: number; state: KernelState }>();
  /** each rendered state's config stamp */
  private readonly stamps = new WeakMap<KernelState, number>();
  private stalled = false;
  private enumerating = false;
  /** paced reading (pace()): the timer that reads instead of the socket's wakeups */
  private pacer: NodeJS.Timeout | undefined;
  /** a dump's answers are applied without a version bump: the caller compares and bumps once */
  private quietDump = false;
  private readonly linkListeners = new Set<(ev: LinkEvent) => void>();
  private readonly resyncListeners = new Set<() => void>();
  /** enumerations done (the first one and every recovery); for tests and logs */
  enumerations = 0;

  constructor(private readonly opts: KernelViewOptions) {}

  get running(): boolean {
    return this.sock !== undefined;
  }

  /** Opens the socket and enumerates; every change after this resolves is seen. */
  async start(): Promise<void> {
    if (this.sock) return;
    this.sock = openRtnl({
      subscribe: true, rcvbuf: this.opts.rcvbuf ?? VIEW_RCVBUF, localTable: false,
      ...(this.opts.netns !== undefined ? { netns: this.opts.netns } : {}),
    }, () => this.onReadable());
    this.updatePolling();
    await this.barrier();
  }

  async stop(): Promise<void> {
    const s = this.sock;
    this.sock = undefined;
    clearInterval(this.pacer);
    this.pacer = undefined;
    s?.close();
  }

  /**
   * While this process's own batch runs (thousands of notifications in a burst), read the socket
   * every few milliseconds instead of at each wakeup. Read at once, nearly every notification
   * wakes this thread, and the kernel does that waking in the batch's `ip` process: paced, a
   * 1000-network `ip -batch` ran ~5% faster here (README, Performance). Barriers read all as usual.
   */
  pace(on: boolean): void {
    if (on && !this.pacer) this.pacer = setInterval(() => this.onReadable(), PACE_MS);
    if (!on && this.pacer) {
      clearInterval(this.pacer);
      this.pacer = undefined;
      this.onReadable();
    }
    this.updatePolling();
  }

  /** The socket's wakeups drive the reading unless an enumeration or pace() holds them. */
  private updatePolling(): void {
    this.sock?.poll(!this.enumerating && this.pacer === undefined);
  }

  /** Every link notification (AF_UNSPEC and a bridge port's AF_BRIDGE ones), as it is applied. */
  onLink(fn: (ev: LinkEvent) => void): () => void {
    this.linkListeners.add(fn);
    return () => this.linkListeners.delete(fn);
  }

  /** The view was enumerated again (after an overflow): events may have been missed. */
  onResync(fn: () => void): () => void {
    this.resyncListeners.add(fn);
    return () => this.resyncListeners.delete(fn);
  }

  /** The view as of now: a barrier, then the rendered state (shared until the next change). */
  async get(scope: ViewScope = 'view', o: { freshAddresses?: boolean } = {}): Promise<KernelState> {
    if (o.freshAddresses) this.tables.addrsStale = true;
    await this.barrier();
    const r = this.rendered.get(scope);
    if (r && r.version === this.version) return r.state;
    const state = this.tables.render(scope);
    this.rendered.set(scope, { version: this.version, state });
    this.stamps.set(state, this.configVersion);
    return state;
  }

  /**
   * The config stamp of a state get() returned: two states with the same stamp differ at most in
   * the kernel's running state (operstates, timers, the FDB, IPv6 link-local addresses; see
   * config-change.ts), which no plan reads. Undefined for a state the view did not render.
   */
  configStamp(state: KernelState): number | undefined {
    return this.stamps.get(state);
  }

  /** Links with fresh counters (counters raise no events): one link dump, on a thread (dumpParallel). */
  async stats(): Promise<KernelState> {
    await this.barrier();
    const links = new KernelTables();
    const [msgs] = await dumpParallel(this.opts.netns, ['link'], { stats: true });
    for (const m of msgs ?? []) links.apply(m);
    return links.render('stats');
  }

  /** Something the view cannot see changed (or a test wants it): enumerate again at the next read. */
  invalidate(): void {
    this.needEnumerate = true;
  }

  /** Tests: stop (true) or restart (false) the background reading; barriers still read. */
  stall(on: boolean): void {
    this.stalled = on;
    if (!on) this.onReadable();
  }

  /** Everything the kernel queued before this call is applied when it resolves. */
  async barrier(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      if (!this.sock) throw new Error('kernel view is not running');
      if (this.needEnumerate) await this.enumerate();
      else if (this.tables.routesStale || this.tables.linksStale || this.tables.addrsStale) await this.reread();
      await this.request('barrier');
      await this.refreshUnnotified();
      if (!this.needEnumerate && !this.tables.routesStale && !this.tables.linksStale && !this.tables.addrsStale) return;
      if (attempt > 5) this.opts.log.warn({ event: 'view-unsettled', attempt }, 'kernel view keeps overflowing; still trying');
    }
  }

  /**
   * The dumps run in parallel on sockets of their own (netlink.ts, dumpParallel), while this
   * socket keeps queueing notifications unread; those are applied after the dumps, in order.
   * Replaying one older than a dump is harmless: every notification carries its object whole,
   * and the ones after it bring the object to where the kernel is.
   */
  private async enumerate(): Promise<void> {
    this.needEnumerate = false;
    const first = this.enumerations === 0;
    this.enumerations++;
    const t0 = performance.now();
    await this.lane.run(async () => {
      // nothing of this socket is read until the dumps are in the tables
      this.enumerating = true;
      this.updatePolling();
      try {
        const answers = await dumpParallel(this.opts.netns, ['link', 'addr', 'route', 'rule', 'fdb'], { localTable: false });
        this.opts.afterDumps?.();
        this.tables.clear();
        this.tables.routesStale = false;
        this.tables.addrsStale = false;
        for (const msgs of answers) for (const m of msgs) this.tables.apply(m, false);
        this.bump();
      } catch (e) {
        this.needEnumerate = true;
        throw e;
      } finally {
        this.enumerating = false;
        this.updatePolling();
      }
    });
    this.opts.log.debug({ event: 'view-enumerated', links: this.tables.links.size, ms: Math.round(performance.now() - t0) }, 'kernel view enumerated');
    if (!first) for (const fn of this.resyncListeners) this.safely(() => fn());
  }

  /**
   * 802.3ad state (aggregator, partner MAC) and a bond slave's state change without a
   * notification: those few links are read again, one request each, at every barrier.
   */
  private async refreshUnnotified(): Promise<void> {
    const again = [...this.tables.links.values()]
      .filter((l) => (l.kind === 'bond' && l.bond?.mode === '802.3ad') || l.slaveKind === 'bond')
      .map((l) => l.ifindex);
    for (const ifindex of again) await this.request('link', { ifindex });
  }

  /** What notifications cannot be trusted for (tables.ts): read again, in arrival order. */
  private async reread(): Promise<void> {
    if (this.tables.linksStale) {
      // upserts only: a deletion is always notified
      this.tables.linksStale = false;
      await this.request('link');
    }
    if (this.tables.addrsStale) {
      // a re-read that finds what the view had keeps its version (and its rendered state, which
      // planning may then take as unchanged)
      this.tables.addrsStale = false;
      const had = new Map(this.tables.addrs);
      this.tables.addrs.clear();
      this.quietDump = true;
      try {
        await this.request('addr');
      } finally {
        this.quietDump = false;
      }
      if (!sameAddrs(had, this.tables.addrs)) this.bump();
    }
    if (this.tables.routesStale) {
      this.tables.routesStale = false;
      this.tables.routes.clear();
      this.bump();
      await this.request('route');
    }
  }

  /** Sends one request and reads until its answer is complete; serialized. */
  private request(what: RtnlRequest, o: { ifindex?: number } = {}): Promise<void> {
    const run = async () => {
      const sock = this.sock;
      if (!sock) throw new Error('kernel view is not running');
      const p: Pending = { what, seq: this.seq++, done: false, one: (o.ifindex ?? 0) > 0 };
      this.pending = p;
      try {
        sock.request(what, p.seq, o.ifindex ?? 0);
        // the kernel answers inside sendmsg (and fills a dump's next part as we read): reading
        // now almost always completes the request without yielding
        while (!p.done) {
          const got = this.pump();
          if (p.done) break;
          if (got === 0) await new Promise((r) => setImmediate(r));
          if (!this.sock) throw new Error('kernel view stopped');
        }
      } finally {
        this.pending = undefined;
      }
      if (p.failed) throw p.failed;
    };
    return this.lane.run(run);
  }

  private onReadable(): void {
    if (this.stalled || this.enumerating || !this.sock) return;
    try {
      // paced: all that queued since the last turn; otherwise one read per wakeup (a read may
      // give fewer messages than datagrams: superseded link notifications are left out)
      while (this.pump() > 0 && this.pacer !== undefined);
    } catch (e) {
      this.opts.log.error({ err: (e as Error).message }, 'kernel view: reading the netlink socket failed; enumerating again');
      this.needEnumerate = true;
    }
  }

  /** Reads and applies what is queued now; returns the number of messages. */
  private pump(): number {
    const sock = this.sock;
    if (!sock) return 0;
    const msgs = sock.read(READ_DATAGRAMS);
    for (const m of msgs) this.handle(m);
    return msgs.length;
  }

  private handle(m: RtnlMsg): void {
    const p = this.pending;
    if (m.t === 'overflow') {
      this.opts.log.warn({ event: 'view-overflow' }, 'kernel view: netlink receive buffer overflowed; enumerating again');
      this.needEnumerate = true;
      // an answer may have been lost with the rest: the request is over, the barrier loops
      if (p) p.done = true;
      return;
    }
    if (m.mine && p !== undefined && m.seq === p.seq) {
      if (m.t === 'done') {
        p.done = true;
        return;
      }
      if (m.t === 'error') {
        // one link gone meanwhile (ENODEV): its deletion is notified
        if (m.errno !== 0 && !p.one) p.failed = new Error(`netlink ${p.what} request failed: errno ${m.errno}`);
        p.done = true;
        return;
      }
      // the barrier's answer (lo) says nothing new: lo's changes are notified like any other
      if (p.what === 'barrier') {
        p.done = true;
        return;
      }
      // one link's answer: no NLMSG_DONE follows
      if (p.one) p.done = true;
      // a dump's answers are current objects: applied like notifications
      this.apply(m, false);
      return;
    }
    if (m.mine) return; // a late answer to an abandoned request
    this.apply(m, true);
  }

  private apply(m: RtnlMsg, notification: boolean): void {
    // a quiet dump's caller compares the whole table and bumps once
    const change = notification || !this.quietDump ? kernelChange(m, this.tables) : 'none';
    const ifindex = this.tables.apply(m, notification);
    if (change === 'config') this.bump();
    else if (change === 'state') this.version++;
    if (!notification || ifindex === undefined) return;
    const link = this.tables.links.get(ifindex);
    const name = link?.name ?? ('name' in m && typeof m.name === 'string' ? m.name : undefined);
    if (name === undefined) return;
    if (m.t === 'link' || m.t === 'addr') this.safely(() => this.opts.onDevice?.(name));
    if (m.t === 'link' || m.t === 'brlink') {
      const ev: LinkEvent = { ifindex, name, deleted: m.t === 'link' && m.del, up: link?.up ?? false };
      const master = link?.masterIndex !== undefined ? this.tables.links.get(link.masterIndex)?.name : undefined;
      if (master !== undefined && !ev.deleted) ev.master = master;
      for (const fn of this.linkListeners) this.safely(() => fn(ev));
    }
  }

  /** A change that may concern a config: a new state and a new config stamp. */
  private bump(): void {
    this.version++;
    this.configVersion++;
  }

  private safely(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.opts.log.error({ err: (e as Error).message }, 'kernel view listener failed');
    }
  }
}

function sameAddrs(a: ReadonlyMap<string, AddrMsg>, b: ReadonlyMap<string, AddrMsg>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, x] of a) {
    const y = b.get(k);
    if (y === undefined || x.ifindex !== y.ifindex || x.family !== y.family || x.local !== y.local || x.prefixlen !== y.prefixlen
      || x.scope !== y.scope || x.dynamic !== y.dynamic || x.tentative !== y.tentative) return false;
  }
  return true;
}
