#!/usr/bin/env bash
# Stops the cluster that start.sh DIR started: ends exactly the processes listed in
# DIR/pids (TERM, then KILL after 15 s), in reverse start order, then removes
# DIR/pids. Leaves everything else (logs, data, kubeconfig, env) in place.
# A pid is only signalled while its command line still names DIR (guards against a
# pid reused by an unrelated process). Succeeds when nothing is running.
set -euo pipefail

[[ $# == 1 ]] || { echo "usage: $0 DIR" >&2; exit 2; }
[[ -d "$1" ]] || { echo "stop.sh: no such directory: $1" >&2; exit 0; }
dir="$(cd "$1" && pwd)"
pids_file="$dir/pids"
[[ -f "$pids_file" ]] || { echo "stop.sh: nothing to stop in $dir (no pids file)"; exit 0; }

ours() { # pid: alive and started by start.sh for this DIR
  kill -0 "$1" 2>/dev/null && tr '\0' ' ' < "/proc/$1/cmdline" 2>/dev/null | grep -qF "$dir/"
}

names=(); pids=()
while read -r name pid; do
  [[ -n "${pid:-}" && "$pid" =~ ^[0-9]+$ ]] || continue
  names=("$name" "${names[@]}"); pids=("$pid" "${pids[@]}")   # reverse order
done < "$pids_file"

live=()
for i in "${!pids[@]}"; do
  if ours "${pids[$i]}"; then
    kill -TERM "${pids[$i]}" 2>/dev/null || true
    live+=("$i")
  fi
done

deadline=$((SECONDS + 15))
while (( ${#live[@]} > 0 && SECONDS < deadline )); do
  still=()
  for i in "${live[@]}"; do ours "${pids[$i]}" && still+=("$i"); done
  live=("${still[@]+"${still[@]}"}")
  (( ${#live[@]} == 0 )) || sleep 0.2
done
for i in "${live[@]+"${live[@]}"}"; do
  echo "stop.sh: ${names[$i]} (pid ${pids[$i]}) ignored TERM; sending KILL" >&2
  kill -KILL "${pids[$i]}" 2>/dev/null || true
done
for i in "${live[@]+"${live[@]}"}"; do
  for _ in $(seq 50); do ours "${pids[$i]}" || break; sleep 0.1; done
done

rm -f "$pids_file"
echo "stop.sh: stopped ${#pids[@]} processes of $dir"
