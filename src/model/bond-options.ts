/**
 * Bonding options the kernel knows, by sysfs name, with the modes each applies to and the
 * iproute2 keyword that sets it. Used to refuse a bad option before anything is touched (25),
 * and to render `ip link add ... type bond ...`.
 */

import { constTable, getKey } from './dict.js';
import { MAC_RE } from './mac.js';

export const BOND_MODES = [
  'balance-rr', 'active-backup', 'balance-xor', 'broadcast', '802.3ad', 'balance-tlb', 'balance-alb',
] as const;
export type BondMode = (typeof BOND_MODES)[number];

const ALL: readonly BondMode[] = BOND_MODES;
const AB_TLB_ALB: readonly BondMode[] = ['active-backup', 'balance-tlb', 'balance-alb'];
const NOT_ADAPTIVE: readonly BondMode[] = ['balance-rr', 'active-backup', 'balance-xor', 'broadcast'];

interface BondOptionSpec {
  modes: readonly BondMode[];
  /** iproute2 `type bond` keyword */
  ip: string;
  /** accepted value syntax */
  value: RegExp;
  /** what a fresh bond reports, as a number (miimon: see defaultBondValue) */
  kernelDefault: string;
  /** names the kernel prints for a numeric value, name → number */
  names?: Readonly<Record<string, string>>;
}

const NUM = /^\d+$/;
const BOOL01 = /^[01]$/;

/** An option whose values are names with numbers 0..n-1: either form is accepted. */
function named(...names: string[]): Pick<BondOptionSpec, 'value' | 'names'> {
  const alternatives = [...names.map((n) => n.replace(/[+.]/g, '\\$&')), `[0-${names.length - 1}]`];
  return { value: new RegExp(`^(${alternatives.join('|')})$`), names: constTable(Object.fromEntries(names.map((n, i) => [n, String(i)]))) };
}

/**
 * The one bond option table: syntax and modes for validation, the iproute2 keyword for the
 * batch, and the kernel's defaults and value names for capabilities and verification.
 * Defaults are the bonding driver's (Documentation/networking/bonding.rst, bond_options.c).
 */
export const BOND_OPTIONS: Readonly<Record<string, BondOptionSpec>> = constTable({
  miimon: { modes: ALL, ip: 'miimon', value: NUM, kernelDefault: '0' },
  updelay: { modes: ALL, ip: 'updelay', value: NUM, kernelDefault: '0' },
  downdelay: { modes: ALL, ip: 'downdelay', value: NUM, kernelDefault: '0' },
  peer_notif_delay: { modes: ALL, ip: 'peer_notify_delay', value: NUM, kernelDefault: '0' },
  use_carrier: { modes: ALL, ip: 'use_carrier', value: BOOL01, kernelDefault: '1' },
  arp_interval: { modes: NOT_ADAPTIVE, ip: 'arp_interval', value: NUM, kernelDefault: '0' },
  arp_ip_target: { modes: NOT_ADAPTIVE, ip: 'arp_ip_target', value: /^(\d{1,3}(\.\d{1,3}){3})(,\d{1,3}(\.\d{1,3}){3})*$/, kernelDefault: '' },
  arp_validate: { modes: NOT_ADAPTIVE, ip: 'arp_validate', ...named('none', 'active', 'backup', 'all', 'filter', 'filter_active', 'filter_backup'), kernelDefault: '0' },
  arp_all_targets: { modes: NOT_ADAPTIVE, ip: 'arp_all_targets', ...named('any', 'all'), kernelDefault: '0' },
  primary: { modes: AB_TLB_ALB, ip: 'primary', value: /^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,14}$/, kernelDefault: '' },
  primary_reselect: { modes: AB_TLB_ALB, ip: 'primary_reselect', ...named('always', 'better', 'failure'), kernelDefault: '0' },
  fail_over_mac: { modes: ['active-backup'], ip: 'fail_over_mac', ...named('none', 'active', 'follow'), kernelDefault: '0' },
  xmit_hash_policy: {
    modes: ['balance-xor', '802.3ad', 'balance-tlb'],
    ip: 'xmit_hash_policy',
    ...named('layer2', 'layer3+4', 'layer2+3', 'encap2+3', 'encap3+4', 'vlan+srcmac'),
    kernelDefault: '0',
  },
  resend_igmp: { modes: ALL, ip: 'resend_igmp', value: NUM, kernelDefault: '1' },
  num_grat_arp: { modes: ['active-backup'], ip: 'num_grat_arp', value: NUM, kernelDefault: '1' },
  num_unsol_na: { modes: ['active-backup'], ip: 'num_unsol_na', value: NUM, kernelDefault: '1' },
  all_slaves_active: { modes: ALL, ip: 'all_slaves_active', value: BOOL01, kernelDefault: '0' },
  min_links: { modes: ['802.3ad'], ip: 'min_links', value: NUM, kernelDefault: '0' },
  lp_interval: { modes: ['balance-tlb', 'balance-alb'], ip: 'lp_interval', value: NUM, kernelDefault: '1' },
  packets_per_slave: { modes: ['balance-rr'], ip: 'packets_per_slave', value: NUM, kernelDefault: '1' },
  tlb_dynamic_lb: { modes: ['balance-tlb'], ip: 'tlb_dynamic_lb', value: BOOL01, kernelDefault: '1' },
  lacp_rate: { modes: ['802.3ad'], ip: 'lacp_rate', ...named('slow', 'fast'), kernelDefault: '0' },
  ad_select: { modes: ['802.3ad'], ip: 'ad_select', ...named('stable', 'bandwidth', 'count'), kernelDefault: '0' },
  ad_actor_sys_prio: { modes: ['802.3ad'], ip: 'ad_actor_sys_prio', value: NUM, kernelDefault: '65535' },
  ad_user_port_key: { modes: ['802.3ad'], ip: 'ad_user_port_key', value: NUM, kernelDefault: '0' },
  ad_actor_system: { modes: ['802.3ad'], ip: 'ad_actor_system', value: MAC_RE, kernelDefault: '00:00:00:00:00:00' },
});

/** Options the kernel reports that hostnetd does not set (refused in requests): capabilities only. */
const REPORTED_ONLY: Readonly<Record<string, Pick<BondOptionSpec, 'kernelDefault' | 'names'>>> = constTable({
  ns_ip6_target: { kernelDefault: '' },
  arp_missed_max: { kernelDefault: '2' },
  lacp_active: { kernelDefault: '1', names: constTable({ off: '0', on: '1' }) },
});

const reported = (option: string) => getKey(BOND_OPTIONS, option) ?? getKey(REPORTED_ONLY, option);

/** Modes in which the kernel turns miimon on (100) when it is 0 (bond_option_mode_set). */
const MIIMON_ON_MODES: readonly BondMode[] = ['802.3ad', 'balance-tlb', 'balance-alb'];

/**
 * Combinations the kernel would accept but not keep as asked, so the result could never be
 * verified; refused up front instead (code 25). `opts` has a canonical mode and valid values.
 */
export function bondOptionsProblem(opts: Record<string, string>): string | null {
  const mode = opts.mode as BondMode;
  const miimon = Number(opts.miimon ?? (MIIMON_ON_MODES.includes(mode) ? 100 : 0));
  if (miimon > 0 && Number(opts.arp_interval ?? 0) > 0) {
    return 'miimon and arp_interval are exclusive (the kernel turns one off when the other is set)';
  }
  for (const delay of ['updelay', 'downdelay', 'peer_notif_delay']) {
    const value = Number(opts[delay] ?? 0);
    if (value === 0) continue;
    if (miimon === 0) return `${delay} needs miimon`;
    if (value % miimon !== 0) return `${delay} must be a multiple of miimon (${miimon})`;
  }
  if (opts.num_grat_arp !== undefined && opts.num_unsol_na !== undefined && opts.num_grat_arp !== opts.num_unsol_na) {
    return 'num_grat_arp and num_unsol_na are the same setting and differ';
  }
  if (opts.arp_ip_target !== undefined && opts.arp_ip_target.split(',').length > 16) return 'arp_ip_target takes at most 16 addresses';
  return null;
}

/** Mode given by name or number → its name, or null. */
export function bondModeName(v: string): BondMode | null {
  if (/^\d$/.test(v)) return BOND_MODES[Number(v)] ?? null;
  return (BOND_MODES as readonly string[]).includes(v) ? (v as BondMode) : null;
}

/** A mode's number as the kernel and VDSM's capabilities print it ('4'); anything else as given. */
export function bondModeNumber(mode: string): string {
  const n = (BOND_MODES as readonly string[]).indexOf(mode);
  return n < 0 ? mode : String(n);
}

/** An option's value with enum names as their numbers ('fast' → '1'). */
export const numericBondValue = (option: string, value: string): string => {
  const names = reported(option)?.names;
  return (names && getKey(names, value)) ?? value;
};

/** What a fresh bond of the mode (by number) reports for the option; undefined when the table does not know it. */
export function defaultBondValue(option: string, modeNumber: string): string | undefined {
  if (option === 'miimon') return MIIMON_ON_MODES.some((m) => bondModeNumber(m) === modeNumber) ? '100' : '0';
  return reported(option)?.kernelDefault;
}
