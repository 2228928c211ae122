// Test fixtures for status computation: pods in given states and agent /status reports. Test-only.
import type { V1Pod } from '@kubernetes/client-node';
import { newMuCluster, type SpecInput } from '../../api/new-cluster.js';
import type { MuCluster, MuClusterSpec, MuClusterStatus } from '../../api/types.js';
import { buildPod } from '../../builders/pod.js';
import { DEFAULT_BUILDER_OPTIONS } from '../../builders/options.js';
import type { AgentProbe, AgentStatus, FailoverTimeline } from '../agent-status.js';
import type { LeaderChangeTimeline } from '../failovers.js';
import type { ClusterObservation, OperatorProblem } from '../observation.js';

export const T0 = new Date('2025-03-01T12:00:00.000Z');
export const T0_MICROS = T0.getTime() * 1000;

export function cluster(
  spec: SpecInput<MuClusterSpec> = {},
  status?: MuClusterStatus,
  annotations?: Record<string, string>,
): MuCluster {
  const c = newMuCluster(
    { name: 'demo', namespace: 'db', uid: 'uid-1', generation: 4, ...(annotations ? { annotations } : {}) },
    spec,
  );
  if (status) c.status = status;
  return c;
}

export interface PodState {
  ready?: boolean;
  node?: string;
  phase?: string;
  /** Spec hash annotation; default: the desired one. */
  hash?: string;
  terminating?: boolean;
}

export function pod(c: MuCluster, id: number, state: PodState = {}): V1Pod {
  const p = buildPod(c, { replicaId: id, bootstrap: false }, DEFAULT_BUILDER_OPTIONS).pod;
  const ready = state.ready ?? true;
  if (state.hash !== undefined) p.metadata!.annotations = { 'mu.rdma.dev/pod-spec-hash': state.hash };
  if (state.terminating) p.metadata!.deletionTimestamp = T0;
  p.spec!.nodeName = state.node ?? `node-${id}`;
  p.status = {
    phase: state.phase ?? 'Running',
    podIP: `10.0.0.${id + 1}`,
    conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }],
  };
  return p;
}

export function desiredHash(c: MuCluster): string {
  return buildPod(c, { replicaId: 0, bootstrap: false }, DEFAULT_BUILDER_OPTIONS).specHash;
}

export function agent(replicaId: number, leaderId: number | null, extra: Partial<AgentStatus> = {}): AgentStatus {
  return {
    replicaId,
    role: leaderId === replicaId ? 'leader' : 'follower',
    leaderId,
    failovers: [],
    permissionSwitch: { recentMicros: [], mechanismCounts: {} },
    ...extra,
  };
}

export function ok(status: AgentStatus, at: Date = T0): AgentProbe {
  return { ok: true, at, status };
}

export function failed(error: string, at: Date = T0): AgentProbe {
  return { ok: false, at, error };
}

/**
 * A complete failover from `fromId` to `toId` starting `offsetMicros` after T0, shaped like the engine's timeline:
 * detection 600 µs, permission switch 240 µs, catch-up 30 µs, total 870 µs.
 */
export function timeline(
  fromId: number,
  toId: number,
  offsetMicros = 0,
  extra: Partial<FailoverTimeline> = {},
): LeaderChangeTimeline {
  const suspected = T0_MICROS + offsetMicros;
  const detected = suspected + 600;
  return {
    id: `${toId}-${offsetMicros}`,
    fromId,
    toId,
    reason: 'leader-failed',
    suspectedAtMicros: suspected,
    detectedAtMicros: detected,
    candidateAtMicros: detected,
    permissionsGrantedAtMicros: detected + 240,
    preparedAtMicros: detected + 240 + 30,
    permissionSwitches: [
      { replica: toId, mechanism: 'accessFlags', durationMicros: 150 },
      { replica: (toId + 1) % 3, mechanism: 'accessFlags', durationMicros: 240 },
    ],
    firstCommitAtMicros: detected + 240 + 30,
    ...extra,
  } as LeaderChangeTimeline;
}

export interface ObserveOptions {
  probes?: Record<string, AgentProbe>;
  problems?: OperatorProblem[];
  now?: Date;
  desiredPodSpecHash?: string;
}

export function observe(c: MuCluster, pods: V1Pod[], options: ObserveOptions = {}): ClusterObservation {
  return {
    cluster: c,
    pods,
    probes: new Map(Object.entries(options.probes ?? {})),
    desiredPodSpecHash: options.desiredPodSpecHash ?? desiredHash(c),
    problems: options.problems ?? [],
    now: options.now ?? T0,
  };
}

/** A healthy 3-member cluster led by `leaderId`, every agent following it. */
export function healthyProbes(
  leaderId: number,
  extra: (id: number) => Partial<AgentStatus> = () => ({}),
): Record<string, AgentProbe> {
  return Object.fromEntries([0, 1, 2].map((id) => [`demo-${id}`, ok(agent(id, leaderId, extra(id)))]));
}
