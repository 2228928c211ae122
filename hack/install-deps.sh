#!/usr/bin/env bash
# Installs the Debian packages the build, the tests and the demo need. Idempotent: when every
# package is already installed it does not touch apt at all.
#
#   build:  build-essential cmake ninja-build libssl-dev libgtest-dev libibverbs-dev
#   verbs suite in qemu (hack/rxe-vm.sh):  rdma-core ibverbs-providers ibverbs-utils
#           qemu-system-x86 linux-image-amd64 busybox-static cpio kmod
#   tests and tools:  iproute2 (network namespaces), nftables (chaos partitions), redis-tools, valgrind
#   benchmarks:       redis-server (`mu bench kv` runs a plain Redis beside Mu; never as a service)
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build libssl-dev libgtest-dev libibverbs-dev
  rdma-core ibverbs-providers ibverbs-utils
  qemu-system-x86 linux-image-amd64 busybox-static cpio kmod
  iproute2 nftables redis-tools valgrind
  redis-server
)

say() { echo "[install-deps] $*"; }

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
  say "this is not a Debian-like system (no dpkg-query/apt-get); install the equivalents of:"
  say "  ${PACKAGES[*]}"
  exit 1
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done

if [[ ${#missing[@]} -eq 0 ]]; then
  say "all ${#PACKAGES[@]} packages present; skipping apt"
  exit 0
fi

say "missing ${#missing[@]} of ${#PACKAGES[@]} packages: ${missing[*]}"
if [[ $(id -u) -eq 0 ]]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo)
else
  say "not root and no sudo: run as root:"
  say "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
say "apt-get update"
"${SUDO[@]}" apt-get update -q
say "apt-get install ${missing[*]}"
"${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"

still=()
for pkg in "${missing[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || still+=("$pkg")
done
if [[ ${#still[@]} -gt 0 ]]; then
  say "FAILED: still missing after apt-get install: ${still[*]}"
  exit 1
fi
say "installed: ${missing[*]}"
