#!/usr/bin/env bash
# `npm run demo`: from a clean clone, installs what is missing (apt packages, npm packages, the
# native addon) and runs the fabric benchmark on the soft fabric (two soft NICs over TCP on
# 127.0.0.1), writing out/fabric-bench.json and out/fabric-bench.png.
# Extra arguments go to `mu bench fabric`, e.g. `npm run demo -- --iters 2000`.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
say() { echo "[demo] $*"; }

say "1/3 system packages"
bash hack/install-deps.sh

say "2/3 npm packages and the native addon"
if [[ -d node_modules && -f node_modules/.package-lock.json && ! package-lock.json -nt node_modules/.package-lock.json ]]; then
  node hack/build-addon.mjs
else
  npm ci --foreground-scripts
fi

say "3/3 mu bench fabric --fabric soft --json out/fabric-bench.json $*"
mkdir -p out
npx --no-install tsx node-agent/src/cli/mu.ts bench fabric --fabric soft --json out/fabric-bench.json "$@"

say "results: $ROOT/out/fabric-bench.json"
say "plot:    $ROOT/out/fabric-bench.png"
