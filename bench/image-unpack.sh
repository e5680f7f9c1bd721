#!/usr/bin/env bash
# Benchmark: unpack a ~200 MB layer (gzip and zstd) with berth-image vs `umoci unpack` vs `tar -x`.
# Not a test. Needs root (umoci/ownership), gzip, zstd, GNU tar, umoci (apt-get install umoci).
# Usage: bench/image-unpack.sh [RUNS]   (default 3; prints medians and ratios)
set -euo pipefail

RUNS=${1:-3}
# Note: on a shared machine, run when nothing else is building; timings include the page-cache
# write of ~200 MB and vary with writeback from the previous run.
REPO=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d /var/tmp/berth-unpack-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

echo "== building berth-image unpack example (release)"
(cd "$REPO" && cargo build --release -q -p berth-image --example unpack)
BERTH="$REPO/target/release/examples/unpack"

echo "== generating layer in $WORK"
ROOT="$WORK/rootfs"
mkdir -p "$ROOT/data" "$ROOT/small" "$ROOT/text"
for i in 1 2 3 4 5 6 7; do head -c 25M /dev/urandom > "$ROOT/data/random$i.bin"; done
# some compressible content and many small files, like a real image
for i in $(seq 1 2000); do printf 'config file %d\n%s\n' "$i" "$(head -c 600 /dev/urandom | base64 -w 76)" > "$ROOT/small/f$i.conf"; done
seq 1 2500000 > "$ROOT/text/numbers.txt"
ln -s ../data/random1.bin "$ROOT/small/link"
tar -C "$ROOT" --numeric-owner -cf "$WORK/layer.tar" .
gzip -6 -c "$WORK/layer.tar" > "$WORK/layer.tar.gz"
zstd -q -3 -c "$WORK/layer.tar" > "$WORK/layer.tar.zst"
ls -l "$WORK"/layer.tar* | awk '{printf "   %-40s %6.1f MB\n", $NF, $5/1048576}'

# OCI layouts for umoci (one per compression)
DIFF=$(sha256sum "$WORK/layer.tar" | cut -d' ' -f1)
make_layout() { # $1=name $2=blob $3=mediatype
  local L="$WORK/oci-$1"; mkdir -p "$L/blobs/sha256"
  echo '{"imageLayoutVersion":"1.0.0"}' > "$L/oci-layout"
  local ld; ld=$(sha256sum "$2" | cut -d' ' -f1); cp "$2" "$L/blobs/sha256/$ld"
  local cfg="{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:$DIFF\"]},\"config\":{}}"
  printf '%s' "$cfg" > "$L/cfg"; local cd; cd=$(sha256sum "$L/cfg" | cut -d' ' -f1); mv "$L/cfg" "$L/blobs/sha256/$cd"
  local man="{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"sha256:$cd\",\"size\":${#cfg}},\"layers\":[{\"mediaType\":\"$3\",\"digest\":\"sha256:$ld\",\"size\":$(stat -c %s "$2")}]}"
  printf '%s' "$man" > "$L/man"; local md; md=$(sha256sum "$L/man" | cut -d' ' -f1); local ms; ms=$(stat -c %s "$L/man"); mv "$L/man" "$L/blobs/sha256/$md"
  echo "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:$md\",\"size\":$ms,\"annotations\":{\"org.opencontainers.image.ref.name\":\"bench\"}}]}" > "$L/index.json"
}
make_layout gzip "$WORK/layer.tar.gz" application/vnd.oci.image.layer.v1.tar+gzip
make_layout zstd "$WORK/layer.tar.zst" application/vnd.oci.image.layer.v1.tar+zstd

# time_cmd NAME CMD... : run RUNS times into a fresh $OUT, record seconds
declare -A RESULT
time_cmd() {
  local name=$1; shift
  local times=()
  for _ in $(seq 1 "$RUNS"); do
    rm -rf "$WORK/out"; mkdir -p "$WORK/out"; sync
    local t0 t1
    t0=$(date +%s.%N)
    if ! "$@" > "$WORK/cmd.log" 2>&1; then echo "   $name FAILED: $(tail -1 "$WORK/cmd.log")"; RESULT[$name]=NA; return; fi
    t1=$(date +%s.%N)
    times+=("$(echo "$t1 - $t0" | bc -l)")
  done
  RESULT[$name]=$(printf '%s\n' "${times[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  printf '   %-14s median %.3f s  (runs: %s)\n' "$name" "${RESULT[$name]}" "$(printf '%.3f ' "${times[@]}")"
}

OUT="$WORK/out"
for c in gzip zstd; do
  blob="$WORK/layer.tar.gz"; tflag=-z
  [ "$c" = zstd ] && { blob="$WORK/layer.tar.zst"; tflag=--zstd; }
  echo "== $c layer ($RUNS runs each)"
  time_cmd "berth-$c" "$BERTH" "$blob" "$OUT"
  time_cmd "tar-$c" tar "$tflag" -xf "$blob" -C "$OUT" --numeric-owner
  time_cmd "umoci-$c" sh -c "rm -rf '$OUT' && umoci unpack --image '$WORK/oci-$c:bench' '$OUT'"
done
echo "== plain tar layer"
time_cmd "berth-tar" "$BERTH" "$WORK/layer.tar" "$OUT"
time_cmd "tar-tar" tar -xf "$WORK/layer.tar" -C "$OUT" --numeric-owner

echo "== correctness: berth's diff id and tree vs tar -x"
rm -rf "$WORK/check-b" "$WORK/check-t"; mkdir -p "$WORK/check-b" "$WORK/check-t"
for blob in layer.tar layer.tar.gz layer.tar.zst; do
  rm -rf "$WORK/check-b"; mkdir -p "$WORK/check-b"
  got=$("$BERTH" "$WORK/$blob" "$WORK/check-b" | cut -d' ' -f1)
  [ "$got" = "sha256:$DIFF" ] && echo "   $blob: diff id ok ($got)" || echo "   $blob: DIFF ID MISMATCH: $got vs sha256:$DIFF"
done
tar -xf "$WORK/layer.tar" -C "$WORK/check-t" --numeric-owner
diff -r --no-dereference "$WORK/check-b" "$WORK/check-t" > /dev/null && echo "   trees identical" || echo "   TREES DIFFER"

echo "== ratios (other / berth; >1 means berth is faster)"
ratio() { [ "${RESULT[$1]}" = NA ] || [ "${RESULT[$2]}" = NA ] && { echo NA; return; }; echo "scale=2; ${RESULT[$2]} / ${RESULT[$1]}" | bc -l; }
for c in gzip zstd; do
  printf '   %-5s tar -x / berth = %s   umoci / berth = %s\n' "$c" "$(ratio berth-$c tar-$c)" "$(ratio berth-$c umoci-$c)"
done
printf '   plain tar -x / berth = %s\n' "$(ratio berth-tar tar-tar)"
