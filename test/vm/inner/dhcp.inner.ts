// DHCP through the real daemon and dhcpcd on bonds and VLANs (inside the VM tier). The switch is
// a namespace with a bridge `sw` (192.0.2.1/24, 2001:db8::1/64) and its VLAN 100 (198.51.100.1/24),
// dnsmasq serving both; veth_0 and veth_1 are the host's fake NICs plugged into it.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDnsmasq, type Dnsmasq } from '../../helpers/dnsmasq.js';
import { startVmHost, type VmHost } from './vmhost.js';

const SW = 'dhcpsw';
let host: VmHost;
let server: Dnsmasq;

const ip = (args: string[]) => execa('ip', args);

beforeAll(async () => {
  await ip(['netns', 'add', SW]);
  const sw = ['link add sw type bridge', 'addr add 192.0.2.1/24 dev sw', 'addr add 2001:db8::1/64 dev sw nodad', 'link set sw up',
    'link add link sw name sw.100 type vlan id 100', 'addr add 198.51.100.1/24 dev sw.100', 'link set sw.100 up', ''];
  await execa('ip', ['-n', SW, '-batch', '-'], { input: sw.join('\n') });
  for (const i of [0, 1]) {
    await ip(['link', 'add', `veth_${i}`, 'type', 'veth', 'peer', 'name', `swp${i}`, 'netns', SW]);
    await ip(['-n', SW, 'link', 'set', `swp${i}`, 'master', 'sw', 'up']);
    await ip(['link', 'set', `veth_${i}`, 'up']);
  }
  server = await startDnsmasq(SW, mkdtempSync(path.join(tmpdir(), 'dnsmasq-')), {
    extraArgs: ['--interface=sw.100', '--dhcp-range=198.51.100.100,198.51.100.150,255.255.255.0,2m'],
  });
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
