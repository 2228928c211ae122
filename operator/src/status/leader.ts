// Who leads, from the agents' reports. The operator only observes: Mu elects by itself (lowest live id).
import type { AgentStatus } from './agent-status.js';
import { majority } from '../api/quorum.js';

export interface ObservedLeader {
  id: number;
  /** Reachable agents naming this id as leader (its own report included). */
  support: number;
  /** Why we believe it, for logs and messages. */
  reason: string;
}

/**
 * The leader is an agent that says it leads, preferring the one most agents follow (two may claim it for a moment
 * while an old, paused leader has not noticed it was replaced), then the lowest id, Mu's own rule. When no
 * claimant answers but a majority of the cluster names the same leader, that leader is reported: it is unreachable
 * from the operator, not necessarily down.
 */
export function observedLeader(statuses: readonly AgentStatus[], replicas: number): ObservedLeader | undefined {
  const support = (id: number): number => statuses.filter((s) => s.leaderId === id).length;
  const claimants = statuses
    .filter((s) => s.role === 'leader')
    .map((s) => ({ id: s.replicaId, support: support(s.replicaId) }))
    .sort((a, b) => b.support - a.support || a.id - b.id);
  const best = claimants[0];
  if (best) {
    const contested = claimants.length > 1 ? `; ${claimants.length} agents claim leadership` : '';
    return {
      ...best,
      reason: `replica ${best.id} reports itself leader, ${best.support} agent(s) follow it${contested}`,
    };
  }
  const named = new Map<number, number>();
  for (const s of statuses) if (s.leaderId !== null) named.set(s.leaderId, (named.get(s.leaderId) ?? 0) + 1);
  for (const [id, count] of named) {
    if (count >= majority(replicas)) {
      return { id, support: count, reason: `${count} agents name replica ${id} leader; it did not answer itself` };
    }
  }
  return undefined;
}
