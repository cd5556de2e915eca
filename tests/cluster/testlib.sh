# shellcheck shell=bash
# Helpers shared by the cluster test scripts (sourced, not run).
# Each script counts checks and ends with "NAME: N passed, M failed".

test_name="${test_name:-$(basename "$0" .sh)}"
passed=0
failed=0

pass() { passed=$((passed + 1)); echo "PASS: $*"; }
fail_check() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
finish() { # exit with the summary line; non-zero when a check failed
  echo "$test_name: $passed passed, $failed failed"
  exit $(( failed == 0 ? 0 : 1 ))
}

# until_true SECONDS CMD...: run CMD until it succeeds, at most SECONDS.
until_true() {
  local limit=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    (( SECONDS < limit )) || return 1
    sleep 0.5
  done
}

# check_loopback_only DIR: every TCP listener of the processes in DIR/pids is on
# 127.0.0.1 (or ::1). Prints offending sockets.
check_loopback_only() {
  local dir="$1" bad=0 name pid line
  while read -r name pid; do
    while read -r line; do
      [[ -n "$line" ]] || continue
      local addr; addr="$(awk '{ print $4 }' <<<"$line")"
      case "$addr" in
        127.*|\[::1\]:*) ;;
        *) echo "  $name (pid $pid) listens on $addr" >&2; bad=1 ;;
      esac
    done < <(ss -Hltnp | grep -F "pid=$pid,")
  done < "$dir/pids"
  return $bad
}

# readyz ENVFILE: GET /readyz with the token and CA from the env file.
readyz() {
  # shellcheck source=/dev/null
  ( set -a; . "$1"; set +a
    curl -fsS --max-time 5 --cacert "$TODOKE_K8S_CA" -H "Authorization: Bearer $TODOKE_K8S_TOKEN" \
      "$TODOKE_K8S_SERVER/readyz" )
}
