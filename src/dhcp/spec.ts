/**
 * Which DHCP clients a config needs, and the dhcpcd configuration of each. Pure.
 *
 * One client per network IP device (bridge, NIC, bond or VLAN device) with bootproto 'dhcp' or
 * dhcpv6. Each client is configured to touch only its own interface: no resolver file (hostnetd
 * writes it, as VDSM's auto DNS), no default route unless the network holds defaultRoute, and no
 * router solicitation (router advertisements stay the kernel's job: ipv6autoconf).
 */
import type { HostConfig, Network } from '../model/types.js';
import { networkDevices, usableNetworks } from '../plan/desired.js';

export interface ClientSpec {
  /** the network's IP device: the interface the client runs on */
  dev: string;
  network: string;
  v4: boolean;
  v6: boolean;
  /** install the learned default route (only the defaultRoute network does) */
  defaultRoute: boolean;
}

export const isDynamic = (net: Network): boolean => net.bootproto === 'dhcp' || net.dhcpv6;

/** The clients a config needs, by device; networks whose devices are gone are left out (as the kernel plan does). */
export function clientSpecs(config: HostConfig, exists: (dev: string) => boolean): Map<string, ClientSpec> {
  const out = new Map<string, ClientSpec>();
  for (const net of usableNetworks(config, exists)) {
    if (!isDynamic(net)) continue;
    const dev = networkDevices(net).top;
    out.set(dev, { dev, network: net.name, v4: net.bootproto === 'dhcp', v6: net.dhcpv6, defaultRoute: net.defaultRoute });
  }
  return out;
}

export const sameSpec = (a: ClientSpec, b: ClientSpec): boolean =>
  a.dev === b.dev && a.network === b.network && a.v4 === b.v4 && a.v6 === b.v6 && a.defaultRoute === b.defaultRoute;

/** What takes `have` (running clients) to `want`: a changed client is stopped and started again. */
export function planClients(want: ReadonlyMap<string, ClientSpec>, have: ReadonlyMap<string, ClientSpec>): { stop: ClientSpec[]; start: ClientSpec[] } {
  const stop = [...have.values()].filter((c) => { const w = want.get(c.dev); return !w || !sameSpec(w, c); });
  const start = [...want.values()].filter((w) => { const c = have.get(w.dev); return !c || !sameSpec(w, c); });
  return { stop, start };
}

/**
 * dhcpcd.conf(5) text for one client. `noarp`: no ARP probe before using a lease (VDSM's
 * dhclient does none either, and it costs seconds); `release`: the lease is released when the
 * client stops for good. The hook script gets the lease and tells hostnetd.
 */
export function clientConf(spec: ClientSpec): string {
  const lines = [
    '# written by hostnetd for one interface; hostnetd restarts the client when it changes',
    'noipv6rs',
    'noarp',
    'option domain_name_servers, routers, subnet_mask',
    'option dhcp6_name_servers',
  ];
  if (!spec.defaultRoute) lines.push('nogateway');
  if (spec.v6) lines.push('ia_na');
  return `${lines.join('\n')}\n`;
}
