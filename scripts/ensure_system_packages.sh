#!/usr/bin/env bash
# Install the Debian packages the book needs, if missing: graphviz (the `dot`
# program) and dataset-fashion-mnist (the data, offline). Extra packages can be
# named as arguments (CI adds chromium for the browser tests).
# As root (or with passwordless sudo) it runs apt-get; otherwise it prints the
# one command to run and carries on (bnlib.data can still download the data).
set -u
need=()
command -v dot >/dev/null 2>&1 || need+=(graphviz)
[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || need+=(dataset-fashion-mnist)
for pkg in "$@"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then sudo=""; elif sudo -n true 2>/dev/null; then sudo="sudo"; else
  echo "Missing system packages. Run: sudo apt-get install -y ${need[*]}"
  exit 0
fi
echo "Installing system packages: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get install -y -q "${need[@]}" >/dev/null 2>&1 ||
  { $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q "${need[@]}" >/dev/null; } ||
  { echo "apt-get could not install: ${need[*]}"; exit 1; }
