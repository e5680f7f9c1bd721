#!/usr/bin/env bash
# Runs a container from an image: a busybox root filesystem is imported as the image
# `busybox:latest` (no registry needed), then `berth run` starts a container from it. As root,
# `berth` starts the daemon (berthd) itself the first time, and says so.
set -euo pipefail
. "$(dirname "$0")/as-root.sh"
BERTH=${BERTH:-berth}
if ! "$BERTH" images --format '{{.Repository}}:{{.Tag}}' | grep -qx 'busybox:latest'; then
  R=$(mktemp -d /tmp/berth-demo.XXXXXX)
  trap 'rm -rf "$R"' EXIT
  mkdir -p "$R/bin" "$R/etc" "$R/tmp"
  cp "$(command -v busybox)" "$R/bin/busybox"
  for a in $(busybox --list); do [ "$a" = busybox ] || ln -s busybox "$R/bin/$a"; done
  echo 'root:x:0:0:root:/root:/bin/sh' > "$R/etc/passwd"
  tar -C "$R" -c . | "$BERTH" import - busybox:latest
fi
"$BERTH" run --rm busybox sh -c 'echo "hello from $(hostname)"; id; uname -r'
