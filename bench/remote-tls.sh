#!/bin/bash
# `run --rm --network none busybox true` through one berthd two ways, alternating in one run:
# its unix socket, and tcp://127.0.0.1 with mutual TLS (certificates from scripts/tls-certs.sh,
# ECDSA P-256, TLS 1.3). Each CLI run opens fresh connections (a handshake each: the CLI sends
# `Connection: close`, as for the socket). Target: TLS / unix <= 1.2. N rounds (default 30)
# after 3 warm-up rounds. Release builds (BIN=... to measure other binaries).
W=${W:-/tmp/remote-tls-bench}
source "$(dirname "$0")/engine-lib.sh"
N=${N:-30}
PORT=${PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}
"$REPO/scripts/tls-certs.sh" "$W/certs" localhost 127.0.0.1 >/dev/null
"$BIN/berthd" --data-root "$W/berth-data" --exec-root "$W/berth-exec" -H "unix://$BSOCK" \
  -H "tcp://127.0.0.1:$PORT" --tlsverify --tlscacert "$W/certs/ca.pem" \
  --tlscert "$W/certs/server-cert.pem" --tlskey "$W/certs/server-key.pem" 2>"$W/berthd.log" &
echo $! > "$W/berthd.pid"
for _ in $(seq 100); do [ -S "$BSOCK" ] && break; sleep 0.05; done
$BERTH import - busybox:latest < "$W/rootfs.tar" >/dev/null
TLS="env DOCKER_CERT_PATH=$W/certs $BIN/berth --tlsverify -H tcp://127.0.0.1:$PORT"
declare -A T
cmds=(
  "unix|$BERTH run --rm --network none busybox true"
  "tls|$TLS run --rm --network none busybox true"
)
echo "load before: $(loadavg)"
for round in $(seq -3 "$N"); do
  for c in "${cmds[@]}"; do
    name=${c%%|*}; cmd=${c#*|}
    t0=$(now_ms); $cmd >/dev/null; t1=$(now_ms)
    [ "$round" -gt 0 ] && T[$name]+="$((t1 - t0)) "
  done
done
echo "run --rm true, median of $N (ms), alternating (load after: $(loadavg)), binaries: $BIN"
for c in "${cmds[@]}"; do
  name=${c%%|*}
  m=$(echo ${T[$name]} | tr ' ' '\n' | median)
  printf '  %-6s %6s ms\n' "$name" "$m"
  eval "M_$name=$m"
done
awk -v t="$M_tls" -v u="$M_unix" 'BEGIN { printf "  tls/unix = %.2f (target <= 1.2)\n", t/u }'
# The same CLI's requests without a container: the TLS overhead alone.
for round in $(seq 1 "$N"); do
  t0=$(now_ms); $BERTH version >/dev/null; t1=$(now_ms); V[0]+="$((t1 - t0)) "
  t0=$(now_ms); $TLS version >/dev/null; t1=$(now_ms); V[1]+="$((t1 - t0)) "
done
printf '  version: unix %s ms, tls %s ms (medians)\n' \
  "$(echo ${V[0]} | tr ' ' '\n' | median)" "$(echo ${V[1]} | tr ' ' '\n' | median)"
