/**
 * LinkMonitor: the port agent's subscription to link notifications of the kernel view
 * (view.ts): every link event at once (a new port must not wait), and a debounced "something
 * changed" per burst and after the view was enumerated again (events may have been missed).
 *
 * Given a view (the daemon's), it only listens: stop() unsubscribes and the view runs on.
 * Without one (tests, tools) it owns a view of its own on `netns`. Either way, a change made
 * after start() resolves is seen: the view's socket is subscribed before it enumerates.
 */
import type { Logger } from 'pino';
import { KernelView, type LinkEvent } from './view.js';

export type { LinkEvent } from './view.js';

export interface LinkMonitorOptions {
  log: Logger;
  /** the view to listen to (the daemon's); default: a view of its own */
  view?: KernelView;
  /** namespace of a view of its own (tests); the daemon watches its own */
  netns?: string;
  /** quiet time before a debounced change is emitted (ms, default 100) */
  debounceMs?: number;
}

export class LinkMonitor {
  private readonly view: KernelView;
  private readonly ownView: boolean;
  private eventListeners = new Set<(ev: LinkEvent) => void>();
  private changeListeners = new Set<() => void>();
  private offs: (() => void)[] = [];
  private debounce: NodeJS.Timeout | undefined;

  constructor(private readonly opts: LinkMonitorOptions) {
    this.ownView = opts.view === undefined;
    this.view = opts.view ?? new KernelView({ log: opts.log, ...(opts.netns !== undefined ? { netns: opts.netns } : {}) });
  }

  /** every link event, at once */
  onEvent(fn: (ev: LinkEvent) => void): () => void {
    this.eventListeners.add(fn);
    return () => this.eventListeners.delete(fn);
  }

  /** something changed: emitted once per burst, and after the view re-enumerated */
  onChange(fn: () => void): () => void {
    this.changeListeners.add(fn);
    return () => this.changeListeners.delete(fn);
  }

  get running(): boolean {
    return this.offs.length > 0 && this.view.running;
  }

  async start(): Promise<void> {
    if (this.offs.length > 0) return;
    this.offs.push(this.view.onLink((ev) => this.onLink(ev)), this.view.onResync(() => this.scheduleChange()));
    if (this.ownView) await this.view.start();
  }

  async stop(): Promise<void> {
    clearTimeout(this.debounce);
    for (const off of this.offs.splice(0)) off();
    if (this.ownView) await this.view.stop();
  }

  private onLink(ev: LinkEvent): void {
    for (const fn of this.eventListeners) this.safely(() => fn(ev));
    this.scheduleChange();
  }

  private scheduleChange(): void {
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => {
      this.debounce = undefined;
      for (const fn of this.changeListeners) this.safely(fn);
    }, this.opts.debounceMs ?? 100);
    this.debounce.unref();
  }

  private safely(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.opts.log.error({ err: (e as Error).message }, 'link monitor listener failed');
    }
  }
}
