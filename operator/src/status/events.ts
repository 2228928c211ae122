// Events to record, found by comparing the previous status with the new one: each fires on a transition, so
// polling an unchanged cluster records nothing.
import type { FailoverRecord, MuClusterStatus } from '../api/types.js';
import type { FailoverTimeline } from './agent-status.js';
import { findCondition } from './conditions.js';
import { isVoting, LEARNER_CANNOT_CATCH_UP } from './members.js';

export type ClusterEventReason =
  | 'LeaderElected'
  | 'FailoverCompleted'
  | 'PermissionSwitchSlow'
  | 'QuorumLost'
  | 'QuorumRestored'
  | 'MemberRejoined'
  | 'MemberNotReady'
  | 'MemberCannotCatchUp';

export interface ClusterEvent {
  type: 'Normal' | 'Warning';
  reason: ClusterEventReason;
  message: string;
  /** The member the event is about, when there is one (pod name). */
  member?: string;
}

export interface EventContext {
  /** Deduplicated timelines by failover id, for per-replica permission switch details. */
  timelines: ReadonlyMap<string, FailoverTimeline>;
  permissionSwitchSlowMicros: number;
}

export function statusEvents(
  previous: MuClusterStatus | undefined,
  next: MuClusterStatus,
  context: EventContext,
): ClusterEvent[] {
  return [
    ...failoverEvents(previous, next, context),
    ...leaderEvents(previous, next),
    ...quorumEvents(previous, next),
    ...memberEvents(previous, next),
  ];
}

/** "demo-0 → demo-1 in 873µs: detection 600µs, permission switch 240µs, catch-up 33µs (LeaderFailed)". */
export function failoverSummary(r: FailoverRecord): string {
  return (
    `${r.from} → ${r.to} in ${r.totalMicros}µs: detection ${r.detectionMicros}µs, ` +
    `permission switch ${r.permissionSwitchMicros}µs, catch-up ${r.catchUpMicros}µs (${r.reason})`
  );
}

// A failover is reported once it is complete (first commit); one first seen half-way is reported when it completes.
function failoverEvents(
  previous: MuClusterStatus | undefined,
  next: MuClusterStatus,
  context: EventContext,
): ClusterEvent[] {
  const before = new Map<string, FailoverRecord>();
  for (const r of [...(previous?.failoverHistory ?? []), ...(previous?.lastFailover ? [previous.lastFailover] : [])]) {
    before.set(r.id, r);
  }
  const now = new Map<string, FailoverRecord>();
  for (const r of [...(next.failoverHistory ?? []), ...(next.lastFailover ? [next.lastFailover] : [])])
    now.set(r.id, r);

  const completed = [...now.values()]
    .filter((r) => r.completedAt !== undefined && before.get(r.id)?.completedAt === undefined)
    .sort((a, b) => (a.detectedAt ?? '').localeCompare(b.detectedAt ?? '')); // oldest first: events read in order
  const events: ClusterEvent[] = [];
  for (const r of completed) {
    events.push({
      type: 'Normal',
      reason: 'FailoverCompleted',
      message: failoverSummary(r),
      ...(r.to ? { member: r.to } : {}),
    });
    const slow = (context.timelines.get(r.id)?.permissionSwitches ?? [])
      .filter((s) => s.durationMicros > context.permissionSwitchSlowMicros)
      .sort((a, b) => b.durationMicros - a.durationMicros);
    if (slow.length > 0) {
      const detail = slow.map((s) => `replica ${s.replica} ${s.durationMicros}µs via ${s.mechanism}`).join(', ');
      events.push({
        type: 'Warning',
        reason: 'PermissionSwitchSlow',
        message:
          `failover ${r.from} → ${r.to}: ${detail} (spec.monitoring.permissionSwitchSlowMicros is ` +
          `${context.permissionSwitchSlowMicros}µs)`,
      });
    }
  }
  return events;
}

function leaderEvents(previous: MuClusterStatus | undefined, next: MuClusterStatus): ClusterEvent[] {
  const leader = next.leader;
  if (!leader || previous?.leader?.id === leader.id) return [];
  const where = leader.node ? ` on node ${leader.node}` : '';
  const after = previous?.leader ? `, replacing ${previous.leader.member}` : '';
  return [
    {
      type: 'Normal',
      reason: 'LeaderElected',
      message: `${leader.member} is the leader${where}${after}`,
      member: leader.member,
    },
  ];
}

function quorumEvents(previous: MuClusterStatus | undefined, next: MuClusterStatus): ClusterEvent[] {
  const was = findCondition(previous?.conditions, 'Available');
  const is = findCondition(next.conditions, 'Available');
  if (!is) return [];
  if (is.reason === 'QuorumLost' && was?.reason !== 'QuorumLost') {
    return [{ type: 'Warning', reason: 'QuorumLost', message: is.message }];
  }
  if (was?.reason === 'QuorumLost' && is.status === 'True') {
    return [{ type: 'Normal', reason: 'QuorumRestored', message: is.message }];
  }
  return [];
}

function memberEvents(previous: MuClusterStatus | undefined, next: MuClusterStatus): ClusterEvent[] {
  const before = new Map((previous?.members ?? []).map((m) => [m.name, m]));
  const events: ClusterEvent[] = [];
  for (const m of next.members ?? []) {
    const old = before.get(m.name);
    if (!old) continue;
    const wasIn = isVoting(old);
    const isIn = isVoting(m);
    // Only a member that had voted before can rejoin; a new one just joins (the reconciler reports MemberCreated).
    if (!wasIn && isIn && old.joinedAt !== undefined) {
      events.push({
        type: 'Normal',
        reason: 'MemberRejoined',
        message: `${m.name} rejoined as ${m.role}`,
        member: m.name,
      });
    }
    // Once per episode: the message says so until the learner is caught up (or replaced).
    if (m.message?.startsWith(LEARNER_CANNOT_CATCH_UP) && !old.message?.startsWith(LEARNER_CANNOT_CATCH_UP)) {
      events.push({ type: 'Warning', reason: 'MemberCannotCatchUp', message: `${m.name}: ${m.message}`, member: m.name });
    }
    if (wasIn && !isIn) {
      const why = m.message ?? (m.role === 'learner' ? 'learner' : 'not ready');
      events.push({
        type: 'Warning',
        reason: 'MemberNotReady',
        message: `${m.name} left the quorum: ${why}`,
        member: m.name,
      });
    }
  }
  return events;
}
