// The DHCP reboot test, second boot: the NICs (and the DHCP server) are back, the bond and its
// client are not. `hostnetd restore` brings the DHCP network back with its leases within
// --dhcp-timeout, and the daemon adopts the client restore started.
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, expect, it } from 'vitest';
import { DAEMON_MAIN } from '../../helpers/daemon.js';
import type { Dnsmasq } from '../../helpers/dnsmasq.js';
import { startDhcpSwitch } from './dhcp-switch.js';
import { link, startVmHost, useHostBuild, type VmHost } from './vmhost.js';

const share = process.env.HOSTNETD_VM_SHARE!;
const stateDir = join(share, 'state');
let host: VmHost | undefined;
let server: Dnsmasq | undefined;
afterAll(async () => {
  await host?.clear();
  await host?.stop();
  await server?.stop();
});

it('hostnetd restore brings the DHCP network back with its leases; the daemon adopts its client', async () => {
  expect(await link('bond7')).toBeUndefined();
  server = await startDhcpSwitch();
  await useHostBuild();
  const dir = await mkdtemp(join(tmpdir(), 'hostnetd-restore-'));
  const runDir = join(dir, 'run');
  const r = await execa(process.execPath, [
    DAEMON_MAIN, 'restore', '--state-dir', stateDir, '--run-dir', runDir, '--resolv-conf', join(dir, 'resolv.conf'),
    '--libvirt-uri', 'none', '--log-level', 'warn', '--fake-nics', 'veth_*', '--dhcp-timeout', '90',
  ], { reject: false });
  expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(0);
  expect(r.stdout).toContain('restored safe config: 1 network(s) [dboot], 1 bond(s) [bond7]');
  expect(r.stdout).not.toContain('no DHCP lease');
  const pid = (JSON.parse(await readFile(join(runDir, 'dhcp', 'dboot.json'), 'utf8')) as { pid: number }).pid;

  host = await startVmHost({ stateDir, dir, args: ['--fake-nics', 'veth_*'] });
  expect(host.daemon.logs.some((l) => l.event === 'dhcp-client-started')).toBe(false);
  expect((JSON.parse(await readFile(join(runDir, 'dhcp', 'dboot.json'), 'utf8')) as { pid: number }).pid).toBe(pid);
  const caps = await host.caps();
  expect(caps.networks.dboot).toMatchObject({ southbound: 'bond7', dhcpv4: true, dhcpv6: true, bootproto4: 'dhcp', ipv4defaultroute: true });
  expect(caps.networks.dboot.ipv4addrs).toEqual([expect.stringMatching(/^192\.0\.2\./)]);
  expect(caps.networks.dboot.ipv6addrs).toEqual(expect.arrayContaining([expect.stringMatching(/^2001:db8::/)]));
}, 300_000);
