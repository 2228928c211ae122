#!/usr/bin/env bash
# `npm run demo`: Mu on a real Kubernetes control plane, from a clean clone. Installs what is missing (apt packages,
# npm packages, the native addon; the control plane and Helm are built from source on the first run, ~20 min on 2
# cores, then cached in ~/.cache/mu-dev-cluster), then
#   1. starts a dev cluster of its own (hack/dev-cluster.sh: etcd, kube-apiserver, controller-manager, scheduler and
#      the kubelet stand-in with three RDMA-labelled nodes, each a network namespace);
#   2. `helm install`s charts/mu-operator (CRD, RBAC, ServiceAccount, Deployment) and runs the operator with the
#      chart's ServiceAccount token — see below why as a process;
#   3. applies charts/mu-operator/samples/mucluster.yaml and times apply → Ready;
#   4. drives a redis-benchmark load through the leader Service's endpoint;
#   5. SIGKILLs the leader's agent process and times kill → the new leader in the MuCluster's status;
#   6. shows `kubectl get mu -o wide`, `kubectl mu status` and a second load through the Service's new endpoint;
#   7. tears everything down (also on Ctrl-C or failure).
# The stand-in runs pods as processes, not images: the chart's operator Deployment is pinned to a node that does
# not exist (it stays Pending) and the same operator runs as a local process with a token of the chart's
# ServiceAccount, i.e. with exactly the chart's RBAC. Service ClusterIPs do not route here (no kube-proxy): the load
# goes to the address in the leader Service's EndpointSlice — the leader pod's host-network (node) address.
# Environment: MU_DEMO_REQUESTS (default 20000 per test), MU_DEMO_CLIENTS (default 8), MU_DEMO_KEEP=1 (leave the
# cluster and the operator running at the end; the script says how to stop them).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
say() { echo "[demo] $*"; }

REQUESTS=${MU_DEMO_REQUESTS:-20000}
CLIENTS=${MU_DEMO_CLIENTS:-8}
# A cluster of its own, beside a developer's `hack/dev-cluster.sh up` (16440, 10.250.0) and the integration tests'
# (16460, 10.250.1).
export MU_DEV_CLUSTER_DIR=${MU_DEMO_CLUSTER_DIR:-$ROOT/.dev-cluster/demo}
export MU_DEV_PORT_BASE=${MU_DEMO_PORT_BASE:-16470}
export MU_DEV_SUBNET=${MU_DEMO_SUBNET:-10.250.2}
export MU_DEV_NODES=3
OPERATOR_LISTEN=127.0.0.1:$((MU_DEV_PORT_BASE + 9))
RELEASE_NS=mu-system
NAME=demo

ms_now() { date +%s%3N; }
seconds_since() { awk -v a="$1" -v b="$(ms_now)" 'BEGIN { printf "%.1f", (b - a) / 1000 }'; }

say "1/8 system packages, npm packages and the native addon"
bash hack/install-deps.sh
if [[ -d node_modules && -f node_modules/.package-lock.json && ! package-lock.json -nt node_modules/.package-lock.json ]]; then
  node hack/build-addon.mjs
else
  npm ci --foreground-scripts
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/mu-demo-cluster.XXXXXX")
OPERATOR_PID=
LOAD_PID=
CLUSTER_STARTED=
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [[ -n $LOAD_PID ]]; then kill "$LOAD_PID" 2>/dev/null || true; fi
  if [[ $status -eq 130 || $status -eq 143 ]]; then
    say "interrupted"
  elif [[ $status -ne 0 ]]; then
    say "FAILED (exit $status)"
    if [[ -f $WORK/operator.log ]]; then
      say "the operator's last log lines:"
      tail -n 20 "$WORK/operator.log" || true
    fi
  fi
  local keep=0
  [[ -n $CLUSTER_STARTED && ${MU_DEMO_KEEP:-0} == 1 && $status -eq 0 ]] && keep=1
  if [[ -n $OPERATOR_PID && $keep == 0 ]]; then
    kill -TERM "$OPERATOR_PID" 2>/dev/null || true
    wait "$OPERATOR_PID" 2>/dev/null || true
  fi
  if [[ $keep == 1 ]]; then
    cp "$WORK/operator.log" "$MU_DEV_CLUSTER_DIR/logs/demo-operator.log" 2>/dev/null || true
    say "left running (MU_DEMO_KEEP=1): eval \"\$(MU_DEV_CLUSTER_DIR=$MU_DEV_CLUSTER_DIR hack/dev-cluster.sh env)\";"
    say "the operator is pid $OPERATOR_PID (stop it first: kill $OPERATOR_PID; then MU_DEV_CLUSTER_DIR=$MU_DEV_CLUSTER_DIR"
    say "MU_DEV_PORT_BASE=$MU_DEV_PORT_BASE MU_DEV_SUBNET=$MU_DEV_SUBNET hack/dev-cluster.sh down)"
  elif [[ -n $CLUSTER_STARTED ]]; then
    say "8/8 tearing down"
    bash hack/dev-cluster.sh down || true
  fi
  rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say "2/8 dev cluster ($MU_DEV_CLUSTER_DIR) and Helm"
MU_HELM=$(bash hack/helm.sh --path)
bash hack/dev-cluster.sh down >/dev/null 2>&1 || true # whatever an interrupted run left
CLUSTER_STARTED=1
bash hack/dev-cluster.sh up
eval "$(bash hack/dev-cluster.sh env)"
export PATH=$ROOT/bin:$PATH # kubectl finds the kubectl-mu plugin there
helm() { "$MU_HELM" --kubeconfig "$KUBECONFIG" "$@"; }

say "3/8 helm install mu-operator charts/mu-operator --namespace $RELEASE_NS"
cat > "$WORK/values.yaml" <<'EOF'
# The stand-in runs processes, not images: keep the Deployment's pod off the nodes (it stays Pending).
replicaCount: 1
nodeSelector:
  mu.rdma.dev/demo: no-container-runtime-here
EOF
helm install mu-operator charts/mu-operator --namespace "$RELEASE_NS" --create-namespace -f "$WORK/values.yaml"
kubectl get crd muclusters.mu.rdma.dev
# The chart's ServiceAccount token: the operator below has exactly the chart's RBAC.
TOKEN=$(kubectl create token mu-operator --namespace "$RELEASE_NS" --duration 2h)
SERVER=$(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}')
kubectl config view --raw --minify -o jsonpath='{.clusters[0].cluster.certificate-authority-data}' | base64 -d > "$WORK/ca.crt"
OPERATOR_KUBECONFIG=$WORK/operator.kubeconfig
kubectl config --kubeconfig "$OPERATOR_KUBECONFIG" set-cluster dev --server "$SERVER" \
  --certificate-authority "$WORK/ca.crt" --embed-certs >/dev/null
kubectl config --kubeconfig "$OPERATOR_KUBECONFIG" set-credentials mu-operator --token "$TOKEN" >/dev/null
kubectl config --kubeconfig "$OPERATOR_KUBECONFIG" set-context dev --cluster dev --user mu-operator >/dev/null
kubectl config --kubeconfig "$OPERATOR_KUBECONFIG" use-context dev >/dev/null
say "    the chart's Deployment cannot run here (no container runtime); running the same operator as a process"
say "    with the chart's ServiceAccount token (log: operator.log), polling agents every second"
node --import tsx operator/src/main.ts --kubeconfig "$OPERATOR_KUBECONFIG" --lease-namespace "$RELEASE_NS" \
  --lease-name mu-operator --identity demo-operator --listen "$OPERATOR_LISTEN" --manage-crd true \
  --poll-interval-ms 1000 > "$WORK/operator.log" 2>&1 &
OPERATOR_PID=$!
for _ in $(seq 1 300); do
  curl -fsS "http://$OPERATOR_LISTEN/readyz" >/dev/null 2>&1 && break
  kill -0 "$OPERATOR_PID" 2>/dev/null || { say "the operator exited:"; cat "$WORK/operator.log"; exit 1; }
  sleep 0.2
done
curl -fsS "http://$OPERATOR_LISTEN/healthz" >/dev/null || { say "the operator is not healthy"; exit 1; }
kubectl get deployment,pods --namespace "$RELEASE_NS" -o wide

ready_status() { kubectl get mu "$NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null; }
leader_member() { kubectl get mu "$NAME" -o jsonpath='{.status.leader.member}' 2>/dev/null; }

say "4/8 kubectl apply -f charts/mu-operator/samples/mucluster.yaml (fabric soft, 3 replicas)"
APPLIED=$(ms_now)
kubectl apply -f charts/mu-operator/samples/mucluster.yaml
until [[ $(ready_status) == True && -n $(leader_member) ]]; do
  if (($(ms_now) - APPLIED > 240000)); then
    say "not Ready after 240 s:"; kubectl get mu,pods -o wide; exit 1
  fi
  sleep 0.2
done
APPLY_TO_READY=$(seconds_since "$APPLIED")
say "    apply → Ready with a leader: ${APPLY_TO_READY} s"
kubectl get mu -o wide
kubectl get pods -o wide -L mu.rdma.dev/role

# The leader Service selects the pod labelled mu.rdma.dev/role=leader; its EndpointSlice has that pod's address.
leader_endpoint() {
  kubectl get endpointslices -l kubernetes.io/service-name="$NAME-leader" \
    -o jsonpath='{range .items[*].endpoints[?(@.conditions.ready==true)]}{.addresses[0]}{"\n"}{end}' | head -n 1
}
RESP_PORT=$(kubectl get mu "$NAME" -o jsonpath='{.spec.respPort}')
wait_endpoint() { # wait_endpoint EXPECTED_IP
  local want=$1 got=
  for _ in $(seq 1 150); do
    got=$(leader_endpoint)
    [[ -n $got && ( -z $want || $got == "$want" ) ]] && { echo "$got"; return 0; }
    sleep 0.2
  done
  return 1
}
bench() { # bench HOST: SET and GET through the leader, a table of the client-observed figures
  if redis-benchmark -h "$1" -p "$RESP_PORT" -t set,get -n "$REQUESTS" -c "$CLIENTS" -r 10000 --csv \
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
    say "redis-benchmark failed:"; tail -n 5 "$WORK/bench.err" "$WORK/bench.csv"
    return 1
  fi
}

LEADER=$(leader_member)
LEADER_IP=$(kubectl get pod "$LEADER" -o jsonpath='{.status.podIP}')
ENDPOINT=$(wait_endpoint "$LEADER_IP") || { say "the $NAME-leader Service has no endpoint at $LEADER_IP"; exit 1; }
CLUSTER_IP=$(kubectl get service "$NAME-leader" -o jsonpath='{.spec.clusterIP}')
say "5/8 redis-benchmark -t set,get -n $REQUESTS -c $CLIENTS through Service $NAME-leader"
say "    ClusterIP $CLUSTER_IP does not route here (no kube-proxy); its EndpointSlice says $ENDPOINT:$RESP_PORT,"
say "    the host-network address of the leader pod $LEADER"
bench "$ENDPOINT"

LEADER=$(leader_member) # it may have changed under the load
say "6/8 SIGKILL of the leader's agent ($LEADER)"
UID_OF_LEADER=$(kubectl get pod "$LEADER" -o jsonpath='{.metadata.uid}')
POD_DIR_SUFFIX="/standin/pods/default_${LEADER}_${UID_OF_LEADER}"
PID=
for p in /proc/[0-9]*; do
  # The stand-in runs each pod's process in the pod's own directory.
  if [[ $(readlink "$p/cwd" 2>/dev/null) == *"$POD_DIR_SUFFIX" ]]; then PID=${p#/proc/}; break; fi
done
[[ -n $PID ]] || { say "cannot find the process of $LEADER"; exit 1; }
say "    pid $PID: $(tr '\0' ' ' < "/proc/$PID/cmdline" | cut -c1-100)…"
KILLED=$(ms_now)
kill -KILL -- "-$PID" 2>/dev/null || kill -KILL "$PID"
until NEW=$(leader_member) && [[ -n $NEW && $NEW != "$LEADER" ]]; do
  if (($(ms_now) - KILLED > 120000)); then say "no new leader in status after 120 s"; kubectl get mu -o wide; exit 1; fi
  sleep 0.1
done
KILL_TO_STATUS=$(seconds_since "$KILLED")
say "    kill → status shows the new leader $NEW: ${KILL_TO_STATUS} s"
kubectl get mu -o wide
kubectl mu status "$NAME"

say "7/8 the leader Service follows: a second load through its endpoint"
NOW=$(leader_member)
NOW_IP=$(kubectl get pod "$NOW" -o jsonpath='{.status.podIP}')
if ENDPOINT=$(wait_endpoint "$NOW_IP"); then
  say "    EndpointSlice of $NAME-leader: $ENDPOINT:$RESP_PORT (leader $NOW)"
  bench "$ENDPOINT" || true
else
  say "    the leader Service's endpoint has not moved to $NOW_IP ($NOW) yet: $(leader_endpoint)"
fi
# The killed member comes back as a new pod (a bootstrap member never restarts in place) and rejoins as a learner.
for _ in $(seq 1 300); do
  [[ $(kubectl get mu "$NAME" -o jsonpath='{.status.readyReplicas}') == 3 && $(ready_status) == True ]] && break
  sleep 0.2
done
kubectl get mu -o wide
kubectl get pods -o wide -L mu.rdma.dev/role
kubectl get events --field-selector involvedObject.kind=MuCluster --sort-by=.metadata.resourceVersion | tail -n 8
kubectl mu failovers "$NAME"
say "apply → Ready: ${APPLY_TO_READY} s; leader SIGKILL → new leader in status: ${KILL_TO_STATUS} s"
