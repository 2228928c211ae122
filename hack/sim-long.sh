#!/usr/bin/env bash
# The long deterministic-simulation run (not part of `npm test`): many seeded chaos schedules of
# 3- and 5-replica groups on the sim fabric — crashes, pauses, torn writes, delays, QP failures —
# each checked for agreement, exactly-once application, no lost acknowledged write, and recovery.
#   hack/sim-long.sh [SEEDS]        default 100000
# A failure prints the seed and the command that replays it alone (MU_CHAOS_SEED=<seed>).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
seeds=${1:-100000}
build=$repo/native/build
echo "sim-long: building core_tests in $build"
cmake -S "$repo/native" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target core_tests -j2
echo "sim-long: running $seeds chaos seeds (progress: none until the end or the first failure)"
start=$SECONDS
MU_CHAOS_SEEDS=$seeds "$build/core_tests" --gtest_filter='Chaos.*'
echo "sim-long: $seeds seeds passed in $((SECONDS - start)) s"
