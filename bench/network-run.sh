#!/usr/bin/env bash
# Time added to `run --rm IMAGE true` by bridge networking vs `--network none`, berth vs podman
# vs docker (a private dockerd on its own bridge, see network-lib.sh), alternating in one run;
# medians and ratios.
# Usage: BENCH_PEERS="berth podman docker" bench/network-run.sh [N]   (root; release builds;
# podman's bridge run lets netavark create its own bridge/rules and set ip_forward, as podman
# always does)
set -euo pipefail
N=${1:-30}
cd "$(dirname "$0")/.."
. bench/network-lib.sh
mk_rootfs
start_berthd
declare -A RUN
RUN[berth-bridge]="berth run --rm busybox true"
RUN[berth-none]="berth run --rm --network none busybox true"
peers=(berth)
want=${BENCH_PEERS:-berth podman docker}
if [[ $want == *podman* ]] && podman_ok; then
  RUN[podman-bridge]="podman run --rm ${PODMAN_FLAGS[*]} --network bridge localhost/berth-netbench true"
  RUN[podman-none]="podman run --rm ${PODMAN_FLAGS[*]} --network none localhost/berth-netbench true"
  peers+=(podman)
fi
if [[ $want == *docker* ]] && start_dockerd; then
  RUN[docker-bridge]="dockerc run --rm busybox true"
  RUN[docker-none]="dockerc run --rm --network none busybox true"
  peers+=(docker)
fi
for k in "${!RUN[@]}"; do : > "$W/t-$k"; done
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for i in $(seq 1 $((N + 3))); do
  for p in "${peers[@]}"; do
    for m in bridge none; do
      t0=$(now_us)
      if ! ${RUN[$p-$m]} >/dev/null 2>"$W/err"; then
        echo "$p $m run failed (sample dropped): $(tail -1 "$W/err")" >&2; continue
      fi
      t1=$(now_us)
      [ "$i" -gt 3 ] && echo "$(( t1 - t0 ))" >> "$W/t-$p-$m"
    done
  done
done
declare -A ADD
for p in "${peers[@]}"; do
  b=$(median < "$W/t-$p-bridge"); n=$(median < "$W/t-$p-none")
  ADD[$p]=$(awk -v b="$b" -v n="$n" 'BEGIN {printf "%.1f", (b-n)/1000}')
  printf '%-7s bridge %8.1f ms   none %8.1f ms   added by bridge %7.1f ms  (n=%d/%d)\n' \
    "$p" "$(awk -v x="$b" 'BEGIN{print x/1000}')" "$(awk -v x="$n" 'BEGIN{print x/1000}')" "${ADD[$p]}" \
    "$(wc -l < "$W/t-$p-bridge")" "$(wc -l < "$W/t-$p-none")"
done
# Minimums are less sensitive to other load on the machine.
for p in "${peers[@]}"; do
  b=$(sort -n "$W/t-$p-bridge" | head -1); n=$(sort -n "$W/t-$p-none" | head -1)
  awk -v p="$p" -v b="$b" -v n="$n" 'BEGIN {printf "%-7s min: bridge %7.1f ms  none %7.1f ms  added %6.1f ms\n", p, b/1000, n/1000, (b-n)/1000}'
done
for p in "${peers[@]}"; do
  [ "$p" = berth ] && continue
  awk -v a="${ADD[berth]}" -v b="${ADD[$p]}" -v p="$p" 'BEGIN {printf "added: berth/%s = %.2f\n", p, (b==0?0:a/b)}'
done
echo "target: berth adds <= 20 ms   (load after: $(cut -d' ' -f1-3 /proc/loadavg))"
