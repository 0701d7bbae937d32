// First boot under systemd (test/vm/systemd.test.ts): the package installed before systemd.
import { readFile, writeFile } from 'node:fs/promises';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { hostnetctl, journal, prop, show, waitUnit } from './systemd.js';
import { until } from './vmhost.js';

// every systemctl, journalctl or node start takes seconds under TCG on a loaded machine
describe('hostnetd under systemd, first boot', { timeout: 300_000 }, () => {
  it('the package enabled both units and systemd started them at boot', async () => {
    for (const unit of ['hostnetd.service', 'hostnetd-restore.service']) {
      const { stdout } = await execa('systemctl', ['is-enabled', unit]);
      expect(stdout, unit).toBe('enabled');
    }
    const restore = await show('hostnetd-restore.service', 'ActiveState', 'Result');
    expect(Object.fromEntries(restore)).toEqual({ ActiveState: 'active', Result: 'success' });
    expect(await prop('hostnetd.service', 'ActiveState')).toBe('active');
    expect(await prop('hostnetd.service', 'ExecStart')).toContain('path=/usr/bin/hostnetd');
  });

  it('hostnetd-restore.service finished before network-online.target and hostnetd.service were reached', async () => {
    const restoreDone = Number(await prop('hostnetd-restore.service', 'ExecMainExitTimestampMonotonic'));
    const online = Number(await prop('network-online.target', 'ActiveEnterTimestampMonotonic'));
    const daemonStart = Number(await prop('hostnetd.service', 'ExecMainStartTimestampMonotonic'));
    expect(restoreDone).toBeGreaterThan(0);
    expect(online).toBeGreaterThan(restoreDone);
    expect(daemonStart).toBeGreaterThan(restoreDone);
  });

  it('is Type=notify: `systemctl restart` returns only once the socket answers', async () => {
    expect(await prop('hostnetd.service', 'Type')).toBe('notify');
    await execa('systemctl', ['restart', 'hostnetd.service']);
    // no retry: with Type=simple this first call would race the daemon's start (seconds under TCG)
    const ping = await hostnetctl('ping');
    expect(ping.exitCode, ping.stderr).toBe(0);
    expect(await journal('hostnetd')).not.toContainEqual(expect.stringContaining('sd-notify-failed'));
  });

  it('restarts after kill -9', async () => {
    const before = Number(await prop('hostnetd.service', 'MainPID'));
    const restarts = Number(await prop('hostnetd.service', 'NRestarts'));
    expect(before).toBeGreaterThan(1);
    process.kill(before, 'SIGKILL');
    const after = await waitUnit('hostnetd.service', (m) => m.get('ActiveState') === 'active' && Number(m.get('MainPID')) > 0 && Number(m.get('MainPID')) !== before,
      ['ActiveState', 'MainPID', 'NRestarts']);
    expect(Number(after.get('NRestarts'))).toBe(restarts + 1);
    expect((await hostnetctl('ping')).exitCode).toBe(0);
  });

  it('logs to journald one JSON event per line', async () => {
    const lines = await journal('hostnetd');
    expect(lines.length).toBeGreaterThan(3);
    const events = lines.map((l) => JSON.parse(l) as { msg: string; level: number; time: string });
    for (const e of events) expect(typeof e.msg === 'string' && typeof e.level === 'number' && typeof e.time === 'string', JSON.stringify(e)).toBe(true);
    expect(events.filter((e) => e.msg === 'ready').length).toBeGreaterThanOrEqual(3); // boot, restart, after kill -9
  });

  it('keeps only CAP_NET_ADMIN and CAP_NET_RAW (from /proc/PID/status)', async () => {
    const pid = await prop('hostnetd.service', 'MainPID');
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const caps = Object.fromEntries(status.split('\n').filter((l) => l.startsWith('Cap')).map((l) => l.split(/:\s+/) as [string, string]));
    // bits 12 (CAP_NET_ADMIN) and 13 (CAP_NET_RAW)
    // ambient capabilities are also inheritable ones (capabilities(7))
    expect(caps).toEqual({ CapInh: '0000000000003000', CapPrm: '0000000000003000', CapEff: '0000000000003000',
      CapBnd: '0000000000003000', CapAmb: '0000000000003000' });
  });

  it('sets up two networks through the daemon and makes them safe', async () => {
    // data stays off 192.0.2.0/24, the DHCP switch's subnet (systemd-dhcp.ts): its connected
    // route has metric 0, so a client's unicast DHCPRELEASE to 192.0.2.1 would leave through eth1
    const setup = await hostnetctl('setup', '--net', 'mgmt', '--nic', 'eth0', '--ip', '10.0.2.15/24',
      '--net', 'data', '--nic', 'eth1', '--ip', '203.0.113.10/24', '--no-check');
    expect(setup.exitCode, setup.stderr).toBe(0);
    expect((await hostnetctl('persist')).exitCode).toBe(0);
    const safe = JSON.parse(await readFile('/var/lib/hostnetd/safe.json', 'utf8'));
    expect(Object.keys(safe.networks).sort()).toEqual(['data', 'mgmt']);
    await writeFile('/vmshare/boot1-done', '');
  });

  it('an upgrade (the package installed again) try-restarts hostnetd.service and changes no network', async () => {
    const version = JSON.parse(await readFile('package.json', 'utf8')).version as string;
    const before = await prop('hostnetd.service', 'MainPID');
    const addrs = await settledAddresses();
    const r = await execa('dpkg', ['-i', `pkg/hostnetd_${version}_amd64.deb`], { reject: false });
    expect(r.exitCode, r.stderr).toBe(0);
    // try-restart of a Type=notify unit returns once the new daemon is ready
    expect(await prop('hostnetd.service', 'ActiveState')).toBe('active');
    expect(await prop('hostnetd.service', 'MainPID')).not.toBe(before);
    // not waiting here: an address in DAD now was re-added, or its link flapped, by the upgrade
    expect((await execa('ip', ['-j', 'addr', 'show'])).stdout).toBe(addrs);
    expect((await hostnetctl('ping')).exitCode).toBe(0);
  });
});

/**
 * `ip -j addr show` once no IPv6 address is in duplicate address detection: the previous test
 * has just set the bridges up, and a link-local address turning from tentative to valid during
 * the upgrade is the kernel's doing, not a change.
 */
async function settledAddresses(): Promise<string> {
  await until('IPv6 DAD to finish', async () =>
    (await execa('ip', ['-6', 'addr', 'show', 'tentative'])).stdout.trim() === '' ? true : undefined);
  return (await execa('ip', ['-j', 'addr', 'show'])).stdout;
}

// The DHCP clients under systemd come after these tests, in the same file: vitest orders files
// by size when it has no cache, and the DHCP tests must find the first boot's checks done.
await import('./systemd-dhcp.js');
