import { describe, expect, it } from 'vitest';
import { RequestLimiter } from '../../../src/rpc/limit.js';

describe('RequestLimiter', () => {
  it('never runs more than its limit, hands turns over in order, and reports backlog changes', async () => {
    const backlog: boolean[] = [];
    const l = new RequestLimiter(2, (b) => backlog.push(b));
    let running = 0;
    let peak = 0;
    const order: number[] = [];
    const releases = new Map<number, () => void>();
    const job = (i: number) =>
      l.run(async () => {
        running++;
        peak = Math.max(peak, running);
        order.push(i);
        await new Promise<void>((r) => releases.set(i, r));
        running--;
      });
    const settle = () => new Promise((r) => setImmediate(r));
    const jobs = [0, 1, 2, 3, 4].map(job);
    await settle();
    expect(order).toEqual([0, 1]);
    expect(l.waiting).toBe(3);
    expect(backlog).toEqual([true]);
    // a turn freed while a newcomer arrives goes to the oldest waiter, never to both
    releases.get(0)!();
    jobs.push(job(5));
    await settle();
    expect(order).toEqual([0, 1, 2]);
    for (const i of [1, 2, 3, 4, 5]) {
      releases.get(i)!();
      await settle();
    }
    await Promise.all(jobs);
    expect(order).toEqual([0, 1, 2, 3, 4, 5]);
    expect(peak).toBe(2);
    expect(backlog).toEqual([true, false]);
    expect(l.inFlight).toBe(0);
  });

  it('a failing request frees its turn', async () => {
    const l = new RequestLimiter(1);
    await expect(l.run(() => Promise.reject(new Error('x')))).rejects.toThrow('x');
    expect(await l.run(async () => 7)).toBe(7);
    expect(l.inFlight).toBe(0);
  });
});
