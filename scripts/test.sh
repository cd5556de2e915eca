#!/usr/bin/env bash
# Runs the whole test suite: installs what is missing and builds (scripts/setup.sh), then runs
# every CTest test. Tests labelled `k8s` start a real Kubernetes control plane built from the
# Go module proxy (tests/cluster/), cached after the first build.
# Usage: scripts/test.sh [extra ctest arguments, e.g. -L unit or -R yaml]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
BUILD_DIR=${TODOKE_BUILD_DIR:-build}
exec ctest --test-dir "$BUILD_DIR" --output-on-failure -j"$(nproc)" "$@"
