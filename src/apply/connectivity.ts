/**
 * Connectivity confirmation: after applying a change the engine proves it can still reach the
 * host by calling Host.confirmConnectivity (or the deprecated Host.ping) on any connection.
 * The transaction waits for a confirmation received after the apply began.
 */
export class ConnectivityTracker {
  private lastConfirmed = 0;
  private waiters = new Set<() => void>();

  /** Called by Host.confirmConnectivity and Host.ping. */
  confirm(now = performance.now()): void {
    this.lastConfirmed = now;
    for (const wake of this.waiters) wake();
  }

  /** Resolves true as soon as a confirmation at or after `since` (performance.now() time) arrives, false after timeoutMs. */
  waitSince(since: number, timeoutMs: number): Promise<boolean> {
    if (this.lastConfirmed >= since) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        resolve(ok);
      };
      const wake = () => {
        if (this.lastConfirmed >= since) done(true);
      };
      const timer = setTimeout(() => done(false), timeoutMs);
      this.waiters.add(wake);
    });
  }
}
