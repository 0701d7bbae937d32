#!/usr/bin/env bash
# `npm test`: everything, on a bare Debian 12 as root: installs what is missing, builds, prepares
# the VM tier's kernel, then runs the tiers one after another (README, "The tiers") and prints
# one line per tier with its result and wall time. Every tier runs even when an earlier one
# failed; the exit status is non-zero when any did.
#
#   npm test                              every default tier
#   npm test -- test/unit/plan            vitest file filters: the vitest tiers only, each given
#                                         the filters (a tier with no matching file says so)
#   HOSTNETD_TEST_TIERS="unit layers" npm test
#                                         the named tiers/steps only, in that order
#
# Steps besides the vitest projects of vitest.config.ts: `unused` (knip: unused files, exports
# and types; knip.json), `types` (the tests type-checked with the sources: tsconfig.test.json) and
# `layers` (scripts/check-layers.mjs: every import in src/ against the README's layer table).
# They run before the vitest tiers, and not when file filters are given.
set -uo pipefail
cd "$(dirname "$0")/.."

set -e
bash scripts/setup-deps.sh
npm run build
bash scripts/build-netlink.sh
HOSTNETD_ADDON_REQUIRED=1 bash scripts/build-addon.sh
if [ -f scripts/vm/prepare.sh ]; then bash scripts/vm/prepare.sh; fi
set +e

VITEST_TIERS="unit integration libvirt package vm"
if [ $# -gt 0 ]; then default="$VITEST_TIERS"; else default="unused types layers $VITEST_TIERS"; fi
read -r -a tiers <<< "${HOSTNETD_TEST_TIERS:-$default}"

log_dir=$(mktemp -d /tmp/hostnetd-test.XXXXXX)
trap 'rm -rf "$log_dir"' EXIT
summary=()
failed=0

run_tier() {
  local tier=$1; shift
  local log="$log_dir/$tier.log" start end rc result
  echo
  echo "=== tier $tier ==="
  start=$(date +%s)
  case "$tier" in
    unused) npx knip --no-progress ;;
    types) npx tsc -p tsconfig.test.json ;;
    layers) node scripts/check-layers.mjs ;;
    unit|integration|libvirt|package|vm)
      if [ $# -gt 0 ]; then
        npx vitest run --project "$tier" --passWithNoTests "$@" 2>&1 | tee "$log"
      else
        npx vitest run --project "$tier" 2>&1 | tee "$log"
      fi ;;
    *) echo "unknown tier '$tier' (tiers: unused types layers $VITEST_TIERS)" >&2; false ;;
  esac
  rc=$?
  end=$(date +%s)
  if [ $rc -eq 0 ]; then result=passed; else result="FAILED (exit $rc)"; failed=1; fi
  if [ $rc -eq 0 ] && [ -f "$log" ] && grep -q 'No test files found' "$log"; then result='no matching files'; fi
  rm -f "$log"
  summary+=("$(printf '%-12s %-20s %6ss' "$tier" "$result" "$((end - start))")")
}

total_start=$(date +%s)
for tier in "${tiers[@]}"; do run_tier "$tier" "$@"; done

echo
echo "=== tiers ==="
for line in "${summary[@]}"; do echo "$line"; done
echo "$(printf '%-12s %-20s %6ss' total "$([ $failed -eq 0 ] && echo passed || echo FAILED)" "$(( $(date +%s) - total_start ))")"
exit $failed
