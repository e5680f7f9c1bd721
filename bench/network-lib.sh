# Shared by the network benchmarks: a busybox (+ iperf3) rootfs tarball, a private berthd with
# its own bridge, optionally a private dockerd (Debian's docker.io) on its own bridge, and
# cleanup. Source it; needs root, busybox-static, iproute2, nftables.
W=$(mktemp -d /tmp/berth-netbench.XXXXXX)
BERTH_BIN=${BERTH_BIN:-target/release}
[ -x "$BERTH_BIN/berthd" ] || cargo build --release -q -p berthd -p berth -p berth-shim
SOCK="$W/berth.sock"
BRIDGE=bnb$$
BERTHD_PID=
DOCKERD_PID=
DBRIDGE=dnb$$
DSOCK="$W/docker.sock"
# podman's bridge runs make netavark create iptables-nft tables; remove the ones that were not
# there before this benchmark.
PRE_TABLES=$(nft list tables 2>/dev/null || true)
# ...and netns/podman0 a failed podman run may leak.
PRE_NETNS=$(ls /run/netns 2>/dev/null || true)
PRE_PODMAN0=$(ip link show podman0 >/dev/null 2>&1 && echo yes || true)
berth() { "$BERTH_BIN/berth" -H "unix://$SOCK" "$@"; }
dockerc() { /usr/bin/docker -H "unix://$DSOCK" "$@"; }
net_cleanup() {
  if [ -n "$DOCKERD_PID" ]; then
    for id in $(dockerc ps -aq 2>/dev/null); do dockerc rm -f "$id" >/dev/null 2>&1 || true; done
    kill -TERM "$DOCKERD_PID" 2>/dev/null || true
    wait "$DOCKERD_PID" 2>/dev/null || true
    for m in $(awk -v w="$W" '$2 ~ "^"w {print $2}' /proc/mounts | sort -r); do umount -l "$m" 2>/dev/null || true; done
  fi
  ip link del "$DBRIDGE" 2>/dev/null || true
  if [ -n "$BERTHD_PID" ]; then
    for id in $(berth ps -aq 2>/dev/null); do berth rm -f "$id" >/dev/null 2>&1 || true; done
    kill -TERM "$BERTHD_PID" 2>/dev/null || true
    wait "$BERTHD_PID" 2>/dev/null || true
  fi
  if command -v podman >/dev/null; then
    podman rm -af >/dev/null 2>&1 || true
    podman rmi -f localhost/berth-netbench >/dev/null 2>&1 || true
  fi
  if command -v podman >/dev/null && [ -z "$(podman ps -aq 2>/dev/null)" ]; then
    for ns in $(ls /run/netns 2>/dev/null); do
      grep -qx "$ns" <<<"$PRE_NETNS" || ip netns del "$ns" || true
    done
    [ -n "$PRE_PODMAN0" ] || ip link del podman0 2>/dev/null || true
  fi
  for t in nat filter; do
    if ! grep -qx "table ip $t" <<<"$PRE_TABLES" && nft list table ip "$t" >/dev/null 2>&1; then
      nft delete table ip "$t" || true
    fi
  done
  rm -rf "$W"
}
trap net_cleanup EXIT

# rootfs: busybox-static, and iperf3 with its libraries when installed.
mk_rootfs() {
  local r="$W/rootfs"
  mkdir -p "$r"/{bin,proc,sys,dev,etc,tmp,lib64,usr/lib/x86_64-linux-gnu,lib/x86_64-linux-gnu}
  cp "$(command -v busybox)" "$r/bin/busybox"
  for a in $("$r/bin/busybox" --list); do [ "$a" = busybox ] || ln -sf busybox "$r/bin/$a"; done
  echo 'root:x:0:0:root:/root:/bin/sh' > "$r/etc/passwd"; echo 'root:x:0:' > "$r/etc/group"
  if command -v iperf3 >/dev/null; then
    cp "$(command -v iperf3)" "$r/bin/iperf3"
    for lib in $(ldd "$(command -v iperf3)" | awk '/=>/ {print $3} /ld-linux/ {print $1}'); do
      mkdir -p "$r$(dirname "$lib")"; cp -L "$lib" "$r$lib"
    done
  fi
  tar -C "$r" -cf "$W/rootfs.tar" .
}

start_berthd() {
  "$BERTH_BIN/berthd" --data-root "$W/data" --exec-root "$W/exec" -H "unix://$SOCK" \
    --bridge "$BRIDGE" --bip "${BENCH_BIP:-10.231.0.1/24}" --log-level warn 2>"$W/berthd.log" &
  BERTHD_PID=$!
  for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.05; done
  berth import - busybox:latest < "$W/rootfs.tar" >/dev/null
}

# A private dockerd on its own socket, roots and bridge ($DBRIDGE, made here, 10.232.9.1/24 or
# $BENCH_DOCKER_BIP). --iptables=false: it must not rewrite the host's firewall (docker would
# set the FORWARD policy to DROP), so its per-container cost here is a lower bound of docker's
# (no iptables rules; none are per container without published ports anyway).
start_dockerd() {
  [ -x /usr/sbin/dockerd ] && [ -x /usr/bin/docker ] || return 1
  ip link add "$DBRIDGE" type bridge || return 1
  ip addr add "${BENCH_DOCKER_BIP:-10.232.9.1/24}" dev "$DBRIDGE" && ip link set "$DBRIDGE" up || return 1
  /usr/sbin/dockerd -H "unix://$DSOCK" --data-root "$W/docker-data" --exec-root "$W/docker-exec" \
    --pidfile "$W/dockerd.pid" --iptables=false --ip-masq=false --ip-forward=false \
    --bridge "$DBRIDGE" >"$W/dockerd.log" 2>&1 &
  DOCKERD_PID=$!
  for _ in $(seq 120); do dockerc version >/dev/null 2>&1 && break; sleep 0.5; done
  dockerc import "$W/rootfs.tar" busybox:latest >/dev/null
}

podman_ok() {
  command -v podman >/dev/null && podman import "$W/rootfs.tar" localhost/berth-netbench >/dev/null 2>&1
}
PODMAN_FLAGS=(--ulimit nofile=20000:20000 --ulimit nproc=32768:32768)
# crun refuses this hybrid-cgroup host; runc works.
if command -v runc >/dev/null; then PODMAN_FLAGS+=(--runtime "$(command -v runc)"); fi

# median of numbers on stdin
median() { sort -n | awk '{a[NR]=$1} END {if (NR==0) print "nan"; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
now_us() { echo $(( $(date +%s%N) / 1000 )); }
