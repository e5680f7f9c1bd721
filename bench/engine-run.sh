#!/bin/bash
# `run --rm IMG true` latency: berth vs podman vs docker, alternating in one run, all with
# `--network none` (plus berth's default network when it has one). Targets: berth ≤ 0.5 ×
# podman, ≤ 0.3 × docker. N rounds (default 30) after 3 warm-up rounds.
source "$(dirname "$0")/engine-lib.sh"
N=${N:-30}
start_berthd; start_podman; start_dockerd
declare -A T
cmds=(
  "berth|$BERTH run --rm --network none busybox true"
  "podman|$PODMAN run --rm $PU --network none localhost/busybox true"
  "docker|$DOCKER run --rm --network none busybox true"
)
if $BERTH run --rm busybox true >/dev/null 2>&1; then
  cmds+=("berth-default-net|$BERTH run --rm busybox true")
fi
echo "load before: $(loadavg)"
for round in $(seq -3 "$N"); do
  for c in "${cmds[@]}"; do
    name=${c%%|*}; cmd=${c#*|}
    t0=$(now_ms); $cmd >/dev/null; t1=$(now_ms)
    [ "$round" -gt 0 ] && T[$name]+="$((t1 - t0)) "
  done
done
echo "run --rm true, median of $N (ms), alternating (load after: $(loadavg)):"
for c in "${cmds[@]}"; do
  name=${c%%|*}
  m=$(echo ${T[$name]} | tr ' ' '\n' | median)
  printf '  %-18s %6s ms\n' "$name" "$m"
  eval "M_${name//-/_}=$m"
done
awk -v b="$M_berth" -v p="$M_podman" -v d="$M_docker" 'BEGIN {
  printf "  berth/podman = %.2f (target <= 0.5)   berth/docker = %.2f (target <= 0.3)\n", b/p, b/d }'
