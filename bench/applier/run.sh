#!/usr/bin/env bash
# Applier benchmark, N runs on one test control plane (tests/cluster), then the spread.
#
#   bench/applier/run.sh [--runs N] [--cluster-dir DIR] [-- applier_bench flags...]
#
# Starts a cluster in DIR (default /tmp/k8s-bench) unless one is already running there, runs
# build/bin/applier_bench N times (default 3; every second run with --kubectl-first, so neither
# tool always goes first), prints each run's README row, and stops the cluster it started.
# Needs applier_bench and todoke-applier built:
#   flock /tmp/todoke-build.lock cmake --build build --target applier_bench
# A run takes about 3 minutes on a 2-core machine (most of it waiting for the controllers
# between phases). TODOKE_BIN_DIR overrides where the binaries are.
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=3
DIR=/tmp/k8s-bench
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS=$2; shift 2 ;;
    --cluster-dir) DIR=$2; shift 2 ;;
    --) shift; break ;;
    *) echo "unknown argument $1 (extra applier_bench flags go after --)" >&2; exit 2 ;;
  esac
done
BIN=${TODOKE_BIN_DIR:-build/bin}
[ -x "$BIN/applier_bench" ] && [ -x "$BIN/todoke-applier" ] ||
  { echo "run.sh: build applier_bench first (it depends on todoke-applier)" >&2; exit 1; }

started=0
running() {
  [ -f "$DIR/pids" ] || return 1
  while read -r _ pid; do kill -0 "$pid" 2>/dev/null || return 1; done <"$DIR/pids"
}
if ! running; then
  tests/cluster/start.sh "$DIR" >/dev/null
  started=1
fi
cleanup() { if [ "$started" = 1 ]; then tests/cluster/stop.sh "$DIR" >/dev/null; fi; }
trap cleanup EXIT

log=$(mktemp)
rows=()
for run in $(seq 1 "$RUNS"); do
  order=()
  if [ $((run % 2)) = 0 ]; then order=(--kubectl-first); fi
  echo "=== run $run of $RUNS ${order[*]:-}"
  "$BIN/applier_bench" --cluster-env="$DIR/env" "${order[@]}" "$@" | tee "$log"
  rows+=("$(grep '^README row:' "$log" | sed 's/^README row: //')")
done
rm -f "$log"
echo
echo "todoke vs kubectl apply (create) | re-apply (no-op) | ReadLive p50 / p99 | RSS per 10,000 objects"
printf '%s\n' "${rows[@]}"
