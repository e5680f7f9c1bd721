#!/usr/bin/env bash
# Runs every test: format and lint gates, unit tests, and the end-to-end tests (as root, against the real kernel).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
cargo build --workspace --bins --quiet
cargo nextest run --workspace --no-fail-fast
