#!/usr/bin/env bash
# The C++ side: configures, builds and runs ctest in two build trees,
#   native/build       RelWithDebInfo (the tools, e.g. native/build/mu-bench-fabric)
#   native/build-asan  the same with -DMU_SANITIZE=ON (AddressSanitizer + UBSan)
# and stops at the first failure. MU_BUILD_JOBS sets the parallelism (default 2).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
JOBS=${MU_BUILD_JOBS:-2}
GENERATOR=()
command -v ninja >/dev/null 2>&1 && GENERATOR=(-G Ninja)

say() { echo "[test-native] $*"; }
fail() { say "FAILED: $*"; exit 1; }

# Sanitizer settings: any report is fatal; keep going through the whole run to see it.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

run_tree() {
  local name=$1 dir=$2; shift 2
  local started=$SECONDS
  # A tree configured with another generator cannot be reused: start it afresh.
  if [[ -f "$dir/CMakeCache.txt" && ${#GENERATOR[@]} -gt 0 ]] && ! grep -q "CMAKE_GENERATOR:INTERNAL=Ninja" "$dir/CMakeCache.txt"; then
    rm -rf "$dir"
  fi
  mkdir -p "$dir"
  say "$name: configure ${dir#"$ROOT"/} $*"
  cmake -S "$ROOT/native" -B "$dir" "${GENERATOR[@]}" "$@" >"$dir/configure.log" 2>&1 \
    || { cat "$dir/configure.log"; fail "$name: cmake configure (log above)"; }
  say "$name: build (-j$JOBS)"
  cmake --build "$dir" --parallel "$JOBS" || fail "$name: build"
  say "$name: ctest"
  (cd "$dir" && ctest --output-on-failure --parallel "$JOBS") || fail "$name: ctest"
  # The benchmark tool's own run (not a timing test): both fabrics, a few iterations, valid JSON.
  local fabric
  for fabric in sim soft; do
    say "$name: mu-bench-fabric --fabric $fabric (smoke run)"
    "$dir/mu-bench-fabric" --fabric "$fabric" --iters 200 --warmup 20 --perm-iters 10 \
      >"$dir/bench-$fabric.json" 2>"$dir/bench-$fabric.log" \
      || { cat "$dir/bench-$fabric.log"; fail "$name: mu-bench-fabric --fabric $fabric"; }
    node -e 'const d = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
      if (d.points.length !== 10 || !(d.write_rtt.p50_us > 0)) throw new Error("unexpected results");' \
      "$dir/bench-$fabric.json" || fail "$name: mu-bench-fabric --fabric $fabric wrote bad JSON"
  done
  # The replication and failover benchmarks' own runs on sim (deterministic, no ports; shapes only).
  say "$name: mu-bench-replication and mu-bench-failover --fabric sim (smoke runs)"
  "$dir/mu-bench-replication" --fabric sim --iters 200 --warmup 20 --rounds 2 --windows 1,8 \
    --tput-requests 200 --cost-requests 500 >"$dir/bench-replication.json" 2>"$dir/bench-replication.log" \
    || { cat "$dir/bench-replication.log"; fail "$name: mu-bench-replication"; }
  "$dir/mu-bench-failover" --fabric sim --trials 2 --quiet-seconds 0.05 \
    >"$dir/bench-failover.json" 2>"$dir/bench-failover.log" \
    || { cat "$dir/bench-failover.log"; fail "$name: mu-bench-failover"; }
  node -e 'const fs = require("fs");
    const r = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
    const f = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
    if (!(r.latency.p50_us > 0) || r.engine_cost.length !== 2 || f.trials.length !== 2 || f.failed_trials !== 0)
      throw new Error("unexpected benchmark results");' "$dir/bench-replication.json" "$dir/bench-failover.json" \
    || fail "$name: the replication/failover benchmarks wrote bad JSON"
  say "$name: passed in $((SECONDS - started)) s"
}

run_tree release "$ROOT/native/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo
run_tree sanitizers "$ROOT/native/build-asan" -DCMAKE_BUILD_TYPE=Debug -DMU_SANITIZE=ON
say "all native tests passed (release + sanitizers)"
