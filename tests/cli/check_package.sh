#!/usr/bin/env bash
# Builds the .deb with CPack and checks what it installs and what it depends on.
# Usage: check_package.sh BUILD_DIR
set -u
build=$1
cd "$build" || exit 1
rm -f "$build"/kiln-*-amd64.deb
cpack -G DEB >cpack.log 2>&1 || { tail -20 cpack.log; echo "FAIL: cpack"; exit 1; }
deb=$(ls -t "$build"/kiln-*-amd64.deb | head -1)
[ -f "$deb" ] || { echo "FAIL: no .deb produced"; exit 1; }
echo "package: $deb ($(stat -c %s "$deb") bytes)"
dpkg-deb -c "$deb" | awk '{print $6}' >files.txt
failures=0 passed=0
for f in ./usr/bin/kiln ./usr/bin/kiln-cli ./usr/share/applications/org.kiln.Kiln.desktop \
         ./usr/share/icons/hicolor/scalable/apps/org.kiln.Kiln.svg ./usr/share/metainfo/org.kiln.Kiln.metainfo.xml \
         ./usr/lib/x86_64-linux-gnu/kiln/plugins/kiln_tensor_stats_plugin.so ./usr/share/kiln/samples/fashion_convnet.kgraph; do
  if grep -qx "$f" files.txt; then passed=$((passed + 1)); echo "ok   $f"; else failures=$((failures + 1)); echo "FAIL missing $f"; fi
done
depends=$(dpkg-deb -f "$deb" Depends)
for d in libtorch1.13 libqt6widgets6 libopenblas0-openmp libvulkan1 libopencv-core406 libre2-9; do
  if grep -q "$d" <<<"$depends"; then passed=$((passed + 1)); echo "ok   depends on $d"; else failures=$((failures + 1)); echo "FAIL no dependency on $d"; fi
done
if [ "$(dpkg-deb -f "$deb" Architecture)" = amd64 ]; then passed=$((passed + 1)); else failures=$((failures + 1)); echo "FAIL architecture"; fi
echo "$passed passed, $failures failed"
[ $failures -eq 0 ]
