# Sourced by the scripts that need root: run as root, they go on; run by another user, they run
# themselves again through sudo (keeping PATH, so a user's cargo is still found), or say how to.
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    exec sudo env "PATH=$PATH" "$0" "$@"
  fi
  echo "$(basename "$0") needs root: run it as root (sudo is not installed)" >&2
  exit 1
fi
