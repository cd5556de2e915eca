#!/usr/bin/env bash
# Starts a throwaway Kubernetes control plane on loopback for the integration tests:
# etcd, kube-apiserver (token auth, Node,RBAC), kube-controller-manager,
# kube-scheduler and kwok (one fake node that runs pods: they become Running/Ready).
#
#   tests/cluster/start.sh DIR
#
# TODOKE_KCM_FLAGS (optional): extra kube-controller-manager flags, split on spaces, e.g. the
# tuned control plane of bench/e2e/scale.sh: "--kube-api-qps=1000 --kube-api-burst=2000
# --concurrent-deployment-syncs=25 --concurrent-replicaset-syncs=25" (default: none, the
# controller manager's own defaults: 20 QPS, burst 30, 5 syncs of each).
#
# Writes, under DIR:
#   env         KEY=value lines: KUBECONFIG, TODOKE_K8S_SERVER, TODOKE_K8S_TOKEN,
#               TODOKE_K8S_CA, TODOKE_K8S_KUBECTL, TODOKE_K8S_BIN, TODOKE_K8S_NODE,
#               KUBECACHEDIR (kubectl's discovery cache, DIR/kube-cache)
#   kubeconfig  admin kubeconfig (token of a user in group system:masters)
#   pids        "name pid" lines of the processes started; stop.sh DIR ends them
#   logs/       one log per component (overwritten at each start)
#   run.XXXXXX/ this run's data: certificates, token file, etcd data
# Builds the binaries first if needed (build.sh, cached). Waits at most 90 s for
# /readyz and the node to be Ready; on failure stops what it started and exits 1.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
[[ $# == 1 ]] || { echo "usage: $0 DIR" >&2; exit 2; }
mkdir -p "$1"
dir="$(cd "$1" && pwd)"
case "$dir" in
  *[!A-Za-z0-9_./@%+,:=-]*) echo "start.sh: DIR must not contain spaces, quotes or shell characters: $dir" >&2; exit 2 ;;
esac
t0=$SECONDS

# Refuse to start over a running cluster.
if [[ -f "$dir/pids" ]]; then
  while read -r name pid; do
    if [[ -n "${pid:-}" ]] && kill -0 "$pid" 2>/dev/null && tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qF "$dir/"; then
      echo "start.sh: a cluster is already running in $dir ($name pid $pid); run stop.sh $dir first" >&2
      exit 1
    fi
  done < "$dir/pids"
  rm -f "$dir/pids"
fi

"$here/build.sh"
bin="$("$here/build.sh" --print-bin-dir)"
kubectl="$bin/kubectl"
# kubectl's discovery cache: inside DIR, not ~/.kube/cache.
export KUBECACHEDIR="$dir/kube-cache"

# Data of earlier (stopped) runs is not needed any more.
rm -rf "$dir"/run.*
run="$(mktemp -d "$dir/run.XXXXXX")"
logs="$dir/logs"
mkdir -p "$logs" "$run/pki" "$run/kcm" "$run/scheduler" "$run/flexvolume"
mkdir -m 700 "$run/etcd"
rm -f "$logs"/*.log "$dir/env" "$dir/kubeconfig"

# --- ports: free loopback TCP ports below the ephemeral range ---------------------
declare -A taken=()
while read -r p; do taken[$p]=1; done < <(ss -Hltn | awk '{ n = split($4, a, ":"); print a[n] }')
pick_port() { # VAR: set VAR to a port not listening and not picked before
  local p
  while :; do
    p=$((20000 + (RANDOM * 32768 + RANDOM) % 12000))
    if [[ -z "${taken[$p]:-}" ]]; then taken[$p]=1; printf -v "$1" '%s' "$p"; return; fi
  done
}
etcd_port='' etcd_peer_port='' api_port='' kcm_port='' sched_port=''
pick_port etcd_port; pick_port etcd_peer_port; pick_port api_port
pick_port kcm_port; pick_port sched_port
server="https://127.0.0.1:$api_port"

# --- certificates and credentials ---------------------------------------------------
pki="$run/pki"
(
  cd "$pki"
  ossl() { openssl "$@" 2>>"$logs/openssl.log"; }
  ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ca.key
  ossl req -x509 -new -key ca.key -out ca.crt -days 30 -subj "/CN=todoke-test-ca" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature"
  ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out apiserver.key
  ossl req -new -key apiserver.key -out apiserver.csr -subj "/CN=kube-apiserver"
  cat > apiserver.ext <<EOF
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,DNS:localhost,IP:10.96.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local
EOF
  ossl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out apiserver.crt -days 30 -extfile apiserver.ext
  # Service-account token signing key pair.
  ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out sa.key
  ossl pkey -in sa.key -pubout -out sa.pub
  chmod 600 ./*.key
)
token="$(openssl rand -hex 32)"
printf '%s,todoke-admin,todoke-admin,"system:masters"\n' "$token" > "$run/tokens.csv"
chmod 600 "$run/tokens.csv"

kubeconfig="$dir/kubeconfig"
ca_data="$(base64 -w0 < "$pki/ca.crt")"
umask_old=$(umask); umask 077
cat > "$kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: todoke-test
  cluster:
    server: $server
    certificate-authority-data: $ca_data
users:
- name: todoke-admin
  user:
    token: $token
contexts:
- name: todoke-test
  context:
    cluster: todoke-test
    user: todoke-admin
    namespace: default
current-context: todoke-test
EOF
umask "$umask_old"

# --- processes ----------------------------------------------------------------------
: > "$dir/pids"
launch() { # name cmd... : own session (survives the caller), output to logs/name.log
  local name="$1"; shift
  setsid "$@" </dev/null >"$logs/$name.log" 2>&1 &
  echo "$name $!" >> "$dir/pids"
}
fail() {
  echo "start.sh: $*" >&2
  local f
  for f in "$logs"/*.log; do
    [[ -s "$f" ]] || continue
    echo "----- last lines of $f" >&2
    tail -n 15 "$f" >&2
  done
  "$here/stop.sh" "$dir" >&2 || true
  exit 1
}
trap 'fail "interrupted"' INT TERM
deadline=$((SECONDS + 90))
alive() { # name: the process is still running
  local pid; pid="$(awk -v n="$1" '$1 == n { print $2 }' "$dir/pids")"
  kill -0 "$pid" 2>/dev/null
}
wait_for() { # description component command...
  local what="$1" comp="$2"; shift 2
  until "$@" >/dev/null 2>&1; do
    [[ -z "$comp" ]] || alive "$comp" || fail "$comp exited while waiting for $what"
    (( SECONDS < deadline )) || fail "timed out (90 s) waiting for $what"
    sleep 0.3
  done
}
curl_api() { curl -fsS --max-time 5 --cacert "$pki/ca.crt" -H "Authorization: Bearer $token" "$server$1"; }

launch etcd "$bin/etcd" \
  --name=todoke-test --data-dir="$run/etcd" \
  --listen-client-urls="http://127.0.0.1:$etcd_port" --advertise-client-urls="http://127.0.0.1:$etcd_port" \
  --listen-peer-urls="http://127.0.0.1:$etcd_peer_port" --initial-advertise-peer-urls="http://127.0.0.1:$etcd_peer_port" \
  --initial-cluster="todoke-test=http://127.0.0.1:$etcd_peer_port" --initial-cluster-state=new \
  --unsafe-no-fsync --log-level=warn
wait_for "etcd health" etcd curl -fsS --max-time 2 "http://127.0.0.1:$etcd_port/health"

# --endpoint-reconciler-type=none: the "kubernetes" Service cannot have 127.0.0.1 as
# its endpoint (Endpoints reject loopback addresses); nothing here needs it.
launch kube-apiserver "$bin/kube-apiserver" \
  --etcd-servers="http://127.0.0.1:$etcd_port" \
  --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$api_port" \
  --tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" \
  --client-ca-file="$pki/ca.crt" \
  --token-auth-file="$run/tokens.csv" \
  --authorization-mode=Node,RBAC \
  --service-account-key-file="$pki/sa.pub" --service-account-signing-key-file="$pki/sa.key" \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-cluster-ip-range=10.96.0.0/16 \
  --endpoint-reconciler-type=none \
  --allow-privileged=true --profiling=false
wait_for "kube-apiserver /readyz" kube-apiserver curl_api /readyz

# --flex-volume-plugin-dir: else it creates /usr/libexec/kubernetes/... on the host.
read -r -a kcm_extra <<<"${TODOKE_KCM_FLAGS:-}"
launch kube-controller-manager "$bin/kube-controller-manager" \
  --kubeconfig="$kubeconfig" --authentication-kubeconfig="$kubeconfig" --authorization-kubeconfig="$kubeconfig" \
  --bind-address=127.0.0.1 --secure-port="$kcm_port" --cert-dir="$run/kcm" \
  --service-account-private-key-file="$pki/sa.key" --root-ca-file="$pki/ca.crt" \
  --cluster-signing-cert-file="$pki/ca.crt" --cluster-signing-key-file="$pki/ca.key" \
  --flex-volume-plugin-dir="$run/flexvolume" \
  --leader-elect=false --profiling=false ${kcm_extra[@]+"${kcm_extra[@]}"}
launch kube-scheduler "$bin/kube-scheduler" \
  --kubeconfig="$kubeconfig" --authentication-kubeconfig="$kubeconfig" --authorization-kubeconfig="$kubeconfig" \
  --bind-address=127.0.0.1 --secure-port="$sched_port" --cert-dir="$run/scheduler" \
  --leader-elect=false --profiling=false
# No --server-address/--node-port: kwok then serves nothing (no logs/exec endpoints).
launch kwok "$bin/kwok" \
  --kubeconfig="$kubeconfig" --config="$bin/kwok-stages.yaml" \
  --manage-all-nodes=true --node-lease-duration-seconds=40 \
  --node-ip=127.0.0.1 --cidr=10.244.0.0/24

node=kwok-node-0
wait_for "node creation" kwok "$kubectl" --kubeconfig="$kubeconfig" create -f - <<EOF
apiVersion: v1
kind: Node
metadata:
  name: $node
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    kubernetes.io/arch: amd64
    kubernetes.io/hostname: $node
    kubernetes.io/os: linux
    kubernetes.io/role: agent
    node-role.kubernetes.io/agent: ""
    type: kwok
spec:
  podCIDR: 10.244.0.0/24
  podCIDRs: [10.244.0.0/24]
status:
  allocatable: {cpu: "32", memory: 256Gi, pods: "110"}
  capacity: {cpu: "32", memory: 256Gi, pods: "110"}
  nodeInfo: {architecture: amd64, operatingSystem: linux}
EOF
node_ready() {
  [[ "$("$kubectl" --kubeconfig="$kubeconfig" get node "$node" \
      -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}')" == True ]]
}
wait_for "node $node Ready" kwok node_ready
wait_for "kube-controller-manager healthz" kube-controller-manager curl -fsSk --max-time 2 "https://127.0.0.1:$kcm_port/healthz"
wait_for "kube-scheduler healthz" kube-scheduler curl -fsSk --max-time 2 "https://127.0.0.1:$sched_port/healthz"
# Pods need the namespace's default ServiceAccount, made by the controller manager.
wait_for "default ServiceAccount" kube-controller-manager "$kubectl" --kubeconfig="$kubeconfig" get serviceaccount default -n default
trap - INT TERM

cat > "$dir/env" <<EOF
KUBECONFIG=$kubeconfig
TODOKE_K8S_SERVER=$server
TODOKE_K8S_TOKEN=$token
TODOKE_K8S_CA=$pki/ca.crt
TODOKE_K8S_KUBECTL=$kubectl
TODOKE_K8S_BIN=$bin
TODOKE_K8S_NODE=$node
KUBECACHEDIR=$KUBECACHEDIR
EOF
chmod 600 "$dir/env"

cat <<EOF
start.sh: Kubernetes $("$bin/kube-apiserver" --version | awk '{print $2}') up at $server in $((SECONDS - t0)) s (node $node Ready)
  use:   set -a; . $dir/env; set +a; \$TODOKE_K8S_KUBECTL get nodes
  or:    $kubectl --kubeconfig=$kubeconfig get pods -A
  logs:  $logs/
  stop:  $here/stop.sh $dir
EOF
