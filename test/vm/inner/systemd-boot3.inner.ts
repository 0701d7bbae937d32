// Third boot under systemd (test/vm/systemd.test.ts): the safe config is refused by its schema.
// The restore fails with 103 and changes nothing; the boot goes on (this test runs after
// multi-user.target was reached).
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { journal, prop } from './systemd.js';

// every systemctl, journalctl or node start takes seconds under TCG on a loaded machine
describe('hostnetd under systemd, a reboot with a broken safe config', { timeout: 300_000 }, () => {
  it('hostnetd-restore.service failed with 103, naming the file, and changed nothing', async () => {
    expect(await prop('hostnetd-restore.service', 'Result')).toBe('exit-code');
    const out = (await journal('hostnetd-restore')).join('\n');
    expect(out).toMatch(/hostnetd restore: failed \(103\): \/var\/lib\/hostnetd\/safe\.json/);
    const links = JSON.parse((await execa('ip', ['-j', 'link', 'show'])).stdout) as { ifname: string; master?: string }[];
    expect(links.map((l) => l.ifname).sort()).toEqual(['eth0', 'lo']);
    expect(links.find((l) => l.ifname === 'eth0')!.master).toBeUndefined();
  });

  it('the boot went on to multi-user.target', async () => {
    expect(await prop('multi-user.target', 'ActiveState')).toBe('active');
  });
});
