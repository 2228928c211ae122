// What one reconcile of one MuCluster works with: the cluster as read, the objects it owns (from the informer
// caches), the agents' reports, and the means to act (API client, events). Steps read and extend it in order.
import type {
  V1ConfigMap,
  V1Node,
  V1Pod,
  V1PodDisruptionBudget,
  V1Secret,
  V1Service,
} from '@kubernetes/client-node';
import type { MuCluster } from '../api/types.js';
import type { AgentStatusClient } from '../agents/status-client.js';
import type { BuilderOptions } from '../builders/options.js';
import type { EventRecorder, RecordedEvent } from '../kube/event-recorder.js';
import type { KubeClient } from '../kube/rest.js';
import type { AgentProbe } from '../status/agent-status.js';
import type { OperatorProblem } from '../status/observation.js';

export interface OwnedObjects {
  pods: V1Pod[];
  services: V1Service[];
  configMaps: V1ConfigMap[];
  secrets: V1Secret[];
  podDisruptionBudgets: V1PodDisruptionBudget[];
}

export interface ReconcilerSettings {
  builder: BuilderOptions;
  /**
   * Whether the engine can add or remove members of a running cluster. Until it can, a changed spec.replicas
   * after bootstrap is refused with a condition rather than acted on (a new member set would be a new cluster).
   */
  membershipChanges: boolean;
  /** How often a cluster is reconciled (and its agents polled) without any event. */
  pollIntervalMs: number;
  fieldManager: string;
}

export interface ReconcileDeps {
  client: KubeClient;
  agents: AgentStatusClient;
  events: EventRecorder;
  settings: ReconcilerSettings;
  /** Nodes (cluster-scoped informer), for placement checks. */
  nodes(): readonly V1Node[];
  now(): Date;
  log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
}

export interface ReconcileContext {
  deps: ReconcileDeps;
  /** As read from the API server (spec defaulted). */
  cluster: MuCluster;
  /**
   * The cluster the builders and status work from: `cluster`, except spec.replicas is the membership actually
   * in force when a change of it was refused (see ReconcilerSettings.membershipChanges).
   */
  effective: MuCluster;
  owned: OwnedObjects;
  probes: Map<string, AgentProbe>;
  problems: OperatorProblem[];
  paused: boolean;
  /** Status fields decided by steps (e.g. bootstrappedAt), written with the observed status. */
  statusPatch: { bootstrappedAt?: string; targetLeader?: string | null };
  /** Set by a step that changed something and wants a quick look again. */
  requeueAfterMs?: number;
  event(e: RecordedEvent): Promise<void>;
}

export type StepOutcome = 'continue' | 'stop';

export interface Step {
  /** For logs and metrics. */
  name: string;
  /** Steps that change objects are skipped while the cluster is paused; observation and status are not. */
  mutates: boolean;
  run(ctx: ReconcileContext): Promise<StepOutcome>;
}

export function requeueSoon(ctx: ReconcileContext, ms = 1000): void {
  ctx.requeueAfterMs = Math.min(ctx.requeueAfterMs ?? ms, ms);
}
