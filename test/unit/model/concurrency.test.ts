import { describe, expect, it } from 'vitest';
import { FreshCoalescer, Lane } from '../../../src/model/concurrency.js';

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

describe('Lane', () => {
  it('runs calls one at a time, in order, and a failure does not stop the next', async () => {
    const lane = new Lane();
    const log: string[] = [];
    let open!: () => void;
    const gate = new Promise<void>((r) => { open = r; });
    const first = lane.run(async () => { log.push('1 start'); await gate; log.push('1 end'); return 1; });
    const second = lane.run(async () => { log.push('2'); throw new Error('two'); });
    const third = lane.run(async () => { log.push('3'); return 3; });
    await Promise.resolve();
    expect(log).toEqual(['1 start']);
    open();
    expect(await first).toBe(1);
    await expect(second).rejects.toThrow('two');
    expect(await third).toBe(3);
    expect(log).toEqual(['1 start', '1 end', '2', '3']);
    await lane.idle();
  });
});

describe('FreshCoalescer.idle', () => {
  it('waits for the running and the queued run, failures included', async () => {
    let runs = 0;
    const releases: (() => void)[] = [];
    const c = new FreshCoalescer(() => { runs++; return new Promise<number>((_, reject) => releases.push(() => reject(new Error('x')))); });
    const a = c.get().catch(() => 'a failed');
    const b = c.get().catch(() => 'b failed');
    let idle = false;
    const done = c.idle().then(() => { idle = true; });
    releases.shift()!();
    await a;
    await new Promise((r) => setImmediate(r));
    expect(idle).toBe(false);
    releases.shift()!();
    await b;
    await done;
    expect(idle).toBe(true);
    expect(runs).toBe(2);
  });
});
