#!/usr/bin/env bash
# Runs every test: format and lint gates, unit tests, and the end-to-end tests (as root, against the real kernel).
set -euo pipefail
. "$(dirname "$0")/as-root.sh"
cd "$(dirname "$0")/.."
scripts/test-deps.sh
cargo fmt --all --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
cargo build --workspace --bins --quiet
# The end-to-end tests use these binaries instead of each test process running its own
# `cargo build -p berthd -p berth-shim` (whose narrower feature set rebuilds rustls/ureq).
export BERTH_BIN_DIR="$PWD/target/debug"
cargo nextest run --workspace --no-fail-fast
