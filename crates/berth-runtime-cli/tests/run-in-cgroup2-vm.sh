#!/usr/bin/env bash
# Runs the runtime's end-to-end tests that touch cgroups inside an emulated pure cgroup-v2 kernel
# (shared/tools/cgroup2-vm): resource limits, pause/resume (v2 freezer), cgroup namespace, delete.
# The VM's root is read-only, so the shared test rootfs and temp dirs live on its tmpfs (/mnt).
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
cd "$root"
vm=${CGROUP2_VM:-$root/../shared/tools/cgroup2-vm}
cargo build -q -p berth-runtime-cli
json=$(mktemp); trap 'rm -f "$json"' EXIT
cargo test -q -p berth-runtime-cli --no-run --message-format=json >"$json" 2>/dev/null
bins=$(grep -o '"executable":"[^"]*/\(cgroups\|lifecycle\|isolation\)-[^"]*"' "$json" | sed 's/"executable":"\(.*\)"/\1/' | sort -u)
mkdir -p target/cgroup2-vm
inner=target/cgroup2-vm/runtime-tests.sh
{
  echo 'export TMPDIR=/mnt; rc=0'
  for b in $bins; do echo "$b --test-threads 1 -q || rc=1"; done
  echo 'exit $rc'
} > "$inner"
"$vm" --mem 2G -- sh "$inner"
