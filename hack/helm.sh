#!/usr/bin/env bash
# Runs Helm, built from its Go module (hack/helm/go.mod) on first use and cached in
# ${XDG_CACHE_HOME:-~/.cache}/mu-dev-cluster/helm-<version>-<hash>/helm. Same gentle build as hack/dev-cluster.sh
# (one package at a time, nice'd) and the same machine-wide build lock.
#   hack/helm.sh lint charts/mu-operator
#   hack/helm.sh template mu charts/mu-operator --namespace mu-system
#   hack/helm.sh --path        print the binary's path (building it if needed)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MODULE_DIR="$ROOT/hack/helm"
HELM_VERSION=v3.22.0
# What Helm's own Makefile stamps in: the Kubernetes version `helm template` and `helm lint` assume without a
# cluster (unset, it is 1.20). 1.34 matches hack/dev-cluster.sh.
LDFLAGS="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION \
-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=34 \
-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=34"
say() { echo "[helm.sh] $*" >&2; }

if ! command -v go >/dev/null && [[ -x /usr/local/go/bin/go ]]; then PATH=/usr/local/go/bin:$PATH; fi
command -v go >/dev/null || {
  say "Go is needed to build Helm; not found on PATH"
  exit 1
}
hash=$(cat "$MODULE_DIR/go.mod" "$MODULE_DIR/go.sum" <(go env GOVERSION; echo "$LDFLAGS") | sha256sum | cut -c1-12)
base="${XDG_CACHE_HOME:-$HOME/.cache}/mu-dev-cluster"
cache="$base/helm-$HELM_VERSION-$hash"
helm="$cache/helm"
if [[ ! -x "$helm" ]]; then
  mkdir -p "$cache"
  exec 9>"$base/.build.lock"
  flock -n 9 || {
    say "another build holds $base/.build.lock; waiting"
    flock 9
  }
  if [[ ! -x "$helm" ]]; then
    say "building helm $HELM_VERSION from helm.sh/helm/v3 (first time only, a few minutes)"
    started=$SECONDS
    (
      cd "$MODULE_DIR"
      GOFLAGS="-p=1 -trimpath -buildvcs=false -mod=readonly" GOMAXPROCS=2 CGO_ENABLED=0 GOWORK=off nice -n 10 \
        go build -ldflags "$LDFLAGS" -o "$helm.tmp" helm.sh/helm/v3/cmd/helm
    )
    mv "$helm.tmp" "$helm"
    say "built helm in $((SECONDS - started)) s ($(du -m "$helm" | cut -f1) MiB)"
  fi
  flock -u 9
fi
if [[ ${1:-} == --path ]]; then
  echo "$helm"
  exit 0
fi
exec "$helm" "$@"
