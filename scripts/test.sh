#!/usr/bin/env bash
# `npm test`: everything, on a bare Debian 12 as root: installs what is missing, builds, prepares
# the VM tier's kernel, then one vitest run (unit, namespace integration, libvirt, VM tier).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-deps.sh
npm run build
bash scripts/build-netlink.sh
HOSTNETD_ADDON_REQUIRED=1 bash scripts/build-addon.sh
if [ -f scripts/vm/prepare.sh ]; then bash scripts/vm/prepare.sh; fi
exec npx vitest run "$@"
