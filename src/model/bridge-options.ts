import { constTable } from './dict.js';

/**
 * Bridge options accepted in custom.bridge_opts, by sysfs name (what VDSM's engine sends and
 * what capabilities report), with the iproute2 `type bridge` keyword that sets each.
 * Values are the numbers sysfs prints (timers in centiseconds, as netlink takes them).
 */
export const BRIDGE_OPTIONS: Readonly<Record<string, string>> = constTable({
  forward_delay: 'forward_delay',
  hello_time: 'hello_time',
  max_age: 'max_age',
  ageing_time: 'ageing_time',
  priority: 'priority',
  group_fwd_mask: 'group_fwd_mask',
  vlan_filtering: 'vlan_filtering',
  default_pvid: 'vlan_default_pvid',
  vlan_stats_enabled: 'vlan_stats_enabled',
  multicast_snooping: 'mcast_snooping',
  multicast_router: 'mcast_router',
  multicast_query_use_ifaddr: 'mcast_query_use_ifaddr',
  multicast_querier: 'mcast_querier',
  hash_elasticity: 'mcast_hash_elasticity',
  hash_max: 'mcast_hash_max',
  multicast_last_member_count: 'mcast_last_member_count',
  multicast_startup_query_count: 'mcast_startup_query_count',
  multicast_last_member_interval: 'mcast_last_member_interval',
  multicast_membership_interval: 'mcast_membership_interval',
  multicast_querier_interval: 'mcast_querier_interval',
  multicast_query_interval: 'mcast_query_interval',
  multicast_query_response_interval: 'mcast_query_response_interval',
  multicast_startup_query_interval: 'mcast_startup_query_interval',
  multicast_stats_enabled: 'mcast_stats_enabled',
  multicast_igmp_version: 'mcast_igmp_version',
  multicast_mld_version: 'mcast_mld_version',
  nf_call_iptables: 'nf_call_iptables',
  nf_call_ip6tables: 'nf_call_ip6tables',
  nf_call_arptables: 'nf_call_arptables',
});
