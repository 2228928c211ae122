#!/usr/bin/env bash
# Operator integration tests against a real control plane: starts a dev cluster of its own (separate state
# directory, ports and node subnet, so a developer's `hack/dev-cluster.sh up` cluster is left alone), runs the jest
# integration suite (test/integration/*.itest.ts), and stops the cluster afterwards, also on failure.
# The first run builds the control plane and Helm from source (roughly 20 minutes on 2 cores; cached afterwards).
#   hack/test-integration.sh [jest args...]
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
export MU_DEV_CLUSTER_DIR=${MU_IT_CLUSTER_DIR:-$ROOT/.dev-cluster/integration}
export MU_DEV_PORT_BASE=${MU_IT_PORT_BASE:-16460}
export MU_DEV_SUBNET=${MU_IT_SUBNET:-10.250.1}
export MU_DEV_NODES=3
say() { echo "[test-integration] $*"; }

finish() {
  local status=$?
  if [[ $status -ne 0 && -d "$MU_DEV_CLUSTER_DIR/logs" ]]; then
    say "failed (exit $status); the last lines of each component's log:"
    for f in "$MU_DEV_CLUSTER_DIR"/logs/*.log; do
      echo "----- $f"
      tail -n 15 "$f" || true
    done
  fi
  bash hack/dev-cluster.sh down || true
  exit $status
}
trap finish EXIT

started=$SECONDS
MU_HELM=$(bash hack/helm.sh --path)
export MU_HELM
bash hack/dev-cluster.sh down >/dev/null 2>&1 || true # a clean slate, whatever an interrupted run left
bash hack/dev-cluster.sh up
say "control plane up after $((SECONDS - started)) s"
export KUBECONFIG=$MU_DEV_CLUSTER_DIR/kubeconfig
NODE_OPTIONS=--experimental-vm-modules npx --no-install jest -c jest.integration.config.js "$@"
say "done in $((SECONDS - started)) s"
