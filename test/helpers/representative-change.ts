/**
 * The representative change of the fault-injection and kill tests (issue 10): from `initial`,
 * one bridge removed (`old`, portless: its MAC is random, so a rollback must restore it), one
 * edited (`keep`: MTU, gives up the default route), a new bridge taking the default routes and
 * the nameservers (`mgmt`), and a bridgeless network on an existing NIC whose IPv6 sysctls it
 * changes (`flat`). `backToInitial` undoes it through the daemon.
 */
import type { NetnsHost } from './netns.js';
import type { RpcTestClient } from './rpc-client.js';

export const options = { connectivityCheck: false };
export const initial = {
  keep: { nic: 'veth_0', ipaddr: '192.0.2.10', prefix: 24, gateway: '192.0.2.1', defaultRoute: true, nameservers: ['192.0.2.53'] },
  old: {},
};
export const change = {
  old: { remove: true },
  keep: { nic: 'veth_0', ipaddr: '192.0.2.10', prefix: 24, mtu: 1400 },
  mgmt: { nic: 'veth_1', ipaddr: '192.0.2.11', prefix: 24, gateway: '192.0.2.1', defaultRoute: true, nameservers: ['192.0.2.54'],
    ipv6addr: '2001:db8::11/64', ipv6gateway: '2001:db8::1' },
  flat: { nic: 'veth_2', bridged: false, ipaddr: '203.0.113.5', prefix: 24 },
};
const revert = { ...initial, mgmt: { remove: true }, flat: { remove: true } };

export const setupNetworks = (client: RpcTestClient, networks: Record<string, unknown>, opts: Record<string, unknown> = options) =>
  client.call('Host.setupNetworks', { networks, bondings: {}, options: opts });

/** Back to the initial state; veth_2 gets the kernel's default IPv6 sysctls back (removing a network leaves them). */
export async function backToInitial(client: RpcTestClient, host: NetnsHost): Promise<void> {
  await setupNetworks(client, revert);
  await host.exec('sysctl', ['-q', '-w', 'net.ipv6.conf.veth_2.autoconf=1', 'net.ipv6.conf.veth_2.accept_ra=1']);
}
