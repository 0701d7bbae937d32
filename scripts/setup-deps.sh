#!/usr/bin/env bash
# Installs what hostnetd needs on a bare Debian 12 machine (as root): Debian packages that are
# missing, then node modules if absent. Idempotent and quick when everything is there.
set -euo pipefail
cd "$(dirname "$0")/.."

# runtime: iproute2 (ip, bridge), procps (sysctl), util-linux (unshare for feature probing),
# dhcpcd-base (the DHCPv4/DHCPv6 client, without a system service of its own);
# build of the rtnetlink reader (plain sockets, kernel headers from linux-libc-dev): g++, make, python3;
# build of the libvirt addon: libvirt-dev, pkg-config, g++, make, python3;
# packaging: dpkg-dev (dpkg-shlibdeps), lintian;
# tests: iputils-ping, openssl (TLS certificates), libvirt daemon and clients (real libvirtd test),
# qemu and a busybox initramfs for the VM tier (scripts/vm/prepare.sh fetches the kernel),
# dnsmasq-base (the DHCP server of the DHCP tests, without a system service), bsdutils (`script`:
# the CLI progress test runs hostnetctl on a pseudo-terminal; essential in Debian, listed so a
# trimmed image still gets it).
# libvirt's nwfilter driver (vdsm-no-mac-spoofing) is in libvirt-daemon on Debian 12; its
# built-in filters come with libvirt-daemon-config-nwfilter, and it programs the bridge with
# ebtables, iptables and ip6tables (Debian's iptables package: the nft variants). Libvirt 9 no
# longer runs gawk for nwfilter. tc (port mirroring) is in iproute2. libc6-dev: a static test
# binary for the guests of the nwfilter data-plane test.
NWFILTER=(libvirt-daemon libvirt-daemon-config-nwfilter iptables)
PACKAGES=(
  iproute2 procps util-linux dhcpcd-base
  libvirt-dev pkg-config g++ make python3 linux-libc-dev
  "${NWFILTER[@]}"
  iputils-ping openssl tcpdump python3-stomp libc6-dev lintian dpkg-dev
  libvirt-daemon-system libvirt-daemon-system-sysv libvirt-clients
  qemu-system-x86 busybox-static cpio kmod dnsmasq-base bsdutils
)
[ "${HOSTNETD_RUNTIME_ONLY:-}" = 1 ] && PACKAGES=(iproute2 procps util-linux dhcpcd-base libvirt-dev pkg-config g++ make python3 linux-libc-dev "${NWFILTER[@]}")

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup-deps: missing Debian packages: ${missing[*]} (run as root to install them)" >&2
    exit 1
  fi
  echo "setup-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
