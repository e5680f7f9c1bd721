#!/bin/bash
# Time until N (default 50) `run -d IMG sleep 1000` containers launched at once are all
# running: berth vs podman vs docker (`--network none` for all). Target: berth ≤ 1.5 s
# (measured here before: podman 4.3 s, docker 6.4 s).
source "$(dirname "$0")/engine-lib.sh"
N=${N:-50}
start_berthd; start_podman; start_dockerd
wait_running() { # t0 engine-command...
  local t0=$1; shift
  while [ "$("$@" ps -q --filter status=running | wc -l)" -lt "$N" ]; do sleep 0.02; done
  echo $(( $(now_ms) - t0 ))
}
burst() { # name image engine-command... (extra run flags in RUNFLAGS)
  local name=$1 img=$2; shift 2
  local t0; t0=$(now_ms)
  local pids=()
  for i in $(seq 1 "$N"); do
    "$@" run -d $RUNFLAGS --network none "$img" sleep 1000 >/dev/null &
    pids+=($!)
  done
  wait "${pids[@]}" || true  # (a bare `wait` would wait for the daemons too)
  local ms; ms=$(wait_running "$t0" "$@")
  printf '  %-8s all %d running after %6d ms\n' "$name" "$N" "$ms"
  "$@" rm -f $("$@" ps -aq) >/dev/null 2>&1 || true
  eval "C_$name=$ms"
}
echo "$N x run -d sleep, launched at once (load $(loadavg)):"
RUNFLAGS="" burst berth busybox $BERTH
RUNFLAGS="$PU" burst podman localhost/busybox $PODMAN
RUNFLAGS="" burst docker busybox $DOCKER
awk -v b="$C_berth" -v p="$C_podman" -v d="$C_docker" 'BEGIN {
  printf "  berth %.2f s (target <= 1.5 s); podman %.2f s; docker %.2f s\n", b/1000, p/1000, d/1000 }'
