#!/usr/bin/env bash
# Build hostnetd's libvirt addon (build/Release/hostnet_libvirt.node) with node-gyp against
# Debian's libvirt-dev. Never fails an install: without libvirt-dev, a compiler or Node headers
# it says why and exits 0, and hostnetd runs without libvirt ("addon missing" in capabilities).
# HOSTNETD_ADDON_REQUIRED=1 turns a skip or a build failure into an error (CI, where
# libvirt-dev is installed and the addon must exist).
set -u
cd "$(dirname "$0")/.."

required="${HOSTNETD_ADDON_REQUIRED:-0}"
skip() {
  echo "build-addon: $1; skipping the libvirt addon (hostnetd runs without libvirt)" >&2
  [ "$required" = 1 ] && exit 1
  exit 0
}

command -v pkg-config >/dev/null 2>&1 || skip "pkg-config not found (apt-get install pkg-config)"
pkg-config --exists libvirt || skip "libvirt-dev not found by pkg-config (apt-get install libvirt-dev)"
command -v g++ >/dev/null 2>&1 || command -v c++ >/dev/null 2>&1 || skip "no C++ compiler (apt-get install g++ make)"
[ -d node_modules/node-addon-api ] || skip "node_modules/node-addon-api missing (run npm ci first)"

# No network to nodejs.org here: build against the headers installed with Node when present.
args=(rebuild)
nodedir="$(dirname "$(dirname "$(command -v node)")")"
if [ -f "$nodedir/include/node/node_api.h" ] && [ -f "$nodedir/include/node/common.gypi" ]; then
  args+=("--nodedir=$nodedir")
fi

if ! npx --no-install node-gyp "${args[@]}" >build-addon.log 2>&1; then
  echo "build-addon: node-gyp failed, see build-addon.log" >&2
  tail -n 30 build-addon.log >&2
  [ "$required" = 1 ] && exit 1
  exit 0
fi
rm -f build-addon.log
echo "build-addon: built build/Release/hostnet_libvirt.node (libvirt $(pkg-config --modversion libvirt)) and hostnet_notify.node (sd_notify)"
