#!/usr/bin/env bash
# A real Kubernetes control plane on this machine, for the operator's integration tests and the demo.
#
#   hack/dev-cluster.sh up      build (first run only) and start etcd, kube-apiserver, kube-controller-manager,
#                               kube-scheduler and the kubelet stand-in; write the kubeconfig. Idempotent.
#   hack/dev-cluster.sh down    stop everything `up` started and delete the cluster's state.
#   hack/dev-cluster.sh env     print `export KUBECONFIG=... PATH=...` (eval "$(hack/dev-cluster.sh env)").
#   hack/dev-cluster.sh build   only build (or find cached) the binaries and print where they are.
#   hack/dev-cluster.sh status  say what is running.
#
# Binaries are built from the Go modules k8s.io/kubernetes and go.etcd.io/etcd/server/v3 through the wrapper module
# in hack/dev-cluster/ (go.mod pins every k8s.io staging module), one at a time at low parallelism, and cached
# outside the repository in ${XDG_CACHE_HOME:-~/.cache}/mu-dev-cluster/<versions>-<hash of go.mod/go.sum>/.
# Everything listens on 127.0.0.1. Nodes are not kubelets: test/kubelet-standin/ registers MU_DEV_NODES Node
# objects (RDMA-capable labels and resources) and runs the pods bound to them as local processes, each node in its
# own network namespace when run as root.
#
# Settings (environment):
#   MU_DEV_CLUSTER_DIR  state directory (default <repo>/.dev-cluster): kubeconfig, pki/, logs/, etcd data
#   MU_DEV_PORT_BASE    ports base+1 etcd, +2 etcd peer, +3 kube-apiserver, +4 controller-manager, +5 scheduler
#                       (default 16440: the API server is https://127.0.0.1:16443)
#   MU_DEV_NODES        number of Nodes (default 3)
#   MU_DEV_SUBNET       first three octets of the nodes' subnet in netns mode (default 10.250.0)
#   MU_DEV_NETNS        auto (default: netns when root), 1 (require), 0 (nodes share the host network, 127.0.1.x)
#   MU_DEV_STANDIN      1 (default) to run the kubelet stand-in, 0 for a control plane without nodes
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
MODULE_DIR="$ROOT/hack/dev-cluster"
KUBE_VERSION=v1.34.4
ETCD_VERSION=v3.6.4
DIR=${MU_DEV_CLUSTER_DIR:-$ROOT/.dev-cluster}
PORT_BASE=${MU_DEV_PORT_BASE:-16440}
NODES=${MU_DEV_NODES:-3}
SUBNET=${MU_DEV_SUBNET:-10.250.0}
NETNS_MODE=${MU_DEV_NETNS:-auto}
STANDIN=${MU_DEV_STANDIN:-1}
ETCD_PORT=$((PORT_BASE + 1))
ETCD_PEER_PORT=$((PORT_BASE + 2))
APISERVER_PORT=$((PORT_BASE + 3))
CM_PORT=$((PORT_BASE + 4))
SCHEDULER_PORT=$((PORT_BASE + 5))
SERVICE_CIDR=10.96.0.0/16
BINARIES=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl)
# Started in this order, stopped in reverse.
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kubelet-standin)

say() { echo "[dev-cluster] $*" >&2; }
die() {
  say "ERROR: $*"
  exit 1
}

# Go's default install location, for shells that never sourced a profile (CI, cron).
if ! command -v go >/dev/null && [[ -x /usr/local/go/bin/go ]]; then PATH=/usr/local/go/bin:$PATH; fi
for tool in openssl curl flock setsid base64 sha256sum; do
  command -v "$tool" >/dev/null || die "$tool is needed (Debian: openssl, curl, util-linux, coreutils)"
done

# ---------------------------------------------------------------------------------------------------------------
# Binaries

cache_dir() {
  local hash
  hash=$(cat "$MODULE_DIR/go.mod" "$MODULE_DIR/go.sum" <(echo "$KUBE_VERSION $ETCD_VERSION $(go env GOVERSION)") |
    sha256sum | cut -c1-12)
  echo "${XDG_CACHE_HOME:-$HOME/.cache}/mu-dev-cluster/k8s-$KUBE_VERSION-etcd-$ETCD_VERSION-$hash"
}

package_of() {
  case $1 in
    etcd) echo go.etcd.io/etcd/server/v3 ;;
    *) echo "k8s.io/kubernetes/cmd/$1" ;;
  esac
}

ldflags_of() {
  local minor=${KUBE_VERSION#v1.}
  minor=${minor%%.*}
  case $1 in
    etcd) echo "-s -w" ;;
    *)
      # What `make` stamps into a release build; the API server reports it as its version.
      echo "-s -w -X k8s.io/component-base/version.gitVersion=$KUBE_VERSION" \
        "-X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor" \
        "-X k8s.io/component-base/version.gitTreeState=clean" \
        "-X k8s.io/client-go/pkg/version.gitVersion=$KUBE_VERSION"
      ;;
  esac
}

# Builds one binary into the cache. Deliberately gentle: one package at a time (-p=1), two OS threads, nice'd, so
# a first build (tens of minutes) does not starve whatever else runs on a small machine.
build_one() {
  local name=$1 index=$2 total=$3 cache=$4
  local out="$cache/$name" started=$SECONDS
  say "building $name ($index/$total) from $(package_of "$name") — first time only, several minutes each"
  (
    cd "$MODULE_DIR"
    GOFLAGS="-p=1 -trimpath -buildvcs=false -mod=readonly" GOMAXPROCS=2 CGO_ENABLED=0 GOWORK=off \
      nice -n 10 go build -ldflags "$(ldflags_of "$name")" -o "$out.tmp" "$(package_of "$name")"
  ) &
  local pid=$! last=$SECONDS
  while kill -0 "$pid" 2>/dev/null; do
    sleep 2
    if kill -0 "$pid" 2>/dev/null && ((SECONDS - last >= 30)); then
      last=$SECONDS
      say "  ... $name: $((SECONDS - started)) s"
    fi
  done
  wait "$pid" || die "go build of $name failed (output above)"
  mv "$out.tmp" "$out"
  local took=$((SECONDS - started)) size
  size=$(du -m "$out" | cut -f1)
  say "built $name in $took s ($size MiB)"
  echo "$(date -u +%FT%TZ) $name ${took}s ${size}MiB" >>"$cache/build-times.txt"
}

ensure_binaries() {
  command -v go >/dev/null || die "Go is needed to build the control plane (https://go.dev/dl); not found on PATH"
  local cache missing=()
  cache=$(cache_dir)
  mkdir -p "$cache"
  for b in "${BINARIES[@]}"; do [[ -x "$cache/$b" ]] || missing+=("$b"); done
  if [[ ${#missing[@]} -gt 0 ]]; then
    # One build at a time, machine-wide (hack/helm.sh takes the same lock): a second `up` waits for the first.
    exec 9>"$(dirname "$cache")/.build.lock"
    if ! flock -n 9; then
      say "another process is building into $cache; waiting for it"
      flock 9
    fi
    missing=()
    for b in "${BINARIES[@]}"; do [[ -x "$cache/$b" ]] || missing+=("$b"); done
    local i=0
    for b in "${missing[@]}"; do
      i=$((i + 1))
      build_one "$b" "$i" "${#missing[@]}" "$cache"
    done
    flock -u 9
  fi
  BIN=$cache
}

# ---------------------------------------------------------------------------------------------------------------
# Certificates and kubeconfigs

PKI=$DIR/pki

gen_cert() { # name subject [extfile-lines]
  local name=$1 subject=$2 ext=${3:-}
  [[ -f "$PKI/$name.crt" ]] && return
  openssl genrsa -out "$PKI/$name.key" 2048 2>/dev/null
  openssl req -new -key "$PKI/$name.key" -subj "$subject" -out "$PKI/$name.csr" 2>/dev/null
  printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" "$ext" \
    >"$PKI/$name.ext"
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial -days 365 \
    -sha256 -extfile "$PKI/$name.ext" -out "$PKI/$name.crt" 2>/dev/null
  rm -f "$PKI/$name.csr" "$PKI/$name.ext"
}

write_kubeconfig() { # file user-cert-name
  local file=$1 cert=$2
  cat >"$file" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: mu-dev
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    certificate-authority-data: $(base64 -w0 <"$PKI/ca.crt")
users:
- name: $cert
  user:
    client-certificate-data: $(base64 -w0 <"$PKI/$cert.crt")
    client-key-data: $(base64 -w0 <"$PKI/$cert.key")
contexts:
- name: mu-dev
  context:
    cluster: mu-dev
    user: $cert
current-context: mu-dev
EOF
  chmod 600 "$file"
}

ensure_pki() {
  mkdir -p "$PKI"
  chmod 700 "$PKI"
  if [[ ! -f "$PKI/ca.crt" ]]; then
    say "generating certificates in $PKI"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$PKI/ca.key" -out "$PKI/ca.crt" -days 365 -sha256 \
      -subj "/CN=mu-dev-cluster-ca" -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" 2>/dev/null
  fi
  gen_cert apiserver "/CN=kube-apiserver" \
    "extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  gen_cert admin "/O=system:masters/CN=mu-dev-admin" "extendedKeyUsage=clientAuth"
  gen_cert controller-manager "/CN=system:kube-controller-manager" "extendedKeyUsage=clientAuth"
  gen_cert scheduler "/CN=system:kube-scheduler" "extendedKeyUsage=clientAuth"
  # The stand-in plays every node's kubelet at once, so it cannot be one system:node:<name>; it gets admin rights.
  gen_cert kubelet-standin "/O=system:masters/CN=mu-kubelet-standin" "extendedKeyUsage=clientAuth"
  if [[ ! -f "$PKI/sa.key" ]]; then
    openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null
    openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
  fi
  write_kubeconfig "$DIR/kubeconfig" admin
  write_kubeconfig "$PKI/controller-manager.kubeconfig" controller-manager
  write_kubeconfig "$PKI/scheduler.kubeconfig" scheduler
  write_kubeconfig "$PKI/kubelet-standin.kubeconfig" kubelet-standin
}

# ---------------------------------------------------------------------------------------------------------------
# Processes

pid_of() { cat "$DIR/run/$1.pid" 2>/dev/null || true; }
running() {
  local pid
  pid=$(pid_of "$1")
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null
}

start() { # name command...
  local name=$1
  shift
  if running "$name"; then
    say "$name is already running (pid $(pid_of "$name"))"
    return
  fi
  mkdir -p "$DIR/run" "$DIR/logs"
  # setsid: its own process group, so `down` can stop it with everything it spawned.
  setsid "$@" >>"$DIR/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$DIR/run/$name.pid"
  say "started $name (pid $!, log $DIR/logs/$name.log)"
}

stop() {
  local name=$1 pid
  pid=$(pid_of "$name")
  if [[ -z "$pid" ]]; then return; fi
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    local waited=0
    while kill -0 "$pid" 2>/dev/null && ((waited < 150)); do
      sleep 0.1
      waited=$((waited + 1))
    done
    if kill -0 "$pid" 2>/dev/null; then
      say "$name did not stop within 15 s; killing it"
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
    say "stopped $name"
  fi
  rm -f "$DIR/run/$name.pid"
}

# wait_for NAME SECONDS COMMAND...: polls COMMAND until it succeeds, printing progress, failing with the log tail.
wait_for() {
  local name=$1 limit=$2 started=$SECONDS
  shift 2
  until "$@" >/dev/null 2>&1; do
    if ! running "$name"; then
      tail -n 30 "$DIR/logs/$name.log" >&2 || true
      die "$name exited; the end of its log is above ($DIR/logs/$name.log)"
    fi
    if ((SECONDS - started >= limit)); then
      tail -n 30 "$DIR/logs/$name.log" >&2 || true
      die "$name not healthy after $limit s; the end of its log is above"
    fi
    if (((SECONDS - started) % 5 == 4)); then say "  waiting for $name ($((SECONDS - started)) s)"; fi
    sleep 1
  done
  say "$name is healthy ($((SECONDS - started)) s)"
}

api_ready() {
  curl -fsS --max-time 2 --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" \
    "https://127.0.0.1:$APISERVER_PORT/readyz" | grep -q '^ok$'
}
etcd_healthy() { curl -fsS --max-time 2 "http://127.0.0.1:$ETCD_PORT/health" | grep -q '"health":"true"'; }
component_healthy() { curl -fsSk --max-time 2 "https://127.0.0.1:$1/healthz" | grep -q '^ok$'; }
standin_ready() { [[ -f "$DIR/run/kubelet-standin.ready" ]]; }

use_netns() {
  case $NETNS_MODE in
    0) return 1 ;;
    1) return 0 ;;
    auto) [[ $(id -u) -eq 0 ]] && command -v ip >/dev/null ;;
    *) die "MU_DEV_NETNS must be auto, 0 or 1, not '$NETNS_MODE'" ;;
  esac
}

cmd_up() {
  local started=$SECONDS
  say "state: $DIR; API server https://127.0.0.1:$APISERVER_PORT; $NODES node(s)"
  ensure_binaries
  mkdir -p "$DIR"
  ensure_pki

  start etcd "$BIN/etcd" --name dev --data-dir "$DIR/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "dev=http://127.0.0.1:$ETCD_PEER_PORT" \
    --unsafe-no-fsync --log-level warn
  wait_for etcd 60 etcd_healthy

  start kube-apiserver "$BIN/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$APISERVER_PORT" \
    --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
    --client-ca-file "$PKI/ca.crt" \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
    --service-cluster-ip-range "$SERVICE_CIDR" \
    --authorization-mode Node,RBAC --allow-privileged=true \
    --endpoint-reconciler-type none --profiling=false --cert-dir "$PKI/apiserver-generated"
  wait_for kube-apiserver 180 api_ready

  start kube-controller-manager "$BIN/kube-controller-manager" \
    --kubeconfig "$PKI/controller-manager.kubeconfig" \
    --authentication-kubeconfig "$PKI/controller-manager.kubeconfig" \
    --authorization-kubeconfig "$PKI/controller-manager.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "$CM_PORT" --cert-dir "$PKI/controller-manager-generated" \
    --leader-elect=false --service-account-private-key-file "$PKI/sa.key" --root-ca-file "$PKI/ca.crt" \
    --use-service-account-credentials=true --cluster-name mu-dev --profiling=false
  start kube-scheduler "$BIN/kube-scheduler" \
    --kubeconfig "$PKI/scheduler.kubeconfig" \
    --authentication-kubeconfig "$PKI/scheduler.kubeconfig" \
    --authorization-kubeconfig "$PKI/scheduler.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "$SCHEDULER_PORT" --cert-dir "$PKI/scheduler-generated" \
    --leader-elect=false --profiling=false
  wait_for kube-controller-manager 90 component_healthy "$CM_PORT"
  wait_for kube-scheduler 90 component_healthy "$SCHEDULER_PORT"

  if [[ $STANDIN == 1 ]]; then
    local netns_flag=--no-netns
    if use_netns; then netns_flag=--netns; fi
    [[ -d "$ROOT/node_modules/tsx" ]] || die "node_modules is missing: run npm ci first"
    start kubelet-standin node --import tsx "$ROOT/test/kubelet-standin/main.ts" \
      --kubeconfig "$PKI/kubelet-standin.kubeconfig" --nodes "$NODES" --state-dir "$DIR/standin" \
      --subnet "$SUBNET" --ready-file "$DIR/run/kubelet-standin.ready" "$netns_flag"
    wait_for kubelet-standin 60 standin_ready
  fi
  say "up in $((SECONDS - started)) s. Use it with:"
  say "  export KUBECONFIG=$DIR/kubeconfig PATH=$BIN:\$PATH"
}

cmd_down() {
  local i
  for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do stop "${COMPONENTS[$i]}"; done
  if [[ -d "$DIR" ]]; then
    # Logs stay for post-mortems (overwritten by the next run); everything else goes.
    rm -rf "$DIR/etcd" "$DIR/pki" "$DIR/run" "$DIR/standin" "$DIR/kubeconfig"
    say "removed the cluster state in $DIR (logs kept in $DIR/logs)"
  fi
}

cmd_env() {
  local cache
  cache=$(cache_dir)
  echo "export KUBECONFIG=$DIR/kubeconfig"
  echo "export PATH=$cache:\$PATH"
}

cmd_status() {
  local c
  for c in "${COMPONENTS[@]}"; do
    if running "$c"; then echo "$c: running (pid $(pid_of "$c"))"; else echo "$c: stopped"; fi
  done
}

case ${1:-} in
  up) cmd_up ;;
  down) cmd_down ;;
  env) cmd_env ;;
  build)
    ensure_binaries
    echo "$BIN"
    ;;
  status) cmd_status ;;
  *)
    echo "usage: $0 up|down|env|build|status" >&2
    exit 2
    ;;
esac
