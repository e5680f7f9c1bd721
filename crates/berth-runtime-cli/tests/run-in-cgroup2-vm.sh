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
bin() { grep -o "\"executable\":\"[^\"]*/$1-[^\"]*\"" "$json" | sed 's/"executable":"\(.*\)"/\1/' | sort -u | head -1; }
mkdir -p target/cgroup2-vm
inner=target/cgroup2-vm/runtime-tests.sh
# The cgroup-dependent tests: limits and delete (cgroups), the v2 freezer (pause_resume), the
# cgroup namespace root, and new user namespaces (born in their cgroup by clone3, or through
# an intermediate when namespaces are joined). Emulation is slow and occasionally loses a process: a failing binary is
# retried once, and the retry is reported.
{
  echo 'export TMPDIR=/mnt; rc=0'
  echo 't() { "$@" --test-threads 1 -q || { echo "RETRY: $*"; "$@" --test-threads 1 -q; } || rc=1; }'
  echo "t $(bin cgroups)"
  echo "t $(bin lifecycle) pause_resume"
  echo "t $(bin isolation) cgroup_namespace"
  echo "t $(bin isolation) user_namespace_maps_ids"
  echo "t $(bin userns_join)"
  echo 'exit $rc'
} > "$inner"
"$vm" --mem 2G -- sh "$inner"
