/**
 * The daemon's view of the kernel, kept current by rtnetlink events instead of re-dumping on
 * every read. One long-running `ip -ts -o monitor link address route` (and `bridge monitor fdb`
 * for static entries) marks the time of the latest event; a snapshot that began after it is
 * still true, so capabilities and the "before" snapshot of a change cost no dump at all while
 * nothing changes. Verification and rollback never use it: they always read fresh.
 *
 * The cache is only trusted while its monitors run and have been running for a moment (so
 * they are subscribed); otherwise every read is a fresh dump. A snapshot older than maxAgeMs is
 * read again anyway, as a safety net against a missed event.
 */
import { execa, type ResultPromise } from 'execa';
import type { Logger } from 'pino';
import type { Iproute } from './iproute.js';
import { readKernelState, type SnapshotScope } from './snapshot.js';
import type { KernelState } from './types.js';

export interface KernelCacheOptions {
  /** re-read a snapshot older than this even without events (default 30 s) */
  maxAgeMs?: number;
  /** trust the monitors only after they ran this long (default 300 ms) */
  graceMs?: number;
  /** for tests: how to read a snapshot */
  read?: (scope: SnapshotScope) => Promise<KernelState>;
  /** every link or address event line, as `ip -ts -o monitor` prints it */
  onEvent?: (line: string) => void;
}

interface Cached {
  state: KernelState;
  /** Date.now() when its dumps began */
  startedAt: number;
}

const CACHED_SCOPE: SnapshotScope = 'view';

export class KernelCache {
  private latestEvent = 0;
  private cached: Cached | undefined;
  private monitors: ResultPromise[] = [];
  private monitorsSince = Infinity;
  private stopped = true;
  private paused = false;
  private restartTimer: NodeJS.Timeout | undefined;
  private readonly maxAgeMs: number;
  private readonly graceMs: number;
  private readonly read: (scope: SnapshotScope) => Promise<KernelState>;
  private readonly onEvent: (line: string) => void;

  constructor(
    private readonly ipr: Iproute,
    private readonly log: Logger,
    opts: KernelCacheOptions = {},
  ) {
    this.maxAgeMs = opts.maxAgeMs ?? 30_000;
    this.graceMs = opts.graceMs ?? 300;
    this.read = opts.read ?? ((scope) => readKernelState(this.ipr, scope));
    this.onEvent = opts.onEvent ?? (() => undefined);
  }

  start(): void {
    this.stopped = false;
    this.spawnMonitors();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const running = this.monitors.splice(0);
    for (const m of running) m.kill('SIGTERM');
    await Promise.allSettled(running);
  }

  /** A 'view' snapshot: the cached one when no event happened since it began, else a fresh one. */
  async get(): Promise<KernelState> {
    const c = this.cached;
    if (c && this.trusted(c)) return c.state;
    return this.fresh();
  }

  /** Always dumps; the result becomes the cached view. */
  async fresh(): Promise<KernelState> {
    const startedAt = Date.now();
    const state = await this.read(CACHED_SCOPE);
    this.cached = { state, startedAt };
    return state;
  }

  /** Something outside the monitors' sight changed (e.g. sysfs): drop the cached view. */
  invalidate(): void {
    this.cached = undefined;
  }

  /**
   * Stop watching while we change the kernel ourselves: a listener slows a large batch (every
   * event is copied to it) and can overflow (ENOBUFS) under thousands of events. The view is
   * invalid until resume() anyway.
   */
  async pause(): Promise<void> {
    this.paused = true;
    this.cached = undefined;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const running = this.monitors.splice(0);
    for (const m of running) m.kill('SIGTERM');
    await Promise.allSettled(running);
  }

  resume(): void {
    this.paused = false;
    if (!this.stopped && this.monitors.length === 0) this.spawnMonitors();
  }

  private trusted(c: Cached): boolean {
    const now = Date.now();
    return this.monitors.length === 2
      && now - this.monitorsSince >= this.graceMs
      && c.startedAt >= this.monitorsSince + this.graceMs
      && c.startedAt > this.latestEvent
      && now - c.startedAt < this.maxAgeMs;
  }

  private spawnMonitors(): void {
    const ns = this.ipr.netns !== undefined ? ['-n', this.ipr.netns] : [];
    this.monitorsSince = Date.now();
    this.cached = undefined;
    this.monitors = [
      this.watch('ip', [...ns, '-ts', '-o', 'monitor', 'link', 'address', 'route'], (line) => {
        this.onEvent(line);
        return eventTime(line);
      }),
      // learned entries come and go with traffic; only static and permanent ones are reported
      this.watch('bridge', [...ns, 'monitor', 'fdb'], (line) => (/\b(static|permanent)\b/.test(line) ? Date.now() : null)),
    ];
  }

  private watch(cmd: string, args: string[], timeOf: (line: string) => number | null): ResultPromise {
    const proc = execa(cmd, args, { buffer: false, stdin: 'ignore', stderr: 'ignore', reject: false, env: { LC_ALL: 'C' } });
    let rest = '';
    proc.stdout!.setEncoding('utf8');
    proc.stdout!.on('data', (chunk: string) => {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) {
        const t = timeOf(line);
        if (t !== null && t > this.latestEvent) this.latestEvent = t;
      }
    });
    void proc.then(() => this.onMonitorExit(proc, cmd));
    return proc;
  }

  private onMonitorExit(proc: ResultPromise, cmd: string): void {
    if (this.stopped || this.paused || !this.monitors.includes(proc)) return;
    this.log.warn({ event: 'monitor-exit', cmd }, 'kernel event monitor exited; reading fresh snapshots until it is back');
    for (const m of this.monitors) if (m !== proc) m.kill('SIGTERM');
    this.monitors = [];
    this.cached = undefined;
    this.restartTimer = setTimeout(() => {
      if (!this.stopped && !this.paused) this.spawnMonitors();
    }, 1000);
  }
}

/**
 * `ip -ts` prefixes each event with the local time it was received, with microseconds:
 * "[2026-11-21T20:40:39.180579] 3: veth_0@p0: ...". An unreadable stamp counts as now.
 */
export function eventTime(line: string): number | null {
  if (line.trim() === '') return null;
  const m = /^\[(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})\d*\]/.exec(line);
  const t = m ? new Date(m[1]!).getTime() : NaN;
  return Number.isNaN(t) ? Date.now() : t;
}
