#!/usr/bin/env bash
# Smoke test of a cluster started by start.sh DIR:
#   a Deployment (2 replicas) applied with server-side apply becomes Available with
#   its pods Running and Ready (kwok), scales to 3, and is deleted with its pods.
#
#   tests/cluster/smoke_test.sh DIR
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
test_name=k8s_cluster_smoke
. "$here/testlib.sh"

[[ $# == 1 ]] || { echo "usage: $0 DIR" >&2; exit 2; }
dir="$1"
if [[ ! -f "$dir/env" ]]; then
  fail_check "no $dir/env: is the cluster started (tests/cluster/start.sh $dir)?"
  finish
fi
set -a; . "$dir/env"; set +a
k() { "$TODOKE_K8S_KUBECTL" --request-timeout=20s "$@"; }

ns="smoke-$(date +%s)-$RANDOM"
app=smoke
timeout=60

diagnose() {
  echo "----- state of namespace $ns" >&2
  k -n "$ns" get deployments,replicasets,pods -o wide >&2 || true
  k -n "$ns" get events --sort-by=.lastTimestamp >&2 || true
}
abort() { fail_check "$*"; diagnose; k delete namespace "$ns" --wait=false >/dev/null 2>&1; finish; }

ready_replicas_are() { # N: deployment reports N ready and N available, and N pods are Running+Ready
  local want="$1" got pods
  got="$(k -n "$ns" get deployment "$app" -o 'jsonpath={.status.readyReplicas}/{.status.availableReplicas}/{.status.updatedReplicas}/{.status.observedGeneration}/{.metadata.generation}')" || return 1
  IFS=/ read -r ready avail updated observed gen <<<"$got"
  [[ "$ready" == "$want" && "$avail" == "$want" && "$updated" == "$want" && "$observed" == "$gen" ]] || return 1
  pods="$(k -n "$ns" get pods -l "app=$app" \
    -o 'jsonpath={range .items[*]}{.status.phase}{","}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}')" || return 1
  [[ "$(grep -c . <<<"$pods")" == "$want" && "$(grep -c '^Running,True$' <<<"$pods")" == "$want" ]]
}
available() {
  [[ "$(k -n "$ns" get deployment "$app" -o 'jsonpath={.status.conditions[?(@.type=="Available")].status}')" == True ]]
}
gone() {
  ! k -n "$ns" get deployment "$app" >/dev/null 2>&1 &&
    [[ -z "$(k -n "$ns" get pods,replicasets -l "app=$app" -o name 2>/dev/null)" ]]
}

# 0. API reachable with the token from the env file.
readyz "$dir/env" >/dev/null || abort "GET /readyz failed at $TODOKE_K8S_SERVER"
k create namespace "$ns" >/dev/null || abort "cannot create namespace $ns"
until_true "$timeout" k -n "$ns" get serviceaccount default || abort "no default ServiceAccount in $ns after ${timeout}s"
pass "cluster reachable, namespace $ns ready"

# 1. Server-side apply of a Deployment with 2 replicas; Available with 2 Ready pods.
k -n "$ns" apply --server-side --field-manager=todoke-smoke -f - >/dev/null <<EOF || abort "kubectl apply --server-side failed"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: $app
  labels: {app: $app}
spec:
  replicas: 2
  selector:
    matchLabels: {app: $app}
  template:
    metadata:
      labels: {app: $app}
    spec:
      containers:
      - name: app
        image: todoke-smoke-fake-image:1
EOF
until_true "$timeout" ready_replicas_are 2 && available \
  || abort "Deployment did not become Available with 2 Ready pods within ${timeout}s"
pass "Deployment applied server-side: Available, 2/2 pods Running and Ready"

# 2. Scale to 3.
k -n "$ns" scale deployment "$app" --replicas=3 >/dev/null || abort "kubectl scale failed"
until_true "$timeout" ready_replicas_are 3 || abort "Deployment did not reach 3 Ready pods within ${timeout}s"
pass "scaled to 3: 3/3 pods Running and Ready"

# 3. Delete; the Deployment, its ReplicaSet and its pods go away.
k -n "$ns" delete deployment "$app" --wait=false >/dev/null || abort "kubectl delete failed"
until_true "$timeout" gone || abort "Deployment or its pods still present ${timeout}s after delete"
pass "deleted: Deployment, ReplicaSet and pods gone"

# 4. The cluster's processes listen on loopback only.
if check_loopback_only "$dir"; then
  pass "all listeners of the cluster are on loopback"
else
  fail_check "a cluster process listens outside loopback"
fi

k delete namespace "$ns" --wait=false >/dev/null 2>&1 || true
finish
