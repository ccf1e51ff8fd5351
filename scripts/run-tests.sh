#!/usr/bin/env bash
# One command for a fresh machine: install what is missing, build, run the whole test suite.
# In CI (CI=true) warnings are errors.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${KILN_BUILD_DIR:-$root/build}
bash "$root/scripts/install-deps.sh"
extra=()
[ "${CI:-}" = true ] && extra+=(-DKILN_FATAL_WARNINGS=ON)
bash "$root/scripts/build.sh" "${extra[@]}"
cd "$build"
ctest --output-on-failure --timeout 900 "$@"
