#!/usr/bin/env bash
# Captures iproute2 JSON fixtures for the kernel-state parser from a real 6.1 kernel with
# bonds, VLANs and a vlan_filtering bridge. Runs INSIDE a VM of the test tier, writing to
# the share; from the host:
#
#   scripts/vm/run.sh --nics 3 --share fixtures/iproute2/vm-bond-vlan -- bash scripts/vm/capture-fixtures.sh
#
# Topology (MACs are fixed, so a new capture differs only in counters and timers):
#   eth0 (52:54:00:00:00:01) -- eth0.100 (vlan 100) -- br100 (vlan_filtering 1,
#        192.0.2.1/24, 2001:db8:100::1/64, static fdb 52:54:00:aa:bb:cc, vlan 100 on port)
#   eth1 + eth2 -- bond1 (active-backup, miimon 150, primary eth1) -- bond1.200 (vlan 200,
#        198.51.100.2/24) ; default route via 192.0.2.254 ; 10.10.0.0/16 via 198.51.100.1 in table 100
#   va0 + va1 -- bonda (802.3ad, lacp_rate fast)  <-veth->  vb0 + vb1 -- bondb (802.3ad):
#        LACP partners of each other (ad_info.partner_mac)
set -euo pipefail

out=${HOSTNETD_VM_SHARE:?run me inside the VM tier: scripts/vm/run.sh ... --share DIR -- bash $0}

ip link set eth0 up
ip link add eth0.100 link eth0 type vlan id 100
ip link add br100 type bridge vlan_filtering 1 stp_state 0
ip link set eth0.100 master br100
bridge vlan add dev eth0.100 vid 100
ip link set eth0.100 up
ip link set br100 up
ip addr add 192.0.2.1/24 dev br100
ip addr add 2001:db8:100::1/64 dev br100
bridge fdb add 52:54:00:aa:bb:cc dev eth0.100 master static vlan 100

ip link add bond1 type bond mode active-backup miimon 150
for nic in eth1 eth2; do
  ip link set "$nic" down
  ip link set "$nic" master bond1
done
ip link set bond1 type bond primary eth1
ip link set bond1 up
ip link add bond1.200 link bond1 type vlan id 200
ip link set bond1.200 up
ip addr add 198.51.100.2/24 dev bond1.200

ip link add va0 address 02:00:00:00:0a:00 type veth peer name vb0 address 02:00:00:00:0b:00
ip link add va1 address 02:00:00:00:0a:01 type veth peer name vb1 address 02:00:00:00:0b:01
for side in a b; do
  ip link add "bond$side" type bond mode 802.3ad miimon 100 lacp_rate fast xmit_hash_policy layer2+3
  ip link set "v${side}0" master "bond$side"
  ip link set "v${side}1" master "bond$side"
  ip link set "bond$side" up
done

ip route add default via 192.0.2.254 dev br100
ip route add 10.10.0.0/16 via 198.51.100.1 dev bond1.200 table 100

# Settle: LACP partners found, an active slave chosen, IPv6 DAD done.
for _ in $(seq 120); do
  partner=$(ip -j -d link show bonda | grep -o '"partner_mac":"[^"]*"' || true)
  active=$(cat /sys/class/net/bond1/bonding/active_slave)
  tentative=$(ip -6 addr show tentative)
  if [[ $partner == *'"partner_mac":"02:00:00:00:0b:00"'* && -n $active && -z $tentative ]]; then
    break
  fi
  sleep 0.5
done
[[ $partner == *02:00:00:00:0b:00* ]] || { echo "no LACP partner: $partner" >&2; exit 1; }

ip -j -d -s link show > "$out/link.json"
ip -j addr show > "$out/addr.json"
ip -j route show table all > "$out/route4.json"
ip -j -6 route show table all > "$out/route6.json"
bridge -j fdb show > "$out/fdb.json"
bridge -j vlan show > "$out/vlan.json"
uname -r > "$out/kernel.txt"
ip -V >> "$out/kernel.txt"
for f in link addr route4 route6 fdb vlan; do
  node -e 'JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))' "$out/$f.json"
done
echo "captured into $out: $(cd "$out" && ls)"
