#!/usr/bin/env bash
# Builds crictl from cri-tools v1.26.1, the client the CRI end-to-end tests drive, beside the
# repository (never inside it: ../cri-tools) from cri-tools' vendored modules, and installs it
# as /usr/local/bin/crictl. CRI_TOOLS_SRC names an existing checkout of that tag instead of a
# fresh clone. A no-op when that crictl is installed.
set -euo pipefail
. "$(dirname "$0")/as-root.sh"

version=v1.26.1
if command -v crictl >/dev/null 2>&1 && crictl --version 2>/dev/null | grep -q "$version"; then
  exit 0
fi
command -v go >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq golang-go >/dev/null; }
repo_root=$(cd "$(dirname "$0")/.." && pwd)
src=${CRI_TOOLS_SRC:-$repo_root/../cri-tools}
if [ ! -d "$src/cmd/crictl" ]; then
  git clone -q --depth 1 --branch "$version" https://github.com/kubernetes-sigs/cri-tools "$src"
fi
cd "$src"
GOFLAGS=-mod=vendor go build -trimpath \
  -ldflags "-X sigs.k8s.io/cri-tools/pkg/version.Version=$version" \
  -o /usr/local/bin/crictl ./cmd/crictl
crictl --version
