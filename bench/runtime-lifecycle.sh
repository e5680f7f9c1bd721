#!/usr/bin/env bash
# Full lifecycle of a container running /bin/true (create, start, wait, delete — `run` does all
# four), berth-runtime vs crun vs runc, alternating in one run. Prints medians and ratios.
# Usage: bench/runtime-lifecycle.sh [N]   (root; needs busybox-static, crun, runc)
set -euo pipefail
N=${1:-30}
cd "$(dirname "$0")/.."
BERTH=${BERTH:-target/release/berth-runtime}
[ -x "$BERTH" ] || cargo build --release -q -p berth-runtime-cli
W=$(mktemp -d /tmp/berth-bench.XXXXXX)
HUGETLB_MOUNTED=0; HUGETLB_MKDIR=0
cleanup() {
  for rt in berth crun runc; do rm -rf "$W/root-$rt"; done
  rm -rf "$W"
  if [ "$HUGETLB_MOUNTED" = 1 ]; then umount /sys/fs/cgroup/hugetlb || true; fi
  if [ "$HUGETLB_MKDIR" = 1 ]; then rmdir /sys/fs/cgroup/hugetlb || true; fi
}
trap cleanup EXIT

# A busybox rootfs and a runc-style bundle running /bin/true.
mkdir -p "$W/bundle/rootfs/bin"
cp "$(command -v busybox)" "$W/bundle/rootfs/bin/busybox"
ln -s busybox "$W/bundle/rootfs/bin/true"; ln -s busybox "$W/bundle/rootfs/bin/sh"
mkdir -p "$W/bundle/rootfs/"{proc,sys,dev,tmp,etc}
(cd "$W/bundle" && runc spec)
python3 - "$W/bundle/config.json" <<'PY'
import json, sys
p = sys.argv[1]; s = json.load(open(p))
s["process"]["terminal"] = False; s["process"]["args"] = ["/bin/true"]
json.dump(s, open(p, "w"))
PY

# crun refuses hybrid cgroups while hugetlb sits on cgroup2 (DEVELOPERS.md): bind it to v1 for
# crun's sake only; berth-runtime and runc do not need it.
if command -v crun >/dev/null && ! mountpoint -q /sys/fs/cgroup/hugetlb && grep -qw hugetlb /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null; then
  [ -d /sys/fs/cgroup/hugetlb ] || { mkdir /sys/fs/cgroup/hugetlb && HUGETLB_MKDIR=1; }
  mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb && HUGETLB_MOUNTED=1
fi

declare -A CMD=([berth]="$BERTH" [crun]="$(command -v crun)" [runc]="$(command -v runc)")
for rt in berth crun runc; do : > "$W/times-$rt"; done
for i in $(seq 1 $((N + 3))); do
  for rt in berth crun runc; do
    t0=$(date +%s%N)
    "${CMD[$rt]}" --root "$W/root-$rt" run --bundle "$W/bundle" "bench-$rt-$i" >/dev/null
    t1=$(date +%s%N)
    [ "$i" -gt 3 ] && echo $(( (t1 - t0) / 1000 )) >> "$W/times-$rt"   # 3 warm-up rounds
  done
done
python3 - "$W" <<'PY'
import statistics, sys
w = sys.argv[1]
med = {}
for rt in ("berth", "crun", "runc"):
    xs = [int(x) / 1000 for x in open(f"{w}/times-{rt}")]
    med[rt] = statistics.median(xs)
    print(f"{rt:6s} median {med[rt]:7.2f} ms  min {min(xs):7.2f}  max {max(xs):7.2f}  n={len(xs)}")
print(f"berth/crun = {med['berth']/med['crun']:.2f}   berth/runc = {med['berth']/med['runc']:.2f}   (target berth/crun <= 0.8)")
PY
