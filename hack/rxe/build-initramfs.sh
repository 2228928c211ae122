#!/usr/bin/env bash
# Builds one gzip'd newc cpio segment of the Soft-RoCE VM's initramfs (hack/rxe-vm.sh concatenates
# segments; the kernel unpacks them in order, later files win).
#
#   build-initramfs.sh base OUT KERNEL_VERSION
#       busybox-static, the modules rdma_rxe needs (in dependency order, for KERNEL_VERSION, not
#       the running kernel), iproute2's ip and rdma, the rxe verbs provider and its driver file,
#       every shared library those need, and /init (hack/rxe/guest-init.sh).
#   build-initramfs.sh payload OUT BINARY
#       BINARY as /bin/<name> plus the shared libraries it loads (ldd).
#   build-initramfs.sh run OUT CMD_FILE ENV_FILE
#       /etc/mu-run/cmd (argv, one per line) and /etc/mu-run/env (KEY=VALUE lines).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
die() { echo "build-initramfs: $*" >&2; exit 1; }

# Copies each ELF file's shared libraries (and the loader) into root $1, keeping their paths.
copy_libs() {
  local root=$1; shift
  local f lib
  for f in "$@"; do
    ldd "$f" >/dev/null 2>&1 || continue  # static: nothing to copy
    while read -r lib; do
      [ -n "$lib" ] || continue
      [ -e "$lib" ] || die "$f needs $lib, which does not exist"
      mkdir -p "$root$(dirname "$lib")"
      cp -L "$lib" "$root$lib"
    done < <(ldd "$f" | awk '/=> \//{print $3} /^[ \t]*\/[^ ]*ld-linux/{print $1}')
    if ldd "$f" | grep -q 'not found'; then die "$f: $(ldd "$f" | grep 'not found')"; fi
  done
}

pack() {  # pack ROOT OUT
  (cd "$1" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet --reproducible) | gzip -1 > "$2.tmp"
  mv "$2.tmp" "$2"
}

kind=${1:-}; out=${2:-}
[ -n "$kind" ] && [ -n "$out" ] || die "usage: $0 base|payload|run OUT ..."
work=$(mktemp -d "${TMPDIR:-/tmp}/mu-rxe-initramfs.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root"

case "$kind" in
  base)
    kv=${3:?kernel version}
    [ -d "/lib/modules/$kv" ] || die "no modules for kernel $kv in /lib/modules"
    mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,run,etc/libibverbs.d,lib/modules,usr/lib/x86_64-linux-gnu/libibverbs}
    busybox=$(command -v busybox || true)
    [ -n "$busybox" ] || die "busybox not found (apt-get install busybox-static)"
    ldd "$busybox" >/dev/null 2>&1 && die "$busybox is dynamically linked (apt-get install busybox-static)"
    cp "$busybox" "$root/bin/busybox"
    for applet in $("$busybox" --list); do
      case "$applet" in busybox|ip) continue ;; esac
      ln -sf busybox "$root/bin/$applet"
    done
    # Kernel modules, dependencies first, each once. crc32_generic: rxe's ICRC needs a crc32
    # crypto driver; dummy: the netdev rxe0 sits on.
    : > "$root/lib/modules/order"
    seen=" "
    for m in crc32_generic dummy rdma_rxe; do
      deps=$(modprobe -S "$kv" --show-depends "$m" 2>&1) || die "modprobe -S $kv --show-depends $m: $deps"
      for f in $(awk '$1=="insmod"{print $2}' <<<"$deps"); do
        b=$(basename "$f")
        case "$seen" in *" $b "*) continue ;; esac
        seen="$seen$b "
        case "$f" in
          *.ko) cp "$f" "$root/lib/modules/$b" ;;
          *.ko.xz) xz -dc "$f" > "$root/lib/modules/${b%.xz}"; b=${b%.xz} ;;
          *.ko.zst) zstd -qdc "$f" > "$root/lib/modules/${b%.zst}"; b=${b%.zst} ;;
          *) die "unexpected module file $f" ;;
        esac
        echo "$b" >> "$root/lib/modules/order"
      done
    done
    grep -qx rdma_rxe.ko "$root/lib/modules/order" || die "rdma_rxe.ko not found for kernel $kv"
    # iproute2 (busybox's ip cannot add dummy links everywhere; rdma is iproute2-only).
    ip_bin=$(command -v ip || true); rdma_bin=$(command -v rdma || true)
    [ -n "$ip_bin" ] && [ -n "$rdma_bin" ] || die "ip/rdma not found (apt-get install iproute2)"
    cp "$ip_bin" "$root/sbin/ip"; cp "$rdma_bin" "$root/bin/rdma"
    # The rxe verbs provider (dlopen'ed by libibverbs, so ldd of the test binary misses it).
    provider=$(ls /usr/lib/x86_64-linux-gnu/libibverbs/librxe-rdmav*.so 2>/dev/null | head -1)
    [ -n "$provider" ] || die "librxe-rdmav*.so not found (apt-get install ibverbs-providers)"
    [ -r /etc/libibverbs.d/rxe.driver ] || die "/etc/libibverbs.d/rxe.driver missing (apt-get install ibverbs-providers)"
    cp "$provider" "$root/usr/lib/x86_64-linux-gnu/libibverbs/"
    cp /etc/libibverbs.d/rxe.driver "$root/etc/libibverbs.d/"
    copy_libs "$root" "$ip_bin" "$rdma_bin" "$provider"
    cp "$here/guest-init.sh" "$root/init"
    chmod 755 "$root/init"
    ;;
  payload)
    bin=${3:?binary}
    [ -x "$bin" ] || die "$bin is not an executable"
    mkdir -p "$root/bin"
    cp "$bin" "$root/bin/"
    copy_libs "$root" "$bin"
    ;;
  run)
    cmd=${3:?cmd file}; env_file=${4:?env file}
    mkdir -p "$root/etc/mu-run"
    cp "$cmd" "$root/etc/mu-run/cmd"
    cp "$env_file" "$root/etc/mu-run/env"
    ;;
  *) die "unknown segment kind '$kind'" ;;
esac
pack "$root" "$out"
