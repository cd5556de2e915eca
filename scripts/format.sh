#!/usr/bin/env bash
# Formats todoke's C++ sources with clang-format (the style is .clang-format at the root), or with
# --check only reports files that differ and exits 1 if any does (what CI runs). Installs
# Debian's clang-format-14 when it is missing (as root).
# Usage: scripts/format.sh [--check] [FILE...]
set -euo pipefail
cd "$(dirname "$0")/.."

check=0
if [ "${1:-}" = "--check" ]; then check=1; shift; fi

CLANG_FORMAT=${CLANG_FORMAT:-clang-format-14}
if ! command -v "$CLANG_FORMAT" >/dev/null; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "format: $CLANG_FORMAT is missing (apt-get install clang-format-14, as root)" >&2
    exit 2
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends clang-format-14 >/tmp/todoke-apt-format.log 2>&1 ||
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends clang-format-14 \
        >/tmp/todoke-apt-format.log 2>&1; } ||
    { tail -5 /tmp/todoke-apt-format.log >&2; echo "format: cannot install clang-format-14" >&2; exit 2; }
fi

if [ $# -gt 0 ]; then
  files=("$@")
else
  mapfile -t files < <(git ls-files '*.cc' '*.h')
fi

if [ $check -eq 0 ]; then
  printf '%s\0' "${files[@]}" | xargs -0 -n 50 "$CLANG_FORMAT" -i
  exit 0
fi
differ=()
for f in "${files[@]}"; do
  "$CLANG_FORMAT" --dry-run --Werror "$f" >/dev/null 2>&1 || differ+=("$f")
done
if [ ${#differ[@]} -gt 0 ]; then
  echo "format: ${#differ[@]} file(s) differ from .clang-format (fix with scripts/format.sh FILE...):" >&2
  printf '  %s\n' "${differ[@]}" >&2
  exit 1
fi
echo "format: ${#files[@]} files follow .clang-format"
