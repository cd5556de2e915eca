#!/usr/bin/env bash
# Builds the container image todoke:dev (every service binary plus the todoke CLI) without a
# registry: the image is FROM scratch, holding the binaries built by scripts/setup.sh and exactly
# the shared libraries `ldd` says they load, CA certificates, and an unprivileged user (65534).
#
#   scripts/build-image.sh [TAG]        # default tag: todoke:dev
#
# Also builds TAG-git (default todoke:dev-git) on top of it: the same image plus git, git-daemon and
# a POSIX shell (dash), for docker-compose.yaml's Git server (deploy/compose/git-server.sh). The
# services' image stays without a shell; it holds ssh-keygen for the applier's commit signing.
#
# Used by docker-compose.yaml; tests/deploy/compose_test.sh and compose_loop_test.sh bring the
# compose file up with it.
set -euo pipefail
cd "$(dirname "$0")/.."
tag="${1:-todoke:dev}"
BUILD_DIR=${TODOKE_BUILD_DIR:-build}
command -v docker >/dev/null || { echo "build-image: docker is not installed" >&2; exit 1; }

binaries=(todoke-source-fetcher todoke-renderer todoke-differ todoke-applier todoke-orchestrator todoke)
for binary in "${binaries[@]}"; do
  [[ -x "$BUILD_DIR/bin/$binary" ]] || { echo "build-image: $BUILD_DIR/bin/$binary is missing (run scripts/setup.sh)" >&2; exit 1; }
done

context="$(mktemp -d)"
trap 'rm -rf "$context"' EXIT
root="$context/rootfs"
writable="$context/writable"  # folders the unprivileged user writes to (volumes mount on them)
mkdir -p "$root/usr/local/bin" "$root/etc/ssl/certs" "$root/tmp" "$writable/var/cache/todoke/git" \
         "$writable/var/lib/todoke" "$writable/var/lib/todoke/git"
chmod 1777 "$root/tmp"

copy_with_path() {  # copies a file to the same path under the root, following symlinks
  mkdir -p "$root$(dirname "$1")"
  cp -L "$1" "$root$1"
}

for binary in "${binaries[@]}"; do
  cp "$BUILD_DIR/bin/$binary" "$root/usr/local/bin/"
  strip --strip-debug "$root/usr/local/bin/$binary"  # debug info stays in the build tree
  # "name => /path (addr)" and "/lib64/ld-linux-x86-64.so.2 (addr)" lines.
  while read -r library; do
    [[ -n "$library" && ! -e "$root$library" ]] && copy_with_path "$library"
  done < <(ldd "$BUILD_DIR/bin/$binary" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
done
# ssh-keygen signs hydration commits (todoke-applier --git-signing-key, SSH format).
[[ -x /usr/bin/ssh-keygen ]] || { echo "build-image: /usr/bin/ssh-keygen is missing (apt-get install openssh-client)" >&2; exit 1; }
copy_with_path /usr/bin/ssh-keygen
while read -r library; do
  [[ -n "$library" && ! -e "$root$library" ]] && copy_with_path "$library"
done < <(ldd /usr/bin/ssh-keygen | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
# glibc loads these at run time (name resolution), not through NEEDED entries.
for library in /lib/x86_64-linux-gnu/libnss_dns.so.2 /lib/x86_64-linux-gnu/libnss_files.so.2 \
               /lib/x86_64-linux-gnu/libresolv.so.2; do
  [[ -e "$library" && ! -e "$root$library" ]] && copy_with_path "$library"
done
cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n' > "$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
printf 'hosts: files dns\n' > "$root/etc/nsswitch.conf"

# COPY makes everything root's unless told otherwise; a new named volume takes the owner of the
# folder it is mounted on, so the writable folders are copied as the unprivileged user's.
cat > "$context/Dockerfile" <<'EOF'
FROM scratch
COPY rootfs/ /
COPY --chown=65534:65534 writable/ /
ENV PATH=/usr/local/bin SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
USER 65534:65534
EOF

log="$context/build.log"
DOCKER_BUILDKIT=0 docker build -q -t "$tag" "$context" >"$log" 2>&1 || {
  cat "$log" >&2
  echo "build-image: docker build failed" >&2
  exit 1
}
echo "build-image: built $tag ($(docker image inspect -f '{{.Size}}' "$tag" | awk '{ printf "%.0f MB", $1 / 1e6 }'))"

# TAG-git: git (upload-pack and receive-pack are built into it), git-daemon, /bin/sh, their
# libraries, and /srv/git owned by the unprivileged user (the named volume mounted there takes it).
rm -rf "$root" "$writable"
mkdir -p "$root/bin" "$writable/srv/git"
for binary in /usr/bin/git /usr/lib/git-core/git-daemon /bin/dash; do
  [[ -x "$binary" ]] || { echo "build-image: $binary is missing (apt-get install git dash)" >&2; exit 1; }
  copy_with_path "$binary"
  while read -r library; do
    [[ -n "$library" ]] && copy_with_path "$library"
  done < <(ldd "$binary" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
done
mv "$root/bin/dash" "$root/bin/sh"
cat > "$context/Dockerfile" <<EOF
FROM $tag
COPY rootfs/ /
COPY --chown=65534:65534 writable/ /
ENV PATH=/usr/local/bin:/usr/bin:/bin
EOF
DOCKER_BUILDKIT=0 docker build -q -t "$tag-git" "$context" >"$log" 2>&1 || {
  cat "$log" >&2
  echo "build-image: docker build of $tag-git failed" >&2
  exit 1
}
echo "build-image: built $tag-git (the compose Git server: $tag with git, git-daemon and sh)"
