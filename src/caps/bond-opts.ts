/**
 * Bond options as VDSM reports them in capabilities: the mode plus every option whose value
 * differs from what the kernel gives a fresh bond of that mode, each as its numeric string
 * ("mode": "4", "lacp_rate": "1"). Options the table below does not know are left out
 * rather than guessed.
 *
 * Defaults are the bonding driver's (Documentation/networking/bonding.rst, bond_options.c);
 * miimon depends on the mode: setting 802.3ad, balance-tlb or balance-alb on a bond with
 * miimon 0 sets it to 100 (bond_option_mode_set).
 */
import type { BondInfo } from '../kernel/types.js';

export const BOND_MODES: Record<string, string> = {
  'balance-rr': '0', 'active-backup': '1', 'balance-xor': '2', broadcast: '3',
  '802.3ad': '4', 'balance-tlb': '5', 'balance-alb': '6',
};

/** options whose kernel value is a name with a numeric equivalent */
const ENUMS: Record<string, Record<string, string>> = {
  arp_validate: { none: '0', active: '1', backup: '2', all: '3', filter: '4', filter_active: '5', filter_backup: '6' },
  arp_all_targets: { any: '0', all: '1' },
  primary_reselect: { always: '0', better: '1', failure: '2' },
  fail_over_mac: { none: '0', active: '1', follow: '2' },
  xmit_hash_policy: {
    layer2: '0', 'layer3+4': '1', 'layer2+3': '2', 'encap2+3': '3', 'encap3+4': '4', 'vlan+srcmac': '5',
  },
  lacp_rate: { slow: '0', fast: '1' },
  lacp_active: { off: '0', on: '1' },
  ad_select: { stable: '0', bandwidth: '1', count: '2' },
};

/** numeric defaults of a fresh bond, except miimon (mode-dependent) */
const DEFAULTS: Record<string, string> = {
  updelay: '0', downdelay: '0', peer_notif_delay: '0', use_carrier: '1', arp_interval: '0',
  arp_ip_target: '', ns_ip6_target: '', arp_validate: '0', arp_all_targets: '0', arp_missed_max: '2',
  primary: '', primary_reselect: '0', fail_over_mac: '0', xmit_hash_policy: '0', resend_igmp: '1',
  num_grat_arp: '1', num_unsol_na: '1', all_slaves_active: '0', min_links: '0', lp_interval: '1',
  packets_per_slave: '1', lacp_rate: '0', lacp_active: '1', ad_select: '0', ad_actor_sys_prio: '65535',
  ad_user_port_key: '0', ad_actor_system: '00:00:00:00:00:00', tlb_dynamic_lb: '1',
};

const MIIMON_100_MODES = new Set(['4', '5', '6']);

export function bondModeNumber(mode: string): string {
  // already numeric (or unknown): reported as the kernel gave it
  return BOND_MODES[mode] ?? mode;
}

export function numericBondValue(option: string, value: string): string {
  return ENUMS[option]?.[value] ?? value;
}

export function defaultBondValue(option: string, modeNumber: string): string | undefined {
  if (option === 'miimon') return MIIMON_100_MODES.has(modeNumber) ? '100' : '0';
  return DEFAULTS[option];
}

export function bondCapsOpts(bond: BondInfo): Record<string, string> {
  const mode = bondModeNumber(bond.mode);
  const out: Record<string, string> = { mode };
  for (const [name, raw] of Object.entries(bond.opts)) {
    if (name === 'mode') continue;
    const def = defaultBondValue(name, mode);
    if (def === undefined) continue;
    const value = numericBondValue(name, raw);
    if (value !== def) out[name] = value;
  }
  return out;
}
