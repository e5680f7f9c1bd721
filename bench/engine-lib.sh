#!/bin/bash
# Shared set-up for bench/engine-*.sh: a busybox rootfs image in berth (own berthd on its own
# roots), podman (own --root/--runroot, runc) and docker (Debian's dockerd 20.10 on its own
# socket, data root and exec root, with --iptables=false --bridge=none so it leaves the host's
# firewall alone). Everything is stopped and removed on exit (trap). Release builds of berth.
set -euo pipefail
W=${W:-/tmp/engine-bench}
REPO=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$REPO/target/release}
rm -rf "$W"; mkdir -p "$W"
BSOCK=$W/berth.sock DSOCK=$W/docker.sock
BERTH="$BIN/berth -H unix://$BSOCK"
DOCKER="/usr/bin/docker -H unix://$DSOCK"
PODMAN="podman --root $W/podman-root --runroot $W/podman-run --runtime runc --cgroup-manager cgroupfs --events-backend none"
PU="--ulimit nofile=20000:20000 --ulimit nproc=32768:32768"
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

cleanup() {
  set +e
  $BERTH rm -f $($BERTH ps -aq 2>/dev/null) >/dev/null 2>&1
  $PODMAN rm -f -t 0 -a >/dev/null 2>&1
  $DOCKER rm -f $($DOCKER ps -aq 2>/dev/null) >/dev/null 2>&1
  for f in "$W/berthd.pid" "$W/dockerd.pid"; do
    [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null
  done
  sleep 2
  for f in "$W/berthd.pid" "$W/dockerd.pid"; do
    [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null
  done
  $PODMAN system reset -f >/dev/null 2>&1
  for m in $(awk -v w="$W" '$2 ~ "^"w {print $2}' /proc/mounts | sort -r); do umount -l "$m" 2>/dev/null; done
  rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# busybox rootfs tarball
mkdir -p "$W/rootfs/bin" "$W/rootfs/etc" "$W/rootfs/proc" "$W/rootfs/sys" "$W/rootfs/dev" "$W/rootfs/tmp"
cp /bin/busybox "$W/rootfs/bin/"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -sf busybox "$W/rootfs/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' > "$W/rootfs/etc/passwd"; echo 'root:x:0:' > "$W/rootfs/etc/group"
tar -C "$W/rootfs" -cf "$W/rootfs.tar" .

start_berthd() {
  "$BIN/berthd" --data-root "$W/berth-data" --exec-root "$W/berth-exec" -H "unix://$BSOCK" 2>"$W/berthd.log" &
  echo $! > "$W/berthd.pid"
  for _ in $(seq 100); do [ -S "$BSOCK" ] && break; sleep 0.05; done
  $BERTH import - busybox:latest < "$W/rootfs.tar" >/dev/null
}

start_dockerd() {
  /usr/sbin/dockerd -H "unix://$DSOCK" --data-root "$W/docker-data" --exec-root "$W/docker-exec" \
    --pidfile "$W/dockerd.pidfile" --iptables=false --ip-masq=false --bridge=none \
    >"$W/dockerd.log" 2>&1 &
  echo $! > "$W/dockerd.pid"
  for _ in $(seq 120); do $DOCKER version >/dev/null 2>&1 && break; sleep 0.5; done
  $DOCKER import "$W/rootfs.tar" busybox:latest >/dev/null
}

start_podman() {
  $PODMAN import "$W/rootfs.tar" localhost/busybox:latest >/dev/null
}

# The 1/5/15-minute load average: the machine is shared, print it beside every figure.
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
