#!/usr/bin/env bash
# Starts the real `kiln` under Xvfb, grabs the screen and checks the picture is not blank.
# Usage: smoke_xvfb.sh KILN_BINARY OUT.png      (exit 77: skipped, no Xvfb or ImageMagick)
set -u
kiln=$1 out=$2
for tool in xvfb-run import convert; do
  command -v $tool >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done
export XDG_CONFIG_HOME=$(mktemp -d)   # a new user's settings, not the developer's
xvfb-run -a -s "-screen 0 1280x800x24" bash -c "
  '$kiln' --quit-after 15000 & pid=\$!
  for i in \$(seq 1 40); do sleep 0.5; xwininfo -root -tree 2>/dev/null | grep -q '\"Kiln\"' && break; done
  sleep 2
  import -window root '$out'
  kill \$pid 2>/dev/null; wait \$pid
"
[ -s "$out" ] || { echo "FAIL: no screenshot taken"; exit 1; }
colors=$(convert "$out" -format '%k' info:)
sd=$(convert "$out" -colorspace gray -format '%[fx:standard_deviation]' info:)
echo "screenshot $out: $colors colours, grey standard deviation $sd"
awk -v c="$colors" -v s="$sd" 'BEGIN { exit !(c > 32 && s > 0.05) }' || { echo "FAIL: the screenshot looks blank"; exit 1; }
echo "PASS"
