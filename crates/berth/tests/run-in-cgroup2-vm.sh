#!/usr/bin/env bash
# Runs berth's resource and confinement end-to-end tests (tests/resources.rs, tests/security.rs)
# inside an emulated pure cgroup-v2 kernel (shared/tools/cgroup2-vm): memory/OOM via
# memory.events, pids.max, cpu.max, live update, v2 stats, the eBPF device filter.
# The VM's root is read-only: temp dirs (daemon roots, overlay upper dirs, the test rootfs) live on
# its tmpfs (/mnt); binaries are built here first and found through BERTH_BIN_DIR.
# Usage: run-in-cgroup2-vm.sh [test-name filter]     Env: CGROUP2_VM overrides the VM tool's path.
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
cd "$root"
vm=${CGROUP2_VM:-$root/../shared/tools/cgroup2-vm}
if [ ! -x "$vm" ]; then
  echo "run-in-cgroup2-vm: VM tool not found at $vm (set CGROUP2_VM)" >&2
  exit 2
fi
cargo build -q -p berthd -p berth-shim -p berth
json=$(mktemp); trap 'rm -f "$json"' EXIT
cargo test -q -p berth --test resources --test security --no-run --message-format=json >"$json" 2>/dev/null
bin() { grep -o "\"executable\":\"[^\"]*/$1-[^\"]*\"" "$json" | sed 's/"executable":"\(.*\)"/\1/' | sort -u | head -1; }
mkdir -p target/cgroup2-vm
inner=target/cgroup2-vm/berth-resources.sh
filter=${1:-}
# Emulation is slow and occasionally loses a process: a failing binary is retried once, and the
# retry is reported.
{
  echo "export TMPDIR=/mnt BERTH_BIN_DIR=$root/target/debug; rc=0"
  echo 't() { "$@" --test-threads 1 -q || { echo "RETRY: $*"; "$@" --test-threads 1 -q; } || rc=1; }'
  echo "t $(bin resources) $filter"
  echo "t $(bin security) $filter"
  echo 'exit $rc'
} > "$inner"
"$vm" --mem 2G -- sh "$inner"
