#!/usr/bin/env bash
# Benchmark: `up -d` of a 10-service project (busybox `sleep`, one network) and its `down`,
# for `berth compose` on berthd, docker-compose 1.29 on berthd, and docker-compose 1.29 on
# Debian's dockerd (its own socket and roots, --iptables=false --bridge=none, as
# bench/engine-lib.sh starts it). Times are wall clock including CLI start. Not a test; needs
# root, busybox-static, docker-compose, docker.io (for dockerd; skipped when missing).
# Usage: bench/compose-up.sh [RUNS]   (default 3: medians reported)
set -euo pipefail

RUNS=${1:-3}
W=/tmp/compose-bench
. "$(dirname "$0")/engine-lib.sh"
if [ ! -x "$BIN/berth" ] || [ ! -x "$BIN/berthd" ]; then
  (cd "$REPO" && cargo build --release -q -p berth -p berthd -p berth-shim)
fi
# The project's networks are bridges in the host: take them down before the daemons stop.
bench_cleanup() {
  set +e
  (cd "$W/project" 2>/dev/null && $BERTH compose -p bench down -t 0 >/dev/null 2>&1)
  (cd "$W/project" 2>/dev/null && DOCKER_HOST="unix://$DSOCK" docker-compose -p bench down -t 0 >/dev/null 2>&1)
  cleanup
}
trap bench_cleanup EXIT
command -v docker-compose >/dev/null || { echo "docker-compose not installed (apt-get install docker-compose)"; exit 1; }

# 10 services on the project's default network; a subnet of our own so that nothing else on
# the host (tests, other daemons) is touched.
P="$W/project"; mkdir -p "$P"
SUBNET="10.254.$(( $$ % 250 )).0/24"
{
  echo "services:"
  for i in $(seq 1 10); do
    printf '  s%s:\n    image: busybox\n    command: ["sleep", "3600"]\n' "$i"
  done
  printf 'networks:\n  default:\n    ipam:\n      config:\n        - subnet: %s\n' "$SUBNET"
} > "$P/compose.yaml"

t() { local t0 t1; t0=$(date +%s%N); "$@" >"$W/cmd.log" 2>&1 || { echo "   FAILED: $*" >&2; tail -5 "$W/cmd.log" >&2; return 1; }; t1=$(date +%s%N); echo $(( (t1 - t0) / 1000000 )); }
declare -A UP DOWN
# measure NAME ENV... -- CMD...: RUNS rounds of `up -d` then `down`, medians in ms.
measure() {
  local name=$1; shift
  local ups=() downs=()
  for _ in $(seq 1 "$RUNS"); do
    ups+=("$(cd "$P" && t "$@" up -d)") || { UP[$name]=NA; DOWN[$name]=NA; return; }
    local n; n=$("${CHECK[@]}" ps -q | wc -l)
    [ "$n" = 10 ] || { echo "   $name: $n containers running, expected 10" >&2; UP[$name]=NA; DOWN[$name]=NA; return; }
    downs+=("$(cd "$P" && t "$@" down)")
  done
  UP[$name]=$(printf '%s\n' "${ups[@]}" | median)
  DOWN[$name]=$(printf '%s\n' "${downs[@]}" | median)
  printf '   %-28s up -d %6s ms   down %6s ms   (runs up: %s; down: %s; load %s)\n' "$name" \
    "${UP[$name]}" "${DOWN[$name]}" "${ups[*]}" "${downs[*]}" "$(loadavg)"
}

echo "== berthd (release), 10 services, $RUNS runs"
start_berthd
CHECK=($BERTH)
measure "berth compose / berthd" $BERTH compose -p bench
export DOCKER_HOST="unix://$BSOCK"
measure "docker-compose / berthd" docker-compose -p bench
unset DOCKER_HOST

if [ -x /usr/sbin/dockerd ]; then
  echo "== dockerd (Debian), 10 services, $RUNS runs"
  start_dockerd
  CHECK=($DOCKER)
  export DOCKER_HOST="unix://$DSOCK"
  measure "docker-compose / dockerd" docker-compose -p bench
  unset DOCKER_HOST
else
  echo "   dockerd not installed: skipped"; UP["docker-compose / dockerd"]=NA
fi

echo "== ratios (< 1: berth compose is faster)"
for peer in "docker-compose / berthd" "docker-compose / dockerd"; do
  if [ "${UP[$peer]:-NA}" != NA ] && [ "${UP["berth compose / berthd"]}" != NA ]; then
    printf '   up -d: berth compose / %-26s %.2f   down: %.2f\n' "($peer)" \
      "$(echo "${UP["berth compose / berthd"]}/${UP[$peer]}" | bc -l)" \
      "$(echo "${DOWN["berth compose / berthd"]}/${DOWN[$peer]}" | bc -l)"
  fi
done
echo "   target: berth compose up -d <= 0.2 x docker-compose on dockerd"
