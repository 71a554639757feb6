#!/usr/bin/env bash
# Install the Debian packages the book needs, if missing: graphviz (the `dot`
# program), nodejs (KaTeX prerenders the math at build time) and
# dataset-fashion-mnist (the data, offline). Extra packages can be
# named as arguments (CI adds chromium for the browser tests).
# As root (or with passwordless sudo) it runs apt-get; otherwise it prints the
# one command to run and carries on (bnlib.data can still download the data).
set -u
need=()
command -v dot >/dev/null 2>&1 || need+=(graphviz)
command -v node >/dev/null 2>&1 || command -v nodejs >/dev/null 2>&1 || need+=(nodejs)
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
updated=0
for pkg in "${need[@]}"; do
  $sudo apt-get install -y -q "$pkg" >/dev/null 2>&1 && continue
  if [ $updated -eq 0 ]; then $sudo apt-get update -q >/dev/null 2>&1; updated=1; fi
  $sudo apt-get install -y -q "$pkg" >/dev/null 2>&1 && continue
  if [ "$pkg" = dataset-fashion-mnist ]; then
    # not packaged everywhere (e.g. some Ubuntu releases): bnlib.data downloads and verifies it
    echo "apt-get could not install dataset-fashion-mnist: the data will be downloaded on first use"
  else
    echo "apt-get could not install $pkg"; exit 1
  fi
done
