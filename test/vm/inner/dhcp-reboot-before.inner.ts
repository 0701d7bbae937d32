// The DHCP reboot test, first boot (see test/vm/dhcp-reboot.test.ts): a DHCP network over a
// bond of two veth NICs, leased and made safe; then power loss.
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import type { Dnsmasq } from '../../helpers/dnsmasq.js';
import { startDhcpSwitch } from './dhcp-switch.js';
import { startVmHost, type VmHost } from './vmhost.js';

const share = process.env.HOSTNETD_VM_SHARE!;
let host: VmHost | undefined;
let server: Dnsmasq | undefined;
afterAll(async () => {
  // power loss, not a clean stop
  await host?.daemon.stop('SIGKILL');
  await host?.client.close().catch(() => undefined);
  await server?.stop();
});

it('a DHCP network over a bond gets its lease and is made safe', async () => {
  server = await startDhcpSwitch();
  host = await startVmHost({ stateDir: join(share, 'state'), args: ['--fake-nics', 'veth_*', '--dhcp-timeout', '60'] });
  const caps = await host.setup(
    { dboot: { bonding: 'bond7', bootproto: 'dhcp', dhcpv6: true, defaultRoute: true, blockingdhcp: true } },
    { bond7: { nics: ['veth_0', 'veth_1'], options: 'mode=active-backup miimon=100' } },
  );
  expect(caps.networks.dboot.ipv4addrs).toEqual([expect.stringMatching(/^192\.0\.2\./)]);
  expect(await host.client.call('Host.setSafeNetworkConfig')).toBe(true);
}, 300_000);
