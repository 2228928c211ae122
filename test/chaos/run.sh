#!/usr/bin/env bash
# Chaos on real processes (issue 4, Verification part 2): builds the replica launcher
# (native/build-chaos/mu-kv-replica) and the porcupine checker, then runs one bounded chaos run
# (test/chaos/driver.ts): 3 replicas in their own network namespaces, concurrent RESP clients,
# SIGKILL/restart, SIGSTOP/SIGCONT, partitions, link down, soft-fabric delay/loss/hold.
# Fails on a linearizability violation, a lost acknowledged write, or a cluster that does not
# recover from a healed fault; prints where the history, the visualization and the logs are.
#
#   test/chaos/run.sh [driver flags...]      e.g. --duration 60 --seed 42 --faults kill-leader
#   MU_CHAOS_DURATION=60   seconds of faults under load (default 60; about 1.5-2.5 min in all)
#   MU_CHAOS_REPLICA=launcher|agent   replica processes: the native launcher (default; has the
#                          soft-fabric delay/loss/hold hooks) or the node agent (no fabric hooks)
#   MU_CHAOS_REQUIRED=1    fail instead of skipping when not root or nftables is missing
#
# Needs root, iproute2 and nftables (Debian: apt-get install nftables), cmake/ninja, Go.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
say() { echo "[chaos] $*"; }
skip() {
  if [[ ${MU_CHAOS_REQUIRED:-0} == 1 ]]; then
    say "FAILED: $*"
    exit 2
  fi
  say "SKIPPED: $*"
  exit 0
}

[[ $(id -u) == 0 ]] || skip "needs root (network namespaces, nftables)"
command -v ip >/dev/null || skip "iproute2 (ip) is not installed"
command -v nft >/dev/null || skip "nftables (nft) is not installed: apt-get install nftables"
command -v go >/dev/null || skip "Go is not installed (the porcupine checker is a Go program)"

started=$SECONDS
replica=${MU_CHAOS_REPLICA:-launcher}
prev=""
for arg in "$@"; do
  if [[ $prev == --replica ]]; then replica=$arg; fi
  prev=$arg
done
if [[ $replica == agent ]]; then
  say "building the engine addon for the node agent"
  node hack/build-addon.mjs | tail -n 1
else
  BUILD=native/build-chaos
  if [[ ! -f $BUILD/build.ninja ]]; then
    say "configuring $BUILD"
    cmake -S native -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMU_BUILD_TESTS=OFF >/dev/null
  fi
  say "building mu-kv-replica"
  nice cmake --build "$BUILD" --target mu-kv-replica -- -j2 | tail -n 1
fi
say "building the linearizability checker"
mkdir -p out/chaos/bin
(cd test/chaos/linearizability && go build -o "$ROOT/out/chaos/bin/linearizability" .)
say "built in $((SECONDS - started)) s"

duration=${MU_CHAOS_DURATION:-60}
set +e
npx --no-install tsx test/chaos/driver.ts --duration "$duration" --replica "$replica" "$@"
status=$?
set -e
say "finished in $((SECONDS - started)) s with exit $status"
exit $status
