/**
 * A lease gained, renewed with a new address, or lost reaches the daemon as an `onLease` call
 * (which publishes |net|host_conn|no_id and makes the kernel view re-read): the hook's lease
 * files in a real folder, watched by a real DhcpClients (no client is started).
 */
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { DhcpClients } from '../../../src/dhcp/clients.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('lease events', () => {
  it('gained, renewed with a new address and lost: each one onLease call, and lease() follows', async () => {
    const runDir = mkdtempSync(path.join(tmpdir(), 'hostnetd-lease-ev-'));
    dirs.push(runDir);
    const calls: string[] = [];
    let wake: () => void = () => undefined;
    const clients = new DhcpClients({ runDir, log: pino({ level: 'silent' }), systemd: false, onLease: (dev) => { calls.push(dev); wake(); } });
    await clients.open();
    // as the hook writes it: a temporary file renamed over the lease
    const hook = async (text: string) => {
      const called = new Promise<void>((r) => { wake = r; });
      const tmp = path.join(runDir, 'dhcp', '.dyn.lease4.tmp');
      writeFileSync(tmp, text);
      renameSync(tmp, path.join(runDir, 'dhcp', 'dyn.lease4'));
      await called;
    };
    try {
      await hook('reason=BOUND\naddress=192.0.2.50/24\nrouter=192.0.2.1\ndns=192.0.2.53\n');
      expect(clients.lease('dyn')?.v4?.addresses).toEqual(['192.0.2.50/24']);
      await hook('reason=REBIND\naddress=192.0.2.60/24\nrouter=192.0.2.1\n');
      expect(clients.lease('dyn')?.v4?.addresses).toEqual(['192.0.2.60/24']);
      await hook('reason=EXPIRE\n');
      expect(clients.lease('dyn')?.v4?.addresses ?? []).toEqual([]);
      expect(calls).toEqual(['dyn', 'dyn', 'dyn']);
    } finally {
      clients.close();
    }
  });
});
