#!/usr/bin/env bash
# Records the differ's golden live objects (testdata/<case>/live.yaml) from a real API server.
#
#   tests/services/differ/record_live.sh [CASE...]     # default: every recordable case
#
# Starts a throwaway control plane (tests/cluster/start.sh, kube-apiserver v1.34.4 + kwok) in
# ${TODOKE_RECORD_DIR:-/tmp/todoke-record-live}, and stops it on exit. For each case: a fresh
# namespace "rec-<case>", the case's previous state applied the way todoke applies
# (`kubectl apply --server-side --field-manager=todoke`, with todoke's tracking annotation), then
# the drift the case is about made by other actors (kubectl scale/label/annotate/set image,
# patches with other field managers, the scale subresource as an autoscaler does), then
# `kubectl get -o json --show-managed-fields` of the case's objects, written as a YAML stream in
# the order the case needs. The namespace name is mapped back to the one the case's desired.yaml
# uses ("prod", "staging"): the only edit made to the recorded objects.
#
# Not recorded (their live.yaml stays hand-written):
#   bad-input  live objects without metadata.name and duplicate keys: a server cannot return them.
#
# Needs jq and yq (the Python yq wrapping jq). Requires the cluster binaries (tests/cluster/build.sh).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
testdata="$here/testdata"
dir="${TODOKE_RECORD_DIR:-/tmp/todoke-record-live}"

"$repo/tests/cluster/start.sh" "$dir" >"$dir.start.log" 2>&1 || {
  cat "$dir.start.log" >&2
  exit 1
}
trap '"$repo/tests/cluster/stop.sh" "$dir" >/dev/null 2>&1 || true' EXIT
set -a
# shellcheck disable=SC1091
. "$dir/env"
set +a
k() { "$TODOKE_K8S_KUBECTL" "$@"; }

NS=""       # the namespace a case runs in
TARGET=""   # the namespace its desired.yaml uses

# begin CASE [TARGET_NAMESPACE]: a fresh namespace for the case.
begin() {
  NS="rec-$1"
  TARGET="${2:-prod}"
  echo "== $1 (namespace $NS)" >&2
  k create namespace "$NS" >/dev/null
}

# The YAML on stdin (a stream of objects) as todoke would apply it: namespaced objects moved to
# $NS, todoke's tracking annotation added.
prepare() {
  yq -y --arg ns "$NS" --arg target "$TARGET" '
    select(. != null)
    | if (.metadata.namespace // "") != "" then .metadata.namespace = $ns else . end
    | if .kind == "Namespace" and .metadata.name == $target then .metadata.name = $ns else . end
    | .metadata.annotations = ((.metadata.annotations // {})
        + {"todoke.dev/tracking-id": ("guestbook:" + .metadata.name)})'
}

# apply [-n]: server-side apply of stdin as todoke (-n: objects without a namespace go to $NS).
apply() {
  local ns_flag=()
  [[ "${1:-}" == "-n" ]] && ns_flag=(-n "$NS")
  prepare | k apply "${ns_flag[@]}" --server-side --field-manager=todoke -f - >/dev/null
}

# The desired objects of a case, edited by a jq filter (the previous state).
desired() {  # CASE [JQ_FILTER]
  yq -y "select(. != null) | ${2:-.}" "$testdata/$1/desired.yaml"
}

# wait_rollout DEPLOYMENT...: until the controllers have settled (kwok makes pods Ready).
wait_rollout() {
  for d in "$@"; do k -n "$NS" rollout status "deployment/$d" --timeout=90s >/dev/null; done
}

# record CASE RESOURCE...: live.yaml from `kubectl get -o json`, one document per resource, in
# order. RESOURCE is kind/name in $NS, or @kind/name for a cluster-scoped object.
record() {
  local case="$1"
  shift
  local out="$testdata/$case/live.yaml" tmp
  tmp="$(mktemp)"
  {
    echo "# Recorded from kube-apiserver v1.34.4 by tests/services/differ/record_live.sh;"
    echo "# namespace $NS renamed to $TARGET. Do not edit by hand: change the script and re-record."
  } >"$tmp"
  local first=1 r json
  for r in "$@"; do
    if [[ "$r" == @* ]]; then
      json="$(k get "${r#@}" -o json --show-managed-fields)"
    else
      json="$(k -n "$NS" get "$r" -o json --show-managed-fields)"
    fi
    ((first)) || echo "---" >>"$tmp"
    first=0
    jq --arg ns "$NS" --arg target "$TARGET" \
      'walk(if . == $ns then $target else . end)' <<<"$json" | yq -y . >>"$tmp"
  done
  mv "$tmp" "$out"
  echo "   wrote $out" >&2
}

# --- the cases --------------------------------------------------------------------------------

case_default_namespace() {
  begin default-namespace staging
  k apply --server-side --field-manager=todoke -f - >/dev/null <<'EOF'
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: clusterwidgets.example.com
spec:
  group: example.com
  names: {kind: ClusterWidget, listKind: ClusterWidgetList, plural: clusterwidgets, singular: clusterwidget}
  scope: Cluster
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer}
EOF
  k wait --for=condition=Established crd/clusterwidgets.example.com --timeout=60s >/dev/null
  # Applied as todoke applies into its destination namespace.
  desired default-namespace | apply -n
  record default-namespace configmap/app-config @clusterrole/app-reader @clusterwidget/global
}

case_finalizers_are_a_set() {
  begin finalizers-are-a-set
  # Before: todoke applied the ConfigMap with finalizers [old, new]; Git dropped "old".
  desired finalizers-are-a-set \
    'if .kind == "ConfigMap" then .metadata.finalizers = ["example.com/old", "example.com/new"] else . end' |
    apply
  record finalizers-are-a-set persistentvolumeclaim/cache configmap/with-finalizer
}

case_health_of_live_objects() {
  begin health-of-live-objects
  # rolling-web ran 1.4.2 and Git moved it to 1.5.0. The node is cordoned while the new
  # ReplicaSet starts, so its one surge pod stays Pending: 1 of 3 replicas updated.
  desired health-of-live-objects \
    'if .metadata.name == "rolling-web" then .spec.template.spec.containers[0].image = "registry.example.com/web:1.4.2" else . end' |
    apply
  wait_rollout ready-web rolling-web
  k cordon "$TODOKE_K8S_NODE" >/dev/null
  desired health-of-live-objects | apply
  local i
  for i in $(seq 60); do
    [[ "$(k -n "$NS" get deployment/rolling-web -o jsonpath='{.status.updatedReplicas}')" == 1 ]] && break
    sleep 1
  done
  sleep 2
  record health-of-live-objects deployment/ready-web deployment/rolling-web service/public configmap/plain
  k uncordon "$TODOKE_K8S_NODE" >/dev/null
}

case_ignore_json_pointers() {
  begin ignore-json-pointers
  # Before: the ConfigMaps were applied with a later timestamp; then a CI bot re-annotated the
  # build, someone scaled worker, and a policy controller pinned batch's image by digest.
  desired ignore-json-pointers \
    'if .kind == "ConfigMap" then .data.timestamp = "2025-05-12T11:30:00Z" else . end' | apply
  k -n "$NS" annotate --overwrite --field-manager=ci-bot deployment/worker example.com/build=b-1057 >/dev/null
  k -n "$NS" scale deployment/worker --replicas=5 >/dev/null
  k -n "$NS" set image --field-manager=image-pinner deployment/batch \
    batch=registry.example.com/batch:1.0.0@sha256:9f2c0c5b0e8a4c1d3b6f7e2a9d8c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1f0e9d8c >/dev/null
  wait_rollout worker batch
  record ignore-json-pointers deployment/worker configmap/generated configmap/other deployment/batch
}

# An autoscaler scales through the scale subresource as kube-controller-manager.
autoscale() {  # DEPLOYMENT REPLICAS
  k -n "$NS" patch "deployment/$1" --subresource=scale --type=merge \
    --field-manager=kube-controller-manager -p "{\"spec\":{\"replicas\":$2}}" >/dev/null
}

case_ignore_managed_fields_managers() {
  begin ignore-managed-fields-managers
  # Before: backend ran 1.4.2 (Git now says 1.4.3); an autoscaler scaled both to 6.
  desired ignore-managed-fields-managers \
    'if .metadata.name == "backend" then .spec.template.spec.containers[0].image = "registry.example.com/web:1.4.2" else . end' |
    apply
  autoscale frontend 6
  autoscale backend 6
  wait_rollout frontend backend
  record ignore-managed-fields-managers deployment/frontend deployment/backend
}

case_image_drift() {
  begin image-drift
  desired image-drift '.spec.template.spec.containers[0].image = "registry.example.com/web:1.4.2"' | apply
  wait_rollout web
  record image-drift deployment/web
}

case_int_or_string() {
  begin int-or-string
  desired int-or-string 'if .metadata.name == "named" then .spec.ports[0].targetPort = 8080 else . end' | apply
  record int-or-string service/numeric service/named service/public
}

case_managed_fields_without_ignore_rule() {
  begin managed-fields-without-ignore-rule
  desired managed-fields-without-ignore-rule | apply
  autoscale frontend 6
  wait_rollout frontend
  record managed-fields-without-ignore-rule deployment/frontend
}

case_merge_keys_ignore_order() {
  begin merge-keys-ignore-order
  # Before: shop was applied with every keyed list in the reverse order, shop-args with the
  # args the other way round; then a webhook injected a sidecar into shop.
  desired merge-keys-ignore-order '
    if .metadata.name == "shop" then
      .spec.template.spec.containers |= (reverse | map(
        (if .env then .env |= reverse else . end)
        | (if .ports then .ports |= reverse else . end)
        | (if .volumeMounts then .volumeMounts |= reverse else . end)))
      | .spec.template.spec.volumes |= reverse
    else .spec.template.spec.containers[1].args = ["--queue", "orders"] end' | apply
  k -n "$NS" patch deployment/shop --type=strategic --field-manager=istio-sidecar-injector -p '
    {"spec":{"template":{"spec":{"containers":[{"name":"istio-proxy",
      "image":"docker.io/istio/proxyv2:1.22.1","args":["proxy","sidecar"],
      "resources":{"requests":{"cpu":"100m","memory":"128Mi"}}}]}}}}' >/dev/null
  wait_rollout shop shop-args
  record merge-keys-ignore-order deployment/shop deployment/shop-args
}

case_missing_and_extraneous() {
  begin missing-and-extraneous
  # Before: todoke applied the namespace, settings and legacy-settings (since dropped from Git);
  # feature-flags is new in Git.
  {
    desired missing-and-extraneous 'select(.metadata.name != "feature-flags")'
    printf -- '---\n'
    printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: legacy-settings\n  namespace: prod\ndata:\n  region: eu-west-1\n'
  } | apply
  record missing-and-extraneous configmap/legacy-settings "@namespace/$NS" configmap/settings
}

case_quantities_canonicalised() {
  begin quantities-canonicalised
  desired quantities-canonicalised \
    'if .metadata.name == "api-drift" then .spec.template.spec.containers[0].resources.limits.memory = "1Gi" else . end' |
    apply
  sleep 3  # no rollout wait: the kwok node has no ephemeral-storage, api stays Pending
  record quantities-canonicalised deployment/api deployment/api-drift persistentvolumeclaim/data
}

case_removed_owned_fields() {
  begin removed-owned-fields
  # Before: todoke applied label tier, env DEBUG and port metrics (since dropped from Git);
  # someone labelled the Deployment, a webhook added an env var.
  desired removed-owned-fields '
    .metadata.labels.tier = "frontend"
    | .spec.template.spec.containers[0].env = [{"name": "DEBUG", "value": "true"}] + .spec.template.spec.containers[0].env
    | .spec.template.spec.containers[0].ports += [{"containerPort": 9090, "name": "metrics"}]' | apply
  k -n "$NS" label deployment/web team=checkout >/dev/null
  k -n "$NS" patch deployment/web --type=strategic --field-manager=otel-injector -p '
    {"spec":{"template":{"spec":{"containers":[{"name":"web",
      "env":[{"name":"OTEL_SERVICE_NAME","value":"web"}]}]}}}}' >/dev/null
  wait_rollout web
  record removed-owned-fields deployment/web
}

case_secrets_masked() {
  begin secrets-masked
  # Before: api-token had an older token; old-creds was applied and has since left Git.
  {
    desired secrets-masked '
      select(.metadata.name != "new-creds")
      | if .metadata.name == "api-token" then .stringData.token = "tok-OLD-3a9d" else . end'
    printf -- '---\n'
    printf 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: old-creds\n  namespace: prod\nstringData:\n  apiKey: ak-old-9e77\ntype: Opaque\n'
  } | apply
  record secrets-masked secret/db secret/api-token secret/tls secret/old-creds
}

case_synced_with_server_defaults() {
  begin synced-with-server-defaults
  # Applied by todoke, then someone ran a client-side `kubectl apply` of the same manifests
  # (hence the last-applied annotation and a kubectl-client-side-apply manager). The other order
  # (kubectl first, todoke taking over) leaves no annotation: kubectl's server-side apply
  # migrates the fields and drops it.
  desired synced-with-server-defaults | apply
  desired synced-with-server-defaults | yq -y --arg ns "$NS" '.metadata.namespace = $ns' |
    k apply -f - >/dev/null
  wait_rollout web
  record synced-with-server-defaults deployment/web service/web configmap/web-config
}

case_zero_values_and_nulls() {
  begin zero-values-and-nulls
  desired zero-values-and-nulls | apply
  wait_rollout zero
  record zero-values-and-nulls deployment/zero
}

all=(default-namespace finalizers-are-a-set health-of-live-objects ignore-json-pointers
  ignore-managed-fields-managers image-drift int-or-string managed-fields-without-ignore-rule
  merge-keys-ignore-order missing-and-extraneous quantities-canonicalised removed-owned-fields
  secrets-masked synced-with-server-defaults zero-values-and-nulls)
cases=("$@")
((${#cases[@]})) || cases=("${all[@]}")
for c in "${cases[@]}"; do
  "case_${c//-/_}"
done
