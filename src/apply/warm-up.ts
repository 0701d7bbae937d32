/**
 * The change path's code, run a few times on made-up data before the daemon serves.
 *
 * V8 compiles a function when it first runs and optimizes it only once it has run hot, so the
 * first setupNetworks of a fresh daemon (a host being activated, any restart) would check, plan
 * and serialize its networks in the interpreter: at 1000 networks that CPU part took 145–205 ms
 * cold against 48–80 ms after this warm-up (README, Performance). Nothing is touched:
 * Transactions.rehearse() runs the pure steps of a change on a synthetic kernel of NICs that do
 * not exist.
 */
import type { KernelFeatures, KernelLink, KernelState } from '../model/kernel-state.js';
import type { SetupRequest } from '../model/types.js';
import { dict } from '../model/dict.js';

export interface Rehearsal {
  rehearse(request: SetupRequest, before: KernelState): number;
}

/**
 * Rounds × networks. Rounds of 100 networks left the first 1000-network change at ~105 ms:
 * objects with hundreds of keys (the request's and the config's network tables) take other
 * paths in V8 than small ones, so the rounds must be of the size they prepare for (4 × 500:
 * 250–300 ms once).
 */
export const WARM_UP = { rounds: 4, networks: 500 } as const;

/** Runs the rehearsals; returns how long they took and the operations the last one planned. */
export function warmUp(tx: Rehearsal, features: KernelFeatures | undefined, size: { rounds: number; networks: number } = WARM_UP): { ms: number; ops: number } {
  const started = performance.now();
  const { request, state } = warmUpInputs(size.networks, features);
  let ops = 0;
  for (let i = 0; i < size.rounds; i++) ops = tx.rehearse(request, state);
  return { ms: Math.round(performance.now() - started), ops };
}

/**
 * n networks of the shapes an engine sends most (a bridged network with a static IPv4 address,
 * one on a VLAN when the kernel has VLANs, a bridgeless one with IPv6, a DHCP one), each on a NIC
 * of its own that only this synthetic kernel has.
 */
export function warmUpInputs(n: number, features: KernelFeatures | undefined): { request: SetupRequest; state: KernelState } {
  const links = dict<KernelLink>();
  const networks: SetupRequest['networks'] = {};
  for (let i = 0; i < n; i++) {
    const nic = `wnic${i}`;
    links[nic] = {
      ifindex: i + 2, name: nic, kind: 'device', mtu: 1500, address: mac(i), up: false, operstate: 'down', parentBus: 'pci', promiscuity: 0,
    };
    const ipv4 = { ipaddr: `10.${i >> 8}.${i & 255}.1`, prefix: 24 };
    switch (i % 4) {
      case 0: networks[`wnet${i}`] = { nic, ...ipv4 }; break;
      case 1: networks[`wnet${i}`] = features?.vlan === false ? { nic, ...ipv4, mtu: 9000 } : { nic, vlan: 100 + i, ...ipv4 }; break;
      case 2: networks[`wnet${i}`] = { nic, bridged: false, ...ipv4, ipv6addr: `fd00:${i.toString(16)}::1/64`, ipv6autoconf: false }; break;
      default: networks[`wnet${i}`] = { nic, bootproto: 'dhcp' };
    }
  }
  return { request: { networks, bondings: {}, options: {} }, state: { links, addresses: [], routes: [], rules: [], fdb: [], takenAt: 0 } };
}

const mac = (i: number) => `02:00:00:00:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
