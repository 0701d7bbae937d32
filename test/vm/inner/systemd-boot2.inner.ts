// Second boot under systemd (test/vm/systemd.test.ts): eth1 is gone. The boot-time restore
// brings back `mgmt` on eth0 and the DHCP network `dyn` on veth_0 (its switch and dnsmasq come
// from a unit ordered before the restore) with its lease, skips `data`, and the daemon serves on
// the restored host and adopts the DHCP client.
import { readFile, writeFile } from 'node:fs/promises';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { hostnetctl, journal, prop, show } from './systemd.js';

// every systemctl, journalctl or node start takes seconds under TCG on a loaded machine
describe('hostnetd under systemd, a reboot with a NIC gone', { timeout: 300_000 }, () => {
  it('restored the network whose NIC is there and skipped the other, before network-online.target', async () => {
    await readFile('/vmshare/boot1-done'); // the first boot got that far
    await readFile('/vmshare/boot1-dhcp-done');
    expect(await prop('hostnetd-restore.service', 'Result')).toBe('success');
    const out = (await journal('hostnetd-restore')).join('\n');
    expect(out).toContain('restored safe config: 2 network(s) [dyn, mgmt]');
    expect(out).toMatch(/warning: skipped network data: .*eth1/);
    const { stdout } = await execa('ip', ['-j', 'addr', 'show', 'dev', 'mgmt']);
    const [mgmt] = JSON.parse(stdout) as { operstate: string; addr_info: { local: string; prefixlen: number }[] }[];
    expect(mgmt!.addr_info.map((a) => `${a.local}/${a.prefixlen}`)).toContain('10.0.2.15/24');
    const eth0 = JSON.parse((await execa('ip', ['-j', 'link', 'show', 'dev', 'eth0'])).stdout)[0] as { master?: string };
    expect(eth0.master).toBe('mgmt');
    expect(Number(await prop('network-online.target', 'ActiveEnterTimestampMonotonic')))
      .toBeGreaterThan(Number(await prop('hostnetd-restore.service', 'ExecMainExitTimestampMonotonic')));
  });

  it('the DHCP network got its lease during the restore, within --dhcp-timeout; its client runs in its own unit', async () => {
    const out = (await journal('hostnetd-restore')).join('\n');
    expect(out).not.toContain('no DHCP lease');
    // the restore itself saw the lease (it waits for it, then exits)
    expect(out).toMatch(/"event":"dhcp-lease","dev":"dyn","family":4,"reason":"BOUND"/);
    const restore = await show('hostnetd-restore.service', 'ExecMainStartTimestampMonotonic', 'ExecMainExitTimestampMonotonic');
    const client = Number(await prop('hostnetd-dhcp-dyn.service', 'ExecMainStartTimestampMonotonic'));
    const [start, exit] = [Number(restore.get('ExecMainStartTimestampMonotonic')), Number(restore.get('ExecMainExitTimestampMonotonic'))];
    expect(client).toBeGreaterThan(start);
    // --dhcp-timeout bounds the wait for leases, which starts with the clients; before them the
    // restore starts node, reads the kernel and applies the batch (19 s of 24 on a quiet machine
    // under TCG, twice that on a loaded one)
    expect(exit - client, `restore ran ${(exit - start) / 1e6} s in all`).toBeLessThan(Number(process.env.HOSTNETD_TEST_DHCP_TIMEOUT) * 1e6);
    const { stdout } = await execa('ip', ['-j', '-4', 'addr', 'show', 'dev', 'dyn']);
    const leased = (JSON.parse(stdout) as { addr_info: { local: string }[] }[]).flatMap((l) => l.addr_info.map((a) => a.local));
    expect(leased).toEqual([expect.stringMatching(/^192\.0\.2\.1[0-5]\d$/)]);
    expect(await readFile('/vmshare/boot2-dnsmasq.leases', 'utf8')).toContain(` ${leased[0]} `);
    // started by the restore, before the daemon, and still the same process
    const unit = await show('hostnetd-dhcp-dyn.service', 'ActiveState', 'ControlGroup', 'ExecMainStartTimestampMonotonic');
    expect(unit.get('ActiveState')).toBe('active');
    expect(unit.get('ControlGroup')).toBe('/system.slice/hostnetd-dhcp-dyn.service');
    expect(Number(unit.get('ExecMainStartTimestampMonotonic'))).toBe(client);
    expect(client).toBeLessThan(exit);
  });

  it('the daemon adopted the client the restore started', async () => {
    const events = (await journal('hostnetd')).map((l) => JSON.parse(l) as { event?: string; msg: string });
    expect(events.some((e) => e.msg === 'ready')).toBe(true);
    expect(events.filter((e) => e.event === 'dhcp-client-started')).toEqual([]);
    const caps = await hostnetctl('--json', 'caps');
    expect(caps.exitCode, caps.stderr).toBe(0);
    expect(JSON.parse(caps.stdout).networks.dyn).toMatchObject({ dhcpv4: true, ipv4addrs: [expect.stringMatching(/^192\.0\.2\./)] });
  });

  it('the daemon serves on the restored host', async () => {
    const caps = await hostnetctl('--json', 'caps');
    expect(caps.exitCode, caps.stderr).toBe(0);
    expect(JSON.parse(caps.stdout).networks.mgmt.addr).toBe('10.0.2.15');
  });

  it('leaves a safe config its schema refuses for the next boot', async () => {
    await execa('systemctl', ['stop', 'hostnetd.service']);
    const safe = JSON.parse(await readFile('/var/lib/hostnetd/safe.json', 'utf8'));
    // a network that is not an object: the store's schema refuses it (103). (An mtu of 'big' is
    // not refused by the schema yet: restore then fails later, with 100 — a gap for the schema work.)
    safe.networks.mgmt = 'not an object';
    await writeFile('/var/lib/hostnetd/safe.json', JSON.stringify(safe));
  });
});
