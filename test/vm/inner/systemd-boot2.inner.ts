// Second boot under systemd (test/vm/systemd.test.ts): eth1 is gone. The boot-time restore
// brings back `mgmt` on eth0, skips `data`, and the daemon serves on the restored host.
import { readFile, writeFile } from 'node:fs/promises';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { hostnetctl, journal, prop } from './systemd.js';

// every systemctl, journalctl or node start takes seconds under TCG on a loaded machine
describe('hostnetd under systemd, a reboot with a NIC gone', { timeout: 300_000 }, () => {
  it('restored the network whose NIC is there and skipped the other, before network-online.target', async () => {
    await readFile('/vmshare/boot1-done'); // the first boot got that far
    expect(await prop('hostnetd-restore.service', 'Result')).toBe('success');
    const out = (await journal('hostnetd-restore')).join('\n');
    expect(out).toContain('restored safe config: 1 network(s) [mgmt]');
    expect(out).toMatch(/warning: skipped network data: .*eth1/);
    const { stdout } = await execa('ip', ['-j', 'addr', 'show', 'dev', 'mgmt']);
    const [mgmt] = JSON.parse(stdout) as { operstate: string; addr_info: { local: string; prefixlen: number }[] }[];
    expect(mgmt!.addr_info.map((a) => `${a.local}/${a.prefixlen}`)).toContain('10.0.2.15/24');
    const eth0 = JSON.parse((await execa('ip', ['-j', 'link', 'show', 'dev', 'eth0'])).stdout)[0] as { master?: string };
    expect(eth0.master).toBe('mgmt');
    expect(Number(await prop('network-online.target', 'ActiveEnterTimestampMonotonic')))
      .toBeGreaterThan(Number(await prop('hostnetd-restore.service', 'ExecMainExitTimestampMonotonic')));
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
