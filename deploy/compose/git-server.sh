#!/bin/sh
# docker-compose.yaml's Git server (run by /bin/sh in the image TAG-git of scripts/build-image.sh):
# serves every repository under /srv/git over git:// on port 9418, fetch and push, without
# authentication (the compose file publishes it on the host's loopback only). On the first start,
# with an empty /srv/git volume, it makes:
#   examples.git  the mounted examples/ folder, one commit on main (the apps' source);
#   hydrated.git  the Git destination: main with one empty commit (the apps hydrate into it).
# Later starts keep what the volume holds (pushes, hydrated commits). SIGTERM stops it with exit 0.
set -eu
repos=/srv/git
export HOME=/tmp GIT_AUTHOR_NAME="todoke compose" GIT_AUTHOR_EMAIL=compose@todoke.invalid
export GIT_COMMITTER_NAME="$GIT_AUTHOR_NAME" GIT_COMMITTER_EMAIL="$GIT_AUTHOR_EMAIL"

has_main() { git --git-dir="$1" rev-parse -q --verify refs/heads/main >/dev/null 2>&1; }

if ! has_main "$repos/examples.git"; then
  git init -q --bare --template= -b main "$repos/examples.git"
  export GIT_INDEX_FILE=/tmp/examples.index
  git --git-dir="$repos/examples.git" --work-tree=/examples add -A
  tree=$(git --git-dir="$repos/examples.git" write-tree)
  unset GIT_INDEX_FILE
  commit=$(git --git-dir="$repos/examples.git" commit-tree -m "examples: webapp (Kustomize base, dev and prod overlays) and redis (plain directory)" "$tree")
  git --git-dir="$repos/examples.git" update-ref refs/heads/main "$commit"
  echo "git-server: made examples.git from /examples (main at $commit)"
fi
if ! has_main "$repos/hydrated.git"; then
  git init -q --bare --template= -b main "$repos/hydrated.git"
  tree=$(git --git-dir="$repos/hydrated.git" mktree </dev/null)
  commit=$(git --git-dir="$repos/hydrated.git" commit-tree -m "hydrated manifests, written by todoke" "$tree")
  git --git-dir="$repos/hydrated.git" update-ref refs/heads/main "$commit"
  echo "git-server: made hydrated.git (main at $commit)"
fi

# As PID 1 the shell gets only the signals it handles: pass SIGTERM on, then exit 0.
git daemon --reuseaddr --export-all --enable=receive-pack --informative-errors \
  --base-path="$repos" --listen=0.0.0.0 --port=9418 &
daemon=$!
trap 'kill -TERM "$daemon" 2>/dev/null; wait "$daemon" || true; exit 0' TERM INT
echo "git-server: serving $repos on git://0.0.0.0:9418 (examples.git, hydrated.git)"
wait "$daemon"
