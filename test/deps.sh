#!/usr/bin/env bash
# Installs the real clients the end-to-end tests drive, when they are
# missing. Debian/Ubuntu with apt-get; run as root (CI and the dev machines
# are). Set DAVNAS_ALLOW_MISSING_CLIENTS=1 to let tests skip a client that
# cannot be installed instead of failing (never set in CI).
set -euo pipefail

# command -> apt package
declare -A pkgs=(
  [curl]=curl
  [strace]=strace
  [litmus]=litmus
  [rclone]=rclone
  [mount.davfs]=davfs2
  [cadaver]=cadaver
)

missing=()
for cmd in "${!pkgs[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${pkgs[$cmd]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "test/deps.sh: installing ${missing[*]}" >&2
if ! command -v apt-get >/dev/null 2>&1; then
  echo "test/deps.sh: apt-get not found; install ${missing[*]} by hand" >&2
  [ "${DAVNAS_ALLOW_MISSING_CLIENTS:-}" = 1 ] && exit 0 || exit 1
fi
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq || echo "test/deps.sh: apt-get update failed; trying the install anyway" >&2
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
