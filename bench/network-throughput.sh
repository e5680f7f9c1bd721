#!/usr/bin/env bash
# Container-to-container TCP throughput over the bridge (iperf3, 5 s, one stream), berth vs
# podman, in one run; prints Gbit/s and the ratio.
# Usage: bench/network-throughput.sh [SECONDS]   (root; iperf3 installed on the host: it is
# copied into the test image with its libraries)
set -euo pipefail
T=${1:-5}
cd "$(dirname "$0")/.."
. bench/network-lib.sh
command -v iperf3 >/dev/null || { echo "iperf3 is needed (apt install iperf3)"; exit 1; }
mk_rootfs
start_berthd
gbps() { python3 -c 'import json,sys; d=json.load(sys.stdin); print("%.2f" % (d["end"]["sum_received"]["bits_per_second"]/1e9))'; }

berth run -d --name srv busybox iperf3 -s -1 >/dev/null
ip=$(berth inspect --format '{{.NetworkSettings.IPAddress}}' srv)
sleep 0.3
B=$(berth run --rm busybox iperf3 -c "$ip" -t "$T" -J | gbps)
echo "berth   $B Gbit/s"
if podman_ok; then
  podman run -d --name berth-bench-srv "${PODMAN_FLAGS[@]}" --network bridge localhost/berth-netbench iperf3 -s -1 >/dev/null
  pip=$(podman inspect --format '{{.NetworkSettings.IPAddress}}' berth-bench-srv)
  sleep 0.3
  P=$(podman run --rm "${PODMAN_FLAGS[@]}" --network bridge localhost/berth-netbench iperf3 -c "$pip" -t "$T" -J | gbps)
  podman rm -f berth-bench-srv >/dev/null
  echo "podman  $P Gbit/s"
  awk -v b="$B" -v p="$P" 'BEGIN {printf "berth/podman = %.2f\n", b/p}'
fi
