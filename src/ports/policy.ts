/**
 * The port policy of every bridge hostnetd manages, as a pure function of one snapshot, the
 * running config, the guests' MACs and the kernel's features.
 *
 * Example: network 'vmnet' (nic eth0, portIsolation, macTableManager 'libvirt'), ports eth0,
 * vnet0 (guest 52:54:00:00:00:01) and vnet1 (guest unknown) →
 *   ip:     link set dev vnet0 type bridge_slave isolated on learning off flood off
 *           link set dev vnet1 type bridge_slave isolated on learning on flood on
 *   bridge: fdb replace 52:54:00:00:00:01 dev vnet0 master static
 *   warning: vnet1 keeps learning on: no libvirt guest interface has it as target device
 * (lines only for what differs from the snapshot; nothing when everything is in policy).
 *
 * Rules:
 * - a managed bridge is the bridge of a bridged network of the running config; its uplink is
 *   the network's southbound device (nic, bond or vlan device); every other port is a guest
 *   port. Ports of other bridges are never looked at.
 * - portIsolation: guest ports isolated, the uplink never. Without it, nothing is isolated.
 * - macTableManager 'libvirt': a guest port whose MACs are known gets a static FDB entry per
 *   MAC (`replace`, so libvirt writing the same entry never fights us), then learning off and
 *   unicast flood off; static entries of that port for other MACs are removed. A guest port
 *   whose MAC is unknown keeps (or gets back) learning and flood on, and its static entries are
 *   left alone: learning off without the entries would flood every unicast frame to it.
 * - macTableManager 'kernel' (and the uplink always): learning on, flood on; static entries
 *   are not ours to judge and stay.
 * - vlan_filtering is turned on for 'libvirt' bridges where the kernel has it (as libvirt
 *   does, so the uplink can leave promiscuous mode); never turned off.
 */
import type { KernelFeatures, KernelLink, KernelState } from '../model/kernel-state.js';
import type { HostConfig, MacTableManager } from '../model/types.js';
import { networkDevices } from '../plan/desired.js';
import { getKey } from '../model/dict.js';
import { isMac, isMulticastMac } from '../model/mac.js';

/** One bridge hostnetd manages and what its network asks of the ports. */
export interface ManagedBridge {
  bridge: string;
  /** the network's southbound device; absent for an isolated network (no uplink) */
  uplink?: string;
  portIsolation: boolean;
  macTableManager: MacTableManager;
}

export interface PortFlags {
  isolated: boolean;
  learning: boolean;
  flood: boolean;
}

/** What the policy wants of one port, and why (for logs and tests). */
export interface PortTarget {
  bridge: string;
  port: string;
  ifindex: number;
  role: 'uplink' | 'guest';
  flags: PortFlags;
  /** static FDB entries the port must have (lower-case MACs); empty when not MAC-managed */
  macs: string[];
}

export interface PortWarning {
  bridge: string;
  port: string;
  reason: string;
}

export interface PortPlan {
  /** lines for `ip -batch -`: vlan_filtering, then one flag line per port out of policy */
  ipLines: string[];
  /** lines for `bridge -batch -`: fdb replace (first) and fdb del */
  bridgeLines: string[];
  /** every port of every managed bridge, in policy or not */
  targets: PortTarget[];
  warnings: PortWarning[];
}

export interface PolicyInput {
  state: KernelState;
  config: HostConfig;
  /** port (tap) name → MACs of the guest interface whose target device it is */
  guestMacs: ReadonlyMap<string, readonly string[]>;
  features: KernelFeatures;
}

export function managedBridges(config: HostConfig): ManagedBridge[] {
  return Object.values(config.networks)
    .filter((n) => n.bridged)
    .map((n) => {
      const m: ManagedBridge = { bridge: n.name, portIsolation: n.portIsolation, macTableManager: n.macTableManager };
      const { southbound } = networkDevices(n);
      if (southbound !== undefined) m.uplink = southbound;
      return m;
    })
    .sort((a, b) => a.bridge.localeCompare(b.bridge));
}

/** bridge name → its ports (links whose master it is), sorted by name */
export function portsByBridge(state: KernelState, bridges: ReadonlySet<string>): Map<string, KernelLink[]> {
  const out = new Map<string, KernelLink[]>();
  for (const name in state.links) {
    const link = state.links[name]!;
    if (link.master === undefined || !bridges.has(link.master) || link.bridgePort === undefined) continue;
    const list = out.get(link.master);
    if (list === undefined) out.set(link.master, [link]);
    else list.push(link);
  }
  for (const list of out.values()) list.sort((a, b) => a.name.localeCompare(b.name));
  return out;
}

const onOff = (b: boolean) => (b ? 'on' : 'off');

export function flagLine(port: string, f: PortFlags): string {
  return `link set dev ${port} type bridge_slave isolated ${onOff(f.isolated)} learning ${onOff(f.learning)} flood ${onOff(f.flood)}`;
}

export function planPorts(input: PolicyInput): PortPlan {
  const { state, features } = input;
  const managed = managedBridges(input.config).filter((m) => getKey(state.links, m.bridge)?.kind === 'bridge');
  const ports = portsByBridge(state, new Set(managed.map((m) => m.bridge)));
  const staticFdb = staticEntriesByPort(state, new Set(managed.map((m) => m.bridge)));
  const plan: PortPlan = { ipLines: [], bridgeLines: [], targets: [], warnings: [] };
  const fdbAdds: string[] = [];
  const fdbDels: string[] = [];

  for (const m of managed) {
    const bridge = state.links[m.bridge]!;
    if (m.macTableManager === 'libvirt' && features.vlanFiltering && bridge.bridge?.vlanFiltering === false) {
      plan.ipLines.push(`link set dev ${m.bridge} type bridge vlan_filtering 1`);
    }
    for (const port of ports.get(m.bridge) ?? []) {
      const target = targetOf(m, port, input.guestMacs, plan.warnings, features);
      plan.targets.push(target);
      if (!sameFlags(port, target.flags)) plan.ipLines.push(flagLine(port.name, target.flags));
      if (target.macs.length === 0) continue;
      const have = staticFdb.get(port.name) ?? new Set<string>();
      for (const mac of target.macs) if (!have.has(mac)) fdbAdds.push(`fdb replace ${mac} dev ${port.name} master static`);
      for (const mac of [...have].sort()) if (!target.macs.includes(mac)) fdbDels.push(`fdb del ${mac} dev ${port.name} master`);
    }
  }
  // entries first: a port never has learning off while its guest's entry is missing
  plan.bridgeLines = [...fdbAdds, ...fdbDels];
  return plan;
}

function targetOf(
  m: ManagedBridge, port: KernelLink, guestMacs: PolicyInput['guestMacs'], warnings: PortWarning[], features: KernelFeatures,
): PortTarget {
  const base = { bridge: m.bridge, port: port.name, ifindex: port.ifindex };
  if (port.name === m.uplink) {
    return { ...base, role: 'uplink', flags: { isolated: false, learning: true, flood: true }, macs: [] };
  }
  const isolated = m.portIsolation && features.portIsolation;
  if (m.portIsolation && !features.portIsolation) {
    warnings.push({ ...base, reason: 'this kernel cannot isolate bridge ports (needs 4.18+)' });
  }
  if (m.macTableManager !== 'libvirt') {
    return { ...base, role: 'guest', flags: { isolated, learning: true, flood: true }, macs: [] };
  }
  const macs = normalizeMacs(guestMacs.get(port.name) ?? []);
  if (macs.length === 0) {
    warnings.push({
      ...base,
      reason: `keeps learning and flood on: no running libvirt guest has an interface with target device ${port.name}`,
    });
    return { ...base, role: 'guest', flags: { isolated, learning: true, flood: true }, macs: [] };
  }
  return { ...base, role: 'guest', flags: { isolated, learning: false, flood: false }, macs };
}

/** lower case, valid unicast MACs only, deduplicated, sorted (a batch line is split on whitespace) */
export function normalizeMacs(macs: readonly string[]): string[] {
  const out = new Set<string>();
  for (const raw of macs) {
    const mac = raw.trim().toLowerCase();
    // a multicast/broadcast MAC cannot be a static unicast FDB entry of a guest
    if (isMac(mac) && !isMulticastMac(mac)) out.add(mac);
  }
  return [...out].sort();
}

function sameFlags(port: KernelLink, want: PortFlags): boolean {
  const bp = port.bridgePort!;
  return bp.isolated === want.isolated && bp.learning === want.learning && bp.flood === want.flood;
}

/** port → its static (not permanent, not learned) entries in a managed bridge's table */
function staticEntriesByPort(state: KernelState, bridges: ReadonlySet<string>): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const e of state.fdb) {
    if (e.state !== 'static' || e.master === undefined || !bridges.has(e.master)) continue;
    // entries on a VLAN are libvirt's or an admin's business once vlan_filtering is on; ours carry none
    if (e.vlan !== undefined) continue;
    let set = out.get(e.ifname);
    if (set === undefined) out.set(e.ifname, (set = new Set()));
    set.add(e.mac);
  }
  return out;
}
