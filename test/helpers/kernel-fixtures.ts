/** KernelState builders for the pure planner's tests: a link, a bridge with one port, a state, the kernel's features. */
import type { KernelFeatures, KernelLink, KernelState } from '../../src/model/kernel-state.js';

export function link(name: string, extra: Partial<KernelLink> = {}): KernelLink {
  return { ifindex: 1, name, kind: 'device', mtu: 1500, address: '02:00:00:00:00:01', up: true, operstate: 'UP', promiscuity: 0, ...extra };
}

export const bridge = (name: string, port: string): KernelLink[] => [
  link(name, { kind: 'bridge', bridge: { stp: false, vlanFiltering: false, opts: {} } }),
  link(port, { master: name }),
];

export function state(links: KernelLink[], extra: Partial<KernelState> = {}): KernelState {
  return { links: Object.fromEntries(links.map((l) => [l.name, l])), addresses: [], routes: [], rules: [], fdb: [], takenAt: 0, ...extra };
}

/** This runner's kernel (port isolation, no bonding, 802.1q, vlan_filtering or HFSC), with `extra` on top. */
export function features(extra: Partial<KernelFeatures> = {}): KernelFeatures {
  return { bonding: false, vlan: false, vlanFiltering: false, portIsolation: true, hfsc: false, fqCodel: false, ...extra };
}
