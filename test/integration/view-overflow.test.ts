/**
 * The daemon's kernel view overflowing (ENOBUFS) for real: a tiny --netlink-rcvbuf, the daemon
 * stopped (SIGSTOP) while the kernel changes behind it, then resumed. What the dropped
 * notifications said must still reach the answers (the view reads everything again), and the
 * engine must be told to re-read: with nothing managed, no device event can send it, so the
 * |net|host_conn|no_id seen here comes from the re-enumeration alone.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { cleanupStaleNetns, createNetnsHost, type NetnsHost } from '../helpers/netns.js';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { RpcTestClient } from '../helpers/rpc-client.js';

let host: NetnsHost;
let daemon: TestDaemon;

beforeAll(async () => {
  await cleanupStaleNetns('hnov-');
  host = await createNetnsHost({ prefix: 'hnov-', nics: 1 });
  daemon = await startTestDaemon({ ns: host.ns, args: ['--netlink-rcvbuf', '4096'] });
});

afterAll(async () => {
  await daemon?.cleanup();
  await host?.destroy();
});

it('an overflowed view is read again, its answers see what the lost notifications said, and the engine is told', async () => {
  const c = await RpcTestClient.connect(daemon.target);
  try {
    expect(await c.call('Host.subscribeEvents')).toBe(true);
    const before = daemon.logs.length;
    daemon.proc.kill('SIGSTOP');
    try {
      // the bridges fill the 4 KiB buffer; the MTU change comes last, so its notification is lost
      const lines = [...Array.from({ length: 200 }, (_, k) => `link add ovf${k} type bridge`), 'link set veth_0 mtu 1400'];
      execFileSync('ip', ['-n', host.ns, '-batch', '-'], { input: `${lines.join('\n')}\n` });
    } finally {
      daemon.proc.kill('SIGCONT');
    }
    const note = await c.nextUnmatched();
    expect(note).toMatchObject({ method: '|net|host_conn|no_id', params: { notify_time: expect.any(Number) } });
    expect(daemon.logs.slice(before).some((l) => l.event === 'view-overflow')).toBe(true);
    const caps = await c.call<{ nics: Record<string, { mtu: string }>; bridges: Record<string, unknown> }>('Host.getNetworkCapabilities');
    expect(caps.nics.veth_0!.mtu).toBe('1400');
    expect(Object.keys(caps.bridges).filter((b) => b.startsWith('ovf'))).toHaveLength(200);
  } finally {
    await c.close();
  }
});
