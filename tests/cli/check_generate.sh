#!/usr/bin/env bash
# kiln-cli generate with a tiny seeded SD model (a diffusers folder written by make_tiny_sd): PNGs with A1111's
# parameters, same seed -> same bytes, --save-latents, size rounding, img2img and inpainting, one-line errors.
# Usage: check_generate.sh KILN_CLI MAKE_TINY_SD
set -u
cli=$1 make_tiny=$2
. "$(dirname "${BASH_SOURCE[0]}")/check_lib.sh"
one_line() { [ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -q '^kiln-cli: error: ' "$tmp/err"; }

if ! "$make_tiny" "$tmp/tiny" >"$tmp/out" 2>"$tmp/err"; then fail "make the tiny model"; exit 1; fi
gen() { "$cli" generate --model "$tmp/tiny" --prompt "a (bc:1.2), aa" --negative "b" --steps 2 --seed 42 \
          --width 64 --height 64 "$@" >"$tmp/out" 2>"$tmp/err"; }

gen --out "$tmp/a"; rc=$?
png=$tmp/a/00000-42.png
if [ $rc -eq 0 ] && [ -f "$png" ] && grep -qx "$png" "$tmp/out"; then pass "generate writes and names the PNG"; else fail "generate writes and names the PNG"; fi
# tEXt is stored uncompressed, so the parameters can be found in the bytes.
if grep -aq 'Steps: 2, Sampler: Euler a, Schedule type: Automatic, CFG scale: 7, Seed: 42, Size: 64x64, Model: tiny' "$png" &&
   grep -aq 'Negative prompt: b' "$png" && grep -aq 'a (bc:1.2), aa' "$png"; then
  pass "the PNG holds A1111's parameters"
else
  fail "the PNG holds A1111's parameters"; strings "$png" | head -5
fi
if head -c 8 "$png" | od -An -tx1 | grep -q '89 50 4e 47 0d 0a 1a 0a'; then pass "PNG signature"; else fail "PNG signature"; fi

gen --out "$tmp/b"; rc=$?
if [ $rc -eq 0 ] && cmp -s "$png" "$tmp/b/00000-42.png"; then pass "the same seed gives the same bytes"; else fail "the same seed gives the same bytes"; fi
gen --out "$tmp/b" --seed 43; rc=$?
if [ $rc -eq 0 ] && [ -f "$tmp/b/00001-43.png" ] && ! cmp -s "$png" "$tmp/b/00001-43.png"; then
  pass "a second run numbers on; another seed differs"
else
  fail "a second run numbers on; another seed differs"
fi

gen --out "$tmp/c" --save-latents "$tmp/lat.safetensors"; rc=$?
"$cli" inspect "$tmp/lat.safetensors" >"$tmp/inspect" 2>&1
shape=$(sed -n 's/^noise  *F32  *//p' "$tmp/inspect")
if [ $rc -eq 0 ] && [ -n "$shape" ] && grep -q "^step_000  *F32  *$shape" "$tmp/inspect" &&
   grep -q "^step_001  *F32  *$shape" "$tmp/inspect" && ! grep -q '^step_002' "$tmp/inspect" &&
   cmp -s "$png" "$tmp/c/00000-42.png"; then
  pass "--save-latents writes noise, step_000, step_001 ($shape)"
else
  fail "--save-latents writes noise, step_000, step_001"; cat "$tmp/inspect"
fi

gen --out "$tmp/d" --width 60; rc=$?
if [ $rc -eq 0 ] && grep -q 'note: size 60x64 rounded to 64x64' "$tmp/err" && grep -aq 'Size: 64x64' "$tmp/d/00000-42.png"; then
  pass "a width of 60 is rounded to 64 with a notice"
else
  fail "a width of 60 is rounded to 64 with a notice"
fi

gen --out "$tmp/e" --batch 2; rc=$?
# (Not byte-equal to single runs: a batch of 2 may round differently in the UNet's matrix products.)
if [ $rc -eq 0 ] && grep -aq 'Seed: 42,' "$tmp/e/00000-42.png" && grep -aq 'Seed: 43,' "$tmp/e/00001-43.png"; then
  pass "a batch of 2 uses seeds 42 and 43"
else
  fail "a batch of 2 uses seeds 42 and 43"
fi

"$cli" generate --model "$tmp/no-such-model" --prompt x --out "$tmp/f" >"$tmp/out" 2>"$tmp/err"; rc=$?
if [ $rc -eq 1 ] && one_line && grep -q 'no-such-model' "$tmp/err"; then pass "a missing model: one line, exit 1"; else fail "a missing model: one line, exit 1"; fi

gen --out "$tmp/f" --sampler "Euler z"; rc=$?
if [ $rc -eq 1 ] && one_line && grep -q 'Euler z' "$tmp/err"; then pass "a bad sampler: one line, exit 1"; else fail "a bad sampler: one line, exit 1"; fi

cp -r "$tmp/tiny" "$tmp/notok" && rm -rf "$tmp/notok/tokenizer"
"$cli" generate --model "$tmp/notok" --prompt x --steps 1 --out "$tmp/f" >"$tmp/out" 2>"$tmp/err"; rc=$?
if [ $rc -eq 1 ] && one_line && grep -q 'tokenizer' "$tmp/err" && grep -q 'looked in' "$tmp/err"; then
  pass "a missing tokenizer: one line with where Kiln looked"
else
  fail "a missing tokenizer: one line with where Kiln looked"
fi

gen --out "$tmp/k" --batch 2 --batch-count 2; rc=$?
if [ $rc -eq 0 ] && [ "$(ls "$tmp/k" | tr '\n' ' ')" = "00000-42.png 00001-43.png 00002-44.png 00003-45.png " ]; then
  pass "batch count 2 of batch 2: seeds 42 to 45"
else
  fail "batch count 2 of batch 2: seeds 42 to 45"; ls "$tmp/k"
fi

gen --out "$tmp/g" --init-image "$png" --strength 0.5 --steps 4; rc=$?
# strength 0.5 of 4 steps: int(0.5 * 4) + 1 = 3 sampler steps
if [ $rc -eq 0 ] && grep -aq 'Denoising strength: 0.5' "$tmp/g/00000-42.png" && grep -q 'step 3/3' "$tmp/err" &&
   ! cmp -s "$png" "$tmp/g/00000-42.png"; then
  pass "img2img from a PNG: 3 of 4 steps at strength 0.5, strength in the parameters"
else
  fail "img2img from a PNG: 3 of 4 steps at strength 0.5, strength in the parameters"; cat "$tmp/err"
fi

# A 64x64 binary PGM mask: the left half white (repaint), the right half black (keep).
{ printf 'P5\n64 64\n255\n'; for _ in $(seq 64); do head -c 32 /dev/zero | tr '\0' '\377'; head -c 32 /dev/zero; done; } >"$tmp/mask.pgm"
gen --out "$tmp/h" --init-image "$png" --mask "$tmp/mask.pgm" --mask-blur 2; rc=$?
if [ $rc -eq 0 ] && grep -aq 'Mask blur: 2' "$tmp/h/00000-42.png" && grep -aq 'Denoising strength: 0.75' "$tmp/h/00000-42.png"; then
  pass "inpainting with a PGM mask writes mask blur and strength"
else
  fail "inpainting with a PGM mask writes mask blur and strength"; cat "$tmp/err"
fi

{ printf 'P5\n32 32\n255\n'; head -c 1024 /dev/zero; } >"$tmp/small.pgm"
gen --out "$tmp/f" --init-image "$png" --mask "$tmp/small.pgm"; rc=$?
if [ $rc -eq 1 ] && one_line && grep -q 'same size' "$tmp/err"; then pass "a mask of another size: one line, exit 1"; else fail "a mask of another size: one line, exit 1"; fi
head -c 100 "$png" >"$tmp/cut.png"
gen --out "$tmp/f" --init-image "$tmp/cut.png"; rc=$?
if [ $rc -eq 1 ] && one_line && grep -q 'cut.png' "$tmp/err"; then pass "a truncated init image: one line naming it, exit 1"; else fail "a truncated init image: one line naming it, exit 1"; fi
gen --out "$tmp/f" --mask "$tmp/mask.pgm"; rc=$?
if [ $rc -eq 2 ] && grep -q -- '--init-image' "$tmp/err"; then pass "--mask without --init-image: usage error"; else fail "--mask without --init-image: usage error"; fi
gen --out "$tmp/f" --strength 1.5 --init-image "$png"; rc=$?
if [ $rc -eq 2 ]; then pass "a strength above 1: usage error"; else fail "a strength above 1: usage error"; fi
"$cli" generate --prompt x --out "$tmp/f" >"$tmp/out" 2>"$tmp/err"; rc=$?
if [ $rc -eq 2 ] && grep -q -- '--model' "$tmp/err"; then pass "no model: usage error, exit 2"; else fail "no model: usage error, exit 2"; fi
gen --out "$tmp/f" --steps zero; rc=$?
if [ $rc -eq 2 ]; then pass "a bad step count: usage error, exit 2"; else fail "a bad step count: usage error, exit 2"; fi
if [ ! -e "$tmp/f" ] || [ -z "$(ls -A "$tmp/f")" ]; then pass "failed runs write no images"; else fail "failed runs write no images"; fi

finish
