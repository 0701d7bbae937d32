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

  private start(): Promise<T> {
    const p: Promise<T> = this.run().finally(() => {
      if (this.running === p) this.running = undefined;
    });
    this.running = p;
    return p;
  }
}
