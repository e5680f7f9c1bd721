#!/bin/bash
# Memory: idle berthd vs dockerd+containerd (target ≤ 15 MB), and per running container the
# monitor: berth-shim vs podman's conmon vs containerd-shim-runc-v2 (target ≤ 1 MiB).
# RSS from ps, PSS from /proc/PID/smaps_rollup (shared pages split among their users).
source "$(dirname "$0")/engine-lib.sh"
N=${N:-10}
kb() { # total "RSS PSS" (kB) of pids
  local rss=0 pss=0 p r s
  for p in "$@"; do
    r=$(awk '/^Rss:/{print $2}' /proc/$p/smaps_rollup 2>/dev/null || echo 0)
    s=$(awk '/^Pss:/{print $2}' /proc/$p/smaps_rollup 2>/dev/null || echo 0)
    rss=$((rss + ${r:-0})); pss=$((pss + ${s:-0}))
  done
  echo "$rss $pss"
}
report() { # label count pids...
  local label=$1 cnt=$2; shift 2
  read -r rss pss < <(kb "$@")
  printf '  %-34s procs=%-3d RSS %7d kB  PSS %7d kB  per container: RSS %6d kB PSS %6d kB\n' \
    "$label" "$#" "$rss" "$pss" "$((rss / cnt))" "$((pss / cnt))"
}
start_berthd; start_podman; start_dockerd
sleep 2
echo "idle daemons (load $(loadavg)):"
report berthd 1 "$(cat "$W/berthd.pid")"
DPID=$(cat "$W/dockerd.pid")
report "dockerd + containerd" 1 "$DPID" $(pgrep -P "$DPID" -x containerd)
echo "$N running 'sleep 1000' containers, per-container monitor:"
for i in $(seq 1 "$N"); do
  $BERTH run -d --network none busybox sleep 1000 >/dev/null
  $PODMAN run -d $PU --network none localhost/busybox sleep 1000 >/dev/null
  $DOCKER run -d --network none busybox sleep 1000 >/dev/null
done
sleep 1
# Only this run's monitors (other engines' containers may run on the machine).
report berth-shim "$N" $(awk 1 "$W"/berth-exec/containers/*/shim.pid)
report conmon "$N" $(pgrep -f "conmon.*$W")
report containerd-shim-runc-v2 "$N" $(pgrep -f "containerd-shim-runc-v2.*$W")
report "berthd with $N running" 1 "$(cat "$W/berthd.pid")"
