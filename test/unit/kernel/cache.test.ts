import { describe, expect, it } from 'vitest';
import { eventTime } from '../../../src/kernel/cache.js';

describe('kernel event monitor lines', () => {
  it('reads the time ip -ts stamps on an event, to the millisecond', () => {
    expect(eventTime('[2026-11-21T20:40:39.180579] 3: veth_0@p0: <BROADCAST> mtu 1500')).toBe(new Date('2026-11-21T20:40:39.180').getTime());
  });
  it('treats an unstamped line as happening now, and a blank one as nothing', () => {
    const t = eventTime('Deleted 3: veth_0');
    expect(t).toBeGreaterThanOrEqual(Date.now() - 1000);
    expect(eventTime('   ')).toBeNull();
  });
});
