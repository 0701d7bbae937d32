/**
 * A connection's budget of requests running at once. Requests are counted, not frames: a
 * batch of 1000 requests takes 1000 turns, so one client cannot start more work than its share
 * by packing requests into batches. The transport stops reading a connection whose requests
 * are queued here (onBacklog(true)) and reads on when the queue is empty again.
 */
export class RequestLimiter {
  private running = 0;
  private readonly queue: (() => void)[] = [];

  constructor(
    private readonly max: number,
    private readonly onBacklog: (backlogged: boolean) => void = () => undefined,
  ) {}

  /** Requests started and not yet finished. */
  get inFlight(): number {
    return this.running;
  }

  /** Requests waiting for a turn. */
  get waiting(): number {
    return this.queue.length;
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= this.max) {
      // the finishing request hands its turn over directly, so `running` never passes max
      await new Promise<void>((resolve) => {
        this.queue.push(resolve);
        if (this.queue.length === 1) this.onBacklog(true);
      });
    } else {
      this.running++;
    }
    try {
      return await work();
    } finally {
      const next = this.queue.shift();
      if (next) {
        if (this.queue.length === 0) this.onBacklog(false);
        next();
      } else {
        this.running--;
      }
    }
  }
}
