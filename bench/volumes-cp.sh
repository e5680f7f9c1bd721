#!/usr/bin/env bash
# Volumes and cp, berth vs podman, alternating in one run; prints medians (ms) and ratios.
#   cp-in:   `cp` of a 64 MiB file into a running container
#   cp-out:  `cp` of that file back out to the host
#   run-vol: `run --rm -v NAME:/data bench true` on an existing named volume
#   run-new: `run --rm -v /data bench true` (a new anonymous volume, removed by --rm)
# Usage: bench/volumes-cp.sh [N]   (root; needs busybox-static and podman; release builds)
set -euo pipefail
N=${1:-10}
cd "$(dirname "$0")/.."
cargo build --release -q -p berth -p berthd -p berth-shim
REL=$PWD/target/release
W=$(mktemp -d /tmp/berth-volbench.XXXXXX)
# podman through runc: crun refuses this hybrid cgroup host.
PODMAN=(podman --runtime runc --root "$W/podman-root" --runroot "$W/podman-run" --storage-driver overlay)
PODMAN_RUN=(--network none --ulimit nofile=20000:20000 --ulimit nproc=32768:32768)
DAEMON=
cleanup() {
  set +e
  if [ -n "$DAEMON" ]; then
    for id in $("$REL/berth" -H "unix://$W/berth.sock" ps -aq); do "$REL/berth" -H "unix://$W/berth.sock" rm -f "$id" >/dev/null; done
    kill "$DAEMON"; wait "$DAEMON" 2>/dev/null
  fi
  "${PODMAN[@]}" rm -af >/dev/null 2>&1
  "${PODMAN[@]}" system reset -f >/dev/null 2>&1
  grep -o " $W[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null
  rm -rf "$W"
}
trap cleanup EXIT

R=$W/rootfs; mkdir -p "$R"/{bin,proc,sys,dev,tmp,etc,root,data}
cp "$(command -v busybox)" "$R/bin/busybox"
for a in true sh sleep; do ln -s busybox "$R/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' > "$R/etc/passwd"; echo 'root:x:0:' > "$R/etc/group"
tar -C "$R" -cf "$W/rootfs.tar" .
head -c $((64 << 20)) /dev/urandom > "$W/blob"

"$REL/berthd" --data-root "$W/data" --exec-root "$W/exec" -H "unix://$W/berth.sock" 2>"$W/berthd.log" &
DAEMON=$!
for _ in $(seq 100); do [ -S "$W/berth.sock" ] && break; sleep 0.05; done
B=("$REL/berth" -H "unix://$W/berth.sock")
"${B[@]}" import - bench:latest < "$W/rootfs.tar" >/dev/null
"${PODMAN[@]}" import -q "$W/rootfs.tar" localhost/bench:latest >/dev/null
"${B[@]}" volume create benchvol >/dev/null
"${PODMAN[@]}" volume create benchvol >/dev/null
"${B[@]}" run -d --name holder bench sleep 3600 >/dev/null
"${PODMAN[@]}" run -d "${PODMAN_RUN[@]}" --name holder localhost/bench sleep 3600 >/dev/null

declare -A CMD=(
  [berth-cp-in]="${B[*]} cp $W/blob holder:/tmp/blob"
  [berth-cp-out]="${B[*]} cp holder:/tmp/blob $W/out-berth"
  [berth-run-vol]="${B[*]} run --rm -v benchvol:/data bench true"
  [berth-run-new]="${B[*]} run --rm -v /data bench true"
  [podman-cp-in]="${PODMAN[*]} cp $W/blob holder:/tmp/blob"
  [podman-cp-out]="${PODMAN[*]} cp holder:/tmp/blob $W/out-podman"
  [podman-run-vol]="${PODMAN[*]} run --rm ${PODMAN_RUN[*]} -v benchvol:/data localhost/bench true"
  [podman-run-new]="${PODMAN[*]} run --rm ${PODMAN_RUN[*]} -v /data localhost/bench true"
)
CASES=(cp-in cp-out run-vol run-new)
for c in "${!CMD[@]}"; do : > "$W/t-$c"; done
for i in $(seq 1 $((N + 1))); do
  for c in "${CASES[@]}"; do
    for e in berth podman; do
      rm -f "$W/out-$e"
      s=$(date +%s%N); ${CMD[$e-$c]} >/dev/null; t=$(( ($(date +%s%N) - s) / 1000 ))
      [ "$i" -gt 1 ] && echo "$t" >> "$W/t-$e-$c"   # the first round warms caches
    done
  done
done
cmp -s "$W/blob" "$W/out-berth" || { rm -f "$W/out-berth"; ${CMD[berth-cp-out]}; cmp "$W/blob" "$W/out-berth"; }
median() { sort -n "$1" | awk '{a[NR]=$1} END {m=a[int((NR+1)/2)]; printf "%.1f", m/1000}'; }
printf "%-10s %12s %12s %8s\n" case berth-ms podman-ms ratio
for c in "${CASES[@]}"; do
  b=$(median "$W/t-berth-$c"); p=$(median "$W/t-podman-$c")
  printf "%-10s %12s %12s %8s\n" "$c" "$b" "$p" "$(awk -v b="$b" -v p="$p" 'BEGIN {printf "%.2f", b/p}')"
done
