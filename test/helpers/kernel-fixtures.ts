/** KernelState builders for the pure planner's tests: a link, a bridge with one port, a state. */
import type { KernelLink, KernelState } from '../../src/model/kernel-state.js';

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
