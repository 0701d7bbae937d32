// Shared by the DHCP inner files (inside the VM tier): a switch namespace with a bridge `sw`
// (192.0.2.1/24, 2001:db8::1/64) and its VLAN 100 (198.51.100.1/24), dnsmasq serving both, and
// the fake NICs veth_0, veth_1 plugged into it. The VM's own NICs sit on slirp, which answers
// DHCP itself, hence veths.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { startDnsmasq, type Dnsmasq } from '../../helpers/dnsmasq.js';

export const SW = 'dhcpsw';

export async function startDhcpSwitch(): Promise<Dnsmasq> {
  const ip = (args: string[]) => execa('ip', args);
  await ip(['netns', 'add', SW]);
  const sw = ['link add sw type bridge', 'addr add 192.0.2.1/24 dev sw', 'addr add 2001:db8::1/64 dev sw nodad', 'link set sw up',
    'link add link sw name sw.100 type vlan id 100', 'addr add 198.51.100.1/24 dev sw.100', 'link set sw.100 up', ''];
  await execa('ip', ['-n', SW, '-batch', '-'], { input: sw.join('\n') });
  for (const i of [0, 1]) {
    await ip(['link', 'add', `veth_${i}`, 'type', 'veth', 'peer', 'name', `swp${i}`, 'netns', SW]);
    await ip(['-n', SW, 'link', 'set', `swp${i}`, 'master', 'sw', 'up']);
    await ip(['link', 'set', `veth_${i}`, 'up']);
  }
  return startDnsmasq(SW, mkdtempSync(path.join(tmpdir(), 'dnsmasq-')), {
    extraArgs: ['--interface=sw.100', '--dhcp-range=198.51.100.100,198.51.100.150,255.255.255.0,2m'],
  });
}
