#!/usr/bin/env bash
# Installs (or names) the Debian 12 packages bulkhead needs.
#   scripts/deps.sh build   - compile the library, demo and tests
#   scripts/deps.sh bench   - build plus the benchmark's peers (ZeroMQ, bubblewrap)
#   scripts/deps.sh fuzz    - build plus clang's libFuzzer runtime
#   scripts/deps.sh test    - build plus valgrind (the chaos run under memcheck)
# As root, missing packages are installed with apt-get; otherwise the exact
# command is printed and the script exits with status 2.
set -euo pipefail

want_build=(cmake make gcc pkg-config libseccomp-dev libcap-dev libprotobuf-c-dev
            protobuf-c-compiler libcmocka-dev libpng-dev libfreetype-dev fonts-dejavu-core)
want_bench=(libzmq3-dev bubblewrap)
want_fuzz=(clang libclang-rt-14-dev)
want_test=(valgrind)

pkgs=("${want_build[@]}")
for what in "$@"; do
  case "$what" in
    build) ;;
    bench) pkgs+=("${want_bench[@]}") ;;
    fuzz) pkgs+=("${want_fuzz[@]}") ;;
    test) pkgs+=("${want_test[@]}") ;;
    *) echo "deps.sh: unknown package set '$what' (use build, bench, fuzz or test)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "bulkhead needs these Debian packages: ${missing[*]}" >&2
  echo "Install them as root, then run this command again:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 2
fi
echo "Installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
