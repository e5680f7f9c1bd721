#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian/Ubuntu machine (root): the peers and tools the
# end-to-end tests drive (podman, skopeo, docker's CLI, a registry, ...) and cargo-nextest.
# Called by scripts/test.sh, so the README's test command works on a fresh machine; a no-op
# (one dpkg query per package) when everything is there.
set -euo pipefail
. "$(dirname "$0")/as-root.sh"

export DEBIAN_FRONTEND=noninteractive
need_pkgs=(busybox-static iproute2 nftables pkg-config podman docker-registry skopeo umoci apache2-utils gcc libc6-dev docker.io python3-docker uidmap passt openssh-server docker-compose containernetworking-plugins)
missing=()
for p in "${need_pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  # docker.io is wanted for its CLI (and dockerd for the benchmarks, which start their own):
  # keep its packages from starting a system dockerd (it would rewrite the host's firewall).
  no_start=0
  [ -e /usr/sbin/policy-rc.d ] || { printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; no_start=1; }
  apt-get install -y -qq "${missing[@]}" >/dev/null
  [ "$no_start" = 0 ] || rm -f /usr/sbin/policy-rc.d
  if command -v systemctl >/dev/null 2>&1; then
    systemctl disable --now docker.service docker.socket containerd.service >/dev/null 2>&1 || true
    # openssh-server is wanted for sshd itself (tests/remote.rs starts its own on a free port
    # with its own config): a machine that had no ssh server before gets none at boot either.
    # One that had it keeps it untouched.
    case " ${missing[*]} " in
      *" openssh-server "*) systemctl disable --now ssh.service ssh.socket >/dev/null 2>&1 || true ;;
    esac
  fi
fi
command -v cargo-nextest >/dev/null 2>&1 || cargo install --locked cargo-nextest

# Rootless pasta networking opens /dev/net/tun as an ordinary user: udev's distro default is
# 0666; a machine without udev may have made it 0600.
if [ -c /dev/net/tun ]; then chmod 0666 /dev/net/tun; fi
