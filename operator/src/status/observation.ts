// Everything status computation looks at, gathered by the reconciler: the cluster as read, its pods (informer
// cache), each agent's /status poll result, and what only the operator can tell (e.g. not enough RDMA nodes).
import type { V1Pod } from '@kubernetes/client-node';
import type { MuCluster } from '../api/types.js';
import type { AgentProbe } from './agent-status.js';

/** Something the operator detected that the agents cannot report, shown in Degraded and as a Warning event. */
export interface OperatorProblem {
  /** CamelCase, e.g. NodeNotRDMACapable, MemlockTooLow, ReconcileError. */
  reason: string;
  message: string;
}

export interface ClusterObservation {
  cluster: MuCluster;
  /** The cluster's replica pods, whatever their state. */
  pods: readonly V1Pod[];
  /** By pod name; a pod without an entry was not polled (e.g. not scheduled yet). */
  probes: ReadonlyMap<string, AgentProbe>;
  /** Spec hash of a pod built from the current spec; pods annotated otherwise are outdated. */
  desiredPodSpecHash: string;
  problems: readonly OperatorProblem[];
  now: Date;
}
