/**
 * Comparing a namespace's networking state before and after, and the VDSM invariant: the
 * running config agrees with what capabilities report.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { createIproute } from '../../src/kernel/iproute.js';
import { readKernelState } from '../../src/kernel/snapshot.js';
import type { HostConfig } from '../../src/model/types.js';
import { prefixToNetmask } from '../../src/model/ip.js';

/** What "the same state" means: devices, masters, MTUs, up/down, addresses, routes of every table, routing rules (not ifindex or counters). */
export async function comparableState(ns?: string) {
  const s = await readKernelState(createIproute(ns === undefined ? {} : { netns: ns }));
  const links = Object.fromEntries(
    Object.values(s.links).map((l) => [l.name, {
      kind: l.kind, mtu: l.mtu, master: l.master ?? null, up: l.up,
      ...(l.bridge ? { stp: l.bridge.stp } : {}),
      ...(l.vlan ? { vlan: l.vlan.id, base: l.link } : {}),
      ...(l.bridgePort ? { isolated: l.bridgePort.isolated, learning: l.bridgePort.learning, flood: l.bridgePort.flood } : {}),
    }]),
  );
  const addresses = s.addresses
    .filter((a) => !(a.family === 'inet6' && a.local.startsWith('fe80:')))
    .map((a) => `${a.ifname} ${a.local}/${a.prefixlen}`).sort();
  const routes = s.routes
    .filter((r) => r.family === 'inet' || !(r.dst.startsWith('fe80') || r.dst.startsWith('ff00') || r.type === 'local' || r.type === 'multicast'))
    .map((r) => `${r.table} ${r.dst} ${r.gateway ?? ''} ${r.dev ?? ''}`).sort();
  const rules = (s.rules ?? []).map((r) => `${r.family} ${r.priority} ${r.src} ${r.dst} ${r.action} ${r.table} ${r.selectors}`.trim()).sort();
  return { links, addresses, routes, rules };
}

export function readRunning(stateDir: string): HostConfig {
  const doc = JSON.parse(readFileSync(path.join(stateDir, 'running.json'), 'utf8')) as HostConfig & { version: number };
  return { networks: doc.networks, bonds: doc.bonds };
}

/** VDSM's functional-test invariant: every running network is reported, as configured; nothing else is. */
export function expectRunningMatchesCaps(running: HostConfig, caps: Record<string, any>): void {
  expect(Object.keys(caps.networks).sort()).toEqual(Object.keys(running.networks).sort());
  for (const net of Object.values(running.networks)) {
    const c = caps.networks[net.name];
    expect(c.bridged, `${net.name}.bridged`).toBe(net.bridged);
    expect(c.mtu, `${net.name}.mtu`).toBe(String(net.mtu));
    const southbound = net.vlan === undefined ? (net.nic ?? net.bonding) : `${net.nic ?? net.bonding}.${net.vlan}`;
    expect(c.iface, `${net.name}.iface`).toBe(net.bridged ? net.name : southbound);
    expect(c.southbound, `${net.name}.southbound`).toBe(southbound ?? null);
    if (net.vlan !== undefined) expect(Number(c.vlanid), `${net.name}.vlanid`).toBe(net.vlan);
    // as VDSM's tests: a DHCP network's addresses are the lease's, whatever it is; only the flags are the config's
    expect(c.dhcpv4, `${net.name}.dhcpv4`).toBe(net.bootproto === 'dhcp');
    expect(c.dhcpv6, `${net.name}.dhcpv6`).toBe(net.dhcpv6);
    if (net.bootproto !== 'dhcp') {
      expect(c.addr ?? '', `${net.name}.addr`).toBe(net.ipv4?.address ?? '');
      expect(c.netmask ?? '', `${net.name}.netmask`).toBe(net.ipv4 ? prefixToNetmask(net.ipv4.prefix) : '');
      expect(c.ipv4defaultroute, `${net.name}.ipv4defaultroute`).toBe(net.defaultRoute && net.ipv4?.gateway !== undefined);
    }
    if (net.dhcpv6 || net.ipv6.autoconf) expect(c.ipv6addrs, `${net.name}.ipv6addrs`).toEqual(expect.arrayContaining(net.ipv6.addresses));
    else expect(c.ipv6addrs, `${net.name}.ipv6addrs`).toEqual(net.ipv6.addresses);
    if (net.ipv4?.gateway) expect(c.gateway, `${net.name}.gateway`).toBe(net.ipv4.gateway);
    if (net.bridged) {
      expect(c.stp, `${net.name}.stp`).toBe(net.stp ? 'on' : 'off');
      const uplink = southbound === undefined ? [] : [southbound];
      expect(c.ports, `${net.name}.ports`).toEqual(expect.arrayContaining(uplink));
      expect(caps.bridges[net.name], `bridge ${net.name}`).toBeDefined();
    }
  }
}
