#!/usr/bin/env bash
# Installs every Debian package Kiln needs to build, test and run. Idempotent: installs only
# what is missing. Runs as root, or through sudo.
set -euo pipefail
packages=(
  build-essential cmake ninja-build ccache lld pkg-config git
  qt6-base-dev qt6-base-dev-tools qt6-svg-dev libqt6svg6 qt6-qpa-plugins libgl-dev
  libtorch-dev libopenblas0-openmp
  libopencv-dev libonnx-dev libre2-dev libyaml-cpp-dev
  libvulkan-dev glslc mesa-vulkan-drivers vulkan-tools
  libqcustomplot-dev
  nlohmann-json3-dev zlib1g-dev
  dataset-fashion-mnist
  xvfb xauth x11-utils imagemagick
  clang libclang-rt-14-dev
  dpkg-dev file
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# Debian's LibTorch calls whatever libblas.so.3 the alternatives system points at; apt may have
# chosen the reference BLAS (~13x slower at matrix multiply). Keep it on the best one (OpenBLAS).
for alt in libblas.so.3-x86_64-linux-gnu liblapack.so.3-x86_64-linux-gnu; do
  if update-alternatives --query "$alt" >/dev/null 2>&1; then
    $sudo update-alternatives --auto "$alt" >/dev/null
  fi
done
echo "install-deps: all packages present; BLAS: $(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3)"
