#!/usr/bin/env bash
# Configures and builds Kiln in build/ (Ninja, ccache, lld). Extra arguments go to CMake.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${KILN_BUILD_DIR:-$root/build}
jobs=${KILN_JOBS:-$(nproc)}
# Torch translation units need ~1.1 GB each: keep parallel compiles within memory.
mem_jobs=$(( $(awk '/MemAvailable/ {print int($2 / 1500000)}' /proc/meminfo) ))
[ "$mem_jobs" -ge 1 ] && [ "$mem_jobs" -lt "$jobs" ] && jobs=$mem_jobs
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@"
cmake --build "$build" -j "$jobs"
