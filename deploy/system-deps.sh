#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages the project needs, only when they are missing.
#   system-deps.sh            libvirt headers + pkg-config (libvirt-python compiles against them)
#   system-deps.sh --test     also chromium (browser tests) and openssh-server (tests over real SSH)
set -euo pipefail
need=()
pkg_missing() { ! dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for p in libvirt-dev pkg-config; do pkg_missing "$p" && need+=("$p"); done
if [ "${1:-}" = "--test" ]; then
  for p in chromium openssh-server; do pkg_missing "$p" && need+=("$p"); done
fi
[ ${#need[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null; then
  echo "Missing system packages: ${need[*]} (install them with your package manager)" >&2; exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "Missing system packages. Run this once, then run make again:" >&2
  echo "    sudo apt-get install -y ${need[*]}" >&2
  exit 1
fi
echo "Installing system packages: ${need[*]}"
DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null \
  || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null; }
