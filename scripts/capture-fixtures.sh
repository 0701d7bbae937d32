#!/usr/bin/env bash
# Regenerate fixtures/iproute2/<scenario>/{link,addr,route4,route6,fdb}.json from the running
# kernel and iproute2, by building each scenario in a throwaway network namespace.
# Run as root from the repository root:  bash scripts/capture-fixtures.sh
#
# The dump commands are the ones src/kernel/snapshot.ts runs (SNAPSHOT_COMMANDS); MAC
# addresses are fixed so the fixtures (and the tests asserting on them) are stable.
# Namespaces are named hnk-cap<random>-{host,peer} and are always deleted.
set -euo pipefail

cd "$(dirname "$0")/.."
OUT=fixtures/iproute2
SUFFIX="$RANDOM$RANDOM"
NS="hnk-cap$SUFFIX-host"
PEER="hnk-cap$SUFFIX-peer"

cleanup() {
  ip netns del "$NS" 2>/dev/null || true
  ip netns del "$PEER" 2>/dev/null || true
}
trap cleanup EXIT

fresh() {
  cleanup
  ip netns add "$NS"
  ip netns add "$PEER"
  ip -n "$NS" link set lo up
  ip -n "$PEER" link set lo up
}

h() { ip -n "$NS" "$@"; }
p() { ip -n "$PEER" "$@"; }

# a "NIC" veth_N in the host namespace whose far end swN sits in the peer namespace (the switch)
nic() {
  local name=$1 mac=$2
  h link add "$name" address "$mac" type veth peer name "sw${name#veth_}" netns "$PEER"
  p link set "sw${name#veth_}" up
}

# pretty-print so that fixture diffs are reviewable
pretty() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{s=s.trim();process.stdout.write(JSON.stringify(s?JSON.parse(s):[],null,1)+"\n")})'; }

dump() {
  local dir="$OUT/$1"
  mkdir -p "$dir"
  # let IPv6 DAD finish where it can (the tentative address below is on a down link and stays so)
  sleep 2.5
  ip -n "$NS" -j -d -s link show | pretty >"$dir/link.json"
  ip -n "$NS" -j addr show | pretty >"$dir/addr.json"
  ip -n "$NS" -j -4 route show table all | pretty >"$dir/route4.json"
  ip -n "$NS" -j -6 route show table all | pretty >"$dir/route6.json"
  bridge -n "$NS" -j fdb show | pretty >"$dir/fdb.json"
  echo "captured $dir"
}

# --- scenario: bridged ----------------------------------------------------------------
# br0: a VM network on uplink veth_0 with mixed port flags and static FDB entries,
#      IPv4 + IPv6 addresses and both default routes.
# br1: STP on, non-default forward_delay and ageing_time, no uplink (an isolated network).
# veth_2: a bridgeless network (address straight on the NIC).
# veth_3: an unused NIC, down, carrying a tentative IPv6 address (DAD cannot run while down).
fresh
nic veth_0 02:00:00:00:00:10
nic veth_1 02:00:00:00:00:11
nic veth_2 02:00:00:00:00:12
nic veth_3 02:00:00:00:00:13
h link add br0 address 02:00:00:00:0b:00 type bridge stp_state 0
h link add br1 address 02:00:00:00:0b:01 type bridge stp_state 1 forward_delay 400 ageing_time 12000
h tuntap add tap0 mode tap
h tuntap add tap1 mode tap
h link set tap0 address 02:00:00:00:00:20
h link set tap1 address 02:00:00:00:00:21
h link set veth_0 master br0
h link set veth_1 master br0
h link set tap0 master br0
h link set tap1 master br1
# veth_0 is the uplink: default flags. veth_1: isolated, no learning. tap0: isolated, no unicast flood.
h link set veth_1 type bridge_slave isolated on learning off
h link set tap0 type bridge_slave isolated on flood off
h link set veth_2 mtu 9000
for d in veth_0 veth_1 veth_2 br0 br1 tap0 tap1; do h link set "$d" up; done
p link set sw2 mtu 9000
bridge -n "$NS" fdb add 52:54:00:00:00:01 dev tap0 master static
bridge -n "$NS" fdb add 52:54:00:00:00:02 dev veth_1 master static
h addr add 192.0.2.10/24 dev br0
h addr add 192.0.2.11/24 dev br0
h addr add 2001:db8:1::10/64 dev br0 nodad
h addr add 198.51.100.5/25 dev veth_2
h addr add 2001:db8:3::13/64 dev veth_3
h route add default via 192.0.2.1 dev br0
h -6 route add default via 2001:db8:1::1 dev br0
h route add 203.0.113.0/24 via 198.51.100.1 dev veth_2 metric 50
dump bridged

# --- scenario: host-novlan --------------------------------------------------------------
# The plainest host: one NIC with an address and the default route, one idle NIC, no bridge.
fresh
nic veth_0 02:00:00:00:01:10
nic veth_1 02:00:00:00:01:11
h link set veth_0 up
h addr add 192.0.2.20/24 dev veth_0
h addr add 2001:db8:2::20/64 dev veth_0 nodad
h route add default via 192.0.2.1 dev veth_0
h -6 route add default via 2001:db8:2::1 dev veth_0
dump host-novlan
