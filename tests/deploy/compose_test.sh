#!/usr/bin/env bash
# Brings docker-compose.yaml up with an image built by scripts/build-image.sh and checks what the
# compose file promises: every stage serves gRPC health on the compose network under its service
# name, the orchestrator is published on loopback (here on a free port) and its API requires the
# development token, every stage runs unprivileged on a read-only root filesystem, a stage scaled to two
# replicas is reached through dns:/// with round_robin, a killed stage is restarted and serves
# again, and `docker-compose stop` ends every stage gracefully (exit code 0). Leaves nothing behind: its own project, image tag and volumes.
# Exit 77 (skipped) when docker or docker-compose is missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v docker >/dev/null && command -v docker-compose >/dev/null && docker info >/dev/null 2>&1 || {
  echo "compose_test: docker or docker-compose is not available: skipped"
  [ "${TODOKE_REQUIRE_ALL:-0}" = 1 ] && { echo "compose_test: required (TODOKE_REQUIRE_ALL=1): failing"; exit 1; }
  exit 77
}

BUILD_DIR=${TODOKE_BUILD_DIR:-build}
project="todoke-test-$$"
export TODOKE_IMAGE="todoke:test-$$" TODOKE_ORCHESTRATOR_PORT="" TODOKE_GIT_PORT="" TODOKE_WEBHOOK_PORT=""
compose() { docker-compose -p "$project" "$@"; }
cleanup() {
  compose down -v --remove-orphans >/dev/null 2>&1 || true
  docker rmi "$TODOKE_IMAGE-git" "$TODOKE_IMAGE" >/dev/null 2>&1 || true
}
trap cleanup EXIT
fail() { echo "compose_test: FAIL: $*" >&2; compose ps >&2 || true; compose logs --tail=20 >&2 || true; exit 1; }

scripts/build-image.sh "$TODOKE_IMAGE"
compose up -d >/dev/null 2>&1 || fail "docker-compose up"

stages="source-fetcher=source-fetcher:7100 renderer=renderer:7200 differ=differ:7300 applier=applier:7500 orchestrator=orchestrator:7400"
# `todoke health` from inside the network; exit 0 only when every stage is SERVING.
health() { compose exec -T differ todoke health "$@"; }
for _ in $(seq 1 60); do  # at most ~60 s for the stages to come up
  if out="$(health $stages 2>&1)"; then break; fi
  sleep 1
done
echo "$out"
health $stages >/dev/null || fail "not every stage is SERVING: $out"

# The published orchestrator port answers from the host.
port="$(compose port orchestrator 7400 | awk -F: '{ print $NF }')"
"$BUILD_DIR/bin/todoke" health "orchestrator=127.0.0.1:$port" || fail "orchestrator not reachable on 127.0.0.1:$port"

# Its API requires the development token of deploy/compose/tokens: refused without it (exit 1,
# naming --token), served with it.
todoke() { "$BUILD_DIR/bin/todoke" --server "127.0.0.1:$port" --timeout 10s "$@"; }
if out="$(TODOKE_TOKEN= todoke app list 2>&1)"; then fail "the API answered without a token: $out"; fi
grep -q -- "--token" <<<"$out" || fail "a call without a token did not ask for one: $out"
if out="$(todoke --token wrong-token app list 2>&1)"; then fail "the API took a wrong token: $out"; fi
out="$(todoke --token todoke-dev-token app list 2>&1)" || fail "the dev token was refused: $out"

# Every stage runs as the image's unprivileged user, on a read-only root filesystem, without
# capabilities or privilege escalation.
for id in $(compose ps -q); do
  name="$(docker inspect -f '{{.Name}}' "$id")"
  got="$(docker inspect -f '{{.Config.User}} {{.HostConfig.ReadonlyRootfs}} {{.HostConfig.CapDrop}} {{.HostConfig.SecurityOpt}}' "$id")"
  [[ "$got" == "65534:65534 true [ALL] [no-new-privileges:true]" ]] || fail "$name: user, read-only, cap_drop, security_opt: $got"
done

# Two renderers behind one DNS name: both are resolved and serve.
compose up -d --scale renderer=2 >/dev/null 2>&1 || fail "scale renderer=2"
[[ "$(compose ps -q renderer | wc -l)" == 2 ]] || fail "renderer did not scale to 2"
for _ in $(seq 1 30); do
  if out="$(health renderer=dns:///renderer:7200 2>&1)"; then break; fi
  sleep 1
done
health renderer=dns:///renderer:7200 || fail "scaled renderer not SERVING through dns:///: $out"

# A stage that dies (its process SIGKILLed, as by a crash or the OOM killer) is restarted by the
# compose restart policy and serves again. (`docker kill` would count as a manual stop.)
# Killing a container's process from the host needs root.
if [[ "$(id -u)" == 0 ]]; then
  differ_id="$(compose ps -q differ)"
  started_at="$(docker inspect -f '{{.State.StartedAt}}' "$differ_id")"
  kill -KILL "$(docker inspect -f '{{.State.Pid}}' "$differ_id")" || fail "cannot kill the differ's process"
  for _ in $(seq 1 30); do
    [[ "$(docker inspect -f '{{.State.StartedAt}}' "$differ_id")" != "$started_at" ]] &&
      out="$(health differ=differ:7300 2>&1)" && break
    sleep 1
  done
  health differ=differ:7300 || fail "killed differ did not come back: $out"
else
  echo "compose_test: not root: the kill-and-restart check is skipped"
fi

# SIGTERM (docker-compose stop) ends every stage with exit code 0.
compose stop -t 20 >/dev/null 2>&1 || fail "docker-compose stop"
for id in $(compose ps -q); do
  code="$(docker inspect -f '{{.State.ExitCode}}' "$id")"
  name="$(docker inspect -f '{{.Name}}' "$id")"
  [[ "$code" == 0 ]] || fail "$name exited with $code after SIGTERM"
done
echo "compose_test: ok"
