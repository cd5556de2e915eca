#!/usr/bin/env bash
# todoke's main job on its embedded default. Today: builds todoke, starts the five services on
# loopback and shows each one healthy over gRPC, then stops them. (When the orchestrator's
# reconcile loop lands, this becomes the full quickstart: an embedded Git repository rendered
# and hydrated into a branch.)
# Usage: scripts/quickstart.sh [--keep]   (--keep leaves the services running)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
BIN=${TODOKE_BUILD_DIR:-build}/bin
RUN_DIR=$(mktemp -d /tmp/todoke-quickstart.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
[ "${1:-}" = "--keep" ] || trap cleanup EXIT

addresses=()
for svc in source-fetcher renderer differ applier orchestrator; do
  "$BIN/todoke-$svc" --listen=127.0.0.1:0 >"$RUN_DIR/$svc.out" 2>"$RUN_DIR/$svc.log" &
  pids+=($!)
  for _ in $(seq 100); do
    grep -q "listening on" "$RUN_DIR/$svc.out" 2>/dev/null && break
    sleep 0.1
  done
  addr=$(sed -n 's/.*listening on //p' "$RUN_DIR/$svc.out")
  [ -n "$addr" ] || { echo "quickstart: todoke-$svc did not start; log:" >&2; cat "$RUN_DIR/$svc.log" >&2; exit 1; }
  addresses+=("$svc=$addr")
done
"$BIN/todoke" health "${addresses[@]}"
echo "logs: $RUN_DIR"
if [ "${1:-}" = "--keep" ]; then echo "services left running: pids ${pids[*]}"; fi
