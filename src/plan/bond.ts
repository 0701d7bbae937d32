/**
 * Editing an existing bond, as the bonding driver of Linux 6.1 allows it (checked in the VM
 * tier). Pure.
 *
 * VDSM's merge rule replaces a bond whole: an option left out of a request goes back to the
 * kernel's default. So the comparison covers every option hostnetd can set, not only the
 * requested ones, on values normalized the way capabilities print them ("lacp_rate": "1").
 *
 * What the kernel refuses, and how the plan gets around it:
 * - mode, fail_over_mac: not while the bond has slaves; mode, lacp_rate, ad_select,
 *   ad_user_port_key, tlb_dynamic_lb: not while it is up. The bond is *emptied and taken
 *   down* (slaves released, bond down, options set, slaves back, bond up) rather than
 *   re-created: its vlan devices, its bridge membership and the IPv4 addresses above it stay.
 *   An option the new mode does not know (lacp_rate after 802.3ad) is reset to its default
 *   while the old mode is still set: the kernel refuses it afterwards.
 * - primary cannot be cleared with iproute2 (it sends an ifindex; only an ifindex of 0 clears
 *   it): a bond whose primary must go away is re-created.
 * - updelay, downdelay and peer_notif_delay are kept in miimon units: they read 0 while miimon
 *   is 0 (and setting them then fails), and come back when miimon does. They are compared only
 *   when miimon is on, and set again whenever miimon changes.
 */
import type { BondInfo, KernelLink, KernelState } from '../model/kernel-state.js';
import { BOND_OPTIONS, bondModeNumber, defaultBondValue, numericBondValue, type BondMode } from '../model/bond-options.js';
import type { DesiredKernel } from '../model/op.js';
import { dict, getKey } from '../model/dict.js';

/** Options the kernel changes only on an empty bond that is down (bond_options.c flags). */
const NEEDS_EMPTY_DOWN = new Set(['lacp_rate', 'ad_select', 'ad_user_port_key', 'tlb_dynamic_lb', 'fail_over_mac']);
const DELAYS = new Set(['updelay', 'downdelay', 'peer_notif_delay']);
/** num_unsol_na is the same kernel value as num_grat_arp (sysfs has both names). */
const COMPARED = Object.keys(BOND_OPTIONS).filter((k) => k !== 'num_unsol_na');
/** Reported even when empty (absent in the dump means none). */
const ALWAYS_KNOWN = new Set(['primary', 'arp_ip_target']);

export interface BondEdit {
  /** set first, while the old mode is still in force: options the new mode does not know, back to their defaults */
  before: Record<string, string>;
  /** set next; `mode` is there when it changes */
  set: Record<string, string>;
  /** some change needs the bond without slaves and down */
  emptyDown: boolean;
  /** primary must be cleared: only a new bond has none */
  recreate: boolean;
}

/** The value as capabilities print it: enum names as numbers, MACs lower case. */
function norm(option: string, value: string): string {
  return option === 'ad_actor_system' ? value.toLowerCase() : numericBondValue(option, value);
}

/** What the kernel should report for each option once `want` (canonical, with mode) is applied. */
export function targetBondValue(want: Record<string, string>, option: string): string | undefined {
  const v = want[option] ?? (option === 'num_grat_arp' ? want.num_unsol_na : undefined);
  if (v !== undefined) return norm(option, v);
  return defaultBondValue(option, bondModeNumber(want.mode ?? 'balance-rr'));
}

function currentBondValue(cur: BondInfo, option: string): string | undefined {
  const v = cur.opts[option];
  if (v === undefined) return ALWAYS_KNOWN.has(option) ? '' : undefined;
  return norm(option, v);
}

/** null when the kernel already has what `want` asks for. */
export function bondEdit(want: Record<string, string>, cur: BondInfo): BondEdit | null {
  const mode = (want.mode ?? 'balance-rr') as BondMode;
  const modeChanges = cur.mode !== mode;
  const before: Record<string, string> = {};
  const set: Record<string, string> = {};
  if (modeChanges) set.mode = mode;
  let recreate = false;

  const miimon = targetBondValue(want, 'miimon');
  const miimonChanges = currentBondValue(cur, 'miimon') !== miimon;
  for (const option of COMPARED) {
    if (DELAYS.has(option) && miimon === '0') continue;
    const target = targetBondValue(want, option);
    const current = currentBondValue(cur, option);
    if (target === undefined || current === undefined) continue;
    const forced = DELAYS.has(option) && miimonChanges;
    if (target === current && !forced) continue;
    if (option === 'primary' && target === '') {
      recreate = true;
      continue;
    }
    if (BOND_OPTIONS[option]!.modes.includes(mode)) set[option] = target;
    else if (modeChanges && BOND_OPTIONS[option]!.modes.includes(cur.mode as BondMode) && target !== current) before[option] = target;
    // else: a value the kernel keeps from another mode and refuses to change in this one
  }
  // (delays are forced only when miimon changes, so `set` is never delays alone)
  if (!recreate && Object.keys(set).length === 0 && Object.keys(before).length === 0) return null;
  const emptyDown = modeChanges || [...Object.keys(set), ...Object.keys(before)].some((k) => NEEDS_EMPTY_DOWN.has(k));
  return { before, set, emptyDown, recreate };
}

export interface BondRebuild {
  /** the snapshot as it will be once the pre-ops ran: what the rest of the plan diffs against */
  state: KernelState;
  /** bonds to delete before everything else (re-created by the ordinary plan) */
  recreate: string[];
  /** bonds to empty and take down before their options are set: dev → its current slaves */
  emptyDown: Map<string, string[]>;
}

/**
 * Finds the bonds whose edit cannot be made in place and returns the state after the steps
 * that prepare them (delete, or release the slaves and go down), so that the ordinary diff
 * puts back what those steps undo: slaves, up, hwaddr, the bond's IPv6 addresses and routes.
 */
export function planBondRebuilds(want: DesiredKernel, state: KernelState): BondRebuild {
  const recreate: string[] = [];
  const emptyDown = new Map<string, string[]>();
  for (const link of Object.values(want.links)) {
    const cur = getKey(state.links, link.name);
    if (link.kind !== 'bond' || !link.bond || cur?.kind !== 'bond' || !cur.bond) continue;
    const edit = bondEdit(link.bond.options, cur.bond);
    if (edit?.recreate) recreate.push(link.name);
    else if (edit?.emptyDown) emptyDown.set(link.name, slavesOf(state, link.name));
  }
  if (recreate.length === 0 && emptyDown.size === 0) return { state, recreate, emptyDown };
  return { state: simulate(state, recreate, [...emptyDown.keys()], want), recreate, emptyDown };
}

function slavesOf(state: KernelState, bond: string): string[] {
  return Object.values(state.links).filter((l) => l.master === bond && l.slaveKind === 'bond').map((l) => l.name).sort();
}

function simulate(state: KernelState, recreate: string[], emptied: string[], want: DesiredKernel): KernelState {
  const gone = new Set(recreate);
  // a bond's vlan devices go with it
  for (const l of Object.values(state.links)) if (l.kind === 'vlan' && l.link !== undefined && gone.has(l.link)) gone.add(l.name);
  const downed = new Set(emptied);
  const released = new Set([...recreate, ...emptied]);
  const links = dict<KernelLink>();
  for (const [name, l] of Object.entries(state.links)) {
    if (gone.has(name)) continue;
    if (l.master !== undefined && released.has(l.master) && l.slaveKind === 'bond') {
      // a released slave is closed by the driver and gets its own MAC back
      const { master: _m, slaveKind: _k, bondSlave, ...rest } = l;
      links[name] = { ...rest, up: false, ...(bondSlave?.permHwaddr ? { address: bondSlave.permHwaddr } : {}) };
    } else if (downed.has(name)) {
      // an emptied bond takes a random MAC; a configured one is set again
      const { activeSlave: _a, adInfo: _i, ...bond } = l.bond!;
      links[name] = { ...l, up: false, bond, address: getKey(want.links, name)?.bond?.hwaddr ? '' : l.address };
    } else {
      links[name] = l;
    }
  }
  return {
    ...state,
    links,
    // a deleted device's addresses go with it; a device going down loses its IPv6 addresses
    addresses: state.addresses.filter((a) => !gone.has(a.ifname) && !(downed.has(a.ifname) && a.family === 'inet6')),
    // routes through a deleted or downed device are flushed by the kernel
    routes: state.routes.filter((r) => r.dev === undefined || (!gone.has(r.dev) && !downed.has(r.dev))),
  };
}

/**
 * A bond found in the kernel, as config options: its mode and every option hostnetd can set
 * whose value is not the default for that mode (what adopting it "as it is" keeps).
 */
export function kernelBondOptions(cur: BondInfo): Record<string, string> {
  const mode = cur.mode as BondMode;
  const out: Record<string, string> = { mode };
  const defaults = { mode };
  const miimonOff = currentBondValue(cur, 'miimon') === '0';
  for (const option of COMPARED) {
    if (!BOND_OPTIONS[option]!.modes.includes(mode) || (DELAYS.has(option) && miimonOff)) continue;
    const current = currentBondValue(cur, option);
    if (current === undefined || current === targetBondValue(defaults, option)) continue;
    out[option] = option === 'ad_actor_system' ? current : cur.opts[option]!;
  }
  return out;
}

/**
 * The options to create a bond with: the mode and what differs from that mode's defaults. A
 * default given explicitly can fail (updelay 0 while miimon is 0 is EPERM), and a rollback
 * target read from a snapshot carries every option the kernel reported.
 */
export function creationBondOptions(want: Record<string, string>): Record<string, string> {
  const mode = want.mode ?? 'balance-rr';
  const defaults = { mode };
  const out: Record<string, string> = { mode };
  for (const [option, value] of Object.entries(want)) {
    if (option === 'mode' || !(option in BOND_OPTIONS)) continue;
    const asDefault = option === 'num_unsol_na' ? targetBondValue(defaults, 'num_grat_arp') : targetBondValue(defaults, option);
    if (norm(option, value) !== asDefault) out[option] = value;
  }
  return out;
}
