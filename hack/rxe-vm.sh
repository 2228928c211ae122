#!/usr/bin/env bash
# Runs the fabric conformance suite against the verbs backend on real Soft-RoCE (rdma_rxe), inside
# a qemu VM booted from Debian's kernel (KVM does not work on our machines: TCG emulation).
#
#   hack/rxe-vm.sh [--filter GTEST_FILTER] [--binary PATH] [--fabrics LIST] [--timeout SECONDS]
#                  [--smp N] [-- EXTRA_TEST_ARGS...]
#
# Steps: build native/build-vm/fabric_conformance (MU_WITH_VERBS=ON, libstdc++ static) → build the
# initramfs (cached segments: base = busybox + rxe modules + iproute2 + rxe provider + /init;
# payload = the test binary + its libraries; run = its arguments) → boot qemu-system-x86_64
# -accel tcg -cpu max → the guest creates rxe0 and runs `MU_FABRICS=verbs fabric_conformance` →
# this script exits with the guest's test status.
#
# Never skips: a missing qemu or kernel, a guest that does not boot, or a run without the exit
# marker is a failure (non-zero, with the reason). Logs: native/build-vm/rxe/serial.log.
# Environment: MU_RXE_KERNEL (kernel version under /lib/modules; default: newest one that has a
# /boot/vmlinuz and rdma_rxe), MU_VERBS_* variables are passed into the guest.
set -euo pipefail
shopt -s extglob

repo=$(cd "$(dirname "$0")/.." && pwd)
build=$repo/native/build-vm
state=$build/rxe
filter=""
binary=""
fabrics=verbs
timeout_s=300
# Two vCPUs: the suite's races (a revocation while a WRITE is being processed) need two threads
# really running at once in the guest.
smp=${MU_RXE_SMP:-2}
extra=()

usage() { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --filter) filter=${2:?--filter needs a value}; shift 2 ;;
    --filter=*) filter=${1#*=}; shift ;;
    --binary) binary=${2:?--binary needs a path}; shift 2 ;;
    --fabrics) fabrics=${2:?--fabrics needs a value}; shift 2 ;;
    --timeout) timeout_s=${2:?--timeout needs seconds}; shift 2 ;;
    --smp) smp=${2:?--smp needs a count}; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    --) shift; extra=("$@"); break ;;
    *) echo "rxe-vm: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done

t0=${EPOCHREALTIME/./}
elapsed() { local now=${EPOCHREALTIME/./}; local cs=$(( (now - t0) / 10000 )); printf '%d.%02ds' $((cs / 100)) $((cs % 100)); }
say() { echo "rxe-vm [$(elapsed)]: $*"; }
fail() {
  echo "rxe-vm: FAILED: $*" >&2
  exit "${FAIL_STATUS:-3}"
}

# --- preflight: everything the run needs, with the package that provides it ------------------
need() { command -v "$1" >/dev/null 2>&1 || fail "$1 not found (apt-get install -y $2)"; }
need qemu-system-x86_64 qemu-system-x86
need cpio cpio
need modprobe kmod
need busybox busybox-static
need rdma iproute2
need cmake cmake
need flock util-linux

pick_kernel() {
  local kv best=""
  for kv in $(ls /lib/modules 2>/dev/null | sort -V); do
    [ -r "/boot/vmlinuz-$kv" ] || continue
    modprobe -S "$kv" --show-depends rdma_rxe >/dev/null 2>&1 || continue
    best=$kv
  done
  echo "$best"
}
kv=${MU_RXE_KERNEL:-$(pick_kernel)}
[ -n "$kv" ] || fail "no kernel with rdma_rxe and a readable /boot/vmlinuz-* under /lib/modules (apt-get install -y linux-image-amd64)"
kernel=/boot/vmlinuz-$kv
[ -r "$kernel" ] || fail "$kernel missing or unreadable (apt-get install -y linux-image-amd64)"
modprobe -S "$kv" --show-depends rdma_rxe >/dev/null 2>&1 || fail "kernel $kv has no rdma_rxe module"

mkdir -p "$state"
[ -e "$build/.gitignore" ] || echo '*' > "$build/.gitignore"  # build output, never committed
exec 9>"$state/.lock"
flock -w 600 9 || fail "another rxe-vm.sh run holds $state/.lock"
say "kernel $kv ($kernel), qemu $(qemu-system-x86_64 --version | head -1 | awk '{print $4}')"

# --- the test binary ---------------------------------------------------------------------------
if [ -z "$binary" ]; then
  if ! grep -q '^MU_STATIC_TEST_BINARIES:BOOL=ON' "$build/CMakeCache.txt" 2>/dev/null ||
     ! grep -q '^MU_WITH_VERBS:STRING=ON' "$build/CMakeCache.txt" 2>/dev/null; then
    say "configuring $build"
    cmake -S "$repo/native" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMU_WITH_VERBS=ON \
      -DMU_STATIC_TEST_BINARIES=ON -DMU_BUILD_TESTS=ON > "$state/configure.log" 2>&1 ||
      { tail -30 "$state/configure.log" >&2; fail "cmake configure failed (log: $state/configure.log)"; }
  fi
  say "building fabric_conformance (-j2)"
  cmake --build "$build" --target fabric_conformance -j2 > "$state/build.log" 2>&1 ||
    { grep -E 'error|Error' "$state/build.log" | head -30 >&2; fail "build failed (log: $state/build.log)"; }
  binary=$build/fabric_conformance
fi
[ -x "$binary" ] || fail "test binary $binary missing"
binary=$(cd "$(dirname "$binary")" && pwd)/$(basename "$binary")
say "test binary ready: $binary"

# --- initramfs segments (cached by their inputs) -----------------------------------------------
builder=$repo/hack/rxe/build-initramfs.sh
key_of() { sha256sum | cut -c1-16; }
stat_of() { stat -L -c '%n %s %Y' "$@"; }

base_inputs() {
  echo "$kv"
  sha256sum "$builder" "$repo/hack/rxe/guest-init.sh"
  local m
  for m in crc32_generic dummy rdma_rxe; do modprobe -S "$kv" --show-depends "$m"; done |
    awk '$1=="insmod"{print $2}' | while read -r m; do stat_of "$m"; done
  stat_of "$(command -v busybox)" "$(command -v ip)" "$(command -v rdma)" \
    /usr/lib/x86_64-linux-gnu/libibverbs/librxe-rdmav*.so /etc/libibverbs.d/rxe.driver
}
base=$state/base-$(base_inputs | key_of).cpio.gz
if [ -s "$base" ]; then
  say "initramfs base cached ($(basename "$base"))"
else
  say "building initramfs base (busybox, modules for $kv, iproute2, rxe provider)"
  rm -f "$state"/base-*.cpio.gz
  bash "$builder" base "$base" "$kv" || fail "initramfs base build failed"
  say "initramfs base built: $(du -h "$base" | cut -f1)"
fi

payload_inputs() {
  sha256sum "$binary" "$builder"
  ldd "$binary" | awk '/=> \//{print $3}' | while read -r l; do stat_of "$l"; done
}
payload=$state/payload-$(payload_inputs | key_of).cpio.gz
if [ -s "$payload" ]; then
  say "initramfs payload cached ($(basename "$payload"))"
else
  rm -f "$state"/payload-*.cpio.gz
  bash "$builder" payload "$payload" "$binary" || fail "initramfs payload build failed"
  say "initramfs payload built: $(du -h "$payload" | cut -f1)"
fi

# The run segment: argv one per line, environment as KEY=VALUE lines (quoted for sh).
cmd_file=$state/cmd
env_file=$state/env
{
  echo "/bin/$(basename "$binary")"
  [ -n "$filter" ] && echo "--gtest_filter=$filter"
  for a in "${extra[@]+"${extra[@]}"}"; do
    case "$a" in *$'\n'*) fail "test arguments cannot contain newlines" ;; esac
    echo "$a"
  done
} > "$cmd_file"
{
  echo "MU_FABRICS='$fabrics'"
  echo "GTEST_COLOR='no'"
  while IFS='=' read -r name value; do
    case "$value" in *"'"*) fail "$name contains a quote" ;; esac
    echo "$name='$value'"
  done < <(env | grep -E '^MU_VERBS_[A-Z_]*=' || true)
} > "$env_file"
bash "$builder" run "$state/run.cpio.gz" "$cmd_file" "$env_file" || fail "initramfs run segment failed"
cat "$base" "$payload" "$state/run.cpio.gz" > "$state/initrd.img"

# --- boot ----------------------------------------------------------------------------------------
log=$state/serial.log
say "booting qemu (tcg, -cpu max, ${smp} cpu, 1024 MiB, timeout ${timeout_s}s); serial log: $log"
boot_t0=${EPOCHREALTIME/./}
set +e
timeout --kill-after=10 "$timeout_s" qemu-system-x86_64 \
  -accel tcg -cpu max -smp "$smp" -m 1024 -nographic -no-reboot -nodefaults -serial stdio \
  -kernel "$kernel" -initrd "$state/initrd.img" \
  -append "console=ttyS0 panic=-1 quiet loglevel=3 mitigations=off" < /dev/null 2>&1 |
  while IFS= read -r line; do
    line=${line//$'\r'/}
    line=${line//$'\e'[\[]*([0-9;?])[a-zA-Z]/}  # the firmware's terminal control sequences
    line=${line//$'\e'c/}
    now=${EPOCHREALTIME/./}
    cs=$(( (now - boot_t0) / 10000 ))
    printf 'vm %4d.%02d | %s\n' $((cs / 100)) $((cs % 100)) "$line"
  done | tee "$log"
qemu_status=${PIPESTATUS[0]}
set -e

marker=$(grep -a -o 'MU_RXE_VM_EXIT=[0-9]*' "$log" | tail -1 | cut -d= -f2 || true)
if [ -z "$marker" ]; then
  if [ "$qemu_status" = 124 ] || [ "$qemu_status" = 137 ]; then
    fail "the VM did not finish within ${timeout_s}s (no exit marker); serial log: $log"
  fi
  fail "the VM produced no exit marker (qemu status $qemu_status); serial log: $log"
fi
case "$marker" in
  0) say "PASSED: guest test status 0 (total $(elapsed))" ;;
  9[0-9]) say "FAILED: guest environment error $marker (see GUEST lines above; log $log)" ;;
  *) say "FAILED: guest test status $marker (log $log)" ;;
esac
exit "$marker"
