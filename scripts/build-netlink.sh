#!/usr/bin/env bash
# Build hostnetd's rtnetlink reader (native/netlink/build/Release/hostnet_netlink.node) with
# node-gyp. Unlike the libvirt addon it needs nothing beyond a C++ compiler, make, python3 and
# the kernel headers of libc (linux-libc-dev), and hostnetd cannot run without it: a failure
# fails the install. Skipped when the addon is newer than its source.
set -euo pipefail
cd "$(dirname "$0")/../native/netlink"

out=build/Release/hostnet_netlink.node
fresh() {
  [ -f "$out" ] || return 1
  local src
  for src in *.cc binding.gyp; do [ "$out" -nt "$src" ] || return 1; done
}
if fresh && [ "${1:-}" != --force ]; then
  exit 0
fi
args=(rebuild)
# No network to nodejs.org here: build against the headers installed with Node when present.
nodedir="$(dirname "$(dirname "$(command -v node)")")"
if [ -f "$nodedir/include/node/node_api.h" ] && [ -f "$nodedir/include/node/common.gypi" ]; then
  args+=("--nodedir=$nodedir")
fi
if ! npx --no-install node-gyp "${args[@]}" >build-netlink.log 2>&1; then
  echo "build-netlink: node-gyp failed, see native/netlink/build-netlink.log" >&2
  tail -n 30 build-netlink.log >&2
  exit 1
fi
rm -f build-netlink.log
echo "build-netlink: built native/netlink/$out"
