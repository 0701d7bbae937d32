import { describe, expect, it } from 'vitest';
import { FreshCoalescer } from '../../../src/api/fresh.js';

/** A run whose end the test controls. */
function controlled() {
  const runs: { started: number; finish: (v: number) => void; fail: (e: Error) => void }[] = [];
  let clock = 0;
  const run = () =>
    new Promise<number>((resolve, reject) => {
      const started = ++clock;
      runs.push({ started, finish: resolve, fail: reject });
    });
  return { runs, run };
}

describe('FreshCoalescer', () => {
  it('shares one queued run among callers arriving while a run is in flight', async () => {
    const { runs, run } = controlled();
    const c = new FreshCoalescer(run);
    const first = c.get();
    const later = [c.get(), c.get(), c.get()];
    expect(runs.length).toBe(1);
    runs[0]!.finish(1);
    expect(await first).toBe(1);
    await new Promise((r) => setImmediate(r));
    // the callers that came during run 1 must not get its (possibly stale) result
    expect(runs.length).toBe(2);
    runs[1]!.finish(2);
    expect(await Promise.all(later)).toEqual([2, 2, 2]);
  });

  it('starts afresh after a failed run and passes the failure only to its callers', async () => {
    const { runs, run } = controlled();
    const c = new FreshCoalescer(run);
    const first = c.get();
    const second = c.get();
    runs[0]!.fail(new Error('ip died'));
    await expect(first).rejects.toThrow('ip died');
    await new Promise((r) => setImmediate(r));
    runs[1]!.finish(5);
    expect(await second).toBe(5);
    const third = c.get();
    expect(runs.length).toBe(3);
    runs[2]!.finish(6);
    expect(await third).toBe(6);
  });
});
