#!/usr/bin/env bash
# Scale benchmark: one kustomization of N objects (default 20,000; scale_tree.py writes it:
# namespace, namePrefix, labels and annotations over Deployments with the ConfigMaps,
# ServiceAccounts and Services they refer to), rendered by `todoke render` (median of RUNS
# processes), by renderer_bench in-process, and by `kubectl kustomize` once, on the same input
# in the same run; prints the times and the ratio. Target: todoke under 2 s at 20,000 objects.
#
#   bench/renderer/scale.sh [--objects N] [--runs N] [--kubectl-timeout SECONDS] [--no-kubectl]
#
# `kubectl kustomize` (v5.5) needs about 40 s of CPU at 4,000 objects of this shape and grows
# with the square of N: --kubectl-timeout (default 1800) caps it, and the ratio is then printed
# as a lower bound. Needs build/bin/todoke and build/bin/renderer_bench (TODOKE_BIN_DIR
# overrides where).
set -euo pipefail
cd "$(dirname "$0")/../.."
OBJECTS=20000
RUNS=5
KUBECTL_TIMEOUT=1800
KUBECTL=1
while [ $# -gt 0 ]; do
  case "$1" in
    --objects) OBJECTS=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --kubectl-timeout) KUBECTL_TIMEOUT=$2; shift 2 ;;
    --no-kubectl) KUBECTL=0; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
BIN_DIR=${TODOKE_BIN_DIR:-build/bin}
[ -x "$BIN_DIR/todoke" ] && [ -x "$BIN_DIR/renderer_bench" ] ||
  { echo "scale.sh: build todoke and renderer_bench first" >&2; exit 1; }
TREE=$(mktemp -d)
trap 'rm -rf "$TREE"' EXIT
python3 bench/renderer/scale_tree.py "$TREE/app" "$OBJECTS"
python3 - "$BIN_DIR" "$TREE/app" "$RUNS" "$KUBECTL" "$KUBECTL_TIMEOUT" <<'PY'
import os, resource, statistics, subprocess, sys, time
bin_dir, app, runs, kubectl, kubectl_timeout = (sys.argv[1], sys.argv[2], int(sys.argv[3]),
                                                sys.argv[4] == "1", float(sys.argv[5]))

def run(cmd, timeout=None):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    try:
        done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, None, None
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        sys.exit(f"{cmd[0]} failed: {done.stderr.decode(errors='replace')[:500]}")
    return wall, cpu, done.stdout

todoke = [os.path.join(bin_dir, "todoke"), "render", "--repo-root", app, app]
walls, cpus, out = [], [], None
for _ in range(runs):
    wall, cpu, out = run(todoke)
    walls.append(wall)
    cpus.append(cpu)
objects = out.count(b"\nkind: ") + out.startswith(b"kind: ")
inproc = subprocess.run([os.path.join(bin_dir, "renderer_bench"), "inprocess", app, "", "3"],
                        capture_output=True, text=True).stdout.strip()
tm = statistics.median(walls)
print(f"objects rendered: {objects}")
print(f"todoke render: median {tm:.2f} s wall, {statistics.median(cpus):.2f} s CPU "
      f"({runs} processes; target < 2 s)")
print(f"renderer_bench inprocess (3 renders): {inproc}")
if kubectl:
    wall, cpu, k_out = run(["kubectl", "kustomize", app], timeout=kubectl_timeout)
    if wall is None:
        print(f"kubectl kustomize: did not finish in {kubectl_timeout:.0f} s; "
              f"ratio (kubectl / todoke) > {kubectl_timeout / tm:.0f}x")
    else:
        same = "identical output" if k_out == out else "OUTPUT DIFFERS"
        print(f"kubectl kustomize: {wall:.1f} s wall, {cpu:.1f} s CPU ({same})")
        print(f"ratio (kubectl kustomize / todoke render, wall): {wall / tm:.0f}x")
        if k_out != out:
            sys.exit(1)
PY
