#!/usr/bin/env bash
# Makes fuzz seeds from test data, one file per input, named by content hash ("td-<md5>"):
#   make_seeds.sh OUT                   from tests/ (the Kustomize feature cases and the CLI's
#                                       testdata): yaml, kustomization and render seeds; what is
#                                       committed under tests/fuzz/seeds/ came from this
#   make_seeds.sh --shared CORPUS OUT   from ../shared/corpus (CORPUS): the kustomize-krusty
#                                       trees as render seeds, every kustomization file and every
#                                       expected output as seeds (scripts/fuzz.sh, not committed)
# Inputs over 16 KiB are skipped (scripts/fuzz.sh runs with -max_len=16384).
set -euo pipefail
cd "$(dirname "$0")/../.."
MAX=16384

# save TARGET_DIR < content: stores stdin as TARGET_DIR/td-<md5> unless too large or empty.
save() {
  local dir=$1 tmp
  tmp=$(mktemp)
  cat >"$tmp"
  local size
  size=$(stat -c %s "$tmp")
  if [ "$size" -gt 0 ] && [ "$size" -le $MAX ]; then
    mkdir -p "$dir"
    mv "$tmp" "$dir/td-$(md5sum "$tmp" | cut -c1-16)"
  else
    rm -f "$tmp"
  fi
}

# pack ROOT RENDER_DIR: the tree under ROOT in ParseFuzzTree's format (tests/fuzz/fuzz_targets.h),
# without expected outputs.
pack() {
  local root=$1 dir=$2 f
  [ -n "$dir" ] && printf '@ %s\n' "$dir"
  (cd "$root" && find . -type f ! -name 'expected*' ! -name '*.err' | sed 's|^\./||' | LC_ALL=C sort) |
    while IFS= read -r f; do
      printf '=== %s\n' "$f"
      cat "$root/$f"
      [ -z "$(tail -c1 "$root/$f")" ] || printf '\n'
    done
}

if [ "${1:-}" = "--shared" ]; then
  corpus=$2 out=$3
  rm -rf "$out"
  mkdir -p "$out"
  if [ -f "$corpus/kustomize-krusty/cases.tsv" ]; then
    while IFS=$'\t' read -r _ path _ _; do
      tree=${path%%/*}
      dir=${path#"$tree"}
      dir=${dir#/}
      [ -d "$corpus/kustomize-krusty/trees/$tree" ] || continue
      pack "$corpus/kustomize-krusty/trees/$tree" "$dir" | save "$out/render"
    done <"$corpus/kustomize-krusty/cases.tsv"
  fi
  find "$corpus" -type f \( -name kustomization.yaml -o -name kustomization.yml -o -name Kustomization \) \
    -size -16k -print0 | while IFS= read -r -d '' f; do save "$out/kustomization" <"$f"; done
  find "$corpus" -path '*/expected/*.yaml' -size -16k -print0 |
    while IFS= read -r -d '' f; do save "$out/yaml" <"$f"; done
  exit 0
fi

out=$1
cases=tests/services/renderer/kustomize/testdata
for c in "$cases"/*/; do
  c=${c%/}
  pack "$c" "" | save "$out/render"
  for k in "$c"/kustomization.yaml "$c"/*/kustomization.yaml; do
    [ -f "$k" ] && save "$out/kustomization" <"$k"
  done
done
# Cases that render a subfolder (build_path) on top of others, and the CLI's checkout.
for c in "$cases"/*/; do
  [ -f "$c/build_path" ] && pack "${c%/}" "$(cat "$c/build_path")" | save "$out/render"
done
for dir in overlays/prod base plain; do
  pack tests/cli/testdata/checkout "$dir" | save "$out/render"
done
find "$cases" tests/cli/testdata -type f -name '*.yaml' ! -name kustomization.yaml -size -8k -print0 |
  while IFS= read -r -d '' f; do save "$out/yaml" <"$f"; done
