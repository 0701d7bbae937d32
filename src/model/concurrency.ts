/**
 * The async helpers, one of each: a Lane (a mutex: calls run one at a time, in order) and a
 * FreshCoalescer (single-flight that never serves a result older than the call).
 */

/** Runs its calls one at a time, in order; a failed call does not stop the next. */
export class Lane {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn, fn);
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** Resolves when every call queued so far has ended (however it ended). */
  idle(): Promise<void> {
    return this.tail.then(() => undefined);
  }
}

/**
 * Coalescing of concurrent reads without serving stale data: every caller gets the result of
 * a run that *started after it called*. While a run is in flight, all newcomers share one
 * queued run that starts when the current one ends. So a hundred concurrent getCapabilities
 * cost two kernel snapshots, not a hundred, and a read that begins after a setupNetworks
 * answered never sees the state from before it.
 */
export class FreshCoalescer<T> {
  private running: Promise<T> | undefined;
  private queued: Promise<T> | undefined;

  constructor(private readonly run: () => Promise<T>) {}

  get(): Promise<T> {
    if (this.queued) return this.queued;
    if (!this.running) return this.start();
    const after = this.running;
    const next = after
      .then(
        () => undefined,
        () => undefined,
      )
      .then(() => {
        if (this.queued === next) this.queued = undefined;
        return this.start();
      });
    this.queued = next;
    return next;
  }

  /** Resolves when no run is in flight or queued (however they ended). */
  async idle(): Promise<void> {
    // the queued run becomes the running one only when it starts: look again after each
    for (let p = this.queued ?? this.running; p; p = this.queued ?? this.running) await p.catch(() => undefined);
  }

  private start(): Promise<T> {
    const p: Promise<T> = this.run().finally(() => {
      if (this.running === p) this.running = undefined;
    });
    this.running = p;
    return p;
  }
}
