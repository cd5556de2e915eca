#!/usr/bin/env bash
# todoke's main job on its embedded default (Git hydration, no cluster needed):
#   1. installs what is missing and builds (scripts/setup.sh);
#   2. starts the five services as separate processes on 127.0.0.1 (ports picked by the kernel),
#      their data and logs in a fresh temporary folder;
#   3. makes a Git repository from examples/ (bare, with a work tree to edit and push from) and
#      gives it a post-receive hook that sends todoke a signed webhook on every push;
#   4. registers examples/applications.yaml: webapp's dev and prod overlays (Kustomize) and the
#      plain redis folder, each hydrated into its own folder of branch `main` of a second (bare)
#      repository; automated sync with prune, interval 1h;
#   5. waits until they are Synced and Healthy and shows `todoke app list`, `todoke app get`, the
#      hydrated files and commit;
#   6. commits and pushes a change to the example, and shows it converge through the webhook
#      (the interval is an hour, so nothing else could bring it);
#   7. prints how to go on, and stops everything on exit unless --keep.
# With --kubernetes the same happens on a real Kubernetes API server instead of a branch
# (examples/applications-kubernetes.yaml: server-side apply, prune, self-heal): the test control
# plane of tests/cluster, started for you in the temporary folder and stopped on exit, or with
# --kubeconfig FILE the current context of your own cluster (the apps are deleted with their
# objects on exit; their namespaces stay). The control plane is never built here: when
# tests/cluster/build.sh has not run (15-50 min), --kubernetes says so and stops.
#
# Usage: scripts/quickstart.sh [--keep] [--no-build] [--kubernetes | --kubeconfig FILE]
#   --keep             leave everything running (and print how to stop it)
#   --no-build         use the binaries already in ${TODOKE_BUILD_DIR:-build}/bin (setup.sh still
#                      installs missing packages; the quickstart test runs after CTest's build)
#   --kubernetes       sync into the test control plane (tests/cluster), started for the run
#   --kubeconfig FILE  sync into the cluster of FILE's current context
# Needs: bash, git, curl, openssl (setup.sh installs them). Exit 0 only when the change converged.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

usage="usage: scripts/quickstart.sh [--keep] [--no-build] [--kubernetes | --kubeconfig FILE]"
keep=0
build=1
kube=0        # 1: a Kubernetes destination
kubeconfig=   # the user's kubeconfig; empty with kube=1: the test control plane
while [ $# -gt 0 ]; do
  case "$1" in
    --keep) keep=1 ;;
    --no-build) build=0 ;;
    --kubernetes) kube=1 ;;
    --kubeconfig=*) kube=1 kubeconfig=${1#*=} ;;
    --kubeconfig) [ $# -ge 2 ] || { echo "quickstart: --kubeconfig needs a file" >&2; exit 2; }
                  kube=1 kubeconfig=$2; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "quickstart: unknown argument $1 ($usage)" >&2; exit 2 ;;
  esac
  shift
done
# Fail before anything is installed or started when the cluster cannot be had.
K8S_BIN=
if [ "$kube" = 1 ] && [ -z "$kubeconfig" ]; then
  K8S_BIN=$(tests/cluster/build.sh --print-bin-dir)
  for b in etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok; do
    [ -x "$K8S_BIN/$b" ] || {
      echo "quickstart: --kubernetes needs the test control plane, which is not built ($K8S_BIN/$b" \
           "is missing). Build it once with tests/cluster/build.sh (15-50 min on 2 cores; Go 1.26" \
           "in /usr/local/go and the Go module proxy), or give --kubeconfig FILE for a cluster of" \
           "yours." >&2
      exit 1
    }
  done
elif [ -n "$kubeconfig" ]; then
  [ -r "$kubeconfig" ] || { echo "quickstart: cannot read the kubeconfig $kubeconfig" >&2; exit 1; }
  case "$kubeconfig" in /*) ;; *) kubeconfig=$ROOT/$kubeconfig ;; esac
fi

step() { printf '\n==> %s\n' "$*"; }
# Shows a command the way a user would type it (todoke is on PATH below), then runs it.
show() { printf '$ %s\n' "$(quote "$@")"; "$@"; }
quote() {  # arguments joined by spaces, those with spaces or quotes in single quotes
  local out=() a
  for a in "$@"; do
    case "$a" in *[!A-Za-z0-9_./:=@%+,-]*) out+=("'${a//\'/\'\\\'\'}'") ;; *) out+=("$a") ;; esac
  done
  printf '%s' "${out[*]}"
}
die() { echo "quickstart: $*" >&2; exit 1; }

step "1/7 setup: packages and build (scripts/setup.sh)"
if [ "$build" = 1 ]; then
  scripts/setup.sh
else
  scripts/setup.sh --no-build
fi
BUILD_DIR=${TODOKE_BUILD_DIR:-build}
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR=$ROOT/$BUILD_DIR ;; esac
BIN=$BUILD_DIR/bin
for b in todoke todoke-source-fetcher todoke-renderer todoke-differ todoke-applier todoke-orchestrator; do
  [ -x "$BIN/$b" ] || die "$BIN/$b is missing (run scripts/quickstart.sh without --no-build)"
done
export PATH="$BIN:$PATH"
built_at=$(date +%s)
echo "binaries in $BIN"

RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/todoke-quickstart.XXXXXX")
mkdir -p "$RUN_DIR/logs" "$RUN_DIR/data" "$RUN_DIR/repos" "$RUN_DIR/work"
# What --keep's "how to stop" runs: the services, the test control plane if one was started
# here, the folder. (Apps on your own cluster stay, with their objects: todoke app delete NAME
# --cascade removes them.)
cat >"$RUN_DIR/stop.sh" <<EOF
#!/usr/bin/env bash
# Stops what scripts/quickstart.sh started in $RUN_DIR and removes the folder.
pids=\$(cat '$RUN_DIR/pids' 2>/dev/null)
for p in \$pids; do kill -TERM "\$p" 2>/dev/null; done
for _ in \$(seq 100); do
  alive=0; for p in \$pids; do kill -0 "\$p" 2>/dev/null && alive=1; done
  [ "\$alive" = 0 ] && break; sleep 0.1
done
for p in \$pids; do kill -KILL "\$p" 2>/dev/null; done
[ ! -f '$RUN_DIR/k8s/pids' ] || '$ROOT/tests/cluster/stop.sh' '$RUN_DIR/k8s' >/dev/null
rm -rf '$RUN_DIR'
echo "stopped; $RUN_DIR removed"
EOF
chmod +x "$RUN_DIR/stop.sh"
pids=()
stop_services() {
  local p
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for _ in $(seq 100); do  # at most 10 s, then SIGKILL
    local alive=0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
}
watch_pid=
registered=0
cluster_dir=
on_exit() {
  local code=$?
  [ -z "$watch_pid" ] || kill "$watch_pid" 2>/dev/null || true
  if [ "$keep" = 1 ]; then
    [ "$code" = 0 ] || echo "quickstart: failed (exit $code); left running (--keep), logs in $RUN_DIR/logs; stop: $RUN_DIR/stop.sh" >&2
    return
  fi
  if [ "$kube" = 1 ] && [ -z "$cluster_dir" ] && [ "$registered" = 1 ]; then
    # Your cluster: the apps go, with the objects they made (their namespaces stay).
    echo "quickstart: deleting the apps and their objects from your cluster"
    local app
    for app in webapp-dev webapp-prod redis; do
      todoke --timeout 60s app delete "$app" --cascade --yes >"$RUN_DIR/logs/delete-$app.out" 2>&1 ||
        echo "quickstart: could not delete $app from the cluster: $(cat "$RUN_DIR/logs/delete-$app.out")" >&2
    done
    echo "quickstart: their namespaces stay (kubectl delete namespace webapp-dev webapp-prod cache)"
  fi
  stop_services
  [ -z "$cluster_dir" ] || tests/cluster/stop.sh "$cluster_dir" >/dev/null 2>&1 || true
  if [ "$code" = 0 ]; then
    rm -rf "$RUN_DIR"
  else
    echo "quickstart: failed (exit $code); services stopped; logs and data kept in $RUN_DIR" >&2
  fi
}
trap on_exit EXIT
trap 'exit 130' INT TERM

step "2/7 starting the five services on 127.0.0.1 (data and logs in $RUN_DIR)"
# The webhook secret: the orchestrator checks each delivery's HMAC-SHA256 against it.
(umask 077 && openssl rand -hex 32 >"$RUN_DIR/webhook-secret")
# wait_line FILE PATTERN SERVICE: the text after PATTERN on the first line of FILE holding it.
wait_line() {
  local i
  for i in $(seq 300); do  # at most 30 s
    if grep -q "$2" "$1" 2>/dev/null; then
      sed -n "s/.*$2 //p" "$1" | head -1
      return 0
    fi
    kill -0 "${pids[-1]}" 2>/dev/null || break
    sleep 0.1
  done
  echo "quickstart: todoke-$3 did not start; its log ($RUN_DIR/logs/$3.log):" >&2
  tail -20 "$RUN_DIR/logs/$3.log" >&2
  return 1
}
declare -A addr
start() {  # start SERVICE FLAGS...: port 0, the address read from its "listening on" line
  local svc=$1
  shift
  local launch=()
  [ "$keep" = 1 ] && launch=(setsid)  # --keep: not tied to this terminal's session
  "${launch[@]}" "$BIN/todoke-$svc" --listen=127.0.0.1:0 --shutdown-grace=5s "$@" \
    >"$RUN_DIR/logs/$svc.out" 2>"$RUN_DIR/logs/$svc.log" </dev/null &
  pids+=($!)
  printf '%s\n' "${pids[@]}" >"$RUN_DIR/pids"
  addr[$svc]=$(wait_line "$RUN_DIR/logs/$svc.out" "listening on" "$svc")
  printf '  %-15s %-21s pid %-7s log %s\n' "$svc" "${addr[$svc]}" "${pids[-1]}" "$RUN_DIR/logs/$svc.log"
}
if [ "$kube" = 1 ] && [ -z "$kubeconfig" ]; then
  cluster_dir=$RUN_DIR/k8s
  echo "  the test control plane (tests/cluster/start.sh $cluster_dir; log $RUN_DIR/logs/cluster.log)"
  tests/cluster/start.sh "$cluster_dir" >"$RUN_DIR/logs/cluster.log" 2>&1 ||
    { tail -20 "$RUN_DIR/logs/cluster.log" >&2; die "the test control plane did not start"; }
  sed -n 's/^start.sh: /  /p' "$RUN_DIR/logs/cluster.log"
  kubeconfig=$cluster_dir/kubeconfig
  export KUBECACHEDIR=$cluster_dir/kube-cache
  PATH="$PATH:$K8S_BIN"  # its kubectl, after any other
fi
applier_flags=(--git-work-dir="$RUN_DIR/data/applier-git" --allow-local-repos)
if [ "$kube" = 1 ]; then
  export KUBECONFIG=$kubeconfig
  applier_flags+=(--kubeconfig="$kubeconfig" --installation-id=quickstart)
fi
start source-fetcher --cache-dir="$RUN_DIR/data/fetcher-cache" --allow-local-repos
start renderer --source-fetcher="${addr[source-fetcher]}"
start differ
start applier "${applier_flags[@]}"
start orchestrator --data-dir="$RUN_DIR/data/orchestrator" \
  --source-fetcher="${addr[source-fetcher]}" --renderer="${addr[renderer]}" \
  --differ="${addr[differ]}" --applier="${addr[applier]}" \
  --webhook-listen=127.0.0.1:0 --webhook-secret-file="$RUN_DIR/webhook-secret"
webhook=$(wait_line "$RUN_DIR/logs/orchestrator.out" "webhook receiver at" orchestrator)
echo "  webhook receiver http://$webhook/webhook"
export TODOKE_SERVER=${addr[orchestrator]}
show todoke health source-fetcher="${addr[source-fetcher]}" renderer="${addr[renderer]}" \
  differ="${addr[differ]}" applier="${addr[applier]}" orchestrator="${addr[orchestrator]}"

step "3/7 a Git repository from examples/"
EXAMPLES_REPO=$RUN_DIR/repos/examples.git
HYDRATED_REPO=$RUN_DIR/repos/hydrated.git
WORK=$RUN_DIR/work/examples
git init -q --bare -b main "$EXAMPLES_REPO"
[ "$kube" = 1 ] || git init -q --bare -b main "$HYDRATED_REPO"
git init -q -b main "$WORK"
cp -R examples/. "$WORK/"
# Commits need an identity; a machine without one gets a local one in this work tree only.
if [ -z "$(git -C "$WORK" config user.email || true)" ]; then
  git -C "$WORK" config user.email quickstart@todoke.invalid
  git -C "$WORK" config user.name "todoke quickstart"
fi
git -C "$WORK" remote add origin "$EXAMPLES_REPO"
git -C "$WORK" add -A
git -C "$WORK" commit -q -m "examples: webapp (Kustomize base, dev and prod overlays) and redis (plain directory)"
git -C "$WORK" push -q -u origin main
# Every push to the repository now tells todoke, as a Git server's webhook would: the generic
# payload signed with HMAC-SHA256 (services/orchestrator/core/webhook.h). (The key reaches
# openssl on its command line: fine for a loopback quickstart, not for a shared server.)
cat >"$EXAMPLES_REPO/hooks/post-receive" <<EOF
#!/usr/bin/env bash
# todoke quickstart: POST a signed webhook to the orchestrator for every pushed ref.
url='http://$webhook/webhook'
repo='$EXAMPLES_REPO'
secret_file='$RUN_DIR/webhook-secret'
while read -r old new ref; do
  body="{\"repoURL\": \"\$repo\", \"ref\": \"\$ref\"}"
  signature=\$(printf '%s' "\$body" | openssl dgst -sha256 -hmac "\$(cat "\$secret_file")" | awk '{print \$NF}')
  reply=\$(curl -sS --max-time 10 -w ' (HTTP %{http_code})' -H 'Content-Type: application/json' \\
    -H "X-Todoke-Signature-256: sha256=\$signature" -H "X-Todoke-Delivery: \$ref@\$new" \\
    --data-binary "\$body" "\$url" 2>&1) || reply="not delivered: \$reply"
  echo "todoke webhook for \$ref: \$(echo \$reply)"
done
EOF
chmod +x "$EXAMPLES_REPO/hooks/post-receive"
echo "source repository  $EXAMPLES_REPO (bare; post-receive hook POSTs to http://$webhook/webhook)"
echo "work tree          $WORK"
if [ "$kube" = 1 ]; then
  echo "destination        the Kubernetes cluster of $kubeconfig"
else
  echo "hydration target   $HYDRATED_REPO, branch main"
fi
show git -C "$WORK" log --oneline -1
echo "\$ todoke render $WORK/webapp/overlays/prod   # what prod renders to (objects)"
todoke render "$WORK/webapp/overlays/prod" | awk '/^kind:/ { kind = $2 } /^  name:/ { print "  " kind "/" $2 }'

apps=(webapp-dev webapp-prod redis)
if [ "$kube" = 1 ]; then
  app_file=applications-kubernetes.yaml
else
  app_file=applications.yaml
fi
step "4/7 registering the apps (examples/$app_file)"
sed -e "s|\${EXAMPLES_REPO}|$EXAMPLES_REPO|g" -e "s|\${HYDRATED_REPO}|$HYDRATED_REPO|g" \
  "examples/$app_file" >"$RUN_DIR/applications.yaml"
registered=1
show todoke app apply -f "$RUN_DIR/applications.yaml"

# kubectl, when there is one (the test control plane always has one).
have_kubectl=0
[ "$kube" = 1 ] && command -v kubectl >/dev/null && have_kubectl=1
# webapp's ConfigMap in prod: the file of the hydrated branch, or the object's name.
webapp_configmap() {
  if [ "$kube" = 1 ]; then
    kubectl -n webapp-prod get configmaps -l app.kubernetes.io/name=webapp -o name
  else
    git -C "$HYDRATED_REPO" ls-tree -r --name-only main -- webapp-prod | grep 'configmap\.webapp-config'
  fi
}

if [ "$kube" = 1 ]; then
  step "5/7 syncing into the cluster"
  # Synced for all. Healthy only where the cluster can get there: webapp's Ingress stays
  # Progressing until an ingress controller publishes its address (the test control plane has
  # none), and on your own cluster Deployments take as long as their images do.
  for app in "${apps[@]}"; do
    if [ "$app" = redis ] && [ -n "$cluster_dir" ]; then
      show todoke app wait "$app" --sync --health --timeout 2m
    else
      show todoke app wait "$app" --sync --timeout 2m
    fi
  done
else
  step "5/7 syncing into $HYDRATED_REPO"
  for app in "${apps[@]}"; do
    show todoke app wait "$app" --sync --health --timeout 2m
  done
fi
show todoke app list
show todoke app get webapp-prod
if [ "$kube" = 1 ]; then
  if [ "$have_kubectl" = 1 ]; then
    show kubectl get namespaces webapp-dev webapp-prod cache
    show kubectl -n webapp-prod get deployments,replicasets,pods,services,ingresses,configmaps -l app.kubernetes.io/name=webapp
    show kubectl -n cache get deployments,services
  fi
else
  show git -C "$HYDRATED_REPO" ls-tree -r --name-only main
  show git -C "$HYDRATED_REPO" log --format='%h %s' main
  show git -C "$HYDRATED_REPO" log -1 main
fi

step "6/7 a change, pushed: it converges through the webhook"
# The page's text lives in a ConfigMap generated with a hash in its name: a new ConfigMap
# appears in each environment, the Deployments follow it, and the old ConfigMap is pruned.
old_configmap=
if [ "$kube" = 0 ] || [ "$have_kubectl" = 1 ]; then
  old_configmap=$(webapp_configmap || true)
  [ -n "$old_configmap" ] || die "no webapp-config ConfigMap in webapp-prod"
fi
[ "$kube" = 1 ] || hydrated_before=$(git -C "$HYDRATED_REPO" rev-parse main)
sed -i 's|<h1>Hello from todoke</h1>|<h1>Hello again, from todoke</h1>|' "$WORK/webapp/base/config/index.html"
show git -C "$WORK" commit -q -am "webapp: a new greeting"
revision=$(git -C "$WORK" rev-parse HEAD)
# Events as they happen, printed below once the apps converged. The push waits until the watch
# is registered (its "watching events" line on stderr): events before that would be missed.
todoke app watch --timeout 90s >"$RUN_DIR/logs/watch.out" 2>&1 &
watch_pid=$!
for _ in $(seq 300); do  # at most 30 s
  grep -q '^watching events of ' "$RUN_DIR/logs/watch.out" 2>/dev/null && break
  kill -0 "$watch_pid" 2>/dev/null || break
  sleep 0.1
done
grep -q '^watching events of ' "$RUN_DIR/logs/watch.out" ||
  die "todoke app watch did not start watching: $(cat "$RUN_DIR/logs/watch.out")"
pushed_at=$(date +%s%N)
echo "\$ git -C $WORK push"
hook_says=$(git -C "$WORK" push 2>&1 | sed -n 's/^remote: \(.*[^ ]\) *$/  (post-receive hook) \1/p')
echo "$hook_says"
grep -q '(HTTP 202)$' <<<"$hook_says" || die "the orchestrator did not accept the webhook (expected HTTP 202)"
# Converged: every app looks at the pushed commit and is Synced; the two webapp apps (the change
# is theirs) have in their history a successful sync of it that the webhook started. The
# interval is an hour.
converged() {  # converged APP NEEDS_SYNC
  local status
  status=$(todoke app get "$1" -o yaml 2>/dev/null) || return 1
  grep -q "^  revision: $revision" <<<"$status" && grep -q "^  sync: Synced" <<<"$status" || return 1
  [ "$2" = 0 ] && return 0
  todoke app history "$1" -o yaml 2>/dev/null | awk -v rev="$revision" '
    function check() { if (by && ok && at) found = 1; by = ok = at = 0 }
    /^- / { check() }
    $0 == "    initiatedBy: webhook" { by = 1 }
    $0 == "    phase: Succeeded" { ok = 1 }
    $0 == "    revision: " rev { at = 1 }
    END { check(); exit !found }'
}
done_all=0
for _ in $(seq 600); do  # at most 60 s
  if converged webapp-dev 1 && converged webapp-prod 1 && converged redis 0; then done_all=1; break; fi
  sleep 0.1
done
elapsed_ms=$((($(date +%s%N) - pushed_at) / 1000000))
# The watch prints each event as it arrives, and may lag behind the status: wait until it shows
# the end of each webapp app's sync started by the webhook (SyncSucceeded comes after its
# ObjectApplied events on the one stream), at most 10 s.
watched_syncs() {
  local app
  for app in webapp-dev webapp-prod; do
    awk -v app="$app" -v started="SyncStarted: sync of ${revision:0:12} started (webhook)" '
      $2 == app && index($0, started) { seen = 1 }
      seen && $2 == app && $4 ~ /^SyncSucceeded/ { found = 1 }
      END { exit !found }' "$RUN_DIR/logs/watch.out" || return 1
  done
}
if [ "$done_all" = 1 ]; then
  for _ in $(seq 100); do watched_syncs && break; sleep 0.1; done
fi
kill "$watch_pid" 2>/dev/null || true
wait "$watch_pid" 2>/dev/null || true
echo "\$ todoke app watch   # (it ran during the push)"
cat "$RUN_DIR/logs/watch.out"
if [ "$done_all" != 1 ]; then
  todoke app list >&2 || true
  die "the pushed commit ${revision:0:12} did not converge through the webhook within 60 s"
fi
printf 'converged through the webhook: every app Synced at %s, %d.%03d s after the push (interval: 1h)\n' \
  "${revision:0:12}" $((elapsed_ms / 1000)) $((elapsed_ms % 1000))
show todoke app list
show todoke app history webapp-prod
if [ "$kube" = 0 ]; then
  show git -C "$HYDRATED_REPO" log --format='%h %s' "$hydrated_before..main"
  show git -C "$HYDRATED_REPO" diff --stat "$hydrated_before" main
  git -C "$HYDRATED_REPO" show "main:$(webapp_configmap)" | grep -q 'Hello again, from todoke' ||
    die "the new greeting is not in the hydrated branch"
  ! git -C "$HYDRATED_REPO" cat-file -e "main:$old_configmap" 2>/dev/null ||
    die "the old ConfigMap $old_configmap was not pruned"
  echo "the new greeting is in the hydrated branch, and the old ConfigMap is pruned"
elif [ "$have_kubectl" = 1 ]; then
  show kubectl -n webapp-prod get configmaps,deployments -l app.kubernetes.io/name=webapp
  new_configmap=$(webapp_configmap)
  [ "$new_configmap" != "$old_configmap" ] && [ "$(wc -l <<<"$new_configmap")" = 1 ] ||
    die "expected one new ConfigMap in webapp-prod in place of $old_configmap, found: $new_configmap"
  kubectl -n webapp-prod get "$new_configmap" -o 'jsonpath={.data.index\.html}' |
    grep -q 'Hello again, from todoke' || die "the new greeting is not in $new_configmap"
  echo "the new greeting is in the cluster ($new_configmap), and the old ConfigMap is pruned"
fi

step "7/7 go on"
echo "Took $(($(date +%s) - built_at)) s after the build. Services, data and logs: $RUN_DIR"
echo
echo "  export PATH=\"$BIN:\$PATH${K8S_BIN:+:$K8S_BIN}\" TODOKE_SERVER=${addr[orchestrator]}"
[ "$kube" = 0 ] || echo "  export KUBECONFIG=$kubeconfig"
cat <<EOF
  cd $WORK
  todoke app watch &                       # events as they happen (kill %1 to stop)
  sed -i 's/count: 3/count: 4/' webapp/overlays/prod/kustomization.yaml   # edit: prod gets 4 replicas
  git commit -am "prod: 4 replicas" && git push    # commit and push: the hook sends the webhook
EOF
if [ "$kube" = 1 ]; then
  cat <<EOF
  kubectl -n webapp-prod get deployment webapp     # the result, on the cluster
EOF
else
  echo "  git -C ../../repos/hydrated.git log --stat -1    # what todoke committed"
fi
cat <<EOF
  todoke app history webapp-prod                   # past syncs, with their ids
  todoke app rollback webapp-prod ID               # sync an earlier entry again (automation turns off)
  todoke app diff webapp-prod                      # then Git and the destination differ: the diff, exit 1
  todoke app sync webapp-prod                      # back to what Git says, by hand
  todoke app apply -f ../../applications.yaml      # automation back on (from the next commit)
  todoke render webapp/overlays/prod               # what a folder renders to, no server needed
EOF
echo
if [ "$keep" = 1 ]; then
  echo "Left running (--keep). Stop everything: $RUN_DIR/stop.sh"
else
  echo "Stopping the services now (scripts/quickstart.sh --keep leaves them running)."
fi
