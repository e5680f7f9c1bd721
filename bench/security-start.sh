#!/usr/bin/env bash
# Start-time cost of confinement, berth vs podman (and runc at the runtime level), alternating in
# one run; prints medians and ratios.
#   1. Docker's default seccomp filter: `run --rm busybox true` with the default profile vs
#      `--security-opt seccomp=unconfined` (berth through berthd; podman with its own default).
#   2. A user namespace vs none: berth-runtime and runc on one bundle with and without a user
#      namespace (0 -> 100000, 65536 ids), podman `--uidmap 0:100000:65536` vs none.
#   3. berthd with `--userns-remap` (a subordinate range this script adds to /etc/subuid and
#      /etc/subgid and removes again): `run --rm` remapped (idmapped layers, own user namespace)
#      vs `--userns=host` on the same daemon (both `--bridge none`).
# Usage: bench/security-start.sh [N]   (root; needs busybox-static, podman, runc; release builds)
# crun (podman's default) refuses this host's hybrid cgroups while hugetlb sits on cgroup2, so
# podman runs with runc here.
set -euo pipefail
N=${1:-20}
cd "$(dirname "$0")/.."
# NO_BUILD=1: use the release binaries as they are (cargo may wait on a busy build lock).
[ -n "${NO_BUILD:-}" ] || cargo build --release -q -p berth -p berthd -p berth-shim -p berth-runtime-cli
REL=$PWD/target/release
W=$(mktemp -d /tmp/berth-secbench.XXXXXX)
# podman: its own storage under $W; here it needs these ulimits, and no network (its default
# network would change host sysctls and firewall rules).
PODMAN=(podman --runtime runc --root "$W/podman-root" --runroot "$W/podman-run" --storage-driver overlay)
PODMAN_RUN=(--rm --network none --ulimit nofile=20000:20000 --ulimit nproc=32768:32768)
DAEMON=
REMAP_DAEMON=
# A numeric id of our own with 65536 subordinate ids (the line is removed on exit).
REMAP_ID=$((3900000000 + $$ % 100000))
REMAP_LINE="$REMAP_ID:2000000000:65536"
cleanup() {
  set +e
  if [ -n "$REMAP_DAEMON" ]; then
    for id in $("$REL/berth" -H "unix://$W/remap.sock" ps -aq); do "$REL/berth" -H "unix://$W/remap.sock" rm -f "$id" >/dev/null; done
    kill "$REMAP_DAEMON"; wait "$REMAP_DAEMON" 2>/dev/null
  fi
  for f in /etc/subuid /etc/subgid; do sed -i "/^$REMAP_LINE\$/d" "$f"; done
  if [ -n "$DAEMON" ]; then
    for id in $("$REL/berth" -H "unix://$W/berth.sock" ps -aq); do "$REL/berth" -H "unix://$W/berth.sock" rm -f "$id" >/dev/null; done
    kill "$DAEMON"; wait "$DAEMON" 2>/dev/null
  fi
  "${PODMAN[@]}" rm -af >/dev/null 2>&1
  "${PODMAN[@]}" system reset -f >/dev/null 2>&1
  for rt in berth runc; do rm -rf "$W/root-$rt"; done
  grep -o " $W[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null
  rm -rf "$W"
}
trap cleanup EXIT

# One busybox rootfs: a tarball for berth and podman, and two bundles for the runtimes.
R=$W/rootfs; mkdir -p "$R"/{bin,proc,sys/fs/cgroup,dev,tmp,etc,root}
cp "$(command -v busybox)" "$R/bin/busybox"
for a in true sh; do ln -s busybox "$R/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' > "$R/etc/passwd"; echo 'root:x:0:' > "$R/etc/group"
tar -C "$R" -cf "$W/rootfs.tar" .
for b in plain userns; do mkdir -p "$W/$b"; (cd "$W/$b" && runc spec); done
python3 - "$W" <<'PY'
import json, sys
w = sys.argv[1]
for b in ("plain", "userns"):
    p = f"{w}/{b}/config.json"; s = json.load(open(p))
    s["process"]["terminal"] = False; s["process"]["args"] = ["/bin/true"]
    s["root"]["path"] = f"{w}/rootfs"
    if b == "userns":
        s["linux"]["namespaces"].append({"type": "user"})
        s["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        s["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        # sysfs cannot be mounted from a user namespace without a network namespace of its own.
        s["mounts"] = [m for m in s["mounts"] if m["destination"] not in ("/sys", "/sys/fs/cgroup")]
    json.dump(s, open(p, "w"))
PY

"$REL/berthd" --data-root "$W/data" --exec-root "$W/exec" -H "unix://$W/berth.sock" 2>"$W/berthd.log" &
DAEMON=$!
for _ in $(seq 100); do [ -S "$W/berth.sock" ] && break; sleep 0.05; done
B=("$REL/berth" -H "unix://$W/berth.sock")
"${B[@]}" import - bench:latest < "$W/rootfs.tar" >/dev/null
for f in /etc/subuid /etc/subgid; do echo "$REMAP_LINE" >> "$f"; done
"$REL/berthd" --data-root "$W/rdata" --exec-root "$W/rexec" -H "unix://$W/remap.sock" --bridge none \
  --userns-remap "$REMAP_ID:$REMAP_ID" 2>"$W/remap.log" &
REMAP_DAEMON=$!
for _ in $(seq 100); do [ -S "$W/remap.sock" ] && break; sleep 0.05; done
RB=("$REL/berth" -H "unix://$W/remap.sock")
"${RB[@]}" import - bench:latest < "$W/rootfs.tar" >/dev/null
"${PODMAN[@]}" import -q "$W/rootfs.tar" localhost/bench:latest >/dev/null

declare -A CMD=(
  [berth-default]="${B[*]} run --rm bench true"
  [berth-unconfined]="${B[*]} run --rm --security-opt seccomp=unconfined bench true"
  [podman-default]="${PODMAN[*]} run ${PODMAN_RUN[*]} localhost/bench true"
  [podman-unconfined]="${PODMAN[*]} run ${PODMAN_RUN[*]} --security-opt seccomp=unconfined localhost/bench true"
  [berth-remap]="${RB[*]} run --rm bench true"
  [berth-remap-host]="${RB[*]} run --rm --userns=host bench true"
  [podman-userns]="${PODMAN[*]} run ${PODMAN_RUN[*]} --uidmap 0:100000:65536 --gidmap 0:100000:65536 localhost/bench true"
)
CASES=(berth-default berth-unconfined podman-default podman-unconfined podman-userns
       runtime-plain runtime-userns runc-plain runc-userns berth-remap berth-remap-host)
for c in "${CASES[@]}"; do : > "$W/t-$c"; done
run_case() {
  case "$1" in
    runtime-*) "$REL/berth-runtime" --root "$W/root-berth" run --bundle "$W/${1#runtime-}" "b$2" ;;
    runc-*) runc --root "$W/root-runc" run --bundle "$W/${1#runc-}" "c$2" ;;
    *) ${CMD[$1]} ;;
  esac
}
for i in $(seq 1 $((N + 2))); do
  for c in "${CASES[@]}"; do
    t0=$(date +%s%N)
    timeout 60 bash -c "$(declare -f run_case); $(declare -p CMD W REL); run_case $c $i-$c" >/dev/null 2>"$W/err" ||
      { echo "case $c failed: $(cat "$W/err")" >&2; exit 1; }
    t1=$(date +%s%N)
    [ "$i" -gt 2 ] && echo $(( (t1 - t0) / 1000 )) >> "$W/t-$c"   # 2 warm-up rounds
  done
done
python3 - "$W" "${CASES[@]}" <<'PY'
import statistics, sys
w, cases = sys.argv[1], sys.argv[2:]
m = {}
for c in cases:
    xs = [int(x) / 1000 for x in open(f"{w}/t-{c}")]
    m[c] = statistics.median(xs)
    print(f"{c:18s} median {m[c]:8.2f} ms  min {min(xs):8.2f}  max {max(xs):8.2f}  n={len(xs)}")
r = lambda a, b: m[a] / m[b]
print()
print(f"seccomp filter cost (default / unconfined): berth {r('berth-default','berth-unconfined'):.3f}   podman {r('podman-default','podman-unconfined'):.3f}")
print(f"user namespace cost (userns / plain):       berth-runtime {r('runtime-userns','runtime-plain'):.3f}   runc {r('runc-userns','runc-plain'):.3f}   podman {r('podman-userns','podman-default'):.3f}")
print(f"userns-remap cost (remapped / --userns=host, one berthd): berth {r('berth-remap','berth-remap-host'):.3f}   vs podman --uidmap / plain {r('podman-userns','podman-default'):.3f}")
print(f"berth / podman, default confinement: {r('berth-default','podman-default'):.3f}   unconfined: {r('berth-unconfined','podman-unconfined'):.3f}")
print(f"berth-runtime / runc, plain: {r('runtime-plain','runc-plain'):.3f}   userns: {r('runtime-userns','runc-userns'):.3f}")
PY
