#!/usr/bin/env bash
# Link launcher (CMake RULE_LAUNCH_LINK) for binaries users copy around, such as the `todoke`
# CLI: rewrites a link command so every library from Debian's lib directory that has a static
# archive is linked statically, with libstdc++ and libgcc, leaving only glibc dynamic.
# A static binary starts in about a millisecond; resolving gRPC's ~70 shared libraries costs
# ~20M cycles on every `todoke render`. Archives go in one --start-group/--end-group so their
# order does not matter.
#   link_static.sh --libdir=DIR <compiler> <arguments...>
# DIR is the distribution's library directory (CMake's CMAKE_LIBRARY_ARCHITECTURE under /usr/lib).
set -euo pipefail
case "${1:-}" in
  --libdir=*) libdir=${1#--libdir=}; shift ;;
  *) echo "link_static.sh: first argument must be --libdir=DIR" >&2; exit 2 ;;
esac
out=()
archives=()
for arg in "$@"; do
  case "$arg" in
    "$libdir"/lib*.so | "$libdir"/lib*.so.*)
      base=${arg##*/}
      name=${base%%.so*}
      if [ -f "$libdir/$name.a" ]; then
        archives+=("$libdir/$name.a")
        continue
      fi
      ;;
    -l*)
      name=lib${arg#-l}
      case "$name" in libc | libm | libdl | librt | libpthread | libatomic) ;;
      *)
        if [ -f "$libdir/$name.a" ]; then
          archives+=("$libdir/$name.a")
          continue
        fi
        ;;
      esac
      ;;
  esac
  out+=("$arg")
done
if [ ${#archives[@]} -gt 0 ]; then
  out+=(-Wl,--start-group "${archives[@]}" -Wl,--end-group)
fi
exec "${out[@]}" -static-libstdc++ -static-libgcc
