#!/usr/bin/env bash
# Run a command (or, without one, a shell) in a VM of the test tier. See scripts/vm/run.mjs.
#   scripts/vm/run.sh --nics 3 -- ip -br link
set -euo pipefail
exec node "$(dirname "${BASH_SOURCE[0]}")/run.mjs" "$@"
