#!/usr/bin/env bash
# Benchmark: pull a 3-layer image (~310 MB, mostly incompressible) from a loopback
# docker-registry: `berth pull` vs `podman pull` vs `skopeo copy` to an OCI dir (which does
# not unpack). Every run starts from an empty store. Not a test; needs root, docker-registry,
# skopeo, podman, busybox-static, curl.
# Usage: bench/registry-pull.sh [RUNS]   (default 3; prints medians, MB/s and ratios, and the
# floors that bound a pull: plain download, sha256, gunzip)
set -euo pipefail

RUNS=${1:-3}
MB=${MB:-150}          # size of each of the two random layers
REPO=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d /var/tmp/berth-pull-bench.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  podman --root "$WORK/podman" --runroot "$WORK/podman-run" rmi -a -f >/dev/null 2>&1 || true
  umount -R "$WORK"/podman/overlay 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

if [ -z "${SKIP_BUILD:-}" ]; then   # SKIP_BUILD=1: use the release binaries already built
  echo "== building berth, berthd, berth-shim (release)"
  (cd "$REPO" && cargo build --release -q -p berth -p berthd -p berth-shim)
fi
BIN=${BIN:-$REPO/target/release}   # BIN=DIR: binaries from elsewhere

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$WORK/registry.yml" <<YML
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $WORK/registry
http:
  addr: 127.0.0.1:$PORT
YML
docker-registry serve "$WORK/registry.yml" > "$WORK/registry.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/v2/" >/dev/null && break; sleep 0.1; done

echo "== building the image: busybox + 2 x ${MB} MB random layers"
L="$WORK/oci"; mkdir -p "$L/blobs/sha256" "$WORK/src"
echo '{"imageLayoutVersion":"1.0.0"}' > "$L/oci-layout"
put() { local d; d=$(sha256sum "$1" | cut -d' ' -f1); mv "$1" "$L/blobs/sha256/$d"; echo "$d"; }
mkdir -p "$WORK/src/l1/bin"
cp "$(command -v busybox)" "$WORK/src/l1/bin/busybox"
for a in sh cat ls true; do ln -sf busybox "$WORK/src/l1/bin/$a"; done
mkdir -p "$WORK/src/l2" "$WORK/src/l3"
head -c "${MB}M" /dev/urandom > "$WORK/src/l2/blob2.bin"
head -c "${MB}M" /dev/urandom > "$WORK/src/l3/blob3.bin"
LAYERS=""; DIFFS=""
for i in 1 2 3; do
  tar -C "$WORK/src/l$i" -cf "$WORK/l$i.tar" .
  DIFFS="$DIFFS\"sha256:$(sha256sum "$WORK/l$i.tar" | cut -d' ' -f1)\","
  gzip -1 -n -c "$WORK/l$i.tar" > "$WORK/l$i.tar.gz"; rm "$WORK/l$i.tar"
  SIZE=$(stat -c %s "$WORK/l$i.tar.gz")
  LAYERS="$LAYERS{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"sha256:$(put "$WORK/l$i.tar.gz")\",\"size\":$SIZE},"
done
rm -rf "$WORK/src"
printf '{"architecture":"amd64","os":"linux","config":{"Cmd":["/bin/sh"]},"rootfs":{"type":"layers","diff_ids":[%s]}}' "${DIFFS%,}" > "$WORK/cfg"
CS=$(stat -c %s "$WORK/cfg"); CD=$(put "$WORK/cfg")
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[%s]}' "$CD" "$CS" "${LAYERS%,}" > "$WORK/man"
MS=$(stat -c %s "$WORK/man"); MD=$(put "$WORK/man")
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"big"}}]}' "$MD" "$MS" > "$L/index.json"
IMG="127.0.0.1:$PORT/bench/big3:latest"
skopeo copy -q --dest-tls-verify=false "oci:$L:big" "docker://$IMG"
BYTES=$(python3 -c "import json;print(sum(l['size'] for l in json.load(open('$L/blobs/sha256/$MD'))['layers']))")
printf '   compressed bytes to pull: %d (%.1f MB)\n' "$BYTES" "$(echo "$BYTES/1000000" | bc -l)"

declare -A RESULT
# time_cmd NAME PREPARE CMD... : PREPARE (untimed) before every run
time_cmd() {
  local name=$1 prep=$2; shift 2
  local times=()
  for _ in $(seq 1 "$RUNS"); do
    eval "$prep"; sync
    local t0 t1
    t0=$(date +%s.%N)
    if ! "$@" > "$WORK/cmd.log" 2>&1; then echo "   $name FAILED: $(tail -3 "$WORK/cmd.log")"; RESULT[$name]=NA; return; fi
    t1=$(date +%s.%N)
    times+=("$(echo "$t1 - $t0" | bc -l)")
  done
  RESULT[$name]=$(printf '%s\n' "${times[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  printf '   %-10s median %.3f s  %7.1f MB/s  (runs: %s)\n' "$name" "${RESULT[$name]}" \
    "$(echo "$BYTES/1000000/${RESULT[$name]}" | bc -l)" "$(printf '%.3f ' "${times[@]}")"
}

BERTHD_PID=""
fresh_berthd() {
  if [ -n "$BERTHD_PID" ]; then kill "$BERTHD_PID"; wait "$BERTHD_PID" 2>/dev/null || true; fi
  rm -rf "$WORK/berth"; mkdir -p "$WORK/berth"
  "$BIN/berthd" --data-root "$WORK/berth/data" --exec-root "$WORK/berth/exec" \
    -H "unix://$WORK/berth/sock" --log-level=warn 2> "$WORK/berthd.log" &
  BERTHD_PID=$!; PIDS+=("$BERTHD_PID")
  for _ in $(seq 1 100); do [ -S "$WORK/berth/sock" ] && break; sleep 0.05; done
}
fresh_podman() {
  podman --root "$WORK/podman" --runroot "$WORK/podman-run" rmi -a -f >/dev/null 2>&1 || true
  rm -rf "$WORK/podman" "$WORK/podman-run"
}

echo "== pulls ($RUNS runs each, empty store every run)"
time_cmd berth fresh_berthd "$BIN/berth" -H "unix://$WORK/berth/sock" pull -q "$IMG"
# berthd was started fresh for the last run: its CPU time is what that pull cost.
read -r UT ST < <(awk '{print $14, $15}' "/proc/$BERTHD_PID/stat")
TCK=$(getconf CLK_TCK)
printf '   berthd CPU for the last pull: user %.2f s, sys %.2f s (wall %.2f s)\n' \
  "$(echo "$UT/$TCK" | bc -l)" "$(echo "$ST/$TCK" | bc -l)" "${RESULT[berth]}"
time_cmd podman fresh_podman podman --root "$WORK/podman" --runroot "$WORK/podman-run" \
  pull -q --tls-verify=false "$IMG"
time_cmd skopeo 'rm -rf "$WORK/skopeo-out"' skopeo copy -q --src-tls-verify=false \
  "docker://$IMG" "oci:$WORK/skopeo-out:big"
"$BIN/berth" -H "unix://$WORK/berth/sock" run --rm "$IMG" ls -l /blob2.bin /blob3.bin | sed 's/^/   check: /'
# CPU seconds (user+sys) of one more pull each: unlike wall time, barely moved by other load.
cpu_of() { python3 -c 'import resource,subprocess,sys
subprocess.run(sys.argv[1:],stdout=subprocess.DEVNULL,stderr=subprocess.DEVNULL,check=True)
r=resource.getrusage(resource.RUSAGE_CHILDREN); print(f"{r.ru_utime:.2f} {r.ru_stime:.2f}")' "$@"; }
fresh_podman
read -r PU PS < <(cpu_of podman --root "$WORK/podman" --runroot "$WORK/podman-run" pull -q --tls-verify=false "$IMG")
rm -rf "$WORK/skopeo-out"
read -r SU SS < <(cpu_of skopeo copy -q --src-tls-verify=false "docker://$IMG" "oci:$WORK/skopeo-out:big")
printf '   CPU of one pull: berth(d) %.2f s (user %.2f + sys %.2f), podman %.2f s (%.2f + %.2f), skopeo %.2f s (%.2f + %.2f)\n' \
  "$(echo "($UT+$ST)/$TCK" | bc -l)" "$(echo "$UT/$TCK" | bc -l)" "$(echo "$ST/$TCK" | bc -l)" \
  "$(echo "$PU+$PS" | bc -l)" "$PU" "$PS" "$(echo "$SU+$SS" | bc -l)" "$SU" "$SS"

echo "== floors (what a pull cannot beat)"
DIGESTS=$(python3 -c "import json;print(' '.join(l['digest'] for l in json.load(open('$L/blobs/sha256/$MD'))['layers']))")
floor() { # NAME CMD
  local t0 t1; t0=$(date +%s.%N); eval "$2" >/dev/null; t1=$(date +%s.%N)
  printf '   %-38s %.3f s\n' "$1" "$(echo "$t1 - $t0" | bc -l)"
}
floor "download only (curl, 3 in parallel)" \
  "CP=(); for d in $DIGESTS; do curl -s -o /dev/null http://127.0.0.1:$PORT/v2/bench/big3/blobs/\$d & CP+=(\$!); done; wait \${CP[@]}"
floor "sha256 of the blobs (1 core)" "cat $L/blobs/sha256/* | sha256sum"
floor "gunzip of the blobs (1 core)" \
  "for d in $DIGESTS; do gzip -dc $L/blobs/sha256/\${d#sha256:}; done | cat > /dev/null"

echo
printf '| tool | median s | MB/s | vs podman |\n|---|---|---|---|\n'
for t in berth podman skopeo; do
  r=${RESULT[$t]}
  if [ "$r" = NA ]; then echo "| $t | failed | | |"; continue; fi
  printf '| %s | %.3f | %.1f | %.2fx |\n' "$t" "$r" "$(echo "$BYTES/1000000/$r" | bc -l)" \
    "$(echo "${RESULT[podman]}/$r" | bc -l)"
done
