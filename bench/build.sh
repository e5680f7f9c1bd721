#!/usr/bin/env bash
# Benchmark: a 10-step Dockerfile with a ~1 MB context: cold build, then a no-change rebuild
# (fully cached), for `berth build` vs docker's classic builder (Debian's dockerd, started
# here on its own socket and data root, stopped after) vs `podman build`. Times include CLI
# start and context upload. Not a test; needs root, busybox-static, docker.io, podman.
# Usage: bench/build.sh [REBUILD_RUNS]   (default 5: the rebuild's median is reported)
set -euo pipefail

RUNS=${1:-5}
REPO=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d /var/tmp/berth-build-bench.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  podman --root "$WORK/podman" --runroot "$WORK/podman-run" rmi -a -f >/dev/null 2>&1 || true
  umount -R "$WORK"/podman/overlay 2>/dev/null || true
  for m in $(awk -v w="$WORK" '$5 ~ "^"w {print $5}' /proc/self/mountinfo | sort -r); do umount -l "$m" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "== building berth, berthd, berth-shim (release)"
(cd "$REPO" && cargo build --release -q -p berth -p berthd -p berth-shim)
BIN="$REPO/target/release"

echo "== base image (busybox-static rootfs) and the context"
R="$WORK/rootfs"; mkdir -p "$R/bin" "$R/etc" "$R/tmp"
cp "$(command -v busybox)" "$R/bin/busybox"
for a in $("$R/bin/busybox" --list); do [ "$a" = busybox ] || ln -sf busybox "$R/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' > "$R/etc/passwd"; echo 'root:x:0:' > "$R/etc/group"
tar -C "$R" -cf "$WORK/rootfs.tar" .
C="$WORK/ctx"; mkdir -p "$C/data"
for i in $(seq 1 16); do head -c 65536 /dev/urandom > "$C/data/part$i.bin"; done
echo small > "$C/small.txt"
cat > "$C/Dockerfile" <<'EOF'
FROM busybox
ENV APP=/app
WORKDIR /app
COPY data/ /app/data/
RUN cat /app/data/* | wc -c > /app/size
COPY small.txt /app/
RUN echo built > /app/built
LABEL bench=build
EXPOSE 8080
CMD ["cat", "/app/size"]
EOF
printf '   context: %s bytes in %s files\n' "$(du -sb "$C" | cut -f1)" "$(find "$C" -type f | wc -l)"

declare -A COLD REBUILD
t() { local t0 t1; t0=$(date +%s%N); "$@" > "$WORK/cmd.log" 2>&1 || { echo "   FAILED: $*" >&2; tail -5 "$WORK/cmd.log" >&2; return 1; }; t1=$(date +%s%N); echo $(( (t1 - t0) / 1000 )); }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# measure NAME CMD...: one cold build, then RUNS no-change rebuilds (median)
measure() {
  local name=$1; shift
  COLD[$name]=$(t "$@") || { COLD[$name]=NA; REBUILD[$name]=NA; return; }
  local xs=()
  for _ in $(seq 1 "$RUNS"); do xs+=("$(t "$@")"); done
  REBUILD[$name]=$(printf '%s\n' "${xs[@]}" | median)
  printf '   %-8s cold %8.1f ms   no-change rebuild %7.1f ms (median of %s: %s)\n' "$name" \
    "$(echo "${COLD[$name]}/1000" | bc -l)" "$(echo "${REBUILD[$name]}/1000" | bc -l)" "$RUNS" \
    "$(for x in "${xs[@]}"; do printf '%.1f ' "$(echo "$x/1000" | bc -l)"; done)"
}

echo "== berth"
"$BIN/berthd" --data-root "$WORK/berth/data" --exec-root "$WORK/berth/exec" \
  -H "unix://$WORK/berth.sock" --log-level=warn 2> "$WORK/berthd.log" &
PIDS+=($!)
for _ in $(seq 1 100); do [ -S "$WORK/berth.sock" ] && break; sleep 0.05; done
B=("$BIN/berth" -H "unix://$WORK/berth.sock")
"${B[@]}" import "$WORK/rootfs.tar" busybox:latest >/dev/null
measure berth "${B[@]}" build -t bench:latest "$C"
echo "   check: $("${B[@]}" run --rm bench:latest)"
grep -c "Using cache" "$WORK/cmd.log" | sed 's/^/   cached steps in the last rebuild: /'

echo "== docker (classic builder, Debian dockerd on its own socket and root)"
if [ -x /usr/sbin/dockerd ]; then
  /usr/sbin/dockerd --data-root "$WORK/docker" --exec-root "$WORK/docker-exec" \
    -H "unix://$WORK/docker.sock" --pidfile "$WORK/docker.pid" --bridge=none --iptables=false \
    --ip-forward=false --ip-masq=false --storage-driver=overlay2 > "$WORK/dockerd.log" 2>&1 &
  PIDS+=($!)
  D=(docker -H "unix://$WORK/docker.sock")
  for _ in $(seq 1 100); do "${D[@]}" version >/dev/null 2>&1 && break; sleep 0.1; done
  "${D[@]}" import "$WORK/rootfs.tar" busybox:latest >/dev/null
  export DOCKER_BUILDKIT=0
  measure docker "${D[@]}" build --network none -t bench:latest "$C"
  echo "   check: $("${D[@]}" run --rm --network none bench:latest)"
else
  echo "   dockerd not installed (apt-get install docker.io): skipped"; COLD[docker]=NA; REBUILD[docker]=NA
fi

echo "== podman"
P=(podman --root "$WORK/podman" --runroot "$WORK/podman-run")
"${P[@]}" import "$WORK/rootfs.tar" localhost/busybox:latest >/dev/null 2>&1
# crun refuses hybrid-cgroup hosts with cgroup2 controllers enabled; runc does not.
RT=(); command -v runc >/dev/null && RT=(--runtime runc)
measure podman "${P[@]}" build "${RT[@]}" --network none --ulimit nofile=20000:20000 --ulimit nproc=32768:32768 \
  -t bench:latest "$C"

echo "== ratios (berth / peer; < 1 is faster)"
for peer in docker podman; do
  for what in COLD REBUILD; do
    declare -n M=$what
    if [ "${M[$peer]}" != NA ] && [ "${M[berth]}" != NA ]; then
      printf '   %-7s vs %-7s %.2f\n' "$what" "$peer" "$(echo "${M[berth]}/${M[$peer]}" | bc -l)"
    fi
  done
done
echo "   target: no-change rebuild <= 35 ms (berth: $(echo "${REBUILD[berth]}/1000" | bc -l | xargs printf '%.1f') ms)"
