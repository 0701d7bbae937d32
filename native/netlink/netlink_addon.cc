// hostnetd's rtnetlink reader: one NETLINK_ROUTE socket per Rtnl object, plain sockets (no
// library: a dump request, a receive loop and attribute walking are all we need).
//
// Shape (the reasons behind it):
// - The socket is non-blocking. read() returns every message queued right now, parsed, as the
//   JSON text of an array of plain objects (netlink.ts parses it: see "the JSON writer"), and
//   never waits; a libuv poll handle on the fd calls the JS `onReadable` callback
//   when something arrived, and JS calls read(). No thread per event, nothing blocks the JS thread.
//   A link notification superseded by a later one in the same read is left out (supersededLinks).
// - A whole dump can also run on a libuv pool thread (dump(), DumpWorker) on a socket nobody
//   subscribed: the kernel fills a dump inside the reader's recv, so several such sockets read
//   their dumps in parallel, and the text comes back in pieces JS parses while the next is read.
// - Requests (dumps, a barrier) go out on the same socket as the notifications, so their answers
//   are queued behind every notification the kernel queued before them: that is the view's barrier.
// - Parsing is done here, into the shapes of src/kernel/netlink.ts (LinkMsg &c.), but names of other links
//   (master, vlan base, bond primary) stay ifindexes: the JS view resolves them when it renders,
//   because those links can be renamed without the referring link being notified.
// - ENOBUFS (the kernel dropped notifications) is reported as a message {t:'overflow'}; the view
//   re-enumerates.
// The same addon carries file_writer.cc: the IPv6 sysctl files a change writes, on pool threads.

#include <napi.h>
#include <uv.h>

#include <arpa/inet.h>
#include <errno.h>
#include <endian.h>
#include <fcntl.h>
#include <linux/fib_rules.h>
#include <linux/if_addr.h>
#include <linux/if_arp.h>
#include <linux/if_bridge.h>
#include <linux/if_link.h>
#include <linux/ipv6.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <sched.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace {

// Attributes indexed by type, on the stack: a link is parsed through four or five such tables,
// and a heap vector each was a good part of the parsing time at 3000 links.
struct Attrs {
  static constexpr int CAP = 128;  // above every *_MAX this file parses with (checked at compile time below)
  const struct rtattr* a[CAP];
  const struct rtattr* operator[](int type) const { return a[type]; }
};
static_assert(IFLA_MAX < Attrs::CAP && RTA_MAX < Attrs::CAP && FRA_MAX < Attrs::CAP && IFLA_BR_MAX < Attrs::CAP
              && IFLA_BRPORT_MAX < Attrs::CAP && IFLA_BOND_MAX < Attrs::CAP && IFA_MAX < Attrs::CAP && NDA_MAX < Attrs::CAP
              && TCA_MAX < Attrs::CAP, "an attribute table is too small");

// index attributes by type up to `max` (never above the table); later duplicates win (the kernel sends none we read)
Attrs parseAttrs(const struct rtattr* rta, int len, int max) {
  Attrs tb;
  if (max >= Attrs::CAP) max = Attrs::CAP - 1;
  memset(tb.a, 0, sizeof(tb.a[0]) * (max + 1));
  for (; RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
    unsigned short type = rta->rta_type & ~NLA_F_NESTED;
    if (type <= max) tb.a[type] = rta;
  }
  return tb;
}

Attrs nested(const struct rtattr* rta, int max) {
  return parseAttrs(static_cast<const struct rtattr*>(RTA_DATA(rta)), RTA_PAYLOAD(rta), max);
}

template <typename T>
T get(const struct rtattr* rta) {
  T v{};
  if (RTA_PAYLOAD(rta) >= sizeof(T)) memcpy(&v, RTA_DATA(rta), sizeof(T));
  return v;
}

std::string str(const struct rtattr* rta) {
  const char* p = static_cast<const char*>(RTA_DATA(rta));
  size_t n = RTA_PAYLOAD(rta);
  return std::string(p, strnlen(p, n));
}

void appendHex(std::string& out, const unsigned char* p, size_t n, bool colons) {
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    if (colons && i) out += ':';
    out += digits[p[i] >> 4];
    out += digits[p[i] & 15];
  }
}

std::string ipText(int family, const struct rtattr* rta) {
  char buf[INET6_ADDRSTRLEN] = "";
  size_t need = family == AF_INET ? 4 : 16;
  if (RTA_PAYLOAD(rta) < need) return "";
  inet_ntop(family, RTA_DATA(rta), buf, sizeof buf);
  return buf;
}

const char* pick(const char* const* names, size_t n, unsigned v) { return v < n ? names[v] : nullptr; }
#define PICK(arr, v) pick(arr, sizeof(arr) / sizeof(arr[0]), v)

std::string numName(const char* name, unsigned v) { return name ? std::string(name) : std::to_string(v); }

const char* const OPERSTATES[] = {"UNKNOWN", "NOTPRESENT", "DOWN", "LOWERLAYERDOWN", "TESTING", "DORMANT", "UP"};
const char* const PORT_STATES[] = {"disabled", "listening", "learning", "forwarding", "blocking"};
const char* const BOND_MODES[] = {"balance-rr", "active-backup", "balance-xor", "broadcast", "802.3ad", "balance-tlb", "balance-alb"};
const char* const ARP_VALIDATE[] = {"none", "active", "backup", "all", "filter", "filter_active", "filter_backup"};
const char* const ARP_ALL_TARGETS[] = {"any", "all"};
const char* const PRIMARY_RESELECT[] = {"always", "better", "failure"};
const char* const FAIL_OVER_MAC[] = {"none", "active", "follow"};
const char* const XMIT_HASH[] = {"layer2", "layer3+4", "layer2+3", "encap2+3", "encap3+4", "vlan+srcmac"};
const char* const LACP_ACTIVE[] = {"off", "on"};
const char* const LACP_RATE[] = {"slow", "fast"};
const char* const AD_SELECT[] = {"stable", "bandwidth", "count"};
const char* const BOND_SLAVE_STATES[] = {"ACTIVE", "BACKUP"};

std::string scopeName(unsigned s) {
  switch (s) {
    case RT_SCOPE_UNIVERSE: return "global";
    case RT_SCOPE_SITE: return "site";
    case RT_SCOPE_LINK: return "link";
    case RT_SCOPE_HOST: return "host";
    case RT_SCOPE_NOWHERE: return "nowhere";
    default: return std::to_string(s);
  }
}

std::string tableName(unsigned t) {
  switch (t) {
    case RT_TABLE_MAIN: return "main";
    case RT_TABLE_LOCAL: return "local";
    case RT_TABLE_DEFAULT: return "default";
    case RT_TABLE_UNSPEC: return "unspec";
    default: return std::to_string(t);
  }
}

std::string protoName(unsigned p) {
  switch (p) {
    case RTPROT_UNSPEC: return "unspec";
    case RTPROT_REDIRECT: return "redirect";
    case RTPROT_KERNEL: return "kernel";
    case RTPROT_BOOT: return "boot";
    case RTPROT_STATIC: return "static";
    case RTPROT_RA: return "ra";
    case RTPROT_DHCP: return "dhcp";
    case 11: return "zebra";
    case 12: return "bird";
    case 18: return "keepalived";
    case 42: return "babel";
    case 186: return "bgp";
    case 187: return "isis";
    case 188: return "ospf";
    case 189: return "rip";
    default: return std::to_string(p);
  }
}

const char* const ROUTE_TYPES[] = {"unspec", "unicast", "local", "broadcast", "anycast", "multicast",
                                   "blackhole", "unreachable", "prohibit", "throw", "nat", "xresolve"};

// ---------- links

// Each message is written here as JSON text, and one JSON.parse in netlink.ts makes the plain
// objects. Setting each property through N-API instead cost ~0.5 µs (every call sets up a
// TryCatch and does a generic store): at 3000 links most of a dump's time went there, while V8's
// JSON parser builds the same objects several times faster. Keys are this file's literals.
void jsonString(std::string& out, const char* p, size_t n) {
  out += '"';
  for (size_t i = 0; i < n; i++) {
    unsigned char c = static_cast<unsigned char>(p[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char b[8];
      snprintf(b, sizeof b, "\\u%04x", c);
      out += b;
    } else {
      // bytes >= 0x80 stay: the text becomes a JS string as UTF-8, so a name the kernel holds
      // in bytes that are not UTF-8 reads as U+FFFD, as it did when each string was made alone
      out += static_cast<char>(c);
    }
  }
  out += '"';
}

// A JSON object written straight into the text being built: "{" when made, "}" by close(). A
// member object is made by child() and closed before its parent writes again. (Each object had
// been a string of its own, copied into its parent: allocations and copies per link.)
struct Obj {
  std::string& s;
  bool empty = true;
  explicit Obj(std::string& out) : s(out) { s += '{'; }
  void key(const char* k) {
    if (!empty) s += ',';
    empty = false;
    s += '"';
    s += k;
    s += "\":";
  }
  Obj child(const char* k) {
    key(k);
    return Obj(s);
  }
  void close() { s += '}'; }
};

template <typename Int>
void appendInt(std::string& s, Int i) {
  char b[24];
  auto r = std::to_chars(b, b + sizeof b, i);
  s.append(b, r.ptr);
}

void setNum(Obj& o, const char* k, double v) {
  o.key(k);
  // every number here is an integer of at most 64 bits; doubles as JS would print them otherwise
  auto i = static_cast<int64_t>(v);
  if (static_cast<double>(i) == v) {
    appendInt<int64_t>(o.s, i);
  } else {
    char b[32];
    snprintf(b, sizeof b, "%.17g", v);
    o.s += b;
  }
}
void setStr(Obj& o, const char* k, const char* v, size_t n) { o.key(k); jsonString(o.s, v, n); }
void setStr(Obj& o, const char* k, const std::string& v) { setStr(o, k, v.data(), v.size()); }
void setStr(Obj& o, const char* k, const char* v) { setStr(o, k, v, strlen(v)); }
// an unsigned number as a string, as sysfs prints it
void setUintStr(Obj& o, const char* k, uint64_t v) {
  o.key(k);
  o.s += '"';
  appendInt(o.s, v);
  o.s += '"';
}
// a MAC (or any hardware address), quoted: hex digits need no escaping
void setMac(Obj& o, const char* k, const struct rtattr* rta) {
  o.key(k);
  o.s += '"';
  appendHex(o.s, static_cast<const unsigned char*>(RTA_DATA(rta)), RTA_PAYLOAD(rta), true);
  o.s += '"';
}
// a string attribute (a name), up to its NUL
void setAttrStr(Obj& o, const char* k, const struct rtattr* rta) {
  const char* p = static_cast<const char*>(RTA_DATA(rta));
  setStr(o, k, p, strnlen(p, RTA_PAYLOAD(rta)));
}
void setBool(Obj& o, const char* k, bool v) { o.key(k); o.s += v ? "true" : "false"; }

// Bridge options by their sysfs names, valued as sysfs prints them (see src/kernel/parse.ts).
enum Fmt { U8, U16, U32, U64, BRID, HEXMASK, VLANPROTO, MACADDR };
struct BrOpt { int attr; const char* name; Fmt fmt; };
const BrOpt BRIDGE_OPTS[] = {
  {IFLA_BR_FORWARD_DELAY, "forward_delay", U32}, {IFLA_BR_HELLO_TIME, "hello_time", U32},
  {IFLA_BR_MAX_AGE, "max_age", U32}, {IFLA_BR_AGEING_TIME, "ageing_time", U32},
  {IFLA_BR_STP_STATE, "stp_state", U32}, {IFLA_BR_PRIORITY, "priority", U16},
  {IFLA_BR_VLAN_FILTERING, "vlan_filtering", U8}, {IFLA_BR_VLAN_PROTOCOL, "vlan_protocol", VLANPROTO},
  {IFLA_BR_VLAN_DEFAULT_PVID, "default_pvid", U16}, {IFLA_BR_VLAN_STATS_ENABLED, "vlan_stats_enabled", U8},
  {IFLA_BR_VLAN_STATS_PER_PORT, "vlan_stats_per_port", U8},
  {IFLA_BR_BRIDGE_ID, "bridge_id", BRID}, {IFLA_BR_ROOT_ID, "root_id", BRID},
  {IFLA_BR_ROOT_PORT, "root_port", U16}, {IFLA_BR_ROOT_PATH_COST, "root_path_cost", U32},
  {IFLA_BR_TOPOLOGY_CHANGE, "topology_change", U8}, {IFLA_BR_TOPOLOGY_CHANGE_DETECTED, "topology_change_detected", U8},
  {IFLA_BR_HELLO_TIMER, "hello_timer", U64}, {IFLA_BR_TCN_TIMER, "tcn_timer", U64},
  {IFLA_BR_TOPOLOGY_CHANGE_TIMER, "topology_change_timer", U64}, {IFLA_BR_GC_TIMER, "gc_timer", U64},
  {IFLA_BR_GROUP_FWD_MASK, "group_fwd_mask", HEXMASK}, {IFLA_BR_GROUP_ADDR, "group_addr", MACADDR},
  {IFLA_BR_MCAST_SNOOPING, "multicast_snooping", U8}, {IFLA_BR_MCAST_ROUTER, "multicast_router", U8},
  {IFLA_BR_MCAST_QUERY_USE_IFADDR, "multicast_query_use_ifaddr", U8}, {IFLA_BR_MCAST_QUERIER, "multicast_querier", U8},
  {IFLA_BR_MCAST_HASH_ELASTICITY, "hash_elasticity", U32}, {IFLA_BR_MCAST_HASH_MAX, "hash_max", U32},
  {IFLA_BR_MCAST_LAST_MEMBER_CNT, "multicast_last_member_count", U32},
  {IFLA_BR_MCAST_STARTUP_QUERY_CNT, "multicast_startup_query_count", U32},
  {IFLA_BR_MCAST_LAST_MEMBER_INTVL, "multicast_last_member_interval", U64},
  {IFLA_BR_MCAST_MEMBERSHIP_INTVL, "multicast_membership_interval", U64},
  {IFLA_BR_MCAST_QUERIER_INTVL, "multicast_querier_interval", U64},
  {IFLA_BR_MCAST_QUERY_INTVL, "multicast_query_interval", U64},
  {IFLA_BR_MCAST_QUERY_RESPONSE_INTVL, "multicast_query_response_interval", U64},
  {IFLA_BR_MCAST_STARTUP_QUERY_INTVL, "multicast_startup_query_interval", U64},
  {IFLA_BR_MCAST_STATS_ENABLED, "multicast_stats_enabled", U8},
  {IFLA_BR_MCAST_IGMP_VERSION, "multicast_igmp_version", U8}, {IFLA_BR_MCAST_MLD_VERSION, "multicast_mld_version", U8},
  {IFLA_BR_NF_CALL_IPTABLES, "nf_call_iptables", U8}, {IFLA_BR_NF_CALL_IP6TABLES, "nf_call_ip6tables", U8},
  {IFLA_BR_NF_CALL_ARPTABLES, "nf_call_arptables", U8},
};

// One option's value into the options text, as sysfs prints it
void appendBrOpt(std::string& s, const struct rtattr* a, Fmt fmt) {
  char b[16];
  switch (fmt) {
    case U8: appendInt<unsigned>(s, get<uint8_t>(a)); return;
    case U16: appendInt<unsigned>(s, get<uint16_t>(a)); return;
    case U32: appendInt(s, get<uint32_t>(a)); return;
    case U64: appendInt(s, get<uint64_t>(a)); return;
    case HEXMASK: snprintf(b, sizeof b, "0x%x", get<uint16_t>(a)); s += b; return;
    case VLANPROTO: snprintf(b, sizeof b, "0x%04x", ntohs(get<uint16_t>(a))); s += b; return;
    case MACADDR: appendHex(s, static_cast<const unsigned char*>(RTA_DATA(a)), RTA_PAYLOAD(a), true); return;
    case BRID: {
      auto id = get<struct ifla_bridge_id>(a);
      appendHex(s, id.prio, 2, false);
      s += '.';
      appendHex(s, id.addr, 6, false);
      return;
    }
  }
}

// A bridge's options go out as one string of values, "1500,200,...", in the order of
// BRIDGE_OPTS and then no_linklocal_learn (bridgeOptionNames() gives JS those names once), empty
// where the kernel sent no such attribute (no value holds ','). The view expands them when
// somebody reads them (tables.ts, bridgeInfo): a bridge is notified five times or so as a change
// builds it, and the options were most of the text JS parsed for it: as JSON members, and then
// still ~1.2 KiB a bridge as "name=value" pairs, against ~0.3 KiB of values alone.
void bridgeInfo(Obj&& br, const struct rtattr* data) {
  Attrs tb = nested(data, IFLA_BR_MAX);
  setBool(br, "stp", tb[IFLA_BR_STP_STATE] && get<uint32_t>(tb[IFLA_BR_STP_STATE]) != 0);
  setBool(br, "vlanFiltering", tb[IFLA_BR_VLAN_FILTERING] && get<uint8_t>(tb[IFLA_BR_VLAN_FILTERING]) != 0);
  br.key("optValues");
  std::string& s = br.s;
  s += '"';
  for (const auto& o : BRIDGE_OPTS) {
    if (tb[o.attr]) appendBrOpt(s, tb[o.attr], o.fmt);
    s += ',';
  }
  if (tb[IFLA_BR_MULTI_BOOLOPT]) {
    auto bm = get<struct br_boolopt_multi>(tb[IFLA_BR_MULTI_BOOLOPT]);
    appendInt(s, (bm.optval >> BR_BOOLOPT_NO_LL_LEARN) & 1u);
  }
  s += '"';
  br.close();
}

// The names of the values bridgeInfo writes, in their order
Napi::Value BridgeOptionNames(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array names = Napi::Array::New(env);
  uint32_t i = 0;
  for (const auto& o : BRIDGE_OPTS) names.Set(i++, Napi::String::New(env, o.name));
  names.Set(i, Napi::String::New(env, "no_linklocal_learn"));
  return names;
}

// IFLA_INFO_SLAVE_DATA of a bridge port, or IFLA_PROTINFO of an AF_BRIDGE message: same attributes
void bridgePort(Obj&& p, const struct rtattr* data) {
  Attrs tb = nested(data, IFLA_BRPORT_MAX);
  // absent flags: the kernel cannot set them (isolated < 4.18), so they have their default
  setBool(p, "isolated", tb[IFLA_BRPORT_ISOLATED] && get<uint8_t>(tb[IFLA_BRPORT_ISOLATED]) != 0);
  setBool(p, "learning", !tb[IFLA_BRPORT_LEARNING] || get<uint8_t>(tb[IFLA_BRPORT_LEARNING]) != 0);
  setBool(p, "flood", !tb[IFLA_BRPORT_UNICAST_FLOOD] || get<uint8_t>(tb[IFLA_BRPORT_UNICAST_FLOOD]) != 0);
  setBool(p, "mcastFlood", !tb[IFLA_BRPORT_MCAST_FLOOD] || get<uint8_t>(tb[IFLA_BRPORT_MCAST_FLOOD]) != 0);
  const char* st = tb[IFLA_BRPORT_STATE] ? PICK(PORT_STATES, get<uint8_t>(tb[IFLA_BRPORT_STATE])) : "";
  setStr(p, "state", st ? st : "");
  p.close();
}

void bondInfo(Obj&& bond, const struct rtattr* data) {
  Attrs tb = nested(data, IFLA_BOND_MAX);
  std::string mode = "balance-rr";
  if (tb[IFLA_BOND_MODE]) mode = numName(PICK(BOND_MODES, get<uint8_t>(tb[IFLA_BOND_MODE])), get<uint8_t>(tb[IFLA_BOND_MODE]));
  setStr(bond, "mode", mode);
  Obj opts = bond.child("opts");
  auto u8 = [&](int a, const char* k) { if (tb[a]) setUintStr(opts, k, get<uint8_t>(tb[a])); };
  auto u16 = [&](int a, const char* k) { if (tb[a]) setUintStr(opts, k, get<uint16_t>(tb[a])); };
  auto u32 = [&](int a, const char* k) { if (tb[a]) setUintStr(opts, k, get<uint32_t>(tb[a])); };
  auto named8 = [&](int a, const char* k, const char* const* names, size_t n) {
    if (tb[a]) setStr(opts, k, numName(pick(names, n, get<uint8_t>(tb[a])), get<uint8_t>(tb[a])));
  };
  auto named32 = [&](int a, const char* k, const char* const* names, size_t n) {
    if (tb[a]) setStr(opts, k, numName(pick(names, n, get<uint32_t>(tb[a])), get<uint32_t>(tb[a])));
  };
#define N(arr) arr, sizeof(arr) / sizeof(arr[0])
  setStr(opts, "mode", mode);
  u32(IFLA_BOND_MIIMON, "miimon");
  u32(IFLA_BOND_UPDELAY, "updelay");
  u32(IFLA_BOND_DOWNDELAY, "downdelay");
  u32(IFLA_BOND_PEER_NOTIF_DELAY, "peer_notif_delay");
  u8(IFLA_BOND_USE_CARRIER, "use_carrier");
  u32(IFLA_BOND_ARP_INTERVAL, "arp_interval");
  u8(IFLA_BOND_MISSED_MAX, "arp_missed_max");
  for (int a : {IFLA_BOND_ARP_IP_TARGET, IFLA_BOND_NS_IP6_TARGET}) {
    if (!tb[a]) continue;
    int family = a == IFLA_BOND_ARP_IP_TARGET ? AF_INET : AF_INET6;
    std::string list;
    const struct rtattr* t = static_cast<const struct rtattr*>(RTA_DATA(tb[a]));
    int len = RTA_PAYLOAD(tb[a]);
    for (; RTA_OK(t, len); t = RTA_NEXT(t, len)) list += (list.empty() ? "" : ",") + ipText(family, t);
    if (!list.empty()) setStr(opts, a == IFLA_BOND_ARP_IP_TARGET ? "arp_ip_target" : "ns_ip6_target", list);
  }
  named32(IFLA_BOND_ARP_VALIDATE, "arp_validate", N(ARP_VALIDATE));
  named32(IFLA_BOND_ARP_ALL_TARGETS, "arp_all_targets", N(ARP_ALL_TARGETS));
  named8(IFLA_BOND_PRIMARY_RESELECT, "primary_reselect", N(PRIMARY_RESELECT));
  named8(IFLA_BOND_FAIL_OVER_MAC, "fail_over_mac", N(FAIL_OVER_MAC));
  named8(IFLA_BOND_XMIT_HASH_POLICY, "xmit_hash_policy", N(XMIT_HASH));
  u32(IFLA_BOND_RESEND_IGMP, "resend_igmp");
  if (tb[IFLA_BOND_NUM_PEER_NOTIF]) {
    // sysfs has both names for the one kernel value
    setUintStr(opts, "num_grat_arp", get<uint8_t>(tb[IFLA_BOND_NUM_PEER_NOTIF]));
    setUintStr(opts, "num_unsol_na", get<uint8_t>(tb[IFLA_BOND_NUM_PEER_NOTIF]));
  }
  u8(IFLA_BOND_ALL_SLAVES_ACTIVE, "all_slaves_active");
  u32(IFLA_BOND_MIN_LINKS, "min_links");
  u32(IFLA_BOND_LP_INTERVAL, "lp_interval");
  u32(IFLA_BOND_PACKETS_PER_SLAVE, "packets_per_slave");
  named8(IFLA_BOND_AD_LACP_ACTIVE, "lacp_active", N(LACP_ACTIVE));
  named8(IFLA_BOND_AD_LACP_RATE, "lacp_rate", N(LACP_RATE));
  named8(IFLA_BOND_AD_SELECT, "ad_select", N(AD_SELECT));
  u16(IFLA_BOND_AD_ACTOR_SYS_PRIO, "ad_actor_sys_prio");
  u16(IFLA_BOND_AD_USER_PORT_KEY, "ad_user_port_key");
  if (tb[IFLA_BOND_AD_ACTOR_SYSTEM]) setMac(opts, "ad_actor_system", tb[IFLA_BOND_AD_ACTOR_SYSTEM]);
  u8(IFLA_BOND_TLB_DYNAMIC_LB, "tlb_dynamic_lb");
#undef N
  opts.close();
  // names resolved by the view (see the file comment)
  if (tb[IFLA_BOND_ACTIVE_SLAVE]) setNum(bond, "activeSlaveIndex", get<uint32_t>(tb[IFLA_BOND_ACTIVE_SLAVE]));
  if (tb[IFLA_BOND_PRIMARY]) setNum(bond, "primaryIndex", get<uint32_t>(tb[IFLA_BOND_PRIMARY]));
  if (tb[IFLA_BOND_AD_INFO]) {
    Attrs ad = nested(tb[IFLA_BOND_AD_INFO], IFLA_BOND_AD_INFO_MAX);
    Obj a = bond.child("adInfo");
    if (ad[IFLA_BOND_AD_INFO_AGGREGATOR]) setNum(a, "aggregatorId", get<uint16_t>(ad[IFLA_BOND_AD_INFO_AGGREGATOR]));
    if (ad[IFLA_BOND_AD_INFO_PARTNER_MAC]) setMac(a, "partnerMac", ad[IFLA_BOND_AD_INFO_PARTNER_MAC]);
    a.close();
  }
  bond.close();
}

void bondSlave(Obj&& s, const struct rtattr* data) {
  Attrs tb = nested(data, IFLA_BOND_SLAVE_MAX);
  unsigned st = tb[IFLA_BOND_SLAVE_STATE] ? get<uint8_t>(tb[IFLA_BOND_SLAVE_STATE]) : 0;
  setStr(s, "state", tb[IFLA_BOND_SLAVE_STATE] ? numName(PICK(BOND_SLAVE_STATES, st), st) : "");
  if (tb[IFLA_BOND_SLAVE_PERM_HWADDR]) setMac(s, "permHwaddr", tb[IFLA_BOND_SLAVE_PERM_HWADDR]);
  if (tb[IFLA_BOND_SLAVE_AD_AGGREGATOR_ID]) setNum(s, "adAggregatorId", get<uint16_t>(tb[IFLA_BOND_SLAVE_AD_AGGREGATOR_ID]));
  s.close();
}

void linkStats(Obj&& o, const struct rtattr* a) {
  auto s = get<struct rtnl_link_stats64>(a);
  setNum(o, "rxBytes", s.rx_bytes); setNum(o, "txBytes", s.tx_bytes);
  setNum(o, "rxPackets", s.rx_packets); setNum(o, "txPackets", s.tx_packets);
  setNum(o, "rxErrors", s.rx_errors); setNum(o, "txErrors", s.tx_errors);
  setNum(o, "rxDropped", s.rx_dropped); setNum(o, "txDropped", s.tx_dropped);
  o.close();
}

// The IPv6 sysctls a change reads and restores (autoconf, accept_ra), as /proc/sys prints them;
// absent on a device without IPv6. Their writes raise no event: only a fresh dump is current.
void putIpv6Conf(Obj& o, const struct rtattr* afSpec) {
  const struct rtattr* af = static_cast<const struct rtattr*>(RTA_DATA(afSpec));
  int len = RTA_PAYLOAD(afSpec);
  for (; RTA_OK(af, len); af = RTA_NEXT(af, len)) {
    if ((af->rta_type & ~NLA_F_NESTED) != AF_INET6) continue;
    Attrs v6 = nested(af, IFLA_INET6_MAX);
    const struct rtattr* conf = v6[IFLA_INET6_CONF];
    if (!conf || RTA_PAYLOAD(conf) < (DEVCONF_AUTOCONF + 1) * sizeof(int32_t)) continue;
    const int32_t* c = static_cast<const int32_t*>(RTA_DATA(conf));
    Obj i6 = o.child("ipv6Conf");
    setStr(i6, "autoconf", std::to_string(c[DEVCONF_AUTOCONF]));
    setStr(i6, "acceptRa", std::to_string(c[DEVCONF_ACCEPT_RA]));
    i6.close();
    return;  // one AF_INET6 part per link
  }
}

// ipv6ConfOnly: the name and the IPv6 sysctls alone (t 'ipv6conf'): a change reads them for a
// thousand devices, and the rest of a link (a bridge's options most) costs twice the dump itself.
void parseLink(Obj& o, const struct nlmsghdr* h, bool wantStats, bool ipv6ConfOnly) {
  auto* ifi = static_cast<const struct ifinfomsg*>(NLMSG_DATA(h));
  Attrs tb = parseAttrs(IFLA_RTA(ifi), IFLA_PAYLOAD(h), IFLA_MAX);
  setNum(o, "ifindex", ifi->ifi_index);
  if (tb[IFLA_IFNAME]) setAttrStr(o, "name", tb[IFLA_IFNAME]);
  if (ipv6ConfOnly && ifi->ifi_family != AF_BRIDGE) {
    setStr(o, "t", "ipv6conf");
    if (tb[IFLA_AF_SPEC]) putIpv6Conf(o, tb[IFLA_AF_SPEC]);
    return;
  }
  if (tb[IFLA_MASTER]) setNum(o, "masterIndex", get<uint32_t>(tb[IFLA_MASTER]));
  if (ifi->ifi_family == AF_BRIDGE) {
    // a bridge port's own notification (flags, STP state): only its port attributes are news
    setStr(o, "t", "brlink");
    if (tb[IFLA_PROTINFO] && (tb[IFLA_PROTINFO]->rta_type & NLA_F_NESTED)) bridgePort(o.child("bridgePort"), tb[IFLA_PROTINFO]);
    return;
  }
  setStr(o, "t", "link");
  std::string kind = ifi->ifi_type == ARPHRD_LOOPBACK ? "loopback" : "device";
  if (tb[IFLA_LINKINFO]) {
    Attrs li = nested(tb[IFLA_LINKINFO], IFLA_INFO_MAX);
    if (li[IFLA_INFO_KIND]) kind = str(li[IFLA_INFO_KIND]);
    std::string slaveKind = li[IFLA_INFO_SLAVE_KIND] ? str(li[IFLA_INFO_SLAVE_KIND]) : "";
    if (!slaveKind.empty()) setStr(o, "slaveKind", slaveKind);
    if (li[IFLA_INFO_DATA]) {
      if (kind == "bridge") bridgeInfo(o.child("bridge"), li[IFLA_INFO_DATA]);
      if (kind == "bond") bondInfo(o.child("bond"), li[IFLA_INFO_DATA]);
      if (kind == "vlan") {
        Attrs v = nested(li[IFLA_INFO_DATA], IFLA_VLAN_MAX);
        Obj vo = o.child("vlan");
        setNum(vo, "id", v[IFLA_VLAN_ID] ? get<uint16_t>(v[IFLA_VLAN_ID]) : 0);
        unsigned proto = v[IFLA_VLAN_PROTOCOL] ? ntohs(get<uint16_t>(v[IFLA_VLAN_PROTOCOL])) : ETH_P_8021Q;
        setStr(vo, "protocol", proto == ETH_P_8021AD ? "802.1ad" : proto == ETH_P_8021Q ? "802.1Q" : std::to_string(proto));
        vo.close();
      }
    }
    if (li[IFLA_INFO_SLAVE_DATA]) {
      if (slaveKind == "bridge") bridgePort(o.child("bridgePort"), li[IFLA_INFO_SLAVE_DATA]);
      if (slaveKind == "bond") bondSlave(o.child("bondSlave"), li[IFLA_INFO_SLAVE_DATA]);
    }
  }
  setStr(o, "kind", kind);
  setNum(o, "mtu", tb[IFLA_MTU] ? get<uint32_t>(tb[IFLA_MTU]) : 0);
  if (tb[IFLA_ADDRESS]) setMac(o, "address", tb[IFLA_ADDRESS]);
  else setStr(o, "address", "");
  setBool(o, "up", (ifi->ifi_flags & IFF_UP) != 0);
  unsigned op = tb[IFLA_OPERSTATE] ? get<uint8_t>(tb[IFLA_OPERSTATE]) : 0;
  setStr(o, "operstate", numName(PICK(OPERSTATES, op), op));
  setNum(o, "promiscuity", tb[IFLA_PROMISCUITY] ? get<uint32_t>(tb[IFLA_PROMISCUITY]) : 0);
  // the vlan's base device or a veth peer; a peer in another namespace is not named here
  if (tb[IFLA_LINK] && !tb[IFLA_LINK_NETNSID]) setNum(o, "linkIndex", get<uint32_t>(tb[IFLA_LINK]));
  if (tb[IFLA_PARENT_DEV_BUS_NAME]) setAttrStr(o, "parentBus", tb[IFLA_PARENT_DEV_BUS_NAME]);
  if (wantStats && tb[IFLA_STATS64]) linkStats(o.child("stats"), tb[IFLA_STATS64]);
}

// ---------- addresses, routes, FDB

void parseAddr(Obj& o, const struct nlmsghdr* h) {
  auto* ifa = static_cast<const struct ifaddrmsg*>(NLMSG_DATA(h));
  Attrs tb = parseAttrs(IFA_RTA(ifa), IFA_PAYLOAD(h), IFA_MAX);
  setStr(o, "t", "addr");
  setNum(o, "ifindex", ifa->ifa_index);
  setStr(o, "family", ifa->ifa_family == AF_INET ? "inet" : ifa->ifa_family == AF_INET6 ? "inet6" : std::to_string(ifa->ifa_family));
  const struct rtattr* local = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
  if (local && (ifa->ifa_family == AF_INET || ifa->ifa_family == AF_INET6)) setStr(o, "local", ipText(ifa->ifa_family, local));
  setNum(o, "prefixlen", ifa->ifa_prefixlen);
  setStr(o, "scope", scopeName(ifa->ifa_scope));
  uint32_t flags = tb[IFA_FLAGS] ? get<uint32_t>(tb[IFA_FLAGS]) : ifa->ifa_flags;
  setBool(o, "dynamic", !(flags & IFA_F_PERMANENT));
  setBool(o, "tentative", (flags & IFA_F_TENTATIVE) != 0);
}

void parseRoute(Obj& o, const struct nlmsghdr* h) {
  auto* r = static_cast<const struct rtmsg*>(NLMSG_DATA(h));
  Attrs tb = parseAttrs(RTM_RTA(r), RTM_PAYLOAD(h), RTA_MAX);
  setStr(o, "t", "route");
  int fam = r->rtm_family;
  setStr(o, "family", fam == AF_INET ? "inet" : fam == AF_INET6 ? "inet6" : std::to_string(fam));
  unsigned table = tb[RTA_TABLE] ? get<uint32_t>(tb[RTA_TABLE]) : r->rtm_table;
  setStr(o, "table", tableName(table));
  unsigned maxLen = fam == AF_INET ? 32 : 128;
  std::string dst = "default";
  if (tb[RTA_DST]) {
    dst = ipText(fam, tb[RTA_DST]);
    // as iproute2 prints it: a host route without its /32 (/128)
    if (r->rtm_dst_len != maxLen) dst += "/" + std::to_string(r->rtm_dst_len);
  } else if (r->rtm_dst_len != 0) {
    dst = std::string(fam == AF_INET ? "0.0.0.0" : "::") + "/" + std::to_string(r->rtm_dst_len);
  }
  setStr(o, "dst", dst);
  if (tb[RTA_GATEWAY]) {
    setStr(o, "gateway", ipText(fam, tb[RTA_GATEWAY]));
  } else if (tb[RTA_VIA] && RTA_PAYLOAD(tb[RTA_VIA]) >= sizeof(struct rtvia)) {
    auto* via = static_cast<const struct rtvia*>(RTA_DATA(tb[RTA_VIA]));
    char buf[INET6_ADDRSTRLEN] = "";
    if (via->rtvia_family == AF_INET || via->rtvia_family == AF_INET6) inet_ntop(via->rtvia_family, via->rtvia_addr, buf, sizeof buf);
    setStr(o, "gateway", buf);
  }
  if (tb[RTA_OIF]) setNum(o, "oifIndex", get<uint32_t>(tb[RTA_OIF]));
  // iproute2 leaves out what is the default (proto boot, scope global): so do we
  if (r->rtm_protocol != RTPROT_BOOT) setStr(o, "protocol", protoName(r->rtm_protocol));
  if (r->rtm_scope != RT_SCOPE_UNIVERSE) setStr(o, "scope", scopeName(r->rtm_scope));
  if (tb[RTA_PRIORITY]) setNum(o, "metric", get<uint32_t>(tb[RTA_PRIORITY]));
  setNum(o, "tos", r->rtm_tos);
  const char* type = PICK(ROUTE_TYPES, r->rtm_type);
  setStr(o, "type", type ? type : std::to_string(r->rtm_type));
  setBool(o, "cloned", (r->rtm_flags & RTM_F_CLONED) != 0);
}

// Routing policy rules (RTM_NEWRULE/DELRULE), v4 and v6, shaped as `ip -j rule` names them:
// src/dst as 'addr/len' ('all' when absent), the action, and the selectors hostnetd compares.
// Every selector the kernel keys a rule by is read, so that two rules differing only in one
// (an iif, a fwmark) never look alike to the view.
const char* const RULE_ACTIONS[] = {"unspec", "to_tbl", "goto", "nop", "res3", "res4", "blackhole", "unreachable", "prohibit"};

void parseRule(Obj& o, const struct nlmsghdr* h) {
  auto* r = static_cast<const struct fib_rule_hdr*>(NLMSG_DATA(h));
  Attrs tb = parseAttrs(reinterpret_cast<const struct rtattr*>(reinterpret_cast<const char*>(r) + NLMSG_ALIGN(sizeof(struct fib_rule_hdr))),
                        static_cast<int>(h->nlmsg_len) - static_cast<int>(NLMSG_LENGTH(sizeof(struct fib_rule_hdr))), FRA_MAX);
  setStr(o, "t", "rule");
  int fam = r->family;
  setStr(o, "family", fam == AF_INET ? "inet" : fam == AF_INET6 ? "inet6" : std::to_string(fam));
  setNum(o, "priority", tb[FRA_PRIORITY] ? get<uint32_t>(tb[FRA_PRIORITY]) : 0);
  unsigned table = tb[FRA_TABLE] ? get<uint32_t>(tb[FRA_TABLE]) : r->table;
  setStr(o, "table", tableName(table));
  auto prefix = [&](int attr, unsigned len) {
    if (!tb[attr]) return std::string(len ? "?" : "all");
    return ipText(fam, tb[attr]) + "/" + std::to_string(len);
  };
  setStr(o, "src", prefix(FRA_SRC, r->src_len));
  setStr(o, "dst", prefix(FRA_DST, r->dst_len));
  const char* action = PICK(RULE_ACTIONS, r->action);
  setStr(o, "action", action ? action : std::to_string(r->action));
  setNum(o, "tos", r->tos);
  if (r->flags & FIB_RULE_INVERT) setBool(o, "not", true);
  if (tb[FRA_IIFNAME]) setStr(o, "iif", str(tb[FRA_IIFNAME]));
  if (tb[FRA_OIFNAME]) setStr(o, "oif", str(tb[FRA_OIFNAME]));
  if (tb[FRA_FWMARK]) setNum(o, "fwmark", get<uint32_t>(tb[FRA_FWMARK]));
  if (tb[FRA_FWMASK]) setNum(o, "fwmask", get<uint32_t>(tb[FRA_FWMASK]));
  if (tb[FRA_GOTO]) setNum(o, "goto", get<uint32_t>(tb[FRA_GOTO]));
  if (tb[FRA_PROTOCOL]) setStr(o, "protocol", protoName(get<uint8_t>(tb[FRA_PROTOCOL])));
  if (tb[FRA_L3MDEV] && get<uint8_t>(tb[FRA_L3MDEV])) setBool(o, "l3mdev", true);
  if (tb[FRA_UID_RANGE]) {
    auto u = get<struct fib_rule_uid_range>(tb[FRA_UID_RANGE]);
    setStr(o, "uidrange", std::to_string(u.start) + "-" + std::to_string(u.end));
  }
  // -1 is "not set", what the kernel reports for every rule without the selector
  if (tb[FRA_SUPPRESS_PREFIXLEN] && get<uint32_t>(tb[FRA_SUPPRESS_PREFIXLEN]) != 0xffffffffu) setNum(o, "suppressPrefixlen", static_cast<int32_t>(get<uint32_t>(tb[FRA_SUPPRESS_PREFIXLEN])));
  if (tb[FRA_SUPPRESS_IFGROUP]) setNum(o, "suppressIfgroup", get<uint32_t>(tb[FRA_SUPPRESS_IFGROUP]));
  if (tb[FRA_TUN_ID]) setNum(o, "tunId", static_cast<double>(be64toh(get<uint64_t>(tb[FRA_TUN_ID]))));
  if (tb[FRA_IP_PROTO]) setNum(o, "ipproto", get<uint8_t>(tb[FRA_IP_PROTO]));
  if (tb[FRA_SPORT_RANGE]) {
    auto p = get<struct fib_rule_port_range>(tb[FRA_SPORT_RANGE]);
    setStr(o, "sport", std::to_string(p.start) + "-" + std::to_string(p.end));
  }
  if (tb[FRA_DPORT_RANGE]) {
    auto p = get<struct fib_rule_port_range>(tb[FRA_DPORT_RANGE]);
    setStr(o, "dport", std::to_string(p.start) + "-" + std::to_string(p.end));
  }
}

// The local table: an entry per address, a broadcast entry per IPv4 subnet, ff00::/8 and the
// link-local address of every IPv6 device; nothing hostnetd plans or reports. At 1000 networks
// its notifications are a fifth of a change's burst. Its number fits rtm_table (< 256).
bool localRoute(const struct nlmsghdr* h) {
  if (h->nlmsg_type != RTM_NEWROUTE && h->nlmsg_type != RTM_DELROUTE) return false;
  return static_cast<const struct rtmsg*>(NLMSG_DATA(h))->rtm_table == RT_TABLE_LOCAL;
}

// Only the bridges' tables: an entry without a master is a device's own unicast/multicast address
// list (a NIC's, a port's, the bridge device's), changed without notifications and read by
// nobody; at 1000 ports they are two thirds of the dump. ARP/NDP neighbours are not read either.
bool bridgeFdb(const struct nlmsghdr* h) {
  auto* nd = static_cast<const struct ndmsg*>(NLMSG_DATA(h));
  if (nd->ndm_family != AF_BRIDGE) return false;
  const struct rtattr* rta = reinterpret_cast<const struct rtattr*>(reinterpret_cast<const char*>(nd) + NLMSG_ALIGN(sizeof(struct ndmsg)));
  int len = static_cast<int>(h->nlmsg_len) - static_cast<int>(NLMSG_LENGTH(sizeof(struct ndmsg)));
  for (; RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
    if (rta->rta_type == NDA_MASTER) return true;
  }
  return false;
}

void parseNeigh(Obj& o, const struct nlmsghdr* h) {
  auto* nd = static_cast<const struct ndmsg*>(NLMSG_DATA(h));
  Attrs tb = parseAttrs(reinterpret_cast<const struct rtattr*>(reinterpret_cast<const char*>(nd) + NLMSG_ALIGN(sizeof(struct ndmsg))),
                        h->nlmsg_len - NLMSG_LENGTH(sizeof(struct ndmsg)), NDA_MAX);
  setStr(o, "t", "fdb");
  setNum(o, "ifindex", nd->ndm_ifindex);
  if (tb[NDA_LLADDR]) setMac(o, "mac", tb[NDA_LLADDR]);
  if (tb[NDA_MASTER]) setNum(o, "masterIndex", get<uint32_t>(tb[NDA_MASTER]));
  if (tb[NDA_VLAN]) setNum(o, "vlan", get<uint16_t>(tb[NDA_VLAN]));
  unsigned s = nd->ndm_state;
  char buf[16];
  snprintf(buf, sizeof buf, "%#x", s);
  // as `bridge fdb` names states
  std::string state = (s & NUD_PERMANENT) ? "permanent" : (s & NUD_NOARP) ? "static" : (s & NUD_STALE) ? "stale"
                    : (s & NUD_REACHABLE) ? "" : buf;
  setStr(o, "state", state);
  std::string flags = "[";
  unsigned f = nd->ndm_flags;
  auto flag = [&](unsigned bit, const char* name) {
    if (!(f & bit)) return;
    if (flags.size() > 1) flags += ',';
    jsonString(flags, name, strlen(name));
  };
  flag(NTF_SELF, "self");
  flag(NTF_ROUTER, "router");
  flag(NTF_EXT_LEARNED, "extern_learn");
  flag(NTF_OFFLOADED, "offload");
  flag(NTF_MASTER, "master");
  flag(NTF_STICKY, "sticky");
  o.key("flags");
  o.s += flags;
  o.s += ']';
  setNum(o, "self", (f & NTF_SELF) ? 1 : 0);
}

// ---------- requests

struct RequestMsg {
  struct nlmsghdr h;
  union { struct ifinfomsg ifi; struct ifaddrmsg ifa; struct rtmsg rt; struct ndmsg nd; struct tcmsg tc; struct fib_rule_hdr fr; } u;
  char attrs[RTA_SPACE(sizeof(uint32_t))];
};

// what: 'link' | 'addr' | 'route' | 'rule' | 'fdb' | 'qdisc' dumps, or one link (ifindex > 0);
// 'class' and 'filter' of one device (under `parent` when given); 'barrier' gets lo (ifindex 1)
bool buildRequest(const std::string& what, uint32_t seq, int ifindex, bool hasParent, uint32_t parent, RequestMsg& req) {
  req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  req.h.nlmsg_seq = seq;
  if (what == "link" || what == "barrier") {
    req.h.nlmsg_type = RTM_GETLINK;
    req.h.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg));
    int one = what == "barrier" ? 1 : ifindex;
    if (one > 0) {
      req.h.nlmsg_flags = NLM_F_REQUEST;
      req.u.ifi.ifi_index = one;
    }
    // RTEXT_FILTER_SKIP_STATS leaves out each link's IPv6 and ICMPv6 counters (IFLA_AF_SPEC),
    // summed over every CPU per link: most of the kernel's time of a link dump, and unused
    // (IFLA_STATS64, which statistics read, stays)
    auto* rta = reinterpret_cast<struct rtattr*>(reinterpret_cast<char*>(&req) + NLMSG_ALIGN(req.h.nlmsg_len));
    rta->rta_type = IFLA_EXT_MASK;
    rta->rta_len = RTA_LENGTH(sizeof(uint32_t));
    uint32_t mask = RTEXT_FILTER_SKIP_STATS;
    memcpy(RTA_DATA(rta), &mask, sizeof mask);
    req.h.nlmsg_len = NLMSG_ALIGN(req.h.nlmsg_len) + RTA_SPACE(sizeof(uint32_t));
  } else if (what == "addr") {
    req.h.nlmsg_type = RTM_GETADDR;
    req.h.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifaddrmsg));
  } else if (what == "route") {
    req.h.nlmsg_type = RTM_GETROUTE;
    req.h.nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg));
  } else if (what == "rule") {
    // AF_UNSPEC: the rules of every family (v4 and v6) in one dump
    req.h.nlmsg_type = RTM_GETRULE;
    req.h.nlmsg_len = NLMSG_LENGTH(sizeof(struct fib_rule_hdr));
  } else if (what == "fdb") {
    req.h.nlmsg_type = RTM_GETNEIGH;
    req.h.nlmsg_len = NLMSG_LENGTH(sizeof(struct ndmsg));
    req.u.nd.ndm_family = AF_BRIDGE;
  } else if (what == "qdisc" || what == "class" || what == "filter") {
    // the kernel dumps classes and filters per device
    req.h.nlmsg_type = what == "qdisc" ? RTM_GETQDISC : what == "class" ? RTM_GETTCLASS : RTM_GETTFILTER;
    req.h.nlmsg_len = NLMSG_LENGTH(sizeof(struct tcmsg));
    req.u.tc.tcm_family = AF_UNSPEC;
    req.u.tc.tcm_ifindex = ifindex;
    if (hasParent) req.u.tc.tcm_parent = parent;
  } else {
    return false;
  }
  return true;
}

bool sendRequest(int fd, const RequestMsg& req) {
  struct sockaddr_nl to {};
  to.nl_family = AF_NETLINK;
  return sendto(fd, &req, req.h.nlmsg_len, 0, reinterpret_cast<const struct sockaddr*>(&to), sizeof to) >= 0;
}

// ---------- the socket

const unsigned GROUPS[] = {RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR, RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV6_ROUTE, RTNLGRP_NEIGH,
                         RTNLGRP_IPV4_RULE, RTNLGRP_IPV6_RULE};

// ---- traffic control (hostQos): qdiscs, classes and filters of one device ----
// Handles stay numbers (major << 16 | minor); rates are the kernel's bytes per second, d is in
// microseconds, exactly as TCA_HFSC_RSC/FSC/USC carry them (tc's text rounds them).

void parseTcCommon(Obj& o, const struct nlmsghdr* h, const char* type, Attrs& tb) {
  auto* t = static_cast<const struct tcmsg*>(NLMSG_DATA(h));
  tb = parseAttrs(TCA_RTA(t), TCA_PAYLOAD(h), TCA_MAX);
  setStr(o, "t", type);
  setNum(o, "ifindex", t->tcm_ifindex);
  setNum(o, "handle", t->tcm_handle);
  setNum(o, "parent", t->tcm_parent);
  if (tb[TCA_KIND]) setStr(o, "kind", str(tb[TCA_KIND]));
}

void curve(Obj&& c, const struct rtattr* a) {
  auto sc = get<struct tc_service_curve>(a);
  setNum(c, "m1", sc.m1);
  setNum(c, "d", sc.d);
  setNum(c, "m2", sc.m2);
  c.close();
}

void parseQdisc(Obj& o, const struct nlmsghdr* h) {
  Attrs tb;
  parseTcCommon(o, h, "qdisc", tb);
  // hfsc's options are a bare struct tc_hfsc_qopt, not nested attributes
  if (tb[TCA_KIND] && str(tb[TCA_KIND]) == "hfsc" && tb[TCA_OPTIONS] && RTA_PAYLOAD(tb[TCA_OPTIONS]) >= sizeof(struct tc_hfsc_qopt))
    setNum(o, "hfscDefault", get<struct tc_hfsc_qopt>(tb[TCA_OPTIONS]).defcls);
}

void parseClass(Obj& o, const struct nlmsghdr* h) {
  Attrs tb;
  parseTcCommon(o, h, "class", tb);
  if (!tb[TCA_KIND] || str(tb[TCA_KIND]) != "hfsc" || !tb[TCA_OPTIONS]) return;
  Attrs hf = nested(tb[TCA_OPTIONS], TCA_HFSC_MAX);
  Obj c = o.child("hfsc");
  if (hf[TCA_HFSC_RSC]) curve(c.child("rt"), hf[TCA_HFSC_RSC]);
  if (hf[TCA_HFSC_FSC]) curve(c.child("ls"), hf[TCA_HFSC_FSC]);
  if (hf[TCA_HFSC_USC]) curve(c.child("ul"), hf[TCA_HFSC_USC]);
  c.close();
}

void parseFilter(Obj& o, const struct nlmsghdr* h) {
  Attrs tb;
  parseTcCommon(o, h, "filter", tb);
  auto* t = static_cast<const struct tcmsg*>(NLMSG_DATA(h));
  setNum(o, "prio", TC_H_MAJ(t->tcm_info) >> 16);
  setNum(o, "protocol", ntohs(static_cast<uint16_t>(TC_H_MIN(t->tcm_info))));
  if (!tb[TCA_KIND] || !tb[TCA_OPTIONS]) return;
  std::string kind = str(tb[TCA_KIND]);
  // u32's and basic's class ids are both attribute 1 of their options
  if (kind == "u32") {
    Attrs f = nested(tb[TCA_OPTIONS], TCA_U32_MAX);
    if (f[TCA_U32_CLASSID]) setNum(o, "classid", get<uint32_t>(f[TCA_U32_CLASSID]));
  } else if (kind == "basic") {
    Attrs f = nested(tb[TCA_OPTIONS], TCA_BASIC_MAX);
    if (f[TCA_BASIC_CLASSID]) setNum(o, "classid", get<uint32_t>(f[TCA_BASIC_CLASSID]));
  }
}

// ---------- superseded notifications

// What a link notification says that tables.ts acts on besides the link itself: a deletion, an
// up/down transition (IPv4 routes go stale when a link goes down), a change of master (a port
// leaving a bridge leaves its FDB), port attributes (AF_BRIDGE: applied only when present).
struct LinkNote {
  bool del;
  bool up;
  uint32_t master;
  bool protinfo;
};

LinkNote linkNote(const struct nlmsghdr* h) {
  auto* ifi = static_cast<const struct ifinfomsg*>(NLMSG_DATA(h));
  Attrs tb = parseAttrs(IFLA_RTA(ifi), IFLA_PAYLOAD(h), IFLA_MAX);
  return {h->nlmsg_type == RTM_DELLINK, (ifi->ifi_flags & IFF_UP) != 0,
          tb[IFLA_MASTER] ? get<uint32_t>(tb[IFLA_MASTER]) : 0, tb[IFLA_PROTINFO] != nullptr};
}

// an answer to this socket's own request (notifications carry the changer's port id, or none)
bool answersMe(const struct nlmsghdr* h, uint32_t portid) {
  return h->nlmsg_pid == portid && h->nlmsg_seq != 0;
}

// The link notifications among one read's messages that a later notification of the same link,
// in the same read, makes moot: every NEWLINK carries the whole link, so only the last one
// matters, unless the next one is a deletion or changes what tables.ts acts on (LinkNote). A
// bridge is notified about five times while a change builds it, so this halves the link
// notifications of a 1000-network change (each converted, parsed and applied otherwise).
// Answers to this socket's own requests are never left out.
std::unordered_set<const struct nlmsghdr*> supersededLinks(const std::vector<std::pair<const char*, int>>& grams, uint32_t portid) {
  std::vector<const struct nlmsghdr*> links;
  for (auto [data, left] : grams) {
    for (auto* h = reinterpret_cast<const struct nlmsghdr*>(data); NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
      if (!answersMe(h, portid) && (h->nlmsg_type == RTM_NEWLINK || h->nlmsg_type == RTM_DELLINK)
          && h->nlmsg_len >= NLMSG_LENGTH(sizeof(struct ifinfomsg))) links.push_back(h);
    }
  }
  std::unordered_set<const struct nlmsghdr*> skip;
  // (family, ifindex) -> what the next notification of that link says
  std::unordered_map<uint64_t, LinkNote> next;
  for (auto it = links.rbegin(); it != links.rend(); ++it) {
    auto* ifi = static_cast<const struct ifinfomsg*>(NLMSG_DATA(*it));
    uint64_t key = (static_cast<uint64_t>(ifi->ifi_family) << 32) | static_cast<uint32_t>(ifi->ifi_index);
    LinkNote n = linkNote(*it);
    auto later = next.find(key);
    if (later != next.end() && !n.del && !later->second.del) {
      const LinkNote& l = later->second;
      bool moot = ifi->ifi_family == AF_BRIDGE ? l.protinfo : (l.up == n.up && l.master == n.master);
      if (moot) skip.insert(*it);
    }
    next[key] = n;
  }
  return skip;
}

// What appendMessages writes: counters (statistics), or a link's names and IPv6 sysctls alone;
// the local table's routes or not (a socket's choice, made when it is opened)
struct ParseOpts {
  bool withStats = false;
  bool ipv6ConfOnly = false;
  bool localTable = true;
};

// Every message of one datagram, as JSON objects appended to `out` (an array being written).
// Returns true when it held the end of this socket's request `seq` (NLMSG_DONE, or an error or
// ack answering it); `seq` 0 waits for nothing. Messages in `skip` are left out.
bool appendMessages(std::string& out, const char* data, int left, uint32_t portid, const ParseOpts& opts, uint32_t seq = 0,
                    const std::unordered_set<const struct nlmsghdr*>* skip = nullptr) {
  bool finished = false;
  for (auto* h = reinterpret_cast<const struct nlmsghdr*>(data); NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
    if (skip != nullptr && skip->count(h) != 0) continue;
    bool mine = answersMe(h, portid);
    if (mine && seq != 0 && h->nlmsg_seq == seq && (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR)) finished = true;
    if ((h->nlmsg_type == RTM_NEWNEIGH || h->nlmsg_type == RTM_DELNEIGH) && !bridgeFdb(h)) continue;
    if (!opts.localTable && localRoute(h)) continue;
    if (out.size() > 1) out += ',';
    Obj o(out);
    setNum(o, "seq", h->nlmsg_seq);
    setBool(o, "mine", mine);
    switch (h->nlmsg_type) {
      case NLMSG_DONE: setStr(o, "t", "done"); break;
      case NLMSG_ERROR: {
        auto* e = static_cast<const struct nlmsgerr*>(NLMSG_DATA(h));
        setStr(o, "t", "error");
        setNum(o, "errno", -e->error);
        break;
      }
      case RTM_NEWLINK: case RTM_DELLINK: parseLink(o, h, opts.withStats, opts.ipv6ConfOnly); break;
      case RTM_NEWADDR: case RTM_DELADDR: parseAddr(o, h); break;
      case RTM_NEWROUTE: case RTM_DELROUTE: parseRoute(o, h); break;
      case RTM_NEWNEIGH: case RTM_DELNEIGH: parseNeigh(o, h); break;
      case RTM_NEWQDISC: case RTM_DELQDISC: parseQdisc(o, h); break;
      case RTM_NEWTCLASS: case RTM_DELTCLASS: parseClass(o, h); break;
      case RTM_NEWTFILTER: case RTM_DELTFILTER: parseFilter(o, h); break;
      case RTM_NEWRULE: case RTM_DELRULE: parseRule(o, h); break;
      default: setStr(o, "t", "other"); break;
    }
    setBool(o, "del", h->nlmsg_type == RTM_DELLINK || h->nlmsg_type == RTM_DELADDR
                        || h->nlmsg_type == RTM_DELROUTE || h->nlmsg_type == RTM_DELNEIGH
                        || h->nlmsg_type == RTM_DELQDISC || h->nlmsg_type == RTM_DELTCLASS
                        || h->nlmsg_type == RTM_DELTFILTER || h->nlmsg_type == RTM_DELRULE);
    // NLM_F_REPLACE on a notification: the new object took the place of another with its key
    setBool(o, "replace", (h->nlmsg_flags & NLM_F_REPLACE) != 0 && !(h->nlmsg_flags & NLM_F_MULTI));
    o.close();
  }
  return finished;
}

// JSON text as a JS string; ASCII (the usual case) needs no UTF-8 decoding
napi_value jsText(napi_env env, const char* data, size_t size) {
  bool ascii = true;
  for (size_t i = 0; i < size; i++) ascii &= static_cast<unsigned char>(data[i]) < 0x80;
  napi_value v;
  if (ascii) napi_create_string_latin1(env, data, size, &v);
  else napi_create_string_utf8(env, data, size, &v);
  return v;
}

class Rtnl : public Napi::ObjectWrap<Rtnl> {
 public:
  static Napi::Object Init(Napi::Env env, Napi::Object exports) {
    Napi::Function fn = DefineClass(env, "Rtnl", {
      InstanceMethod("request", &Rtnl::Request),
      InstanceMethod("read", &Rtnl::Read),
      InstanceMethod("dump", &Rtnl::Dump),
      InstanceMethod("poll", &Rtnl::Poll),
      InstanceMethod("close", &Rtnl::Close),
    });
    exports.Set("Rtnl", fn);
    return exports;
  }

  // new Rtnl({ netns?: '/run/netns/NAME', subscribe: boolean, rcvbuf?: bytes, localTable?: boolean }, onReadable)
  explicit Rtnl(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Rtnl>(info) {
    Napi::Env env = info.Env();
    Napi::Object o = info[0].As<Napi::Object>();
    if (info.Length() > 1 && info[1].IsFunction()) onReadable_ = Napi::Persistent(info[1].As<Napi::Function>());
    std::string netns = o.Has("netns") && o.Get("netns").IsString() ? o.Get("netns").As<Napi::String>().Utf8Value() : "";
    bool subscribe = o.Has("subscribe") && o.Get("subscribe").ToBoolean();
    int rcvbuf = o.Has("rcvbuf") && o.Get("rcvbuf").IsNumber() ? o.Get("rcvbuf").As<Napi::Number>().Int32Value() : 0;
    localTable_ = !o.Has("localTable") || o.Get("localTable").ToBoolean();
    std::string err = open(netns, subscribe, rcvbuf);
    if (!err.empty()) {
      Napi::Error::New(env, err).ThrowAsJavaScriptException();
      return;
    }
    uv_loop_t* loop = nullptr;
    napi_get_uv_event_loop(env, &loop);
    poll_ = new uv_poll_t;
    uv_poll_init(loop, poll_, fd_);
    poll_->data = this;
  }

  ~Rtnl() override { shut(); }

 private:
  int fd_ = -1;
  uint32_t portid_ = 0;
  uv_poll_t* poll_ = nullptr;
  bool polling_ = false;
  Napi::FunctionReference onReadable_;
  std::vector<char> store_;  // read()'s datagrams
  size_t gram_ = 1 << 17;    // room for one datagram
  std::string out_;  // read()'s text, its room kept from one read to the next
  bool dumping_ = false;  // a DumpWorker owns the fd until it completes
  bool closeAfterDump_ = false;
  bool localTable_ = true;  // routes of the local table are read (else left out in parsing)

  // One dump on a libuv pool thread: the request, then every datagram until its NLMSG_DONE (or
  // error), written as JSON text there; the kernel fills a dump's parts inside our recv, so the
  // kernel's share runs on that thread too. The text goes to JS in pieces (each a JSON array) as
  // it is written, so JS parses one piece while the thread reads the next. Only for sockets
  // nobody subscribed: a notification would be read in the middle of the dump. Several sockets
  // dump in parallel (netlink.ts, dumpParallel).
  class DumpWorker : public Napi::AsyncProgressQueueWorker<char> {
   public:
    DumpWorker(Rtnl* owner, const Napi::Function& cb, const RequestMsg& req, const ParseOpts& opts)
        : Napi::AsyncProgressQueueWorker<char>(owner->Value(), cb), owner_(owner), fd_(owner->fd_), portid_(owner->portid_),
          req_(req), opts_(opts) {}

    void Execute(const ExecutionProgress& progress) override {
      if (!sendRequest(fd_, req_)) return SetError(std::string("netlink send: ") + strerror(errno));
      std::vector<char> buf(1 << 17);
      out_.reserve(2 * PIECE);
      out_.assign(1, '[');
      for (;;) {
        ssize_t len = recv(fd_, buf.data(), buf.size(), MSG_DONTWAIT | MSG_TRUNC);
        if (len < 0) {
          if (errno == EINTR) continue;
          if (errno == EAGAIN || errno == EWOULDBLOCK) {
            struct pollfd p {fd_, POLLIN, 0};
            if (::poll(&p, 1, 30000) == 0) return SetError("netlink dump: no answer from the kernel in 30 s");
            continue;
          }
          if (errno == ENOBUFS) return SetError("netlink dump: receive buffer overflow");
          return SetError(std::string("netlink recv: ") + strerror(errno));
        }
        if (static_cast<size_t>(len) > buf.size()) return SetError("netlink dump: a datagram larger than the buffer was cut");
        if (appendMessages(out_, buf.data(), static_cast<int>(len), portid_, opts_, req_.h.nlmsg_seq)) break;
        if (out_.size() >= PIECE) {
          out_ += ']';
          progress.Send(out_.data(), out_.size());
          out_.assign(1, '[');
        }
      }
      out_ += ']';
    }

    void OnProgress(const char* data, size_t count) override { deliver(data, count, false); }

    void OnOK() override {
      release();
      deliver(out_.data(), out_.size(), true);
    }

    void OnError(const Napi::Error& e) override {
      release();
      Callback().Call({e.Value()});
    }

   private:
    // 64 KiB of text, plus one datagram's: each piece's JS string stays under V8's 128 KiB
    // large-object limit. A larger string gets freshly mapped pages of its own, and their page
    // faults were ~9% of an enumeration's CPU at 256 KiB pieces (perf, 2026-12-04)
    static constexpr size_t PIECE = 64 << 10;

    void deliver(const char* data, size_t count, bool last) {
      Napi::Env env = Env();
      Napi::HandleScope scope(env);
      Callback().Call({env.Null(), Napi::Value(env, jsText(env, data, count)), Napi::Boolean::New(env, last)});
    }

    void release() {
      owner_->dumping_ = false;
      if (owner_->closeAfterDump_) owner_->shut();
    }
    Rtnl* owner_;
    int fd_;
    uint32_t portid_;
    RequestMsg req_;
    ParseOpts opts_;
    std::string out_;
  };

  // dump(what, seq, withStats, ipv6ConfOnly, cb(err, text, last)): a dump on a pool thread
  // (DumpWorker), its text in pieces, the last with `last` true; the socket takes no other call
  // until then
  Napi::Value Dump(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string what = info[0].As<Napi::String>().Utf8Value();
    RequestMsg req {};
    if (!buildRequest(what, info[1].As<Napi::Number>().Uint32Value(), 0, false, 0, req) || !(req.h.nlmsg_flags & NLM_F_DUMP)) {
      Napi::TypeError::New(env, "not a dump: " + what).ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (fd_ < 0 || dumping_) {
      Napi::Error::New(env, fd_ < 0 ? "netlink socket is closed" : "netlink socket is busy with a dump on a thread").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    dumping_ = true;
    auto* w = new DumpWorker(this, info[4].As<Napi::Function>(), req, ParseOpts{info[2].ToBoolean(), info[3].ToBoolean(), localTable_});
    w->Queue();
    return env.Undefined();
  }

  std::string open(const std::string& netns, bool subscribe, int rcvbuf) {
    int home = -1, target = -1;
    if (!netns.empty()) {
      // a socket belongs to the namespace it was made in: enter it just for socket()
      home = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
      target = ::open(netns.c_str(), O_RDONLY | O_CLOEXEC);
      if (home < 0 || target < 0 || setns(target, CLONE_NEWNET) != 0) {
        std::string e = std::string("cannot enter network namespace ") + netns + ": " + strerror(errno);
        if (home >= 0) ::close(home);
        if (target >= 0) ::close(target);
        return e;
      }
    }
    fd_ = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
    int saved = errno;
    if (home >= 0) {
      if (setns(home, CLONE_NEWNET) != 0) abort();  // never leave the JS thread in another namespace
      ::close(home);
      ::close(target);
    }
    if (fd_ < 0) return std::string("socket(NETLINK_ROUTE): ") + strerror(saved);
    if (rcvbuf > 0) {
      // root may go above rmem_max; otherwise take what the kernel allows
      if (setsockopt(fd_, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) != 0)
        setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    }
    int one = 1;
    setsockopt(fd_, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
    struct sockaddr_nl sa {};
    sa.nl_family = AF_NETLINK;
    if (bind(fd_, reinterpret_cast<struct sockaddr*>(&sa), sizeof sa) != 0) return std::string("bind: ") + strerror(errno);
    socklen_t len = sizeof sa;
    getsockname(fd_, reinterpret_cast<struct sockaddr*>(&sa), &len);
    portid_ = sa.nl_pid;
    if (subscribe) {
      for (unsigned g : GROUPS) {
        if (setsockopt(fd_, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &g, sizeof g) != 0) return std::string("join group: ") + strerror(errno);
      }
    }
    return "";
  }

  void shut() {
    if (poll_) {
      uv_poll_stop(poll_);
      uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
      poll_ = nullptr;
    }
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  // request(what, seq, ifindex?, parent?): 'link' | 'addr' | 'route' | 'rule' | 'fdb' | 'qdisc' dumps, or one
  // link; 'class' and 'filter' of one device (filters under `parent`, default its root qdisc); 'barrier'
  // gets lo (ifindex 1), whose answer comes after every notification queued before it
  Napi::Value Request(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (dumping_) {
      Napi::Error::New(env, "netlink socket is busy with a dump on a thread").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    RequestMsg req {};
    int ifindex = info.Length() > 2 && info[2].IsNumber() ? info[2].As<Napi::Number>().Int32Value() : 0;
    bool hasParent = info.Length() > 3 && info[3].IsNumber();
    uint32_t parent = hasParent ? info[3].As<Napi::Number>().Uint32Value() : 0;
    std::string what = info[0].As<Napi::String>().Utf8Value();
    if (!buildRequest(what, info[1].As<Napi::Number>().Uint32Value(), ifindex, hasParent, parent, req)) {
      Napi::TypeError::New(env, "unknown request " + what).ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (fd_ < 0 || !sendRequest(fd_, req)) {
      Napi::Error::New(env, std::string("netlink send: ") + (fd_ < 0 ? "closed" : strerror(errno))).ThrowAsJavaScriptException();
    }
    return env.Undefined();
  }

  // read(max?, withStats?, ipv6ConfOnly?): every message queued now, parsed, as the JSON text of
  // an array (netlink.ts parses it); never blocks. At most `max` datagrams (default: all).
  Napi::Value Read(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int max = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Int32Value() : -1;
    // counters are parsed only when asked: they raise no events, the view never keeps them
    bool withStats = info.Length() > 1 && info[1].ToBoolean();
    bool ipv6ConfOnly = info.Length() > 2 && info[2].ToBoolean();
    if (dumping_) {
      Napi::Error::New(env, "netlink socket is busy with a dump on a thread").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    std::string& out = out_;
    out.assign(1, '[');
    // the datagrams are kept until the read ends (or an overflow is reported, in its place), so
    // that superseded link notifications can be left out
    std::vector<std::pair<size_t, int>> spans;
    size_t used = 0;
    auto convert = [&] {
      std::vector<std::pair<const char*, int>> grams;
      for (auto [at, len] : spans) grams.emplace_back(store_.data() + at, len);
      std::unordered_set<const struct nlmsghdr*> skip;
      if (!withStats && !ipv6ConfOnly) skip = supersededLinks(grams, portid_);
      ParseOpts opts{withStats, ipv6ConfOnly, localTable_};
      for (auto [data, len] : grams) appendMessages(out, data, len, portid_, opts, 0, &skip);
      spans.clear();
      used = 0;
    };
    auto overflow = [&] {
      convert();
      if (out.size() > 1) out += ',';
      Obj o(out);
      setStr(o, "t", "overflow");
      o.close();
    };
    for (int d = 0; fd_ >= 0 && (max < 0 || d < max); d++) {
      if (store_.size() < used + gram_) store_.resize(used + gram_);
      ssize_t len = recv(fd_, store_.data() + used, gram_, MSG_DONTWAIT | MSG_TRUNC);
      if (len < 0) {
        if (errno == EINTR) continue;
        if (errno == ENOBUFS) {
          overflow();
          continue;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
          Napi::Error::New(env, std::string("netlink recv: ") + strerror(errno)).ThrowAsJavaScriptException();
          return env.Undefined();
        }
        break;
      }
      if (static_cast<size_t>(len) > gram_) {
        // a datagram larger than the buffer was cut: what it said is lost, as with an overflow
        gram_ = static_cast<size_t>(len) * 2;
        overflow();
        continue;
      }
      spans.emplace_back(used, static_cast<int>(len));
      used += NLMSG_ALIGN(static_cast<size_t>(len));
    }
    convert();
    if (store_.size() > (16u << 20)) std::vector<char>().swap(store_);
    out += ']';
    napi_value v = jsText(env, out.data(), out.size());
    if (out.capacity() > (16u << 20)) std::string().swap(out);  // keep a usual dump's room, not a flood's
    return Napi::Value(env, v);
  }

  // poll(true|false): call onReadable whenever the socket has something to read
  Napi::Value Poll(const Napi::CallbackInfo& info) {
    bool on = info[0].ToBoolean();
    if (!poll_) return info.Env().Undefined();
    if (on && !polling_) {
      uv_poll_start(poll_, UV_READABLE, [](uv_poll_t* p, int status, int events) {
        auto* self = static_cast<Rtnl*>(p->data);
        if (self->onReadable_.IsEmpty()) return;
        Napi::HandleScope scope(self->Env());
        self->onReadable_.MakeCallback(self->Value(), {});
      });
    } else if (!on && polling_) {
      uv_poll_stop(poll_);
    }
    polling_ = on;
    return info.Env().Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (dumping_) closeAfterDump_ = true;
    else shut();
    onReadable_.Reset();
    return info.Env().Undefined();
  }
};

}  // namespace

// file_writer.cc: the IPv6 sysctls a change writes, on pool threads
void InitFileWriter(Napi::Env env, Napi::Object exports);

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  InitFileWriter(env, exports);
  exports.Set("bridgeOptionNames", Napi::Function::New(env, BridgeOptionNames));
  return Rtnl::Init(env, exports);
}

NODE_API_MODULE(hostnet_netlink, Init)
