/**
 * LinkMonitor: one long-lived `ip -o monitor link` (the daemon's own namespace, or `-n NS` for
 * tests, as createIproute does), parsed line by line into LinkEvents.
 *
 * iproute2 6.1 prints text even with -j, one line per RTM_NEWLINK/RTM_DELLINK with -o:
 *   4: vnet0@if3: <BROADCAST,MULTICAST,UP> mtu 1500 qdisc noqueue master vmnet state UP group default \    link/ether ...
 *   Deleted 4: vnet0@if3: <...> mtu 1500 master vmnet state LOWERLAYERDOWN \    link/ether ...
 * The bridge's own AF_BRIDGE notifications (a port joining, leaving, or having its flags
 * changed) arrive on the same group as lines without "qdisc", so one monitor sees all of them.
 *
 * start() resolves only once ip's netlink socket has joined the link group (read from
 * /proc/PID/net/netlink), so a reconcile run after start() misses no change made after it.
 * If ip dies, it is started again with backoff (logged); stop() ends it for good.
 */
import { readFile, readdir, readlink } from 'node:fs/promises';
import { execa, type ResultPromise } from 'execa';
import type { Logger } from 'pino';

export interface LinkEvent {
  ifindex: number;
  /** without the @peer suffix */
  name: string;
  master?: string;
  deleted: boolean;
  /** IFF_UP */
  up: boolean;
}

const LINE_RE = /^(Deleted )?(\d+): ([^:@\s]+)(?:@[^:\s]*)?: <([^>]*)>(.*)$/;

/** One `ip -o monitor link` line → event; undefined for anything else (never throws). */
export function parseMonitorLine(line: string): LinkEvent | undefined {
  const m = LINE_RE.exec(line.trim());
  if (!m) return undefined;
  const ev: LinkEvent = {
    ifindex: Number(m[2]),
    name: m[3]!,
    deleted: m[1] !== undefined,
    up: m[4]!.split(',').includes('UP'),
  };
  const master = / master (\S+)/.exec(m[5]!)?.[1];
  if (master !== undefined) ev.master = master;
  return ev;
}

export interface LinkMonitorOptions {
  log: Logger;
  /** namespace to watch from outside (tests); the daemon watches its own */
  netns?: string;
  /** program path, default 'ip' */
  ipPath?: string;
  /** quiet time before a debounced change is emitted (ms, default 100) */
  debounceMs?: number;
  /** restart delays (ms) */
  backoff?: { initialMs: number; maxMs: number };
  /** how long start() waits for ip to subscribe (ms, default 5000) */
  readyTimeoutMs?: number;
}

type Child = ResultPromise<{ buffer: false; reject: false; stdin: 'ignore'; stderr: 'pipe'; env: { LC_ALL: string } }>;

export class LinkMonitor {
  private child: Child | undefined;
  private stopped = true;
  private eventListeners = new Set<(ev: LinkEvent) => void>();
  private changeListeners = new Set<() => void>();
  private debounce: NodeJS.Timeout | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private delay: number;
  private readonly backoff: { initialMs: number; maxMs: number };
  /** how many times ip was (re)started; for tests and logs */
  starts = 0;

  constructor(private readonly opts: LinkMonitorOptions) {
    this.backoff = opts.backoff ?? { initialMs: 200, maxMs: 10_000 };
    this.delay = this.backoff.initialMs;
  }

  /** every parsed line, at once (a new port must not wait for the debounce) */
  onEvent(fn: (ev: LinkEvent) => void): () => void {
    this.eventListeners.add(fn);
    return () => this.eventListeners.delete(fn);
  }

  /** something changed: emitted once per burst, and after a restart (events may have been missed) */
  onChange(fn: () => void): () => void {
    this.changeListeners.add(fn);
    return () => this.changeListeners.delete(fn);
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null;
  }

  /** ip's pid, while it runs */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.spawn();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.debounce);
    clearTimeout(this.restartTimer);
    const c = this.child;
    this.child = undefined;
    if (c && c.exitCode === null) {
      c.kill('SIGTERM');
      await c.catch(() => undefined);
    }
  }

  private async spawn(): Promise<void> {
    const args = [...(this.opts.netns !== undefined ? ['-n', this.opts.netns] : []), '-o', 'monitor', 'link'];
    const child = execa(this.opts.ipPath ?? 'ip', args, {
      buffer: false, reject: false, stdin: 'ignore', stderr: 'pipe', env: { LC_ALL: 'C' },
    }) as Child;
    this.child = child;
    this.starts++;
    let partial = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      partial += chunk;
      let nl: number;
      while ((nl = partial.indexOf('\n')) >= 0) {
        const line = partial.slice(0, nl);
        partial = partial.slice(nl + 1);
        // lines still buffered from a process we stopped are not news
        if (child === this.child && !this.stopped) this.onLine(line);
      }
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-2000);
    });
    void child.then((r) => this.onExit(child, r.exitCode, r.signal, stderr));
    const ok = await this.waitSubscribed(child);
    if (!ok && child.exitCode === null && !this.stopped) {
      this.opts.log.warn({ pid: child.pid }, 'link monitor: could not confirm the netlink subscription; going on');
    }
  }

  private onLine(line: string): void {
    const ev = parseMonitorLine(line);
    if (ev === undefined) return;
    for (const fn of this.eventListeners) {
      try {
        fn(ev);
      } catch (e) {
        this.opts.log.error({ err: (e as Error).message }, 'link monitor listener failed');
      }
    }
    this.scheduleChange();
  }

  private scheduleChange(): void {
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => {
      this.debounce = undefined;
      for (const fn of this.changeListeners) {
        try {
          fn();
        } catch (e) {
          this.opts.log.error({ err: (e as Error).message }, 'link monitor listener failed');
        }
      }
    }, this.opts.debounceMs ?? 100);
    this.debounce.unref();
  }

  private onExit(child: Child, code: number | undefined, signal: string | undefined, stderr: string): void {
    if (child !== this.child || this.stopped) return;
    this.child = undefined;
    const wait = this.delay;
    this.delay = Math.min(this.delay * 2, this.backoff.maxMs);
    this.opts.log.error({ code, signal, stderr: stderr.trim(), restartInMs: wait }, 'link monitor (ip monitor) exited; restarting');
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (this.stopped) return;
      void this.spawn().then(() => {
        if (this.running) {
          this.opts.log.info({ pid: this.child?.pid }, 'link monitor restarted');
          // whatever happened while it was down is caught by one full pass
          this.scheduleChange();
          // a monitor that stays up earns back the short delay
          const mark = this.starts;
          setTimeout(() => {
            if (this.starts === mark && this.running) this.delay = this.backoff.initialMs;
          }, 30_000).unref();
        }
      });
    }, wait);
    this.restartTimer.unref();
  }

  /** Poll /proc until one of ip's netlink sockets has joined a multicast group. */
  private async waitSubscribed(child: Child): Promise<boolean> {
    const deadline = Date.now() + (this.opts.readyTimeoutMs ?? 5000);
    const pid = child.pid;
    if (pid === undefined) return false;
    while (Date.now() < deadline && child.exitCode === null && !this.stopped) {
      if (await netlinkSubscribed(pid)) return true;
      await new Promise((r) => setTimeout(r, 5));
    }
    return false;
  }
}

/** Whether process `pid` holds a NETLINK_ROUTE socket bound to at least one multicast group. */
export async function netlinkSubscribed(pid: number): Promise<boolean> {
  try {
    const inodes = new Set<string>();
    for (const fd of await readdir(`/proc/${pid}/fd`)) {
      const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
      const m = /^socket:\[(\d+)\]$/.exec(target);
      if (m) inodes.add(m[1]!);
    }
    return groupsJoined(await readFile(`/proc/${pid}/net/netlink`, 'utf8'), inodes);
  } catch {
    return false;
  }
}

/** /proc/net/netlink text: a NETLINK_ROUTE (Eth 0) row of one of `inodes` with Groups ≠ 0. */
export function groupsJoined(table: string, inodes: ReadonlySet<string>): boolean {
  for (const row of table.split('\n').slice(1)) {
    const cols = row.trim().split(/\s+/);
    if (cols.length < 10) continue;
    const [, eth, , groups] = cols;
    const inode = cols[9]!;
    if (eth === '0' && inodes.has(inode) && /[1-9a-f]/i.test(groups ?? '')) return true;
  }
  return false;
}
