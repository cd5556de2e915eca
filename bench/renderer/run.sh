#!/usr/bin/env bash
# Renderer benchmark: todoke's renderer vs `kubectl kustomize`, measured in the same run over
# every `ok` case of the corpora in ../shared/corpus (kustomize, kustomize-projects,
# kustomize-krusty; --corpus picks some).
#
#   bench/renderer/run.sh [--runs N] [--service-iterations N] [--filter REGEX]
#                         [--corpus NAME]... [--instructions]
#
# --instructions also counts todoke's instructions per render (callgrind; kubectl, a Go binary,
# does not run under valgrind here, and perf has no hardware counters in this container): they
# do not depend on the machine's load, unlike the wall times.
#
# Per case, each tool renders the folder as a fresh process (`kubectl kustomize <dir>` vs
# `todoke render <dir>`, the CLI users run), RUNS times, interleaved; the median wall time of each gives the case's ratio. Also: the whole-corpus ratio (sum of medians),
# peak RSS of each tool (max over cases, /usr/bin/time), the in-process render time, and the
# service path: Render over gRPC with a warm cache. Needs renderer_bench built
# (cmake --build build --target renderer_bench todoke); TODOKE_BIN_DIR overrides where.
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=5
SERVICE_ITERATIONS=20
FILTER=""
CORPORA=()
INSTRUCTIONS=0
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS=$2; shift 2 ;;
    --service-iterations) SERVICE_ITERATIONS=$2; shift 2 ;;
    --filter) FILTER=$2; shift 2 ;;
    --corpus) CORPORA+=("$2"); shift 2 ;;
    --instructions) INSTRUCTIONS=1; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
BIN=${TODOKE_BIN_DIR:-build/bin}/renderer_bench
ONCE=${TODOKE_BIN_DIR:-build/bin}/todoke
ROOT=${TODOKE_CORPUS_ROOT:-../shared/corpus}
[ ${#CORPORA[@]} -gt 0 ] || CORPORA=(kustomize kustomize-projects kustomize-krusty)
[ -x "$BIN" ] && [ -x "$ONCE" ] || { echo "run.sh: build renderer_bench and todoke first" >&2; exit 1; }
command -v kubectl >/dev/null || { echo "run.sh: kubectl not installed" >&2; exit 1; }
if [ "$INSTRUCTIONS" = 1 ] && ! command -v valgrind >/dev/null; then
  echo "run.sh: --instructions needs valgrind" >&2; exit 1
fi
STATUS=0
for NAME in "${CORPORA[@]}"; do
  echo "=== corpus $NAME"
  python3 - "$BIN" "$ONCE" "$ROOT/$NAME" "$RUNS" "$SERVICE_ITERATIONS" "$FILTER" "$INSTRUCTIONS" <<'PY' || STATUS=1
import os, re, statistics, subprocess, sys, time

bin_, once, corpus, runs, service_iterations, filt, instructions = (
    sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5], sys.argv[6],
    sys.argv[7] == "1")
trees = os.path.join(corpus, "trees")
cases = []
for line in open(os.path.join(corpus, "cases.tsv")):
    parts = line.rstrip("\n").split("\t")
    if len(parts) < 3 or parts[2] != "ok":
        continue
    if filt and not re.search(filt, parts[0]):
        continue
    cases.append((parts[0], parts[1]))

def timed(cmd, cwd=None):
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - start, done.returncode, done.stderr.decode(errors="replace")

def peak_kb(cmd, cwd=None):
    done = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, cwd=cwd,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        return int(done.stderr.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        return 0

def kv(text):
    return dict(item.split("=", 1) for item in text.split())

def instruction_count(cmd):
    done = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"] + cmd,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    match = re.search(r"refs:\s+([0-9,]+)", done.stderr.decode(errors="replace"))
    return int(match.group(1).replace(",", "")) if match else 0

print(f"{'case':<70} {'kubectl ms':>10} {'todoke ms':>10} {'ratio':>7} {'in-proc ms':>10} {'svc warm ms':>11}"
      + (f" {'M instr':>8}" if instructions else ""))
instr_counts = []
ratios, kubectl_total, todoke_total = [], 0.0, 0.0
kubectl_peak, todoke_peak, service_peak = 0, 0, 0
service_medians, failures = [], []
identical = 0
output_sizes, case_ratios = [], []
for case_id, path in cases:
    repo, _, app = path.partition("/")
    repo_root = os.path.join(trees, repo)
    kubectl_cmd = ["kubectl", "kustomize", path]
    todoke_cmd = [once, "render", "--repo-root", repo_root, os.path.join(repo_root, app)]
    k_times, t_times = [], []
    ok = True
    for _ in range(runs):  # interleaved, so both see the same machine load
        kt, krc, kerr = timed(kubectl_cmd, cwd=trees)
        tt, trc, terr = timed(todoke_cmd)
        if trc != 0:
            failures.append(f"{case_id}: todoke: {terr.strip()[:200]}")
            ok = False
            break
        k_times.append(kt)
        t_times.append(tt)
    if not ok:
        continue
    k_out = subprocess.run(kubectl_cmd, cwd=trees, capture_output=True).stdout
    t_out = subprocess.run(todoke_cmd, capture_output=True).stdout
    if k_out == t_out:
        identical += 1
    else:
        failures.append(f"{case_id}: output differs from kubectl kustomize")
    km, tm = statistics.median(k_times), statistics.median(t_times)
    output_sizes.append((len(k_out), case_id))
    case_ratios.append(km / tm)
    kubectl_total += km
    todoke_total += tm
    ratios.append(km / tm)
    kubectl_peak = max(kubectl_peak, peak_kb(kubectl_cmd, cwd=trees))
    todoke_peak = max(todoke_peak, peak_kb(todoke_cmd))
    inproc = kv(subprocess.run([bin_, "inprocess", repo_root, app, "20"], capture_output=True,
                               text=True).stdout)
    svc = kv(subprocess.run([bin_, "service", repo_root, app, service_iterations],
                            capture_output=True, text=True).stdout or "median_us=0 peak_rss_kb=0")
    service_medians.append(float(svc.get("median_us", 0)) / 1000)
    service_peak = max(service_peak, int(svc.get("peak_rss_kb", 0)))
    extra = ""
    if instructions:
        count = instruction_count(todoke_cmd)
        instr_counts.append((count, case_id, len(t_out)))
        extra = f" {count/1e6:>8.1f}"
    print(f"{case_id[:70]:<70} {km*1000:>10.1f} {tm*1000:>10.1f} {km/tm:>6.1f}x "
          f"{float(inproc.get('median_us', 0))/1000:>10.2f} {float(svc.get('median_us', 0))/1000:>11.2f}"
          + extra)

print()
print(f"cases measured: {len(ratios)} of {len(cases)} ok cases ({runs} runs each, process per render)")
print(f"output byte-identical to kubectl kustomize: {identical} of {len(ratios)}")
if ratios:
    print(f"per-case median ratio (kubectl kustomize / todoke): {statistics.median(ratios):.1f}x  (target >= 10x)")
    print(f"  min {min(ratios):.1f}x, max {max(ratios):.1f}x")
    print(f"whole-corpus ratio: {kubectl_total/todoke_total:.1f}x  "
          f"(kubectl {kubectl_total:.2f}s, todoke {todoke_total:.2f}s; target >= 5x)")
    print(f"peak RSS: kubectl kustomize {kubectl_peak/1024:.1f} MiB, todoke {todoke_peak/1024:.1f} MiB "
          f"({kubectl_peak/max(todoke_peak,1):.1f}x less)")
    print(f"service path (Render over gRPC, warm cache): median of per-case medians "
          f"{statistics.median(service_medians):.2f} ms; peak RSS {service_peak/1024:.1f} MiB")
    if instructions and instr_counts:
        counts = sorted(c for c, _, _ in instr_counts)
        top = max(instr_counts)
        print(f"todoke instructions per render (callgrind): median {statistics.median(counts)/1e6:.1f} M, "
              f"max {top[0]/1e6:.1f} M ({top[1]}, {top[2]/1e6:.2f} MB of output)")
    big = sorted(zip(output_sizes, case_ratios), reverse=True)[:3]
    print("largest outputs: " + ", ".join(f"{name} ({size/1e6:.2f} MB) {ratio:.1f}x"
                                          for (size, name), ratio in big))
for failure in failures:
    print("FAILED", failure)
sys.exit(1 if failures else 0)
PY
done
exit $STATUS
