#!/usr/bin/env bash
# Build berth-cgroups' test binaries and run them inside a small VM whose kernel has only the
# cgroup v2 unified hierarchy (shared/tools/cgroup2-vm), so the v2 code paths (subtree_control
# enabling, eBPF device filter, cgroup.freeze, v2 stats) run against a real kernel.
# Usage: run-in-cgroup2-vm.sh [extra args for the libtest binaries, e.g. a test-name filter]
# Env: CGROUP2_VM overrides the VM tool's path. Exit status: the tests'.
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
cd "$root"
vm=${CGROUP2_VM:-$root/../shared/tools/cgroup2-vm}
if [ ! -x "$vm" ]; then
  echo "run-in-cgroup2-vm: VM tool not found at $vm (set CGROUP2_VM)" >&2
  exit 2
fi

# Build once on the host; the VM sees this machine's files, so it runs the same binaries.
json=$(mktemp)
trap 'rm -f "$json"' EXIT
if ! cargo test -p berth-cgroups --no-run --message-format=json >"$json" 2>/dev/null; then
  echo "run-in-cgroup2-vm: build failed:" >&2
  cargo test -p berth-cgroups --no-run >&2 || true
  exit 2
fi
bins=$(grep -o '"executable":"[^"]*"' "$json" | sed 's/"executable":"\(.*\)"/\1/' | sort -u)
if [ -z "$bins" ]; then
  echo "run-in-cgroup2-vm: no test binaries built" >&2
  exit 2
fi

# The VM kernel's modules are not installed in it; bring the RAM disk driver along (from the
# kernel package the VM tool unpacked) so the io controller has a block device to work on.
cache=${CGROUP2_VM_CACHE:-/var/cache/cgroup2-vm}
if ! ls "$cache"/root/lib/modules >/dev/null 2>&1; then
  "$vm" -- true >/dev/null 2>&1 || true # first use: let the tool fetch and unpack its kernel
fi
prep=true
brd=$(find "$cache/root/lib/modules" -name 'brd.ko*' 2>/dev/null | head -1 || true)
if [ -n "$brd" ]; then
  mkdir -p target/cgroup2-vm
  cp "$brd" "target/cgroup2-vm/$(basename "$brd")"
  prep="insmod target/cgroup2-vm/$(basename "$brd") rd_nr=1 rd_size=16384 || echo 'note: no RAM disk' >&2"
fi

script='export TMPDIR=/mnt; grep -q " /sys/fs/cgroup cgroup2 " /proc/mounts || { echo "not a cgroup v2 VM" >&2; exit 3; }; '"$prep"'; rc=0'
for b in $bins; do
  script="$script; echo \"== $(basename "$b") (cgroup v2 VM)\"; $(printf '%q' "$b") --test-threads 1 $(printf '%q ' "$@") || rc=1"
done
script="$script; exit \$rc"
"$vm" -- sh -c "$script"
