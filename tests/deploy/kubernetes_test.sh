#!/usr/bin/env bash
# deploy/kubernetes on a real API server (the k8s fixture's control plane, kwok node), rendered by
# `todoke render`:
# - the Namespace enforces the `restricted` Pod Security Standard, and the API server applies it
#   (a non-compliant pod is refused, a non-compliant Deployment draws a warning);
# - a server-side dry run (`kubectl apply --server-side --dry-run=server --warnings-as-errors`)
#   accepts every object in that namespace, with no warning;
# - applied for real, every Deployment becomes Available (pods admitted under `restricted`,
#   Running and Ready on the kwok node), the orchestrator's claim Bound (to a volume made here: the
#   fixture has no provisioner), the autoscalers and budgets in place;
# - RBAC as the API server sees it: only the applier's ServiceAccount may write, including RBAC
#   objects granting what it does not hold (escalate, bind); the others may do nothing.
# Then everything is deleted. Needs TODOKE_K8S_ENV (set by CTest) and TODOKE_BUILD_DIR.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD_DIR=${TODOKE_BUILD_DIR:-build}
if [[ ! -f "${TODOKE_K8S_ENV:-}" ]]; then
  echo "kubernetes_test: no cluster env file (TODOKE_K8S_ENV=${TODOKE_K8S_ENV:-unset}): run it" \
       "through ctest (fixture k8s) or start one with tests/cluster/start.sh" >&2
  exit 1
fi
set -a; . "$TODOKE_K8S_ENV"; set +a
k() { "$TODOKE_K8S_KUBECTL" --request-timeout=30s "$@"; }
ns=todoke
pv="todoke-orchestrator-data-test-$$"
work="$(mktemp -d)"
manifests="$work/manifests.yaml"
cleanup() {
  k delete -f "$manifests" --ignore-not-found --wait=false >/dev/null 2>&1 || true
  k delete pv "$pv" --ignore-not-found --wait=false >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "kubernetes_test: FAIL: $*" >&2
  k -n "$ns" get deployments,replicasets,pods,pvc -o wide >&2 || true
  k -n "$ns" get events --sort-by=.lastTimestamp 2>&1 | tail -20 >&2 || true
  exit 1
}
passed=0
ok() { passed=$((passed + 1)); echo "kubernetes_test: ok: $*"; }

"$BUILD_DIR/bin/todoke" render deploy/kubernetes > "$manifests"

# An earlier run's namespace may still be going away.
for _ in $(seq 1 60); do
  k get namespace "$ns" >/dev/null 2>&1 || break
  [[ "$(k get namespace "$ns" -o jsonpath='{.status.phase}')" == Terminating ]] || break
  sleep 1
done

# 1. The Namespace alone (the only object with this label), then the labels the server holds.
k apply --server-side --field-manager=todoke-test -f "$manifests" \
  -l pod-security.kubernetes.io/enforce=restricted >/dev/null
for mode in enforce warn audit; do
  got="$(k get namespace "$ns" -o jsonpath="{.metadata.labels.pod-security\.kubernetes\.io/$mode}")"
  [[ "$got" == restricted ]] || fail "namespace $ns: pod-security.kubernetes.io/$mode=$got"
done
ok "namespace $ns enforces, warns and audits the restricted pod security standard"

# 2. The API server does enforce it there: a root pod is refused, a Deployment of one warned.
cat > "$work/root-pod.yaml" <<EOF
apiVersion: v1
kind: Pod
metadata: {name: todoke-test-root, namespace: $ns}
spec:
  containers: [{name: c, image: todoke:dev}]
EOF
if out="$(k create --dry-run=server -f "$work/root-pod.yaml" 2>&1)"; then
  fail "a pod violating the restricted standard was accepted in $ns: $out"
fi
grep -q 'violates PodSecurity "restricted' <<<"$out" || fail "unexpected refusal: $out"
cat > "$work/root-deployment.yaml" <<EOF
apiVersion: apps/v1
kind: Deployment
metadata: {name: todoke-test-root, namespace: $ns}
spec:
  selector: {matchLabels: {app: todoke-test-root}}
  template:
    metadata: {labels: {app: todoke-test-root}}
    spec:
      containers: [{name: c, image: todoke:dev}]
EOF
if out="$(k apply --server-side --dry-run=server --warnings-as-errors --field-manager=todoke-test \
            -f "$work/root-deployment.yaml" 2>&1)"; then
  fail "a Deployment violating the restricted standard drew no warning: $out"
fi
grep -q 'would violate PodSecurity "restricted' <<<"$out" || fail "unexpected answer: $out"
ok "the API server refuses a root pod and warns about a root Deployment in $ns"

# 3. Server-side dry run of everything: accepted, not one warning.
if ! out="$(k apply --server-side --dry-run=server --warnings-as-errors --field-manager=todoke-test \
              -f "$manifests" 2>&1)"; then
  fail "server-side dry run refused the manifests: $out"
fi
objects="$(grep -c '(server dry run)' <<<"$out")"
[[ "$objects" == "$(grep -c '^kind:' "$manifests")" ]] ||
  fail "dry run answered for $objects objects: $out"
ok "server-side dry run accepts all $objects objects with no warning"

# 4. For real. kwok has no volume provisioner: a volume for the orchestrator's claim.
cat > "$work/pv.yaml" <<EOF
apiVersion: v1
kind: PersistentVolume
metadata: {name: $pv}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  hostPath: {path: /var/lib/todoke-test}
  claimRef: {namespace: $ns, name: todoke-orchestrator-data}
EOF
k apply --server-side --field-manager=todoke-test -f "$work/pv.yaml" >/dev/null
k apply --server-side --field-manager=todoke-test -f "$manifests" >/dev/null
deployments="$(k -n "$ns" get deployments -o name | wc -l)"
[[ "$deployments" == 5 ]] || fail "$deployments Deployments, want 5"
if ! k -n "$ns" wait --for=condition=Available deployment --all --timeout=120s >/dev/null; then
  fail "not every Deployment became Available"
fi
# The autoscalers raise their Deployments (which set no replicas) to minReplicas.
for component in renderer differ; do
  for _ in $(seq 1 60); do
    ready="$(k -n "$ns" get deployment "todoke-$component" -o jsonpath='{.status.readyReplicas}')"
    [[ "$ready" == 2 ]] && break
    sleep 1
  done
  [[ "$ready" == 2 ]] || fail "todoke-$component has ${ready:-0} ready replicas, want 2 (its autoscaler's minimum)"
done
phase="$(k -n "$ns" get pvc todoke-orchestrator-data -o jsonpath='{.status.phase}')"
[[ "$phase" == Bound ]] || fail "the orchestrator's claim is $phase"
strategy="$(k -n "$ns" get deployment todoke-orchestrator -o jsonpath='{.spec.strategy.type}')"
[[ "$strategy" == Recreate ]] || fail "the orchestrator's strategy is $strategy"
# The pods as admitted: only the applier's has a service account token.
for component in source-fetcher renderer differ applier orchestrator; do
  mounts="$(k -n "$ns" get pods -l "app.kubernetes.io/component=$component" \
              -o jsonpath='{.items[0].spec.containers[0].volumeMounts[*].mountPath}')"
  if [[ "$component" == applier ]]; then
    [[ "$mounts" == *serviceaccount* ]] || fail "the applier's pod has no token ($mounts)"
  else
    [[ "$mounts" != *serviceaccount* ]] || fail "the $component's pod has a token ($mounts)"
  fi
done
[[ "$(k -n "$ns" get pdb -o name | wc -l)" == 4 ]] || fail "want 4 PodDisruptionBudgets"
[[ "$(k -n "$ns" get hpa -o name | wc -l)" == 2 ]] || fail "want 2 HorizontalPodAutoscalers"
[[ "$(k -n "$ns" get networkpolicy -o name | wc -l)" == 8 ]] || fail "want 8 NetworkPolicies"
ok "applied: 5 Deployments Available under restricted, claim Bound, tokens only in the applier's pod"

# 5. RBAC as the API server decides it (SubjectAccessReview through impersonation).
sa() { echo "system:serviceaccount:$ns:todoke-$1"; }
can() {  # can COMPONENT VERB RESOURCE [flags]: yes or no
  k auth can-i --as="$(sa "$1")" "${@:2}" 2>/dev/null || true
}
for check in "create deployments -n default" "patch clusterroles" "delete namespaces" \
             "watch configmaps --all-namespaces" "escalate clusterroles" "bind clusterroles"; do
  # shellcheck disable=SC2086
  [[ "$(can applier $check)" == yes ]] || fail "the applier may not: $check"
done
for component in orchestrator renderer source-fetcher differ; do
  for check in "get secrets -n $ns" "list pods --all-namespaces" "create deployments -n default" \
               "patch clusterroles"; do
    # shellcheck disable=SC2086
    [[ "$(can "$component" $check)" == no ]] || fail "the $component may: $check"
  done
done
for check in "impersonate users" "deletecollection pods -n default" "approve certificatesigningrequests.certificates.k8s.io"; do
  # shellcheck disable=SC2086
  [[ "$(can applier $check)" == no ]] || fail "the applier may: $check"
done
# escalate and bind at work: as the applier, a ClusterRole granting what it lacks (impersonate)
# and a binding to cluster-admin are accepted.
cat > "$work/rbac-app.yaml" <<EOF
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: todoke-test-escalate-$$}
rules: [{apiGroups: [""], resources: [users], verbs: [impersonate]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: todoke-test-bind-$$}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects: [{kind: ServiceAccount, name: default, namespace: default}]
EOF
out="$(k apply --server-side --dry-run=server --field-manager=todoke-test --as="$(sa applier)" \
         -f "$work/rbac-app.yaml" 2>&1)" || fail "the applier cannot apply RBAC objects: $out"
out="$(k apply --server-side --dry-run=server --field-manager=todoke-test --as="$(sa renderer)" \
         -f "$work/rbac-app.yaml" 2>&1)" && fail "the renderer may apply RBAC objects: $out"
ok "RBAC: only the applier writes (escalate and bind included); the others may do nothing"

echo "kubernetes_test: $passed passed, 0 failed"
