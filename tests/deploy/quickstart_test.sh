#!/usr/bin/env bash
# Runs scripts/quickstart.sh as CI does (no terminal, CI=true, a bounded time) on the binaries
# CTest's build made (--no-build), and checks what a user is promised:
#   - the three example apps (webapp dev and prod overlays, the plain redis folder) Synced and
#     Healthy, their hydrated files and commit printed;
#   - a pushed change reaches every app through the repository's post-receive webhook (accepted
#     with 202, syncs started by "webhook" at the pushed commit, the new text in the branch, the
#     old ConfigMap pruned), though the apps poll only once an hour;
#   - every service stopped and the temporary folder removed on exit; with --keep the services
#     stay up, the hydrated branch holds the change, and the stop command it prints works.
# Also: every example folder renders with `todoke render` byte for byte as `kubectl kustomize`
# renders it (kubectl from the test control plane's bin dir, or PATH).
# Exit 77 (skipped) when kubectl is missing for the render check, unless TODOKE_REQUIRE_ALL=1.
#
# quickstart_test.sh --kubernetes (needs TODOKE_K8S_ENV, the CTest k8s fixture's cluster):
#   - --kubeconfig with the fixture's cluster: the three apps Synced on the API server (redis
#     Healthy, webapp Progressing only on its Ingress, which no controller serves), the pushed
#     change converged through the webhook (the new ConfigMap in the cluster, the old one gone),
#     and on exit the apps deleted with their objects;
#   - --kubernetes: the same on a control plane the quickstart starts itself (tests/cluster),
#     which is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
mode=git
[ "${1:-}" = --kubernetes ] && mode=kubernetes
ROOT=$PWD
BUILD_DIR=${TODOKE_BUILD_DIR:-build}
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR=$ROOT/$BUILD_DIR ;; esac
export TODOKE_BUILD_DIR=$BUILD_DIR CI=true
TODOKE=$BUILD_DIR/bin/todoke
work=$(mktemp -d "${TMPDIR:-/tmp}/quickstart-test.XXXXXX")
kept_dir=
cleanup() {
  if [ -n "$kept_dir" ] && [ -f "$kept_dir/pids" ]; then
    while read -r p; do kill -KILL "$p" 2>/dev/null || true; done <"$kept_dir/pids"
    rm -rf "$kept_dir"
  fi
  rm -rf "$work"
}
trap cleanup EXIT
failures=0
fail() { echo "quickstart_test: FAIL: $*" >&2; failures=$((failures + 1)); }
expect() {  # expect FILE REGEX WHAT
  grep -Eq -- "$2" "$1" || fail "$3 (no line matching /$2/ in $1)"
}
alive() { kill -0 "$1" 2>/dev/null && [ "$(ps -o stat= -p "$1" 2>/dev/null | cut -c1)" != Z ]; }

run_dir_of() {  # the quickstart's temporary folder, from its output
  sed -n 's/^==> 2\/7 starting the five services on 127.0.0.1 (data and logs in \(.*\))$/\1/p' "$1"
}
# run_quickstart OUT ARGS...: scripts/quickstart.sh as CI runs it (no terminal, bounded); on
# failure prints its output and the services' logs, and removes its folder.
run_quickstart() {
  local out=$1 code start
  shift
  start=$(date +%s)
  set +e
  timeout 240 scripts/quickstart.sh --no-build "$@" </dev/null >"$out" 2>&1
  code=$?
  set -e
  took=$(($(date +%s) - start))
  echo "quickstart${*:+ $*}: exit $code in $took s"
  [ "$code" = 0 ] && return 0
  cat "$out" >&2
  local failed_dir
  failed_dir=$(run_dir_of "$out")
  if [ -n "$failed_dir" ] && [ -d "$failed_dir/logs" ]; then
    for log in "$failed_dir"/logs/*.log; do echo "--- $log (last 20 lines)" >&2; tail -20 "$log" >&2; done
    [ ! -x "$failed_dir/stop.sh" ] || "$failed_dir/stop.sh" >/dev/null 2>&1 || true
    rm -rf "$failed_dir"
  fi
  echo "quickstart_test: FAIL: scripts/quickstart.sh $* exited $code" >&2
  exit 1
}
# The change reached both webapp apps through the webhook, and pruned their old ConfigMap.
check_webhook_convergence() {  # FILE
  expect "$1" '^  \(post-receive hook\) todoke webhook for refs/heads/main: refreshing redis, webapp-dev, webapp-prod \(HTTP 202\)$' \
    "the post-receive hook's webhook was not accepted for all three apps"
  local revision app
  revision=$(sed -n 's/^converged through the webhook: every app Synced at \([0-9a-f]\{12\}\),.*(interval: 1h)$/\1/p' "$1")
  if [ -z "$revision" ]; then
    fail "no 'converged through the webhook' line"
    return
  fi
  for app in webapp-dev webapp-prod; do
    expect "$1" " +$app +Normal +SyncStarted: sync of $revision started \\(webhook\\)$" \
      "$app's sync of $revision was not started by the webhook"
    expect "$1" " +$app +Normal +ObjectApplied +ConfigMap $app/webapp-config-[a-z0-9]{10}: pruned$" \
      "$app's old ConfigMap was not pruned"
  done
  expect "$1" "^[0-9]+ +${revision:0:7} +Succeeded .* webhook " "history has no webhook sync of $revision"
}

if [ "$mode" = kubernetes ]; then
  if [ ! -f "${TODOKE_K8S_ENV:-}" ]; then
    echo "quickstart_test: no cluster (TODOKE_K8S_ENV=${TODOKE_K8S_ENV:-unset}; CTest's k8s fixture sets it): skipped"
    [ "${TODOKE_REQUIRE_ALL:-0}" = 1 ] && { echo "quickstart_test: required (TODOKE_REQUIRE_ALL=1): failing"; exit 1; }
    exit 77
  fi
  cluster_kubeconfig=$(sed -n 's/^KUBECONFIG=//p' "$TODOKE_K8S_ENV")
  kubectl=$(sed -n 's/^TODOKE_K8S_KUBECTL=//p' "$TODOKE_K8S_ENV")
  k() { "$kubectl" --kubeconfig="$cluster_kubeconfig" --request-timeout=20s "$@"; }
  # Namespaces of an earlier run would be Terminating or hold stale objects.
  k delete namespace webapp-dev webapp-prod cache --ignore-not-found --wait=true --timeout=60s >/dev/null
  for kind in kubeconfig kubernetes; do
    out=$work/quickstart-$kind.out
    if [ "$kind" = kubeconfig ]; then
      run_quickstart "$out" --kubeconfig "$cluster_kubeconfig"
    else
      run_quickstart "$out" --kubernetes
    fi
    if [ "$kind" = kubernetes ]; then
      expect "$out" '^application "redis" is Synced and Healthy$' "$kind: redis not Synced and Healthy"
    else
      # On "your own cluster" the quickstart waits for Synced only: redis's pod may still be
      # starting then on a busy machine. Its health is read from the last `todoke app list`.
      expect "$out" '^application "redis" is Synced and (Healthy|Progressing)$' "$kind: redis not Synced"
    fi
    [ "$(grep -E "^redis +" "$out" | tail -1 | awk '{print $2, $3}')" = "Synced Healthy" ] ||
      fail "$kind: redis is not Synced Healthy in the last todoke app list"
    for app in webapp-dev webapp-prod; do
      expect "$out" "^application \"$app\" is Synced and Progressing$" "$kind: $app not Synced (Progressing on its Ingress)"
      [ "$(grep -E "^$app +" "$out" | tail -1 | awk '{print $2}')" = Synced ] ||
        fail "$kind: $app is not Synced in the last todoke app list"
    done
    # The Ingress's row in `todoke app get` (the Health line names only the first Progressing
    # object, which may still be the Deployment when the machine is busy).
    expect "$out" '^networking\.k8s\.io/Ingress +webapp-prod +webapp +Synced +Progressing +Waiting for the ingress controller to publish an address' \
      "$kind: webapp-prod's Ingress is not shown Progressing, waiting for an ingress controller"
    expect "$out" '^deployment.apps/webapp +3/3 +3 +3 ' "$kind: webapp-prod's Deployment is not 3/3 on the cluster"
    expect "$out" '^deployment.apps/redis +1/1 +1 +1 ' "$kind: redis's Deployment is not 1/1 on the cluster"
    check_webhook_convergence "$out"
    expect "$out" '^the new greeting is in the cluster \(configmap/webapp-config-[a-z0-9]{10}\), and the old ConfigMap is pruned$' \
      "$kind: the cluster was not checked"
    run_dir=$(run_dir_of "$out")
    [ -n "$run_dir" ] && [ ! -e "$run_dir" ] || fail "$kind: $run_dir was not removed"
    if [ "$kind" = kubeconfig ]; then
      # Deleted with their objects; the namespaces stay.
      expect "$out" '^quickstart: deleting the apps and their objects from your cluster$' "no cleanup"
      # (Deployments are deleted in the foreground: gone once their pods are, within seconds.)
      for _ in $(seq 60); do  # at most 30 s
        left=$(k get deployments,services,configmaps,ingresses -n webapp-dev -o name 2>&1
               k get deployments,services,configmaps,ingresses -n webapp-prod -o name 2>&1
               k get deployments,services -n cache -o name 2>&1)
        left=$(grep -v '^configmap/kube-root-ca.crt$' <<<"$left" || true)
        [ -z "$left" ] && break
        sleep 0.5
      done
      [ -z "$left" ] || fail "kubeconfig: objects left on the cluster 30 s after exit: $left"
      k delete namespace webapp-dev webapp-prod cache --ignore-not-found --wait=true --timeout=60s >/dev/null
    else
      expect "$out" '^  Kubernetes v[0-9.]+ up at https://127.0.0.1:[0-9]+ ' "kubernetes: the control plane's start is not shown"
      [ -z "$run_dir" ] || ! pgrep -f "$run_dir/" >/dev/null || fail "kubernetes: processes of $run_dir still running"
    fi
  done
  [ "$failures" = 0 ] || exit 1
  echo "quickstart_test --kubernetes: ok"
  exit 0
fi

# --- the quickstart, as CI runs it: no terminal, bounded -------------------------------------
out=$work/quickstart.out
run_quickstart "$out"
first_took=$took

for app in webapp-dev webapp-prod redis; do
  expect "$out" "^application \"$app\" is Synced and Healthy$" "$app not Synced and Healthy after registration"
  # The last `todoke app list` (after the change) shows the app Synced and Healthy.
  [ "$(grep -E "^$app +" "$out" | tail -1 | awk '{print $2, $3}')" = "Synced Healthy" ] ||
    fail "$app is not Synced Healthy in the last todoke app list"
done
# The hydrated files: one per object, in each app's folder, namespaced and cluster-scoped.
for file in webapp-dev/.todoke-app \
            webapp-dev/_cluster/core.namespace.webapp-dev.yaml \
            'webapp-dev/webapp-dev/core.configmap.webapp-config-[a-z0-9]{10}.yaml' \
            webapp-dev/webapp-dev/apps.deployment.webapp.yaml \
            webapp-dev/webapp-dev/core.service.webapp.yaml \
            webapp-dev/webapp-dev/networking.k8s.io.ingress.webapp.yaml \
            webapp-prod/webapp-prod/apps.deployment.webapp.yaml \
            webapp-prod/webapp-prod/networking.k8s.io.ingress.webapp.yaml \
            redis/_cluster/core.namespace.cache.yaml \
            redis/cache/apps.deployment.redis.yaml \
            redis/cache/core.service.redis.yaml; do
  expect "$out" "^$file$" "hydrated file $file not listed"
done
expect "$out" '^    Source-Commit: [0-9a-f]{40}$' "the hydration commit (git log -1) is not shown"
expect "$out" '^    App: (webapp-dev|webapp-prod|redis)$' "the hydration commit does not name its app"
# The change: delivered by the post-receive hook, accepted, and synced by the webhook trigger.
check_webhook_convergence "$out"
expect "$out" '^the new greeting is in the hydrated branch, and the old ConfigMap is pruned$' \
  "the hydrated branch was not checked"
expect "$out" '^Took [0-9]+ s after the build' "no duration printed"
expect "$out" 'todoke app rollback webapp-prod ID' "no 'how to go on'"

# Everything stopped, the temporary folder removed.
run_dir=$(run_dir_of "$out")
[ -n "$run_dir" ] || fail "the run folder is not printed"
[ -z "$run_dir" ] || [ ! -e "$run_dir" ] || fail "$run_dir was not removed"
pids=$(sed -n 's/^  [a-z-]* *127\.0\.0\.1:[0-9]* *pid \([0-9]*\) .*/\1/p' "$out")
[ "$(wc -w <<<"$pids")" = 5 ] || fail "expected 5 service pids in the output, got: $pids"
for p in $pids; do alive "$p" && fail "service pid $p still running after the quickstart exited"; done

# --- --keep: the services stay, and the printed stop command stops them ----------------------
kept=$work/keep.out
run_quickstart "$kept" --keep
kept_dir=$(run_dir_of "$kept")
if [ -z "$kept_dir" ] || [ ! -f "$kept_dir/pids" ]; then
  fail "--keep: no run folder with pids in the output"
else
  for p in $(cat "$kept_dir/pids"); do alive "$p" || fail "--keep: service pid $p is not running"; done
  server=$(sed -n 's/.*TODOKE_SERVER=\([0-9.:]*\)$/\1/p' "$kept")
  "$TODOKE" --server="$server" app list >"$work/list.out" || fail "--keep: todoke app list failed"
  [ "$(grep -c ' Synced  *Healthy ' "$work/list.out")" = 3 ] || fail "--keep: not 3 apps Synced: $(cat "$work/list.out")"
  hydrated=$kept_dir/repos/hydrated.git
  configmap=$(git -C "$hydrated" ls-tree -r --name-only main -- webapp-prod | grep 'core\.configmap\.' || true)
  [ "$(wc -l <<<"$configmap")" = 1 ] || fail "--keep: expected one webapp-prod ConfigMap, got: $configmap"
  git -C "$hydrated" show "main:$configmap" | grep -q 'Hello again, from todoke' ||
    fail "--keep: the change is not in the hydrated branch"
  # The printed "go on" commands work: history, rollback, diff, sync.
  tk() { "$TODOKE" --server="$server" "$@"; }
  grep -q '^  todoke app rollback webapp-prod ID ' "$kept" || fail "--keep: no rollback hint"
  first_entry=$(tk app history webapp-prod | awk '$1 ~ /^[0-9]+$/ { id = $1 } END { print id }')
  tk app rollback webapp-prod "$first_entry" >"$work/rollback.out" 2>&1 ||
    fail "--keep: todoke app rollback webapp-prod $first_entry: $(cat "$work/rollback.out")"
  # Each wait below covers a sync and a comparison after it (a second or two on a quiet
  # machine): bounded by time, 60 s, not by a count of tries that a loaded machine uses up.
  differs=0
  bound=$((SECONDS + 60))
  while [ "$SECONDS" -lt "$bound" ]; do
    set +e; tk app diff webapp-prod >"$work/diff.out" 2>&1; diff_code=$?; set -e
    [ "$diff_code" = 1 ] && grep -q 'Hello again, from todoke' "$work/diff.out" && { differs=1; break; }
    sleep 0.1
  done
  [ "$differs" = 1 ] || fail "--keep: after the rollback, todoke app diff shows no difference in 60 s (exit $diff_code): $(head -5 "$work/diff.out")"
  tk app sync webapp-prod >/dev/null || fail "--keep: todoke app sync webapp-prod failed"
  same=0
  bound=$((SECONDS + 60))
  while [ "$SECONDS" -lt "$bound" ]; do
    tk app diff webapp-prod >/dev/null 2>&1 && { same=1; break; }
    sleep 0.1
  done
  [ "$same" = 1 ] || fail "--keep: after todoke app sync, Git and the branch still differ after 60 s"
  stop=$(sed -n 's/^Left running (--keep). Stop everything: //p' "$kept")
  [ -n "$stop" ] || fail "--keep: no stop command printed"
  bash -c "$stop"
  for _ in $(seq 100); do
    any=0
    for p in $(cat "$kept_dir/pids" 2>/dev/null); do alive "$p" && any=1; done
    [ "$any" = 0 ] && break
    sleep 0.1
  done
  [ "$any" = 0 ] || fail "--keep: the printed stop command left services running"
  [ ! -e "$kept_dir" ] || fail "--keep: the printed stop command left $kept_dir"
fi

# --- every example renders as kubectl kustomize renders it -----------------------------------
kubectl=$(tests/cluster/build.sh --print-bin-dir 2>/dev/null)/kubectl
[ -x "$kubectl" ] || kubectl=$(command -v kubectl || true)
if [ -z "$kubectl" ] || [ ! -x "$kubectl" ]; then
  echo "quickstart_test: kubectl not found (tests/cluster/build.sh builds it): render check skipped"
  [ "$failures" = 0 ] || exit 1
  [ "${TODOKE_REQUIRE_ALL:-0}" = 1 ] && { echo "quickstart_test: required (TODOKE_REQUIRE_ALL=1): failing"; exit 1; }
  exit 77
fi
for folder in webapp/base webapp/overlays/dev webapp/overlays/prod; do
  "$TODOKE" render "examples/$folder" >"$work/todoke.yaml" 2>"$work/todoke.err" ||
    { fail "todoke render examples/$folder: $(cat "$work/todoke.err")"; continue; }
  "$kubectl" kustomize "examples/$folder" >"$work/kubectl.yaml"
  cmp -s "$work/todoke.yaml" "$work/kubectl.yaml" ||
    fail "examples/$folder: todoke render differs from kubectl kustomize: $(diff "$work/kubectl.yaml" "$work/todoke.yaml" | head -20)"
done
# The plain folder: what kustomize renders from a kustomization listing its files in order.
mkdir "$work/plain"
cp examples/redis/*.yaml "$work/plain/"
{ echo "resources:"; for f in examples/redis/*.yaml; do echo "- $(basename "$f")"; done; } >"$work/plain/kustomization.yaml"
"$kubectl" kustomize "$work/plain" >"$work/kubectl.yaml"
"$TODOKE" render examples/redis --mode directory >"$work/todoke.yaml"
cmp -s "$work/todoke.yaml" "$work/kubectl.yaml" ||
  fail "examples/redis: todoke render differs from kubectl kustomize: $(diff "$work/kubectl.yaml" "$work/todoke.yaml" | head -20)"

if [ "$failures" != 0 ]; then
  echo "--- quickstart output ---" >&2
  cat "$out" >&2
  exit 1
fi
echo "quickstart_test: ok (quickstart took $first_took s, with --keep $took s)"
