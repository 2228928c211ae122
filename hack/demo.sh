#!/usr/bin/env bash
# `npm run demo:local`: Mu without Kubernetes (`npm run demo` is the Kubernetes story, hack/demo-cluster.sh).
# From a clean clone, installs what is missing (apt packages, npm packages, the native addon), then
#   1. the fabric benchmark on the soft fabric (two soft NICs over TCP on 127.0.0.1), writing
#      out/fabric-bench.json and out/fabric-bench.png;
#   2. `mu local`: three node agents on 127.0.0.1 (one replica each), a short redis-benchmark load
#      (SET and GET) against the leader, its latency figures, then everything stopped.
# Extra arguments go to `mu bench fabric`, e.g. `npm run demo:local -- --iters 2000`.
# Environment: MU_DEMO_REQUESTS (default 20000 per test), MU_DEMO_CLIENTS (default 8),
# MU_DEMO_BASE_PORT (default 7000; keep below 32768).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
say() { echo "[demo] $*"; }

REQUESTS=${MU_DEMO_REQUESTS:-20000}
CLIENTS=${MU_DEMO_CLIENTS:-8}
BASE_PORT=${MU_DEMO_BASE_PORT:-7000}

say "1/5 system packages"
bash hack/install-deps.sh

say "2/5 npm packages and the native addon"
if [[ -d node_modules && -f node_modules/.package-lock.json && ! package-lock.json -nt node_modules/.package-lock.json ]]; then
  node hack/build-addon.mjs
else
  npm ci --foreground-scripts
fi

say "3/5 mu bench fabric --fabric soft --json out/fabric-bench.json $*"
mkdir -p out
npx --no-install tsx node-agent/src/cli/mu.ts bench fabric --fabric soft --iters 2000 --json out/fabric-bench.json "$@"

say "4/5 mu local --replicas 3 --base-port $BASE_PORT (three node agents on 127.0.0.1)"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mu-demo.XXXXXX")
LOCAL_PID=
cleanup() {
  if [[ -n "$LOCAL_PID" ]] && kill -0 "$LOCAL_PID" 2>/dev/null; then
    kill -INT "$LOCAL_PID" 2>/dev/null || true
    wait "$LOCAL_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
# node with tsx's loader directly (no wrapper process): SIGINT reaches `mu local` itself, which stops its agents.
node --import tsx node-agent/src/cli/mu.ts local --replicas 3 --base-port "$BASE_PORT" \
  --ready-file "$WORK/ready.json" --interval-ms 2000 --probes 10 > "$WORK/local.out" 2>&1 &
LOCAL_PID=$!
for _ in $(seq 1 600); do
  [[ -f "$WORK/ready.json" ]] && break
  if ! kill -0 "$LOCAL_PID" 2>/dev/null; then
    say "FAILED: mu local exited before the cluster was ready:"; cat "$WORK/local.out"; exit 1
  fi
  sleep 0.2
done
[[ -f "$WORK/ready.json" ]] || { say "FAILED: the cluster was not ready in 120 s:"; cat "$WORK/local.out"; exit 1; }
sed -n '1,/^leader:/p' "$WORK/local.out"
LEADER=$(node -p "require('$WORK/ready.json').leaderResp")
LEADER_HOST=${LEADER%:*}
LEADER_PORT=${LEADER##*:}

say "5/5 redis-benchmark -t set,get -n $REQUESTS -c $CLIENTS against the leader ($LEADER)"
if redis-benchmark -h "$LEADER_HOST" -p "$LEADER_PORT" -t set,get -n "$REQUESTS" -c "$CLIENTS" -r 10000 --csv \
    > "$WORK/bench.csv" 2> "$WORK/bench.err"; then
  node -e '
    const rows = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map((l) => JSON.parse(`[${l}]`));
    const [head, ...data] = rows;
    const col = (name) => head.indexOf(name);
    console.log("  test   requests/s   p50 ms   p95 ms   p99 ms   max ms   (client-observed, through the Mu leader)");
    for (const r of data) {
      const f = (name) => String(r[col(name)]).padStart(7);
      console.log(`  ${r[0].padEnd(5)} ${String(r[col("rps")]).padStart(12)}  ${f("p50_latency_ms")}  ${f("p95_latency_ms")}  ${f("p99_latency_ms")}  ${f("max_latency_ms")}`);
    }' "$WORK/bench.csv"
else
  say "redis-benchmark failed (a leader change under load answers in-flight writes with an error):"
  cat "$WORK/bench.err" "$WORK/bench.csv" | tail -5
fi
sleep 2
say "live status while the load ran (mu local):"
sed -n '/^time/,$p' "$WORK/local.out"

kill -INT "$LOCAL_PID"
wait "$LOCAL_PID" || true
LOCAL_PID=
tail -1 "$WORK/local.out"
say "fabric results: $ROOT/out/fabric-bench.json (plot: out/fabric-bench.png)"
