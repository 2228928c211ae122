// status.members: one entry per replica id, desired or still present, merging the pod and the agent's report.
import type { V1Pod } from '@kubernetes/client-node';
import type { MemberStatus, MuCluster } from '../api/types.js';
import { podName } from '../builders/names.js';
import type { AgentProbe } from './agent-status.js';
import { isPodReady, notReadyReason, replicaIdOf } from './pods.js';

export function memberStatuses(
  cluster: MuCluster,
  pods: readonly V1Pod[],
  probes: ReadonlyMap<string, AgentProbe>,
  previous: readonly MemberStatus[] | undefined,
  now: Date,
): MemberStatus[] {
  const podsById = new Map<number, V1Pod>();
  for (const pod of pods) {
    const id = replicaIdOf(pod);
    if (id !== undefined) podsById.set(id, pod);
  }
  const ids = new Set<number>([...Array(cluster.spec.replicas).keys(), ...podsById.keys()]);
  const before = new Map((previous ?? []).map((m) => [m.name, m]));
  // Followers the leader could not catch up from its log: they fetch the state instead.
  let leaderCannotCatchUp = 0;
  for (const probe of probes.values()) {
    if (probe.ok && probe.status.role === 'leader') leaderCannotCatchUp = probe.status.engine?.catchUpImpossible ?? 0;
  }
  return [...ids]
    .sort((a, b) => a - b)
    .map((id) => {
      const name = podName(cluster, id);
      return member(cluster, id, podsById.get(id), probes.get(name), before.get(name), now, leaderCannotCatchUp);
    });
}

function member(
  cluster: MuCluster,
  id: number,
  pod: V1Pod | undefined,
  probe: AgentProbe | undefined,
  previous: MemberStatus | undefined,
  now: Date,
  leaderCannotCatchUp: number,
): MemberStatus {
  const name = podName(cluster, id);
  const ready = pod !== undefined && isPodReady(pod);
  const status = probe?.ok ? probe.status : undefined;
  const out: MemberStatus = { name, id, role: status?.role ?? 'unknown', ready };
  if (pod?.spec?.nodeName) out.node = pod.spec.nodeName;
  if (pod?.status?.podIP) out.host = pod.status.podIP;
  // lastSeen survives failed polls: it says when the agent last answered.
  const lastSeen = probe?.ok ? probe.at.toISOString() : previous?.lastSeen;
  if (lastSeen) out.lastSeen = lastSeen;
  const joinedAt = previous?.joinedAt ?? (isVoting(out) ? now.toISOString() : undefined);
  if (joinedAt) out.joinedAt = joinedAt;
  if (status?.proposalNumber !== undefined) out.proposalNumber = status.proposalNumber;
  if (status?.firstUndecidedOffset !== undefined) out.firstUndecidedOffset = status.firstUndecidedOffset;
  if (status?.applyLag !== undefined) out.applyLag = status.applyLag;
  if (status?.fabric) {
    const { kind, ...details } = status.fabric;
    out.rdma = { fabric: kind, ...details };
  }
  const message = problem(cluster, id, pod, probe, ready, leaderCannotCatchUp);
  if (message) out.message = message;
  return out;
}

/** How a member's message starts when a learner cannot be caught up: its state transfer fails (see events.ts). */
export const LEARNER_CANNOT_CATCH_UP = 'learner cannot be caught up';

/**
 * Counts toward quorum: Ready, and a leader, follower or candidate (a voter in the middle of an election, seen for a
 * few ms around every failover or switchover); a learner is still copying the log.
 */
export function isVoting(m: MemberStatus): boolean {
  return m.ready === true && (m.role === 'leader' || m.role === 'follower' || m.role === 'candidate');
}

function problem(
  cluster: MuCluster,
  id: number,
  pod: V1Pod | undefined,
  probe: AgentProbe | undefined,
  ready: boolean,
  leaderCannotCatchUp: number,
): string | undefined {
  if (!pod) return id < cluster.spec.replicas ? 'pod does not exist' : undefined;
  if (id >= cluster.spec.replicas) return `being removed: spec.replicas is ${cluster.spec.replicas}`;
  if (probe && !probe.ok) return `agent /status failed: ${probe.error}`;
  if (probe?.ok && probe.status.replicaId !== id) {
    return `agent reports replica id ${probe.status.replicaId}, pod is labelled ${id}`;
  }
  if (probe?.ok && probe.status.role === 'learner') {
    const transfer = probe.status.engine?.stateTransfer;
    if (transfer?.lastError) {
      return `${LEARNER_CANNOT_CATCH_UP}: fetching the state failed: ${transfer.lastError} ` +
        '(docs/engine.md, "Restart without memory")';
    }
    if ((transfer?.installed ?? 0) > 0) {
      return `learner installed the state (${transfer!.lastBytes ?? 0} bytes in ${transfer!.lastMicros ?? 0} µs), ` +
        'catching up the log after it';
    }
    if (leaderCannotCatchUp > 0) {
      return 'learner fetching the state: the log entries it lacks were recycled on the leader';
    }
  }
  if (!ready) return notReadyReason(pod);
  if (probe?.ok && probe.status.role === 'learner') return 'learner: copying the log before it counts toward quorum';
  return undefined;
}
