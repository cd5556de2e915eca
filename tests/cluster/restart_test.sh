#!/usr/bin/env bash
# Starts a second, independent cluster in DIR, checks it, stops it, starts it again
# in the same DIR, checks it again and stops it.
#
#   tests/cluster/restart_test.sh DIR
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
test_name=k8s_cluster_restart
. "$here/testlib.sh"

[[ $# == 1 ]] || { echo "usage: $0 DIR" >&2; exit 2; }
mkdir -p "$1"
dir="$(cd "$1" && pwd)"

cleanup() { [[ -f "$dir/pids" ]] && "$here/stop.sh" "$dir" >/dev/null 2>&1; }
trap cleanup EXIT

round() { # N
  local n="$1" t=$SECONDS
  if ! "$here/start.sh" "$dir"; then
    fail_check "start #$n failed (logs in $dir/logs)"
    return 1
  fi
  local took=$((SECONDS - t))
  if (( took <= 60 )); then pass "start #$n took ${took}s (<= 60 s)"; else fail_check "start #$n took ${took}s (> 60 s)"; fi

  if readyz "$dir/env" >/dev/null; then pass "start #$n: /readyz ok"; else fail_check "start #$n: /readyz failed"; fi
  if check_loopback_only "$dir"; then pass "start #$n: loopback listeners only"; else fail_check "start #$n: listener outside loopback"; fi

  local pids; pids="$(awk '{ print $2 }' "$dir/pids")"
  if "$here/stop.sh" "$dir"; then pass "stop #$n"; else fail_check "stop #$n failed"; fi
  local pid left=""
  # A zombie (exited, not yet reaped by init) counts as gone.
  for pid in $pids; do
    local st; st="$(ps -o stat= -p "$pid" 2>/dev/null || true)"
    [[ -n "$st" && "$st" != Z* ]] && left+=" $pid($st)"
  done
  if [[ -z "$left" && ! -f "$dir/pids" ]]; then
    pass "stop #$n: all processes gone"
  else
    fail_check "stop #$n: still running:${left:- (pids file left)}"
  fi
}

round 1 && round 2
finish
