#!/usr/bin/env bash
# Installs the Debian packages vlbatch builds against (libpng, libjpeg, pkg-config), only when one is missing.
# Safe to run again; needs root (or sudo) only when something is actually missing.
set -euo pipefail
packages=(libpng-dev libjpeg-dev pkg-config)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
