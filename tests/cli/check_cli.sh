#!/usr/bin/env bash
# kiln-cli as a user meets it: each command's exit code and output.
# Usage: check_cli.sh KILN_CLI TEST_DATA_DIR
set -u
cli=$1 data=$2
. "$(dirname "${BASH_SOURCE[0]}")/check_lib.sh"

expect_ok "--version" '^kiln-cli [0-9]+\.[0-9]+\.[0-9]+$' --version
expect_ok "devices lists BLAS and threads" 'BLAS: ' devices
expect_ok "devices names LibTorch" 'LibTorch 1\.' devices
expect_ok "inspect safetensors" 'model\.0\.weight +F32 +\[4, 3\]' inspect "$data/tiny.safetensors"
expect_ok "inspect shows metadata" 'made_by: tests/data/make_tiny_safetensors.py' inspect "$data/tiny.safetensors"

size=$(stat -c %s "$data/tiny.safetensors")
head -c $((size - 5)) "$data/tiny.safetensors" >"$tmp/truncated.safetensors"
expect_one_line_error "inspect truncated safetensors" '^kiln-cli: error: .*truncated' inspect "$tmp/truncated.safetensors"
head -c 6 "$data/tiny.safetensors" >"$tmp/stub.safetensors"
expect_one_line_error "inspect 6-byte file" '^kiln-cli: error: .*8-byte header' inspect "$tmp/stub.safetensors"
head -c 4096 /dev/urandom >"$tmp/noise.bin"
expect_one_line_error "inspect random bytes" '^kiln-cli: error: ' inspect "$tmp/noise.bin"
expect_one_line_error "inspect missing file" '^kiln-cli: error: .*cannot open' inspect "$tmp/missing.ckpt"
expect_one_line_error "inspect a directory" '^kiln-cli: error: .*not a regular file' inspect "$tmp"
for name in state_dict.pt dtypes.pt shared_views.pt legacy.pt lightning.ckpt; do
  ckpt=$data/checkpoints/$name
  expect_ok "inspect $(basename "$ckpt")" '^format: +PyTorch' inspect "$ckpt"
  csize=$(stat -c %s "$ckpt")
  head -c $((csize / 2)) "$ckpt" >"$tmp/half.pt"
  expect_one_line_error "inspect half of $(basename "$ckpt")" '^kiln-cli: error: ' inspect "$tmp/half.pt"
done
expect_one_line_error "inspect a hostile pickle" 'refused.*system' inspect "$data/checkpoints/evil_system.pt"
expect_one_line_error "unknown command" "unknown command 'frobnicate'" frobnicate

finish
