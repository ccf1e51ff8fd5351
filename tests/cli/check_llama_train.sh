#!/usr/bin/env bash
# The tiny Llama-style sample trained on a text file: the validation loss must fall by more
# than 1 nat and the model must write a text sample. Usage: check_llama_train.sh KILN_CLI SAMPLES_DIR
set -u
out=$("$1" train "$2/tiny_llama.kgraph" --data /usr/share/common-licenses/GPL-3 --epochs 12 --lr 0.003 2>/dev/null)
rc=$?
echo "$out" | grep -E "^epoch|sample:"
[ $rc -eq 0 ] || { echo "FAIL: kiln-cli exited with $rc"; exit 1; }
first=$(echo "$out" | awk '/^epoch 1 /{for(i=1;i<=NF;i++) if($i=="train"){print $(i+2); exit}}')
last=$(echo "$out" | awk '/^epoch 12 /{for(i=1;i<=NF;i++) if($i=="train"){print $(i+2); exit}}')
echo "training loss: epoch 1 $first, epoch 12 $last"
awk -v a="$first" -v b="$last" 'BEGIN { exit !(a != "" && b != "" && a - b > 1.0) }' || { echo "FAIL: the loss did not fall by 1"; exit 1; }
echo "$out" | grep -q "sample: The " || { echo "FAIL: no text sample"; exit 1; }
echo "PASS"
