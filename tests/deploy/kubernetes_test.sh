#!/usr/bin/env bash
# deploy/kubernetes on a real API server (the k8s fixture's control plane, kwok node): rendered by
# `todoke render`, applied with server-side apply, every Deployment becomes Available (its pods
# Running and Ready on the kwok node: the manifests, RBAC included, are valid for Kubernetes
# v1.34), then deleted. Needs TODOKE_K8S_ENV (set by CTest) and TODOKE_BUILD_DIR.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD_DIR=${TODOKE_BUILD_DIR:-build}
[[ -f "${TODOKE_K8S_ENV:-}" ]] || { echo "kubernetes_test: no cluster env file (${TODOKE_K8S_ENV:-unset})" >&2; exit 1; }
set -a; . "$TODOKE_K8S_ENV"; set +a
k() { "$TODOKE_K8S_KUBECTL" --request-timeout=30s "$@"; }

manifests="$(mktemp)"
cleanup() {
  k delete -f "$manifests" --ignore-not-found --wait=false >/dev/null 2>&1 || true
  rm -f "$manifests"
}
trap cleanup EXIT

"$BUILD_DIR/bin/todoke" render deploy/kubernetes > "$manifests"
k apply --server-side --field-manager=todoke-test -f "$manifests"
deployments="$(k -n todoke get deployments -o name | wc -l)"
[[ "$deployments" == 5 ]] || { echo "kubernetes_test: FAIL: $deployments Deployments, want 5" >&2; exit 1; }
if ! k -n todoke wait --for=condition=Available deployment --all --timeout=120s; then
  echo "kubernetes_test: FAIL: not every Deployment became Available" >&2
  k -n todoke get deployments,replicasets,pods -o wide >&2 || true
  k -n todoke get events --sort-by=.lastTimestamp >&2 | tail -20 || true
  exit 1
fi
echo "kubernetes_test: ok"
