#!/usr/bin/env bash
# kiln-cli run: the ConvNet sample over part of the Fashion-MNIST test set on Vulkan agrees with
# LibTorch; an unavailable device falls back to the CPU with a note; bad devices are refused.
# Usage: check_run_device.sh KILN_CLI SAMPLES_DIR
set -u
cli=$1 samples=$2
. "$(dirname "${BASH_SOURCE[0]}")/check_lib.sh"
graph=$samples/fashion_convnet.kgraph

"$cli" run "$graph" --device cpu --limit 128 --batch 64 >"$tmp/out" 2>&1
if grep -q '^device: *CPU (LibTorch)' "$tmp/out" && grep -q '^items: *128 ' "$tmp/out"; then pass "run on the cpu"; else fail "run on the cpu"; fi

if "$cli" devices 2>/dev/null | grep -q '^\* Vulkan device'; then have_vulkan=1; else have_vulkan=0; fi
"$cli" run "$graph" --device vulkan --limit 128 --batch 64 >"$tmp/out" 2>&1; rc=$?
if grep -q '^device: *Vulkan: ' "$tmp/out"; then
  # The largest |difference| from LibTorch over the first batch, printed by the command.
  diff=$(sed -n 's/^vs LibTorch: largest difference \([^ ]*\) .*/\1/p' "$tmp/out")
  if [ $rc -eq 0 ] && [ -n "$diff" ] && awk -v d="$diff" 'BEGIN { exit !(d < 1e-4) }'; then
    pass "run on vulkan matches LibTorch (max diff $diff)"
  else
    fail "run on vulkan matches LibTorch"
  fi
elif [ $have_vulkan -eq 0 ] && grep -q 'note: Vulkan is not available' "$tmp/out"; then
  echo "skip run on vulkan: no Vulkan device here (the CPU fallback ran, as it should)"
else
  fail "run on vulkan"
fi

KILN_VULKAN_DEVICE=no-such-gpu "$cli" run "$graph" --device vulkan --limit 64 --batch 64 >"$tmp/out" 2>&1; rc=$?
if [ $rc -eq 0 ] && grep -q 'note: Vulkan is not available' "$tmp/out" && grep -q '^device: *CPU' "$tmp/out"; then
  pass "an unavailable device falls back to the cpu with a note"
else
  fail "an unavailable device falls back to the cpu with a note"
fi

# No Vulkan loader at all (as on a machine without libvulkan1): Kiln still runs, on the CPU.
KILN_VULKAN_LOADER=/nonexistent/libvulkan.so.1 "$cli" run "$graph" --device vulkan --limit 64 --batch 64 >"$tmp/out" 2>&1; rc=$?
if [ $rc -eq 0 ] && grep -q 'note: Vulkan is not available (.*no Vulkan loader' "$tmp/out" && grep -q '^device: *CPU' "$tmp/out"; then
  pass "no Vulkan loader falls back to the cpu with a note"
else
  fail "no Vulkan loader falls back to the cpu with a note"
fi
KILN_VULKAN_LOADER=/nonexistent/libvulkan.so.1 "$cli" devices >"$tmp/out" 2>&1; rc=$?
if [ $rc -eq 0 ] && grep -q 'no Vulkan loader' "$tmp/out"; then pass "devices says the loader is missing"; else fail "devices says the loader is missing"; fi

"$cli" run "$graph" --device tpu >"$tmp/out" 2>&1; rc=$?
if [ $rc -eq 2 ] && grep -q 'cpu, vulkan or vulkan:' "$tmp/out"; then pass "an unknown device is refused"; else fail "an unknown device is refused"; fi
"$cli" train "$graph" --device vulkan >"$tmp/out" 2>&1; rc=$?
if [ $rc -eq 2 ] && grep -q 'kiln-cli run' "$tmp/out"; then pass "training on vulkan points to run"; else fail "training on vulkan points to run"; fi

finish
