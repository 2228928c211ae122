#!/usr/bin/env bash
# Regression check for a bug the chaos run found (fixed): a leader whose outgoing fabric
# operations are slowed by more than the heartbeat read period (soft fabric hook: +2 ms; default
# period 1 ms) reported QuorumLost and refused every request (CLUSTERDOWN) for as long as the
# delay lasted, while its followers, whose reads of its heartbeat are not slowed, kept it as
# leader: nobody served. The detector counted every period with a read still outstanding as "did
# not move"; it now waits for the peer's measured round trip before calling a read overdue
# (FailureDetector::answer_timeout_ns; sim test Failover.SlowLeaderLinkIsNotAFailure).
# Exits 1 when any request is refused while the leader is delayed. Needs a quiet machine: under
# heavy CPU starvation every replica misses heartbeats and all of them time each other out.
#
#   test/chaos/repro-leader-delay-quorum-lost.sh          # DELAY_US=2000
#   DELAY_US=300 test/chaos/repro-leader-delay-quorum-lost.sh
#
# Loopback only; needs redis-cli and native/build-chaos/mu-kv-replica.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
B=${B:-$ROOT/native/build-chaos/mu-kv-replica}
P=${PORT_BASE:-18400}
M="127.0.0.1:$((P + 1)):$((P + 2)):$((P + 3)),127.0.0.1:$((P + 11)):$((P + 12)):$((P + 13)),127.0.0.1:$((P + 21)):$((P + 22)):$((P + 23))"
OUT=$(mktemp -d)
declare -A PID
for i in 0 1 2; do
  mkfifo "$OUT/ctl$i"
  "$B" --id $i --members "$M" --secret repro --bootstrap --exit-on-stdin-eof <"$OUT/ctl$i" >"$OUT/r$i.log" 2>&1 &
  PID[$i]=$!
  exec {fd}>"$OUT/ctl$i" # keep the control pipe open
  eval "CTL$i=$fd"
done
cleanup() { for p in "${PID[@]}"; do kill -KILL "$p" 2>/dev/null; done; }
trap cleanup EXIT
until redis-cli -p $((P + 3)) SET warm 1 2>/dev/null | grep -q OK; do sleep 0.2; done
count() { # seconds -> "ok refused other"
  local ok=0 refused=0 other=0 end=$((SECONDS + $1)) r
  while ((SECONDS < end)); do
    r=$(redis-cli -p $((P + 3)) SET k v 2>&1)
    case $r in OK) ok=$((ok + 1)) ;; CLUSTERDOWN*) refused=$((refused + 1)) ;; *) other=$((other + 1)) ;; esac
  done
  echo "ok=$ok clusterdown=$refused other=$other"
}
echo "before:               $(count 2)"
echo "delay ${DELAY_US:-2000}" >&"$CTL0"
sleep 0.3
delayed=$(count 3)
echo "leader delayed:       $delayed"
echo "delay 0" >&"$CTL0"
sleep 0.5
echo "after:                $(count 2)"
echo "leader's events: $(grep -o '"kind":"Quorum[A-Za-z]*"' "$OUT/r0.log" | sort | uniq -c | tr '\n' ' ') (logs in $OUT)"
if [[ $delayed != *" clusterdown=0 "* ]]; then
  echo "FAILED: the delayed leader refused requests"
  exit 1
fi
echo "ok: the delayed leader kept serving"
