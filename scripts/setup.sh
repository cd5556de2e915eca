#!/usr/bin/env bash
# Installs every Debian package that todoke's build, tests and quickstart need, then configures
# and builds. Idempotent: a second run with everything present only rebuilds what changed.
# Usage: scripts/setup.sh [--no-build]
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libgit2-dev libssh2-1-dev libyaml-cpp-dev libyaml-dev libabsl-dev libre2-dev
  libgtest-dev libgmock-dev googletest
  nlohmann-json3-dev libcurl4-openssl-dev libsqlite3-dev libssl-dev
  libcli11-dev libcpp-httplib-dev prometheus-cpp-dev
  openssl openssh-server openssh-client lighttpd curl procps iproute2 time
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: need root to install: ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || { echo "setup: apt-get update failed" >&2; exit 1; }
  if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >/tmp/todoke-apt.log 2>&1; then
    tail -20 /tmp/todoke-apt.log >&2
    echo "setup: apt-get install failed for: ${missing[*]}" >&2
    exit 1
  fi
fi

[ "${1:-}" = "--no-build" ] && exit 0

BUILD_DIR=${TODOKE_BUILD_DIR:-build}
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=${TODOKE_BUILD_TYPE:-RelWithDebInfo} >/dev/null
fi
log=$(mktemp)
if ! cmake --build "$BUILD_DIR" -- -j"$(nproc)" >"$log" 2>&1; then
  grep -E 'error|FAILED' -A5 "$log" | head -80 >&2
  echo "setup: build failed (full log: $log)" >&2
  exit 1
fi
rm -f "$log"
