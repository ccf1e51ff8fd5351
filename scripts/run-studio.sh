#!/usr/bin/env bash
# One command for a fresh machine: install what is missing, build, open the studio.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/install-deps.sh"
bash "$root/scripts/build.sh"
exec "${KILN_BUILD_DIR:-$root/build}/bin/kiln" "$@"
