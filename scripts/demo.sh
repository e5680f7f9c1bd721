#!/usr/bin/env bash
# Runs a container: a busybox root filesystem as an OCI bundle, through berth-runtime.
set -euo pipefail
RT=${RT:-berth-runtime}
B=$(mktemp -d /tmp/berth-demo.XXXXXX)
trap 'rm -rf "$B"' EXIT
mkdir -p "$B/rootfs/bin" "$B/rootfs/"{proc,sys,dev,tmp,etc}
cp "$(command -v busybox)" "$B/rootfs/bin/busybox"
for a in sh echo hostname id cat ls uname; do ln -s busybox "$B/rootfs/bin/$a"; done
cd "$B" && "$RT" spec
python3 - config.json <<'PY'
import json, sys
p = sys.argv[1]; s = json.load(open(p))
s["process"]["terminal"] = False
s["process"]["args"] = ["sh", "-c", "echo hello from $(hostname); id; uname -r"]
json.dump(s, open(p, "w"))
PY
"$RT" run "demo-$$"
