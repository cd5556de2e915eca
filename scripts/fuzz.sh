#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/) with clang under AddressSanitizer and
# UndefinedBehaviorSanitizer in their own build folder, and runs each for a bounded time.
# Installs clang-14 and its sanitizer runtimes from Debian when they are missing (root only).
# The build compiles only the fuzzers and the libraries they link; it is cached between runs,
# and so is each target's growing corpus (build-fuzz/corpus/<target>/).
#
# Usage: scripts/fuzz.sh [--ci] [--seconds N] [--build-only] [target...]
#   --ci          the CTest test fuzz_smoke: 8 s a target; without clang (and no root to
#                 install it) exit 77 (skipped) unless TODOKE_REQUIRE_ALL=1
#   --seconds N   time per target (default 60)
#   --build-only  build the fuzzers and stop
#   target        some of: yaml json kustomization render strategic_merge json_patch semver
#                 repo_url (default: all)
# Environment: TODOKE_FUZZ_BUILD_DIR (default build-fuzz), TODOKE_FUZZ_JOBS (build jobs,
# default nproc), TODOKE_FUZZ_NICE (niceness of the fuzzers, default 10).
#
# A crash leaves its input in build-fuzz/crashes/<target>/ and fails the run: fix the bug,
# copy the input to tests/fuzz/regressions/<target>/ (the ordinary suite replays it in
# fuzz_replay_test) and commit both. Reproduce one input: build-fuzz/fuzz/fuzz_<target> FILE.
set -euo pipefail
cd "$(dirname "$0")/.."

ALL_TARGETS=(yaml json kustomization render strategic_merge json_patch semver repo_url)
seconds=60
ci=0
build_only=0
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --ci) ci=1; seconds=8 ;;
    --seconds) seconds="$2"; shift ;;
    --build-only) build_only=1 ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) targets+=("$1") ;;
  esac
  shift
done
[ ${#targets[@]} -eq 0 ] && targets=("${ALL_TARGETS[@]}")

BUILD_DIR=${TODOKE_FUZZ_BUILD_DIR:-build-fuzz}
JOBS=${TODOKE_FUZZ_JOBS:-$(nproc)}
NICE=${TODOKE_FUZZ_NICE:-10}
CLANG_PACKAGES=(clang-14 libclang-rt-14-dev)

skip_or_fail() {
  if [ "${TODOKE_REQUIRE_ALL:-0}" = 1 ] || [ $ci -eq 0 ]; then
    echo "fuzz: $1" >&2
    exit 1
  fi
  echo "fuzz: SKIPPED: $1 (TODOKE_REQUIRE_ALL=1 makes this a failure)" >&2
  exit 77
}

missing=()
for p in "${CLANG_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" -eq 0 ] || skip_or_fail "clang is missing: need root to install ${missing[*]}"
  echo "fuzz: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Another apt run (scripts/setup.sh) may hold the lock: wait for it, bounded.
  if ! { apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}" ||
         { apt-get update -qq && apt-get -o DPkg::Lock::Timeout=300 install -y -qq \
             --no-install-recommends "${missing[@]}"; }; } >/tmp/todoke-fuzz-apt.log 2>&1; then
    tail -20 /tmp/todoke-fuzz-apt.log >&2
    skip_or_fail "apt-get install failed for: ${missing[*]}"
  fi
fi

SANITIZE="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all"
configure_start=$(date +%s)
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DTODOKE_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_COMPILER=clang++-14 \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only -fno-omit-frame-pointer" \
    -DCMAKE_CXX_FLAGS="$SANITIZE" -DTODOKE_STATIC_BINARIES=OFF >/dev/null
fi
log=$(mktemp)
if ! cmake --build "$BUILD_DIR" --target $(printf 'fuzz_%s ' "${targets[@]}") -- -j"$JOBS" >"$log" 2>&1; then
  grep -E 'error|FAILED' -A5 "$log" | head -60 >&2
  echo "fuzz: build failed (full log: $log)" >&2
  exit 1
fi
rm -f "$log"
echo "fuzz: build took $(( $(date +%s) - configure_start )) s"
[ $build_only -eq 1 ] && exit 0

# Extra seeds from the Kustomize corpora when present (not committed: made again when a corpus
# changes).
shared_seeds="$BUILD_DIR/seeds-shared"
if [ -d ../shared/corpus ] && { [ ! -f "$shared_seeds/.stamp" ] ||
     [ -n "$(find ../shared/corpus -maxdepth 2 -name cases.tsv -newer "$shared_seeds/.stamp")" ]; }; then
  bash tests/fuzz/make_seeds.sh --shared ../shared/corpus "$shared_seeds" >/dev/null
  touch "$shared_seeds/.stamp"
fi

failed=()
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
for t in "${targets[@]}"; do
  corpus="$BUILD_DIR/corpus/$t"
  crashes="$BUILD_DIR/crashes/$t"
  mkdir -p "$corpus" "$crashes"
  dirs=("$corpus" "tests/fuzz/seeds/$t")
  [ -d "tests/fuzz/regressions/$t" ] && dirs+=("tests/fuzz/regressions/$t")
  [ -d "$shared_seeds/$t" ] && dirs+=("$shared_seeds/$t")
  out="$BUILD_DIR/fuzz-$t.log"
  # -timeout: one input taking longer is a finding (hostile input must get an answer in
  # bounded time); -rss_limit_mb: so is a process over 2 GB.
  if nice -n "$NICE" "$BUILD_DIR/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=20 \
       -rss_limit_mb=2048 -max_len=16384 -print_final_stats=1 \
       -artifact_prefix="$crashes/" "${dirs[@]}" >"$out" 2>&1; then
    echo "fuzz: $t: $(grep -aE '^stat::number_of_executed_units' "$out" | awk '{print $2}') runs in ${seconds} s, corpus $(ls "$corpus" | wc -l) files: ok"
  else
    failed+=("$t")
    echo "fuzz: $t: FAILED (log: $out)" >&2
    grep -aE 'ERROR|invariant broken|runtime error|SUMMARY|Test unit written|^\s+#[0-9]+ ' "$out" | head -40 >&2
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: crashes in: ${failed[*]}; inputs under $BUILD_DIR/crashes/<target>/ (fix, then keep each" \
       "in tests/fuzz/regressions/<target>/)" >&2
  exit 1
fi
