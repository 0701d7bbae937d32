#!/bin/sh
# dhcpcd's --script for hostnetd (the client never touches anything but its own interface):
# records the lease of $interface in $HOSTNETD_DHCP_DIR/<interface>.lease4 or .lease6, replaced
# atomically, for the daemon to read (src/dhcp/lease.ts checks every line). A lost lease is a
# file without addresses. Values are written, never evaluated.
dir=$HOSTNETD_DHCP_DIR
[ -n "$dir" ] && [ -n "$interface" ] || exit 0
case "$protocol" in
  dhcp) fam=4 ;;
  dhcp6) fam=6 ;;
  *) exit 0 ;;
esac
out="$dir/$interface.lease$fam"
tmp="$out.tmp.$$"
{
  printf 'reason=%s\n' "$reason"
  if [ "$fam" = 4 ] && [ -n "$new_ip_address" ]; then
    printf 'address=%s/%s\n' "$new_ip_address" "$new_subnet_cidr"
    for r in $new_routers; do printf 'router=%s\n' "$r"; done
    for d in $new_domain_name_servers; do printf 'dns=%s\n' "$d"; done
  fi
  if [ "$fam" = 6 ]; then
    case "$reason" in
      BOUND6|RENEW6|REBIND6|REBOOT6|INFORM6)
        env | sed -n 's/^new_dhcp6_ia_na[0-9]*_ia_addr[0-9]*=\(.*\)$/address=\1\/128/p'
        for d in $new_dhcp6_name_servers; do printf 'dns=%s\n' "$d"; done ;;
    esac
  fi
} > "$tmp" && mv -f "$tmp" "$out"
exit 0
