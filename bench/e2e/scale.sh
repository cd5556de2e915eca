#!/usr/bin/env bash
# Flux's own scale workload (issue 13), on the test control plane (tests/cluster), against the
# floor: the same objects server-side applied by 8 parallel kubectl processes.
#
#   bench/e2e/scale.sh [--apps N] [--control-plane tuned|default] [--cluster-dir DIR]
#                      [--no-floor] [--keep] [--orchestrator-flag F]... [--applier-flag F]...
#                      [--noop-window D [--noop-interval D]]   (D: 600, 600s or 10m)
#
# The workload (the one behind Flux's published mean-time-to-production figures):
#   - N apps (default 100; 500 and 1000 are the published sizes) in one namespace, all from one
#     Git repository and one commit: folder app/ holds a ServiceAccount, a ClusterIP Service, a
#     Deployment with 0 replicas and an Ingress in namespace bench, whose names are web-${INDEX}
#     and whose CPU request is "1${INDEX}m" (the namespace is written in each file, so that the
#     floor's kubectl reads the same files; todoke would put objects without one into
#     destination.kubernetes.namespace too); each Application substitutes INDEX=<i>
#     (spec.source.substitute, the renderer's Flux-style postBuild substitution), automated with
#     prune, interval 1h (so only the apply and the webhook start syncs; see --noop-window);
#   - install: the clock starts before `todoke app apply -f` of the N Applications and stops
#     when an independent watch (bench/e2e/kstatus_watch.py, its own HTTPS watches, not todoke)
#     sees all 4N objects current by kstatus rules (Deployments: observedGeneration ==
#     generation, Available, Progressing/NewReplicaSetAvailable, the expected CPU request);
#   - upgrade: one commit changes every app's request to "2${INDEX}m", announced by a signed
#     webhook; timed the same way (start before the commit);
#   - the floor, first, in namespace floor (then deleted, waited for): the same 4N objects,
#     rendered by awk from the same files, applied by 8 parallel `kubectl apply --server-side`
#     processes (create, then the same upgrade), waited for by the same watch;
#   - per run: CPU seconds (utime+stime of /proc/PID/stat) and peak RSS (VmHWM, reset through
#     /proc/PID/clear_refs before each run) of the five todoke services, kube-apiserver, etcd and
#     kube-controller-manager; the orchestrator's RSS at N; the load average.
# --control-plane tuned (default): kube-controller-manager with --kube-api-qps=1000
#   --kube-api-burst=2000 --concurrent-deployment-syncs=25 --concurrent-replicaset-syncs=25
#   (TODOKE_KCM_FLAGS of tests/cluster/start.sh); default: the controller manager's defaults.
#   etcd runs with --unsafe-no-fsync either way (tests/cluster).
#   - with --noop-window D, after the upgrade, the no-op round (issue 13: "the CPU of a no-op
#     round of all apps"): the apps were created with syncPolicy.interval --noop-interval (default
#     1m) instead of 1h, so interval passes alone (no webhook, no change) drive it, their first
#     interval spread as after any create; the repository is served by `git daemon` on loopback
#     for the whole run (git://, instead of a local path) so that the Git server's CPU counts.
#     After every app is Synced at the upgrade's commit and 30 s of settling, for D: CPU seconds
#     of the five services and of git daemon (with the upload-pack processes it forked), summed
#     as % of one core (target at 1,000 apps and 1m: under 2%), kube-apiserver, etcd and the
#     controller manager beside it (not in the sum); the passes and the gRPC calls each service
#     handled. It fails (exit 1) when the round did work: an Apply call or an applied object
#     (todoke_applier_objects_total), a pass other than "ok" (todoke_orchestrator_reconciles_total),
#     an object of namespace bench whose resourceVersion moved, an app not Synced at either end.
# todoke's services run with their defaults plus the --orchestrator-flag/--applier-flag given.
# The README's figures: --applier-flag=--kube-qps=1000 --applier-flag=--kube-burst=2000 (the
# applier's default 50 QPS alone would hold 4,000 applies to 80 s). --sync-workers defaults to 64
# (4 made every sync wait for its Deployment 3 at a time, 100 apps 31 s against 5.5 s; on a quiet
# machine at 1,000 apps 16 gave 2.44x the floor, 64 1.57x). The report ends with, per run, the
# API server's requests by verb and resource, the gRPC calls each service handled and their mean
# latency, and the orchestrator's busy workers.
# The cluster is started in DIR (default /tmp/k8s-scale) and stopped at the end unless --keep.
# Needs the control plane built (tests/cluster/build.sh) and the services and the CLI built
# (TODOKE_BIN_DIR, else build/bin; copied at the start, so a rebuild meanwhile does not matter).
# Exit 0 when every run converged; timings never fail it.
set -euo pipefail
{  # the whole script is read before it runs: editing the file meanwhile cannot change a run
cd "$(dirname "$0")/../.."
ROOT=$PWD

APPS=100
MODE=tuned
DIR=/tmp/k8s-scale
FLOOR=1
KEEP=0
ORCH_FLAGS=()
APPLIER_FLAGS=()
TIMEOUT=${SCALE_TIMEOUT:-1800}
NOOP_WINDOW=
NOOP_INTERVAL=1m
while [ $# -gt 0 ]; do
  case "$1" in --*=*) set -- "${1%%=*}" "${1#*=}" "${@:2}" ;; esac  # --flag=value as --flag value
  case "$1" in
    --apps) APPS=$2; shift 2 ;;
    --control-plane) MODE=$2; shift 2 ;;
    --cluster-dir) DIR=$2; shift 2 ;;
    --no-floor) FLOOR=0; shift ;;
    --keep) KEEP=1; shift ;;
    --orchestrator-flag) ORCH_FLAGS+=("$2"); shift 2 ;;
    --applier-flag) APPLIER_FLAGS+=("$2"); shift 2 ;;
    --noop-window) NOOP_WINDOW=$2; shift 2 ;;
    --noop-interval) NOOP_INTERVAL=$2; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "scale.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
case "$MODE" in
  tuned) KCM_FLAGS="--kube-api-qps=1000 --kube-api-burst=2000 --concurrent-deployment-syncs=25 --concurrent-replicaset-syncs=25" ;;
  default) KCM_FLAGS="" ;;
  *) echo "scale.sh: --control-plane is tuned or default" >&2; exit 2 ;;
esac
[[ "$APPS" =~ ^[1-9][0-9]*$ ]] || { echo "scale.sh: --apps must be a positive number" >&2; exit 2; }
seconds_of() {  # 600, 600s or 10m -> 600 (empty when not one of these)
  case "$1" in
    *m) [[ "${1%m}" =~ ^[1-9][0-9]*$ ]] && echo $((${1%m} * 60)) ;;
    *s) [[ "${1%s}" =~ ^[1-9][0-9]*$ ]] && echo "${1%s}" ;;
    *) [[ "$1" =~ ^[1-9][0-9]*$ ]] && echo "$1" ;;
  esac
  return 0
}
NOOP=0
INTERVAL=1h
if [ -n "$NOOP_WINDOW" ]; then
  NOOP=1
  NOOP_SECS=$(seconds_of "$NOOP_WINDOW")
  INTERVAL_SECS=$(seconds_of "$NOOP_INTERVAL")
  [ -n "$NOOP_SECS" ] && [ -n "$INTERVAL_SECS" ] ||
    { echo "scale.sh: --noop-window and --noop-interval are durations: 600, 600s or 10m" >&2; exit 2; }
  INTERVAL=${INTERVAL_SECS}s
fi

BUILT=${TODOKE_BIN_DIR:-build/bin}
RUN=$(mktemp -d "${TMPDIR:-/tmp}/todoke-scale.XXXXXX")
mkdir -p "$RUN/bin" "$RUN/logs" "$RUN/data" "$RUN/floor"
for b in todoke todoke-source-fetcher todoke-renderer todoke-differ todoke-applier todoke-orchestrator; do
  [ -x "$BUILT/$b" ] || { echo "scale.sh: $BUILT/$b is missing (build the services and the CLI)" >&2; exit 1; }
  cp "$BUILT/$b" "$RUN/bin/"
done
BIN=$RUN/bin
WATCH="$ROOT/bench/e2e/kstatus_watch.py"

pids=()
cluster_started=0
on_exit() {
  local code=$? p
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for _ in $(seq 100); do
    local alive=0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  if [ "$KEEP" = 0 ] && [ "$cluster_started" = 1 ]; then tests/cluster/stop.sh "$DIR" >/dev/null 2>&1 || true; fi
  if [ "$code" = 0 ] && [ "$KEEP" = 0 ]; then rm -rf "$RUN"; else echo "scale.sh: data and logs kept in $RUN" >&2; fi
}
trap on_exit EXIT
trap 'exit 130' INT TERM

load() { cut -d' ' -f1-3 /proc/loadavg; }
echo "scale.sh: $APPS apps, control plane $MODE, $(nproc) cores, load $(load), work dir $RUN"

# --- the control plane -------------------------------------------------------------------------
TODOKE_KCM_FLAGS=$KCM_FLAGS tests/cluster/start.sh "$DIR" >"$RUN/logs/cluster.log" 2>&1 ||
  { tail -20 "$RUN/logs/cluster.log" >&2; echo "scale.sh: the control plane did not start" >&2; exit 1; }
cluster_started=1
set -a; . "$DIR/env"; set +a
kubectl=$TODOKE_K8S_KUBECTL
declare -A cpid
while read -r name pid; do cpid[$name]=$pid; done <"$DIR/pids"
echo "control plane: $("$TODOKE_K8S_BIN/kube-apiserver" --version), kube-controller-manager flags: ${KCM_FLAGS:-(defaults)}; etcd --unsafe-no-fsync"

# --- process accounting ------------------------------------------------------------------------
declare -A watched  # name -> pid
declare -A with_children  # name -> 1: its reaped children's CPU counts too (git daemon)
# ticks NAME: utime + stime (+ cutime + cstime) of the watched process NAME.
ticks() {
  local f; read -r -a f <"/proc/${watched[$1]}/stat"
  if [ -n "${with_children[$1]:-}" ]; then echo $((f[13] + f[14] + f[15] + f[16])); else echo $((f[13] + f[14])); fi
}
kib() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
declare -A cpu0
# api_requests FILE: kube-apiserver's own request counters (apiserver_request_total), so that a
# run can say which requests its API server CPU went to.
api_requests() {
  "$kubectl" get --raw /metrics 2>/dev/null | grep '^apiserver_request_total{' >"$1" || true
}
declare -A api_report  # run -> requests the API server handled during it, by verb and resource
begin_run() {  # reset each process's peak RSS, note its CPU and the API server's request counts
  local name
  api_requests "$RUN/logs/api-requests-before.txt"
  for name in "${!watched[@]}"; do
    echo 5 >"/proc/${watched[$name]}/clear_refs" 2>/dev/null || true
    cpu0[$name]=$(ticks "$name")
  done
}
HZ=$(getconf CLK_TCK)
declare -A report  # run -> text
declare -A todoke_pct  # run -> the five services' CPU as % of one core (and git daemon's)
end_run() {  # RUN_NAME SECONDS [DECIMALS]: a table of CPU s and peak RSS per process
  local run=$1 secs=$2 d=${3:-0} name out total=0 git=0
  out=$(printf '%-24s %9s %12s %9s\n' process "CPU s" "% of 1 core" "peak MiB")
  for name in source-fetcher renderer differ applier orchestrator git-daemon kube-apiserver etcd kube-controller-manager; do
    [ -n "${watched[$name]:-}" ] || continue
    local pid=${watched[$name]} c
    c=$(( $(ticks "$name") - cpu0[$name] ))
    if [ "$name" = git-daemon ]; then git=$c; elif [[ $name != kube-* && $name != etcd ]]; then total=$((total + c)); fi
    out+=$'\n'$(awk -v n="$name" -v c="$c" -v hz="$HZ" -v s="$secs" -v h="$(kib "$pid" VmHWM)" -v d="$d" \
      'BEGIN { printf "%-24s %9.*f %11.*f%% %9.0f", n, d + 1, c / hz, d, 100 * c / hz / s, h / 1024 }')
  done
  if [ -n "${watched[orchestrator]:-}" ]; then
    out+=$'\n'$(awk -v c="$total" -v hz="$HZ" -v s="$secs" -v d="$d" 'BEGIN { printf "%-24s %9.*f %11.*f%%", "todoke (five services)", d + 1, c / hz, d, 100 * c / hz / s }')
    todoke_pct[$run]=$(awk -v c="$total" -v hz="$HZ" -v s="$secs" 'BEGIN { printf "%.2f", 100 * c / hz / s }')
  fi
  if [ -n "${watched[git-daemon]:-}" ] && [ -n "${watched[orchestrator]:-}" ]; then
    out+=$'\n'$(awk -v c="$((total + git))" -v hz="$HZ" -v s="$secs" -v d="$d" 'BEGIN { printf "%-24s %9.*f %11.*f%%", "todoke + git daemon", d + 1, c / hz, d, 100 * c / hz / s }')
    todoke_pct[$run-git]=$(awk -v c="$((total + git))" -v hz="$HZ" -v s="$secs" 'BEGIN { printf "%.2f", 100 * c / hz / s }')
  fi
  report[$run]=$out
  api_requests "$RUN/logs/api-requests-$run.txt"
  # Counts by verb, resource and dry run, the 16 largest; watches counted when they started.
  api_report[$run]=$(awk '
    function label(line, name,   v) { v = line; if (!sub(".*[{,]" name "=\"", "", v)) return ""; sub(/".*/, "", v); return v }
    { key = sprintf("%-7s %-28s%s", label($0, "verb"), label($0, "resource") (label($0, "subresource") == "" ? "" : "/" label($0, "subresource")), label($0, "dry_run") == "All" ? " (dry run)" : "")
      v[key] += (FILENAME == ARGV[1] ? -1 : 1) * $NF }
    END { for (k in v) if (v[k] > 0) printf "  %8d  %s\n", v[k], k }' \
    "$RUN/logs/api-requests-before.txt" "$RUN/logs/api-requests-$run.txt" | sort -n -r | head -16)
}
for name in kube-apiserver etcd kube-controller-manager; do watched[$name]=${cpid[$name]}; done

# --- the repository ----------------------------------------------------------------------------
SRC=$RUN/src
git init -q -b main "$SRC"
git -C "$SRC" config user.email bench@todoke.invalid
git -C "$SRC" config user.name "todoke scale bench"
mkdir -p "$SRC/app"
# write_app PREFIX: the four files, CPU request "<PREFIX>${INDEX}m".
write_app() {
  cat >"$SRC/app/serviceaccount.yaml" <<'EOF'
apiVersion: v1
kind: ServiceAccount
metadata:
  name: web-${INDEX}
  namespace: bench
EOF
  cat >"$SRC/app/service.yaml" <<'EOF'
apiVersion: v1
kind: Service
metadata:
  name: web-${INDEX}
  namespace: bench
  labels:
    app: web-${INDEX}
spec:
  type: ClusterIP
  selector:
    app: web-${INDEX}
  ports:
  - name: http
    port: 80
    targetPort: 8080
EOF
  cat >"$SRC/app/deployment.yaml" <<EOF
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web-\${INDEX}
  namespace: bench
  labels:
    app: web-\${INDEX}
spec:
  replicas: 0
  selector:
    matchLabels:
      app: web-\${INDEX}
  template:
    metadata:
      labels:
        app: web-\${INDEX}
    spec:
      serviceAccountName: web-\${INDEX}
      containers:
      - name: web
        image: nginx:1.25
        ports:
        - containerPort: 8080
        resources:
          requests:
            cpu: "$1\${INDEX}m"
            memory: 32Mi
EOF
  cat >"$SRC/app/ingress.yaml" <<'EOF'
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web-${INDEX}
  namespace: bench
spec:
  rules:
  - host: web-${INDEX}.bench.example
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service:
            name: web-${INDEX}
            port:
              number: 80
EOF
}
write_app 1
git -C "$SRC" add -A
git -C "$SRC" commit -q -m "app: 4 objects per app, CPU request 1\${INDEX}m"
REPO_URL=$SRC
if [ "$NOOP" = 1 ]; then
  # The Git server the no-op round counts: git daemon on loopback, forking an upload-pack per
  # connection (its CPU reaches the daemon's cutime/cstime when the daemon reaps it).
  git_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  /usr/lib/git-core/git-daemon --reuseaddr --export-all --listen=127.0.0.1 --port="$git_port" \
    --base-path="$RUN" --max-connections=0 "$RUN" >"$RUN/logs/git-daemon.log" 2>&1 </dev/null &
  pids+=($!)
  watched[git-daemon]=$!
  with_children[git-daemon]=1
  for _ in $(seq 100); do
    git ls-remote "git://127.0.0.1:$git_port/src" >/dev/null 2>&1 && break
    kill -0 "${watched[git-daemon]}" 2>/dev/null || break
    sleep 0.1
  done
  git ls-remote "git://127.0.0.1:$git_port/src" >/dev/null ||
    { cat "$RUN/logs/git-daemon.log" >&2; echo "scale.sh: git daemon did not start" >&2; exit 1; }
  REPO_URL=git://127.0.0.1:$git_port/src
fi

# watch_start NS PREFIX: the independent watch in the background; waits for its first list.
watch_pid=
watch_start() {
  python3 "$WATCH" --env="$DIR/env" --namespace="$1" --apps="$APPS" --cpu-prefix="$2" \
    --timeout="$TIMEOUT" >"$RUN/watch.out" 2>"$RUN/logs/watch-$1-$2.log" &
  watch_pid=$!
  for _ in $(seq 600); do
    grep -q '^watching' "$RUN/logs/watch-$1-$2.log" && return 0
    kill -0 "$watch_pid" 2>/dev/null || break
    sleep 0.1
  done
  cat "$RUN/logs/watch-$1-$2.log" >&2
  echo "scale.sh: the watch did not start" >&2
  exit 1
}
# watch_wait T0: WAITED = seconds from T0 until the watch saw everything current. (Not in a
# $(...): a subshell cannot wait for this shell's children.)
WAITED=
watch_wait() {
  if ! wait "$watch_pid"; then
    tail -5 "$RUN/logs/"watch-*.log >&2
    echo "scale.sh: not every object became current in ${TIMEOUT} s" >&2
    exit 1
  fi
  WAITED=$(awk -v t0="$1" '/^current/ { printf "%.1f", $2 - t0 }' "$RUN/watch.out")
}
now() { date +%s.%N; }
declare -A took loads
sleep_quiet() { sleep 5; }  # let the controllers finish what the last run started

# --- the floor: 8 parallel kubectl apply --server-side ----------------------------------------
floor_run() {  # PREFIX RUN_NAME
  local prefix=$1 run=$2 k
  rm -f "$RUN/floor"/*.yaml
  # App i goes to file i % 8; ${INDEX} and the CPU prefix filled in as the renderer would.
  for f in serviceaccount service deployment ingress; do cat "$SRC/app/$f.yaml"; echo "---"; done >"$RUN/floor/template"
  awk -v n="$APPS" -v dir="$RUN/floor" '
    { sub(/^  namespace: bench$/, "  namespace: floor"); t = t $0 "\n" }
    END { for (i = 0; i < n; i++) { s = t; gsub(/\$\{INDEX\}/, i, s); printf "%s", s > (dir "/part-" (i % 8) ".yaml") } }' \
    "$RUN/floor/template"
  watch_start floor "$prefix"
  begin_run
  loads[$run]=$(load)
  local t0; t0=$(now)
  local kpids=()
  for k in $(ls "$RUN/floor"/part-*.yaml); do
    "$kubectl" apply --server-side --field-manager=floor -f "$k" >"$RUN/logs/floor-$run-$(basename "$k").log" 2>&1 &
    kpids+=($!)
  done
  for k in "${kpids[@]}"; do wait "$k" || { echo "scale.sh: a kubectl apply failed (logs in $RUN/logs)" >&2; exit 1; }; done
  local applied; applied=$(awk -v t0="$t0" -v t="$(now)" 'BEGIN { printf "%.1f", t - t0 }')
  watch_wait "$t0"
  took[$run]=$WAITED
  end_run "$run" "${took[$run]}"
  echo "$run: all $((4 * APPS)) objects current after ${took[$run]} s (kubectl processes done after $applied s; load ${loads[$run]})"
}
if [ "$FLOOR" = 1 ]; then
  "$kubectl" create namespace floor >/dev/null
  sleep_quiet
  floor_run 1 floor-install
  sleep_quiet
  write_app 2  # the same change as the upgrade commit (not committed yet)
  floor_run 2 floor-upgrade
  git -C "$SRC" checkout -q -- app
  # The floor's objects go, so the todoke runs start on the same empty cluster.
  "$kubectl" delete namespace floor --wait=true --timeout=600s >/dev/null
  sleep_quiet
fi

# --- the five services -------------------------------------------------------------------------
"$kubectl" create namespace bench >/dev/null
(umask 077 && openssl rand -hex 32 >"$RUN/webhook-secret")
declare -A addr maddr
wait_line() {  # FILE PATTERN: the text after PATTERN on its first line (30 s)
  for _ in $(seq 300); do
    if grep -q "$2" "$1" 2>/dev/null; then sed -n "s/.*$2 //p" "$1" | head -1; return 0; fi
    kill -0 "${pids[-1]}" 2>/dev/null || break
    sleep 0.1
  done
  echo "scale.sh: no '$2' in $1" >&2; tail -20 "${1%.out}.log" >&2; return 1
}
start() {  # SERVICE FLAGS...
  local svc=$1; shift
  "$BIN/todoke-$svc" --listen=127.0.0.1:0 --metrics-listen=127.0.0.1:0 --log-level=warning "$@" \
    >"$RUN/logs/$svc.out" 2>"$RUN/logs/$svc.log" </dev/null &
  pids+=($!)
  watched[$svc]=$!
  addr[$svc]=$(wait_line "$RUN/logs/$svc.out" "listening on")
  maddr[$svc]=$(wait_line "$RUN/logs/$svc.out" "metrics at" | sed 's|^http://||; s|/metrics$||')
}
start source-fetcher --cache-dir="$RUN/data/fetcher-cache" --allow-local-repos
start renderer --source-fetcher="${addr[source-fetcher]}"
start differ
start applier --git-work-dir="$RUN/data/applier-git" --allow-local-repos \
  --kubeconfig="$KUBECONFIG" --installation-id=scale ${APPLIER_FLAGS[@]+"${APPLIER_FLAGS[@]}"}
start orchestrator --data-dir="$RUN/data/orchestrator" \
  --source-fetcher="${addr[source-fetcher]}" --renderer="${addr[renderer]}" \
  --differ="${addr[differ]}" --applier="${addr[applier]}" \
  --webhook-listen=127.0.0.1:0 --webhook-secret-file="$RUN/webhook-secret" \
  ${ORCH_FLAGS[@]+"${ORCH_FLAGS[@]}"}
webhook=$(wait_line "$RUN/logs/orchestrator.out" "webhook receiver at")
export TODOKE_SERVER=${addr[orchestrator]}
echo "todoke: five services on 127.0.0.1 (applier ${APPLIER_FLAGS[*]:-default flags}; orchestrator ${ORCH_FLAGS[*]:-default flags})"


# --- where a run's time goes (the services' own metrics) ---------------------------------------
# scrape_all FILE: every service's /metrics, each line prefixed with the service's name.
scrape_all() {
  local svc
  for svc in source-fetcher renderer differ applier orchestrator; do
    curl -sf --max-time 10 "http://${maddr[$svc]}/metrics" | sed "s/^/$svc /"
  done >"$1"
}
# The orchestrator's pools and queue every 2 s while a run lasts (a scrape costs it ~ms).
sampler_pid=
sampler_start() {
  ( while :; do
      curl -sf --max-time 5 "http://${maddr[orchestrator]}/metrics" |
        awk -v t="$(date +%s.%N)" '/^todoke_orchestrator_(workers_busy|queue_depth)( |\{)/ { print t, $1, $2 }'
      sleep 2
    done ) >"$RUN/logs/pools-$1.log" 2>/dev/null &
  sampler_pid=$!
}
declare -A stages
stages_report() {  # RUN: calls and mean latency per stage method, pool use over the run
  kill "$sampler_pid" 2>/dev/null || true; wait "$sampler_pid" 2>/dev/null || true
  scrape_all "$RUN/logs/metrics-$1-after.txt"
  stages[$1]=$(awk '
    FNR == 1 { file++ }
    $2 ~ /^todoke_grpc_server_handling_seconds_(sum|count)\{/ {
      split($2, parts, "{"); kind = parts[1]; sub(/.*_/, "", kind)
      m = $2; sub(/.*method="/, "", m); sub(/".*/, "", m); sub(/.*\//, "", m)
      key = $1 " " m; v[file, kind, key] += $3; keys[key] = 1
    }
    END {
      for (key in keys) {
        n = v[2, "count", key] - v[1, "count", key]
        if (n > 0) printf "  %-34s %7d calls, mean %7.1f ms\n", key, n, 1000 * (v[2, "sum", key] - v[1, "sum", key]) / n
      }
    }' "$RUN/logs/metrics-$1-before.txt" "$RUN/logs/metrics-$1-after.txt" | sort)
  [ -f "$RUN/logs/pools-$1.log" ] || return 0
  stages[$1]+=$'\n'$(awk '
    { split($2, a, "{"); series = $2; n[series]++; sum[series] += $3; if ($3 > max[series]) max[series] = $3 }
    END { for (s in n) printf "  %-60s mean %6.1f max %4d (%d samples)\n", s, sum[s] / n[s], max[s], n[s] }' \
    "$RUN/logs/pools-$1.log" | sort)
}

# The N Applications.
for ((i = 0; i < APPS; i++)); do
  cat <<EOF
apiVersion: todoke.dev/v1alpha1
kind: Application
metadata:
  name: web-$i
spec:
  source:
    repoURL: $REPO_URL
    targetRevision: main
    path: app
    substitute:
      INDEX: "$i"
  destination:
    kubernetes:
      namespace: bench
  syncPolicy:
    automated: {prune: true}
    interval: $INTERVAL
---
EOF
done >"$RUN/applications.yaml"
# todoke_agrees T0 RUN: after a run (its CPU already taken), how long until `todoke app list`
# shows every app Synced at the tip (todoke's own view, beside the watch's; 120 s at most).
declare -A agreed
todoke_agrees() {
  local head synced
  head=$(git -C "$SRC" rev-parse --short=7 HEAD)
  for _ in $(seq 240); do
    synced=$("$BIN/todoke" app list 2>/dev/null | awk -v h="$head" '$2 == "Synced" && index($4, h) == 1' | wc -l)
    if [ "$synced" = "$APPS" ]; then
      agreed[$2]=$(awk -v t0="$1" -v t="$(now)" 'BEGIN { printf "%.1f s", t - t0 }'); return
    fi
    sleep 0.5
  done
  agreed[$2]="not within 120 s ($synced of $APPS Synced at $head)"
}

sleep_quiet
watch_start bench 1
scrape_all "$RUN/logs/metrics-install-before.txt"
sampler_start install
begin_run
loads[install]=$(load)
t0=$(now)
"$BIN/todoke" --timeout 10m app apply -f "$RUN/applications.yaml" >"$RUN/logs/apply.out" 2>&1 ||
  { tail -5 "$RUN/logs/apply.out" >&2; echo "scale.sh: todoke app apply failed" >&2; exit 1; }
applied=$(awk -v t0="$t0" -v t="$(now)" 'BEGIN { printf "%.1f", t - t0 }')
watch_wait "$t0"
took[install]=$WAITED
end_run install "${took[install]}"
stages_report install
orch_rss=$(awk '{ printf "%.0f", $1 / 1024 }' <<<"$(kib "${watched[orchestrator]}" VmRSS)")
todoke_agrees "$t0" install
echo "install: all $((4 * APPS)) objects current after ${took[install]} s (todoke app apply returned after $applied s; todoke app list: all Synced after ${agreed[install]}; load ${loads[install]})"

# The upgrade: one commit, announced by the webhook (what a Git server would send).
sleep_quiet
watch_start bench 2
scrape_all "$RUN/logs/metrics-upgrade-before.txt"
sampler_start upgrade
begin_run
loads[upgrade]=$(load)
t0=$(now)
write_app 2
git -C "$SRC" commit -q -am "app: CPU request 2\${INDEX}m"
body="{\"repoURL\": \"$REPO_URL\", \"ref\": \"refs/heads/main\"}"
signature=$(printf '%s' "$body" | openssl dgst -sha256 -hmac "$(cat "$RUN/webhook-secret")" | awk '{print $NF}')
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -H 'Content-Type: application/json' \
  -H "X-Todoke-Signature-256: sha256=$signature" --data-binary "$body" "http://$webhook/webhook")
[ "$code" = 202 ] || { echo "scale.sh: the webhook answered HTTP $code" >&2; exit 1; }
watch_wait "$t0"
took[upgrade]=$WAITED
end_run upgrade "${took[upgrade]}"
stages_report upgrade
todoke_agrees "$t0" upgrade
echo "upgrade: all $((4 * APPS)) objects current after ${took[upgrade]} s (todoke app list: all Synced after ${agreed[upgrade]}; load ${loads[upgrade]})"

# --- the no-op round ---------------------------------------------------------------------------
# metric FILE SERVICE NAME [LABEL]: the sum of the series NAME (with LABEL in its labels, e.g.
# result="ok") that SERVICE exposed in FILE (a scrape_all file); 0 when none.
metric() {
  awk -v svc="$2" -v name="$3" -v label="${4:-}" '
    $1 == svc && ($2 == name || index($2, name "{") == 1) && (label == "" || index($2, label) > 0) { v += $3 }
    END { printf "%.0f", v }' "$1"
}
# versions FILE: "kind/name resourceVersion" of every object of the workload in namespace bench
# (not its default ServiceAccount).
versions() {
  "$kubectl" get serviceaccounts,services,deployments.apps,ingresses.networking.k8s.io -n bench \
    -o jsonpath='{range .items[*]}{.kind}/{.metadata.name} {.metadata.resourceVersion}{"\n"}{end}' |
    grep '/web-' | sort >"$1"
}
noop_failed=()
if [ "$NOOP" = 1 ]; then
  # Every app compared once more since its sync (the pass right after it) and the controllers
  # done with the upgrade's rollouts; nothing is sampled during the window (a scrape of the
  # orchestrator lists every app).
  sleep 30
  scrape_all "$RUN/logs/metrics-noop-before.txt"
  versions "$RUN/versions-before.txt"
  synced_before=$(metric "$RUN/logs/metrics-noop-before.txt" orchestrator todoke_orchestrator_apps_by_sync 'sync="Synced"')
  echo "no-op round: $synced_before of $APPS apps Synced, interval $INTERVAL, measuring ${NOOP_SECS} s (load $(load))"
  begin_run
  loads[noop]=$(load)
  t0=$(now)
  sleep "$NOOP_SECS"
  noop_took=$(awk -v t0="$t0" -v t="$(now)" 'BEGIN { printf "%.1f", t - t0 }')
  took[noop]=$noop_took
  end_run noop "$noop_took" 2
  loads[noop-end]=$(load)
  stages_report noop
  versions "$RUN/versions-after.txt"
  after=$RUN/logs/metrics-noop-after.txt before=$RUN/logs/metrics-noop-before.txt
  synced_after=$(metric "$after" orchestrator todoke_orchestrator_apps_by_sync 'sync="Synced"')
  delta() { echo $(( $(metric "$after" "$@") - $(metric "$before" "$@") )); }
  passes_ok=$(delta orchestrator todoke_orchestrator_reconciles_total 'result="ok"')
  passes_all=$(delta orchestrator todoke_orchestrator_reconciles_total)
  applies=$(delta applier todoke_grpc_server_handled_total '/Apply"')
  objects=""
  for action in created configured unchanged pruned failed skipped; do
    n=$(delta applier todoke_applier_objects_total "action=\"$action\"")
    [ "$n" = 0 ] || objects+=" $action $n"
  done
  moved=$(join -j 1 "$RUN/versions-before.txt" "$RUN/versions-after.txt" | awk '$2 != $3' | wc -l)
  listed=$(wc -l <"$RUN/versions-after.txt")
  [ "$synced_before" = "$APPS" ] && [ "$synced_after" = "$APPS" ] ||
    noop_failed+=("apps Synced: $synced_before before, $synced_after after")
  [ "$passes_all" = "$passes_ok" ] || noop_failed+=("$((passes_all - passes_ok)) passes not \"ok\"")
  [ "$applies" = 0 ] || noop_failed+=("$applies Apply calls")
  [ -z "$objects" ] || noop_failed+=("objects applied:$objects")
  [ "$moved" = 0 ] && [ "$listed" = $((4 * APPS)) ] ||
    noop_failed+=("$moved of $listed objects changed resourceVersion")
  noop_summary="passes $passes_ok (\"ok\") in $noop_took s = $(awk -v p="$passes_ok" -v a="$APPS" -v s="$noop_took" -v i="$INTERVAL_SECS" 'BEGIN { printf "%.2f rounds of %d apps (%.2f expected from the interval)", p / a, a, s / i }'); Apply calls $applies; objects applied ${objects:-none}; resourceVersions moved $moved of $listed; apps Synced $synced_before before, $synced_after after"
  echo "no-op round: todoke ${todoke_pct[noop]}% of one core, with git daemon ${todoke_pct[noop-git]}% (target 2%); $noop_summary"
fi


# --- report ------------------------------------------------------------------------------------
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else printf "-" }'; }
echo
echo "== scale: $APPS apps x 4 objects, control plane $MODE ($(nproc) cores, load now $(load)) =="
for run in floor-install floor-upgrade install upgrade noop; do
  [ -n "${took[$run]:-}" ] || continue
  echo
  if [ "$run" = noop ]; then
    echo "-- noop: $APPS apps at interval $INTERVAL, nothing changing, $noop_took s measured (load ${loads[noop]} at start, ${loads[noop-end]} at the end)"
  else
    echo "-- $run: ${took[$run]} s until the watch saw all current${agreed[$run]:+ (todoke app list: all Synced after ${agreed[$run]})} (load at start ${loads[$run]})"
  fi
  echo "${report[$run]}"
  if [ -n "${api_report[$run]:-}" ]; then
    echo "requests kube-apiserver handled (apiserver_request_total), by verb and resource:"
    echo "${api_report[$run]}"
  fi
  if [ -n "${stages[$run]:-}" ]; then
    echo "gRPC calls each service handled, mean latency (todoke_grpc_server_handling_seconds):"
    echo "${stages[$run]}" | grep -v '^  todoke_orchestrator' || true
    echo "orchestrator pools (busy workers) and queue (items waiting), sampled every 2 s:"
    echo "${stages[$run]}" | grep '^  todoke_orchestrator' || true
  fi
done
echo
echo "orchestrator RSS after installing $APPS apps: $orch_rss MiB"
if [ -n "${took[floor-install]:-}" ]; then
  echo "todoke / floor: install $(ratio "${took[install]}" "${took[floor-install]}"), upgrade $(ratio "${took[upgrade]}" "${took[floor-upgrade]}") (target at 1,000 apps: within 1.5x)"
fi
echo "Flux 2.9 published (16-core runner): 100 apps 26 s, 500 apps 2 min 0 s, 1,000 apps 4 min 13 s;"
echo "  on 2 cores and this control plane, tuned: 1,000 apps 103 s install, 114 s upgrade (floor ~22 s)"
echo
echo "README row:"
echo "| $APPS | $MODE | ${took[floor-install]:--} / ${took[floor-upgrade]:--} s | ${took[install]} s ($(ratio "${took[install]}" "${took[floor-install]:-0}")) | ${took[upgrade]} s ($(ratio "${took[upgrade]}" "${took[floor-upgrade]:-0}")) | $orch_rss MiB | ${loads[install]} |"
if [ "$NOOP" = 1 ]; then
  echo
  echo "no-op round, $APPS apps at $INTERVAL over $noop_took s: the five services ${todoke_pct[noop]}% of one core, with git daemon ${todoke_pct[noop-git]}% (target 2%)"
  echo "  $noop_summary"
  if [ "${#noop_failed[@]}" -gt 0 ]; then
    printf 'scale.sh: the no-op round did work: %s\n' "${noop_failed[@]}" >&2
    exit 1
  fi
fi
exit 0
}
