#!/bin/sh
# PID 1 of the Soft-RoCE test VM (hack/rxe-vm.sh). Loads the RDMA modules, creates rxe0 on a dummy
# netdev with a private 10.x address (it exists only inside the guest), runs the test binary named
# in /etc/mu-run/cmd with the environment in /etc/mu-run/env, then prints the exit marker the host
# waits for and powers off. Every failure still ends in a marker line, so the host never guesses.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
export LD_LIBRARY_PATH=/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu

MARKER=MU_RXE_VM_EXIT
RXE_ADDR=10.77.0.1/24

uptime_s() { cut -d' ' -f1 /proc/uptime; }
say() { echo "GUEST[$(uptime_s)s]: $*"; }
finish() {
  echo "$MARKER=$1"
  sync
  poweroff -f
  sleep 5  # poweroff -f should not return; if it does, panic=-1 + -no-reboot end the VM
  exit "$1"
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /tmp /run
mount -t tmpfs tmpfs /tmp
say "init started, kernel $(uname -r), $(grep -c ^processor /proc/cpuinfo) cpu(s)"

# 90-99: environment failures (distinct from test failures, which are the binary's status).
for m in $(cat /lib/modules/order); do
  insmod "/lib/modules/$m" || { say "insmod $m failed"; finish 90; }
done
say "modules loaded: $(tr '\n' ' ' < /lib/modules/order)"

ip link set lo up
ip link show dummy0 >/dev/null 2>&1 || ip link add dummy0 type dummy || finish 91
ip addr add "$RXE_ADDR" dev dummy0 || finish 91
ip link set dummy0 up || finish 91
rdma link add rxe0 type rxe netdev dummy0 || { say "rdma link add failed"; finish 92; }

# Wait (bounded) for the port to be ACTIVE and the IPv4-mapped RoCE v2 GID to appear.
port=/sys/class/infiniband/rxe0/ports/1
i=0
while [ $i -lt 100 ]; do
  if grep -q ACTIVE "$port/state" 2>/dev/null && grep -q ':ffff:0a4d:0001' "$port"/gids/* 2>/dev/null; then
    break
  fi
  sleep 0.05
  i=$((i + 1))
done
[ $i -lt 100 ] || { say "rxe0 not ready: state $(cat $port/state 2>&1)"; rdma link show; finish 93; }
say "rxe0 ready on dummy0 ($RXE_ADDR): $(rdma link show | tr '\n' ' ')"
# One grep over the whole table (rxe has 1024 slots; a process per slot costs seconds under TCG).
grep -v '^0000:0000:0000:0000:0000:0000:0000:0000$' "$port"/gids/* 2>/dev/null |
  while IFS= read -r entry; do
    n=${entry%%:*}; n=${n##*/}
    say "  gid $n ${entry#*:} $(cat "$port/gid_attrs/types/$n" 2>/dev/null)"
  done

[ -r /etc/mu-run/cmd ] || { say "no /etc/mu-run/cmd in the initramfs"; finish 94; }
set -a
[ -r /etc/mu-run/env ] && . /etc/mu-run/env
set +a
# One argument per line (no word splitting, no globbing of gtest patterns).
set -f
IFS='
'
set -- $(cat /etc/mu-run/cmd)
unset IFS
set +f
say "running: $*"
cd /tmp
"$@"
rc=$?
say "test binary exited with status $rc"
[ "$rc" -eq 0 ] || dmesg | grep -iE 'rxe|rdma|infiniband|ib_' | tail -20
finish "$rc"
