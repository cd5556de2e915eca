#!/usr/bin/env bash
# Builds the binaries of the test Kubernetes control plane from the Go module proxy:
#   kube-apiserver, kube-controller-manager, kube-scheduler, kubectl  (k8s/go.mod)
#   etcd, at the version the Kubernetes release pins                  (k8s/go.mod)
#   kwok, plus its default node/pod stages as kwok-stages.yaml        (kwok/go.mod)
#
# Output: ${TODOKE_CLUSTER_CACHE:-$HOME/.cache/todoke/cluster}/<k8s-version>/bin
# A binary group is rebuilt only when its wrapper module (go.mod/go.sum), the Go
# version or the build recipe changes; the Go build cache is reused. Prints nothing
# when there is nothing to do.
#
#   build.sh                 build if needed
#   build.sh --print-bin-dir print the bin dir (no build)
#   build.sh --force         rebuild everything
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# Bump when the way the binaries are built changes (flags, file set).
recipe=1

export PATH="/usr/local/go/bin:$PATH"
export GOTOOLCHAIN=local GOFLAGS=-mod=mod GOWORK=off CGO_ENABLED=0

modver() { # go.mod module -> required version (block or single-line form)
  awk -v m="$2" '$1 == "require" { $1 = ""; $0 = $0 } $1 == m && $2 ~ /^v/ { print $2; exit }' "$1"
}
k8s_version="$(modver "$here/k8s/go.mod" k8s.io/kubernetes)"
etcd_version="$(modver "$here/k8s/go.mod" go.etcd.io/etcd/server/v3)"
kwok_version="$(modver "$here/kwok/go.mod" sigs.k8s.io/kwok)"
[[ -n "$k8s_version" && -n "$etcd_version" && -n "$kwok_version" ]] || {
  echo "build.sh: cannot read versions from $here/{k8s,kwok}/go.mod" >&2; exit 1; }

cache_root="${TODOKE_CLUSTER_CACHE:-$HOME/.cache/todoke/cluster}"
bin_dir="$cache_root/$k8s_version/bin"

force=0
case "${1:-}" in
  --print-bin-dir) echo "$bin_dir"; exit 0 ;;
  --force) force=1 ;;
  "") ;;
  *) echo "usage: $0 [--print-bin-dir|--force]" >&2; exit 2 ;;
esac

command -v go >/dev/null || { echo "build.sh: go not found (expected /usr/local/go/bin/go)" >&2; exit 1; }
go_version="$(go env GOVERSION)"

stamp_of() { # group -> content hash of everything that decides its binaries
  { echo "recipe=$recipe go=$go_version"; cat "$here/$1/go.mod" "$here/$1/go.sum"; } | sha256sum | cut -c1-64
}
k8s_stamp="$(stamp_of k8s)"
kwok_stamp="$(stamp_of kwok)"
k8s_bins=(kube-apiserver kube-controller-manager kube-scheduler kubectl etcd)
kwok_bins=(kwok kwok-stages.yaml)

up_to_date() { # group stamp files...
  local group="$1" stamp="$2"; shift 2
  [[ $force == 0 && -f "$bin_dir/.$group.stamp" && "$(cat "$bin_dir/.$group.stamp")" == "$stamp" ]] || return 1
  local f; for f in "$@"; do [[ -e "$bin_dir/$f" ]] || return 1; done
}

if up_to_date k8s "$k8s_stamp" "${k8s_bins[@]}" && up_to_date kwok "$kwok_stamp" "${kwok_bins[@]}"; then
  exit 0
fi

mkdir -p "$bin_dir"
# One builder at a time per version (CTest may start several clusters at once).
exec 9>"$bin_dir/.lock"
flock 9
start=$SECONDS

build_k8s() {
  local tmp="$bin_dir/.tmp-k8s"
  rm -rf "$tmp"; mkdir -p "$tmp"
  local info build_date
  # Reproducible build date: the release's commit time from the module proxy.
  info="$(cd "$here/k8s" && go mod download -json "k8s.io/kubernetes@$k8s_version" | sed -n 's/^[[:space:]]*"Info": "\(.*\)",$/\1/p')"
  build_date="$(sed -n 's/.*"Time":"\([^"]*\)".*/\1/p' "$info" 2>/dev/null || true)"
  build_date="${build_date:-1970-01-01T00:00:00Z}"
  local major minor
  major="$(echo "$k8s_version" | cut -d. -f1 | tr -d v)"
  minor="$(echo "$k8s_version" | cut -d. -f2)"
  local ldflags="-s -w"
  local pkg
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
    ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$build_date"
  done
  echo "build.sh: building Kubernetes $k8s_version and etcd $etcd_version into $bin_dir (this takes a while the first time)" >&2
  (cd "$here/k8s" && nice -n 10 go build -trimpath -ldflags "$ldflags" -o "$tmp/" \
      k8s.io/kubernetes/cmd/kube-apiserver \
      k8s.io/kubernetes/cmd/kube-controller-manager \
      k8s.io/kubernetes/cmd/kube-scheduler \
      k8s.io/kubernetes/cmd/kubectl)
  (cd "$here/k8s" && nice -n 10 go build -trimpath -ldflags "-s -w" -o "$tmp/etcd" go.etcd.io/etcd/server/v3)
  local b; for b in "${k8s_bins[@]}"; do mv -f "$tmp/$b" "$bin_dir/$b"; done
  rm -rf "$tmp"
  echo "$k8s_stamp" > "$bin_dir/.k8s.stamp"
}

build_kwok() {
  local tmp="$bin_dir/.tmp-kwok"
  rm -rf "$tmp"; mkdir -p "$tmp"
  echo "build.sh: building kwok $kwok_version into $bin_dir" >&2
  (cd "$here/kwok" && nice -n 10 go build -trimpath -ldflags "-s -w" -o "$tmp/kwok" sigs.k8s.io/kwok/cmd/kwok)
  # kwok ships no built-in stages; kwokctl embeds these defaults (node init, node
  # heartbeat with lease, pod ready/complete/delete). Take them from the same release.
  local node_fast lease pod_fast
  node_fast="$(cd "$here/kwok" && go list -f '{{.Dir}}' sigs.k8s.io/kwok/kustomize/stage/node/fast)"
  lease="$(cd "$here/kwok" && go list -f '{{.Dir}}' sigs.k8s.io/kwok/kustomize/stage/node/heartbeat-with-lease)"
  pod_fast="$(cd "$here/kwok" && go list -f '{{.Dir}}' sigs.k8s.io/kwok/kustomize/stage/pod/fast)"
  local f first=1
  for f in "$node_fast/node-initialize.yaml" "$lease/node-heartbeat-with-lease.yaml" \
           "$pod_fast/pod-ready.yaml" "$pod_fast/pod-complete.yaml" "$pod_fast/pod-delete.yaml"; do
    [[ -f "$f" ]] || { echo "build.sh: kwok stage file missing: $f" >&2; exit 1; }
    (( first )) || echo "---"
    first=0
    cat "$f"
  done > "$tmp/kwok-stages.yaml"
  mv -f "$tmp/kwok" "$bin_dir/kwok"
  mv -f "$tmp/kwok-stages.yaml" "$bin_dir/kwok-stages.yaml"
  rm -rf "$tmp"
  echo "$kwok_stamp" > "$bin_dir/.kwok.stamp"
}

# Re-check under the lock: another builder may have finished meanwhile.
up_to_date k8s "$k8s_stamp" "${k8s_bins[@]}" || build_k8s
up_to_date kwok "$kwok_stamp" "${kwok_bins[@]}" || build_kwok

cat > "$bin_dir/VERSIONS" <<EOF
kubernetes $k8s_version
etcd $etcd_version
kwok $kwok_version
go $go_version
EOF
echo "build.sh: done in $((SECONDS - start)) s ($bin_dir)" >&2
