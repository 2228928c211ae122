#!/usr/bin/env bash
# The long deterministic-simulation run (not part of `npm test`): many seeded chaos schedules of
# 3- and 5-replica groups on the sim fabric — crashes, pauses, torn writes, delays, QP failures —
# each checked for agreement, exactly-once application, no lost acknowledged write, and recovery.
#   hack/sim-long.sh [SEEDS [SHARDS]]     default 100000 seeds in $(nproc) shards, run in parallel
# A failure prints the seed and the command that replays it alone (MU_CHAOS_SEED=<seed>).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
seeds=${1:-100000}
shards=${2:-$(nproc)}
build=$repo/native/build
echo "sim-long: building core_tests in $build"
cmake -S "$repo/native" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target core_tests -j2
logs=$(mktemp -d "${TMPDIR:-/tmp}/sim-long.XXXXXX")
echo "sim-long: running $seeds chaos seeds in $shards shards (logs in $logs)"
start=$SECONDS
per=$(((seeds + shards - 1) / shards))
pids=()
for ((i = 0; i < shards; i++)); do
  first=$((1 + i * per))
  count=$((first + per - 1 > seeds ? seeds - first + 1 : per))
  ((count > 0)) || continue
  MU_CHAOS_FIRST_SEED=$first MU_CHAOS_SEEDS=$count "$build/core_tests" --gtest_filter='Chaos.*' \
    >"$logs/shard-$i.log" 2>&1 &
  pids+=($!)
  echo "sim-long: shard $i: seeds $first..$((first + count - 1))"
done
# Progress: every minute, how long it has been running; the shards print only at the end.
next_report=$((SECONDS + 60))
while kill -0 "${pids[@]}" 2>/dev/null; do
  sleep 2
  ((SECONDS >= next_report)) || continue
  next_report=$((SECONDS + 60))
  running=0
  for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && running=$((running + 1)); done
  echo "sim-long: $((SECONDS - start)) s, $running of ${#pids[@]} shards running"
done
failed=0
for i in "${!pids[@]}"; do
  if ! wait "${pids[$i]}"; then
    failed=1
    echo "sim-long: shard $i FAILED:"
    grep -E "first failing seed|Failure" "$logs/shard-$i.log" | head -n 5
  fi
done
if ((failed)); then
  echo "sim-long: FAILED after $((SECONDS - start)) s (logs in $logs)"
  exit 1
fi
echo "sim-long: $seeds seeds passed in $((SECONDS - start)) s"
