#!/usr/bin/env bash
# Installs Berth's build dependencies (Debian/Ubuntu) and its binaries into /usr/local/bin.
set -euo pipefail
. "$(dirname "$0")/as-root.sh"
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
pkgs=(busybox-static build-essential pkg-config iproute2 nftables)
missing=(); for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null; fi
command -v cargo >/dev/null || { echo "install Rust first: https://rustup.rs" >&2; exit 1; }
cargo build --release -q -p berth -p berthd -p berth-shim -p berth-runtime-cli
for b in berth berthd berth-shim berth-runtime; do
  install -m 0755 "target/release/$b" "/usr/local/bin/$b"
done
echo "installed berth, berthd, berth-shim and berth-runtime in /usr/local/bin"
