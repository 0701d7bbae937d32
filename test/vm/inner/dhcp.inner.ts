// DHCP through the real daemon and dhcpcd on bonds and VLANs (inside the VM tier), against
// dnsmasq in a switch namespace behind veth NICs (dhcp-switch.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Dnsmasq } from '../../helpers/dnsmasq.js';
import { startDhcpSwitch } from './dhcp-switch.js';
import { startVmHost, type VmHost } from './vmhost.js';

let host: VmHost;
let server: Dnsmasq;

beforeAll(async () => {
  server = await startDhcpSwitch();
  host = await startVmHost({ args: ['--fake-nics', 'veth_*', '--dhcp-timeout', '60'] });
}, 240_000);

afterAll(async () => {
  await host?.clear();
  await host?.stop();
  await server?.stop();
});

describe('DHCP on bonds and VLANs', { timeout: 300_000 }, () => {
  it('a bridged network on an active-backup bond of two NICs gets its DHCPv4 and DHCPv6 leases (blockingdhcp)', async () => {
    const caps = await host.setup(
      { dbond: { bonding: 'bond7', bootproto: 'dhcp', dhcpv6: true, blockingdhcp: true } },
      { bond7: { nics: ['veth_0', 'veth_1'], options: 'mode=active-backup miimon=100' } },
    );
    expect(caps.networks.dbond).toMatchObject({ iface: 'dbond', southbound: 'bond7', dhcpv4: true, dhcpv6: true, bootproto4: 'dhcp', gateway: '192.0.2.1' });
    expect(caps.networks.dbond.ipv4addrs).toEqual([expect.stringMatching(/^192\.0\.2\.1[0-5]\d\/24$/)]);
    expect(caps.networks.dbond.ipv6addrs).toEqual(expect.arrayContaining([expect.stringMatching(/^2001:db8::1[0-5][0-9a-f]\/128$/)]));
    await host.clear();
    await server.waitLog(/DHCPRELEASE\(sw\)/);
  });

  it('a bridgeless network on VLAN 100 of a NIC gets its lease from the VLAN subnet', async () => {
    const caps = await host.setup({ dvlan: { nic: 'veth_0', vlan: 100, bridged: false, bootproto: 'dhcp', blockingdhcp: true } });
    expect(caps.networks.dvlan).toMatchObject({ iface: 'veth_0.100', dhcpv4: true, bootproto4: 'dhcp' });
    expect(caps.networks.dvlan.ipv4addrs).toEqual([expect.stringMatching(/^198\.51\.100\.1[0-5]\d\/24$/)]);
    expect(caps.vlans['veth_0.100']).toMatchObject({ vlanid: 100, bootproto4: 'dhcp' });
  });
});
