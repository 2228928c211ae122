// The operator's own metrics (prom-client), in a registry of its own so that two operators in one process (tests)
// do not collide. Cluster gauges repeat what status shows, for alerting; per-failover distributions come from the
// agents' own /metrics.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { MuCluster } from '../api/types.js';

export interface OperatorMetrics {
  registry: Registry;
  reconciles: Counter<'result'>;
  reconcileSeconds: Histogram<'step'>;
  agentPollErrors: Counter<'namespace' | 'cluster'>;
  leader: Gauge;
  queueDepth: Gauge;
  observeCluster(cluster: MuCluster): void;
  forgetCluster(namespace: string, name: string): void;
}

export function operatorMetrics(defaultMetrics = true): OperatorMetrics {
  const registry = new Registry();
  if (defaultMetrics) collectDefaultMetrics({ register: registry, prefix: 'mu_operator_' });
  const clusterLabels = ['namespace', 'cluster'] as const;
  const readyReplicas = new Gauge({
    name: 'mu_cluster_ready_replicas',
    help: 'Ready replica pods of a MuCluster',
    labelNames: clusterLabels,
    registers: [registry],
  });
  const desiredReplicas = new Gauge({
    name: 'mu_cluster_replicas_desired',
    help: 'spec.replicas of a MuCluster',
    labelNames: clusterLabels,
    registers: [registry],
  });
  const failovers = new Gauge({
    name: 'mu_cluster_failovers',
    help: 'status.failoverCount: failovers observed since the cluster was created',
    labelNames: clusterLabels,
    registers: [registry],
  });
  const lastFailover = new Gauge({
    name: 'mu_cluster_last_failover_microseconds',
    help: 'Duration of the last failover (first missed heartbeat to first commit)',
    labelNames: clusterLabels,
    registers: [registry],
  });
  const available = new Gauge({
    name: 'mu_cluster_available',
    help: '1 when the cluster has a leader and a voting majority (condition Available)',
    labelNames: clusterLabels,
    registers: [registry],
  });
  return {
    registry,
    reconciles: new Counter({
      name: 'mu_operator_reconciles_total',
      help: 'Reconciles by result (success, error)',
      labelNames: ['result'],
      registers: [registry],
    }),
    reconcileSeconds: new Histogram({
      name: 'mu_operator_reconcile_step_seconds',
      help: 'Time spent in each reconcile step',
      labelNames: ['step'],
      buckets: [0.001, 0.005, 0.02, 0.1, 0.5, 2, 10],
      registers: [registry],
    }),
    agentPollErrors: new Counter({
      name: 'mu_operator_agent_poll_errors_total',
      help: 'Agent /status polls that failed',
      labelNames: clusterLabels,
      registers: [registry],
    }),
    leader: new Gauge({
      name: 'mu_operator_leader',
      help: '1 while this operator instance holds the leader Lease',
      registers: [registry],
    }),
    queueDepth: new Gauge({ name: 'mu_operator_workqueue_depth', help: 'Keys ready in the work queue', registers: [registry] }),
    observeCluster(cluster) {
      const labels = { namespace: cluster.metadata.namespace, cluster: cluster.metadata.name };
      const s = cluster.status;
      desiredReplicas.set(labels, cluster.spec.replicas);
      readyReplicas.set(labels, s?.readyReplicas ?? 0);
      failovers.set(labels, s?.failoverCount ?? 0);
      if (s?.lastFailover?.totalMicros !== undefined) lastFailover.set(labels, s.lastFailover.totalMicros);
      const avail = s?.conditions?.find((c) => c.type === 'Available')?.status === 'True';
      available.set(labels, avail ? 1 : 0);
    },
    forgetCluster(namespace, name) {
      const labels = { namespace, cluster: name };
      for (const g of [readyReplicas, desiredReplicas, failovers, lastFailover, available]) g.remove(labels);
    },
  };
}
