#!/usr/bin/env bash
# Reproduction (found by the chaos run): a replica restarted as a learner never rejoins once the
# log it must copy is larger than the soft fabric's largest message (4 MiB, wire.h
# kMaxMessageBytes). The leader's catch-up posts one WRITE per contiguous ring range
# (ReplicationPlane::catch_up_peer), the post is refused, peer_failed() drops the learner, and the
# leader asks it for permission again 5 ms later — forever (thousands of PermissionSwitch events on
# the learner, voter=false, applied_index 0).
#
#   test/chaos/repro-catchup-over-4mib.sh            # N=6000 SETs of D=1000 bytes: stuck learner
#   N=300 D=100 test/chaos/repro-catchup-over-4mib.sh  # small log: the learner rejoins
#
# Loopback only; needs redis-cli and redis-benchmark, and native/build-chaos/mu-kv-replica.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
B=${B:-$ROOT/native/build-chaos/mu-kv-replica}
P=${PORT_BASE:-17800}
M="127.0.0.1:$((P + 1)):$((P + 2)):$((P + 3)),127.0.0.1:$((P + 11)):$((P + 12)):$((P + 13)),127.0.0.1:$((P + 21)):$((P + 22)):$((P + 23))"
OUT=$(mktemp -d)
declare -A PID
start() { # id extra-flag tag
  sleep 120 | "$B" --id "$1" --members "$M" --secret repro --stats-interval-ms 1000 $2 >"$OUT/r$1.$3.log" 2>&1 &
  PID[$1]=$!
}
cleanup() { for p in "${PID[@]}"; do kill -KILL "$p" 2>/dev/null; done; }
trap cleanup EXIT

start 0 --bootstrap a
start 1 --bootstrap a
start 2 --bootstrap a
until redis-cli -p $((P + 3)) SET warm 1 2>/dev/null | grep -q OK; do sleep 0.2; done
redis-benchmark -h 127.0.0.1 -p $((P + 3)) -t set -n "${N:-6000}" -d "${D:-1000}" -r 100000 -q 2>&1 | tr '\r' '\n' | tail -1
kill -KILL "${PID[2]}"
sleep 1
start 2 "" b # the replacement: empty memory, no --bootstrap (a learner)
sleep 15
echo "restarted replica 2: $(grep '"stats"' "$OUT/r2.b.log" | tail -1 | grep -o '"voter":[a-z]*,"phase":"[a-z-]*","proposal":[0-9]*,"next_index":[0-9]*,"commit_index":[0-9]*,"applied_index":[0-9]*')"
echo "leader 0:            $(grep '"stats"' "$OUT/r0.a.log" | tail -1 | grep -o '"commit_index":[0-9]*,"applied_index":[0-9]*,"confirmed_followers":[0-9]*')"
echo "permission grants by the restarted replica: $(grep -c PermissionSwitch "$OUT/r2.b.log") (logs in $OUT)"
