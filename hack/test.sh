#!/usr/bin/env bash
# `npm test`: the whole suite, in order, stopping at the first failure.
#   1. system packages        hack/install-deps.sh (skips apt when all are present)
#   2. npm packages + addon   npm ci when node_modules is missing or stale; hack/build-addon.mjs
#   3. native tests           hack/test-native.sh (ctest: release + ASan/UBSan builds)
#   4. verbs suite in qemu    hack/rxe-vm.sh (Soft-RoCE in a Debian-kernel VM; fails loudly)
#   5. TypeScript tests       npm run test:jest
#   6. chaos                  test/chaos/run.sh: 3 real replica processes in network namespaces under RESP clients,
#                             30 s of faults (kill/pause/partition/link down/fabric delay, loss, hold), porcupine
#                             linearizability check and read-back of every acknowledged write; needs root
#   7. integration            hack/test-integration.sh: the operator against a real control plane (etcd,
#                             kube-apiserver, controller-manager, scheduler built from source; the first run builds
#                             them, ~20 min on 2 cores, then they are cached in ~/.cache/mu-dev-cluster) with the
#                             kubelet stand-in, fake and real agents; needs root for the nodes' network namespaces
# The last line counts the tests of every step: ctest's, the VM suite as one, jest's and the integration tests'.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mu-test.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

say() { echo "[test] $*"; }
STEPS=()
PASSED=0
FAILED=0

summary() {
  say "summary:"
  for line in "${STEPS[@]}"; do say "  $line"; done
}

# step NAME COMMAND...: runs the command with its output shown (and kept in $WORK/NAME.log).
step() {
  local name=$1; shift
  local started=$SECONDS status=0
  say "=== $name: $*"
  set +e
  "$@" 2>&1 | tee "$WORK/$name.log"
  status=${PIPESTATUS[0]}
  set -e
  local took=$((SECONDS - started))
  if [[ $status -ne 0 ]]; then
    STEPS+=("$(printf '%-10s FAILED (exit %d) after %d s' "$name" "$status" "$took")")
    say "FAILED: step '$name' exited with $status; its output is above"
    summary
    if [[ $name == native ]] && grep -qE 'tests failed out of' "$WORK/native.log"; then
      count_ctest  # ctest's own counts say what failed
    elif [[ $name == integration ]] && [[ -s $WORK/integration.json ]]; then
      # jest's own counts (it writes the JSON also when tests fail); a failure outside the tests counts as one.
      local it_passed it_failed
      read -r it_passed it_failed < <(jest_counts "$WORK/integration.json")
      PASSED=$((PASSED + it_passed))
      FAILED=$((FAILED + (it_failed > 0 ? it_failed : 1)))
    else
      FAILED=$((FAILED + 1))
    fi
    echo "tests: $PASSED passed, $FAILED failed"
    exit 1
  fi
  STEPS+=("$(printf '%-10s ok  %4d s' "$name" "$took")")
}

npm_ready() {
  # node_modules must exist and match package-lock.json (npm writes its own copy on install).
  [[ -d node_modules && -f node_modules/.package-lock.json ]] &&
    [[ ! package-lock.json -nt node_modules/.package-lock.json ]]
}

ensure_npm() {
  if npm_ready; then
    echo "node_modules is up to date"
    node hack/build-addon.mjs
  else
    # npm ci runs the package's install script, which builds the addon.
    npm ci --foreground-scripts
  fi
}

jest_counts() {
  # jest --json --outputFile FILE → "passed failed"
  node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    console.log(r.numPassedTests, r.numFailedTests);' "$1"
}

count_ctest() {
  # "100% tests passed, 0 tests failed out of 6" → passed/failed counts.
  local line
  while read -r line; do
    local failed total
    failed=$(sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\1/' <<<"$line")
    total=$(sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\2/' <<<"$line")
    PASSED=$((PASSED + total - failed))
    FAILED=$((FAILED + failed))
  done < <(grep -E 'tests passed, [0-9]+ tests failed out of [0-9]+' "$WORK/native.log" || true)
}

step deps bash hack/install-deps.sh
step addon ensure_npm
step native bash hack/test-native.sh
count_ctest
step verbs-vm bash hack/rxe-vm.sh
PASSED=$((PASSED + 1))  # the VM's conformance run: one suite, exit status checked above
step jest npm run test:jest -- --json --outputFile="$WORK/jest.json"
read -r JEST_PASSED JEST_FAILED < <(node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  console.log(r.numPassedTests, r.numFailedTests);' "$WORK/jest.json")
PASSED=$((PASSED + JEST_PASSED))
FAILED=$((FAILED + JEST_FAILED))
# One bounded run with a fixed fault schedule (MU_CHAOS_SEED to vary it); required here, not skipped.
# A 1 MiB log: it wraps within the run, so a killed replica that restarts comes back by state
# transfer (the summary's "recoveries" counts them) as well as by catch-up.
step chaos env MU_CHAOS_REQUIRED=1 MU_CHAOS_DURATION="${MU_CHAOS_DURATION:-30}" \
  bash test/chaos/run.sh --seed "${MU_CHAOS_SEED:-1}" "--replica-args=--log-bytes 1048576"
PASSED=$((PASSED + 1))  # one run: linearizable, no lost acknowledged write, every fault recovered
# Its own dev cluster (separate directory, ports and subnet), stopped afterwards, also on failure.
step integration bash hack/test-integration.sh --json --outputFile="$WORK/integration.json"
read -r IT_PASSED IT_FAILED < <(jest_counts "$WORK/integration.json")
PASSED=$((PASSED + IT_PASSED))
FAILED=$((FAILED + IT_FAILED))

summary
say "all steps passed (ctest release + sanitizers, verbs VM suite, jest, chaos, integration)"
echo "tests: $PASSED passed, $FAILED failed"
