#!/bin/sh
# dhcpcd's --script for hostnetd (the client never touches anything but its own interface):
# records the lease of $interface in $HOSTNETD_DHCP_DIR/<interface>.lease4 or .lease6, replaced
# atomically, for the daemon to read (src/dhcp/lease.ts checks every line). A lost lease is a
# file without addresses. Values are written, never evaluated.
dir=$HOSTNETD_DHCP_DIR
[ -n "$dir" ] && [ -n "$interface" ] || exit 0
# a reason with a lease (written with its addresses), one that loses it (written without), or
# one that says nothing about the lease (ignored)
lease=
case "$reason" in
  BOUND|RENEW|REBIND|REBOOT|STATIC|INFORM) fams=4 lease=1 ;;
  EXPIRE|NAK|RELEASE|STOP|FAIL) fams=4 ;;
  BOUND6|RENEW6|REBIND6|REBOOT6|INFORM6) fams=6 lease=1 ;;
  EXPIRE6|RELEASE6|STOP6) fams=6 ;;
  NOCARRIER|DEPARTED) fams="4 6" ;;
  *) exit 0 ;;
esac
for fam in $fams; do
  out="$dir/$interface.lease$fam"
  tmp="$out.tmp.$$"
  {
    printf 'reason=%s\n' "$reason"
    if [ "$fam" = 4 ] && [ -n "$lease" ] && [ -n "$new_ip_address" ]; then
      printf 'address=%s/%s\n' "$new_ip_address" "$new_subnet_cidr"
      for r in $new_routers; do printf 'router=%s\n' "$r"; done
      for d in $new_domain_name_servers; do printf 'dns=%s\n' "$d"; done
    fi
    if [ "$fam" = 6 ] && [ -n "$lease" ]; then
      env | sed -n 's/^new_dhcp6_ia_na[0-9]*_ia_addr[0-9]*=\(.*\)$/address=\1\/128/p'
      for d in $new_dhcp6_name_servers; do printf 'dns=%s\n' "$d"; done
    fi
  } > "$tmp" && mv -f "$tmp" "$out"
done
exit 0
