#!/usr/bin/env bash
# kiln-cli export as a user meets it: files written, weights round-tripped, one-line errors.
# Usage: check_export_cli.sh KILN_CLI SAMPLES_DIR
set -u
cli=$1 samples=$2
. "$(dirname "${BASH_SOURCE[0]}")/../cli/check_lib.sh"
expect_error() {  # exit not 0, the error on one line matching REGEX
  local name=$1 re=$2; shift 2
  "$cli" "$@" >"$tmp/out" 2>&1; local rc=$?
  if [ $rc -ne 0 ] && grep -qE "$re" "$tmp/out" && [ "$(grep -c '^kiln-cli: error' "$tmp/out")" -eq 1 ]; then
    pass "$name (exit $rc)"; else fail "$name (exit $rc)"; fi
}

expect_ok "export all three" "wrote .*convnet\.py" export "$samples/fashion_convnet.kgraph" \
  --py "$tmp/convnet.py" --onnx "$tmp/convnet.onnx" --safetensors "$tmp/convnet.safetensors"
for f in convnet.py convnet.onnx convnet.safetensors; do
  if [ -s "$tmp/$f" ]; then pass "$f is there"; else echo "missing $tmp/$f" >"$tmp/out"; fail "$f is there"; fi
done
expect_ok "inspect shows the state_dict keys" 'bn1\.running_mean +F32 +\[16\]' inspect "$tmp/convnet.safetensors"
expect_ok "export with --weights" "weights: 25 tensors from" export "$samples/fashion_convnet.kgraph" \
  --weights "$tmp/convnet.safetensors" --safetensors "$tmp/again.safetensors"
if cmp -s <(tail -c 1000 "$tmp/convnet.safetensors") <(tail -c 1000 "$tmp/again.safetensors"); then pass "weights round-trip"
else echo "the re-exported weights differ" >"$tmp/out"; fail "weights round-trip"; fi
expect_ok "python only" "wrote .*llama\.py" export "$samples/tiny_llama.kgraph" --py "$tmp/llama.py" --class TinyLlama
if grep -q "^class TinyLlama(nn.Module):" "$tmp/llama.py"; then pass "--class names the module"; else cp "$tmp/llama.py" "$tmp/out"; fail "--class names the module"; fi

expect_error "weights of another graph" "error: .*lacks fc3\.weight" export "$samples/mlp.kgraph" \
  --weights "$tmp/convnet.safetensors" --onnx "$tmp/mlp.onnx"
if [ ! -e "$tmp/mlp.onnx" ]; then pass "nothing written on error"; else echo "mlp.onnx exists" >"$tmp/out"; fail "nothing written on error"; fi
sed 's/"in_features": 3136/"in_features": 3000/' "$samples/fashion_convnet.kgraph" >"$tmp/bad.kgraph"
expect_error "shape error names the node" "error: .*fc1.*in_features" export "$tmp/bad.kgraph" --py "$tmp/bad.py"
expect_error "nothing asked" "nothing to export" export "$samples/mlp.kgraph"
expect_error "unknown option" "unknown option --pt" export "$samples/mlp.kgraph" --pt x.py
expect_error "missing graph" "error: .*missing\.kgraph" export "$tmp/missing.kgraph" --py "$tmp/x.py"

finish
