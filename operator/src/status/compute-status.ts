// MuCluster status from one observation, plus the Events the change calls for. Pure: the reconciler gathers the
// observation (pods from the informer, /status polls) and writes the result; tests feed observations directly.
import { ANNOTATION_RECONCILIATION_PAUSED } from '../api/labels.js';
import { majority } from '../api/quorum.js';
import type { LeaderStatus, MuClusterStatus } from '../api/types.js';
import { podName } from '../builders/names.js';
import { replicaSelectorString } from '../builders/metadata.js';
import type { AgentStatus } from './agent-status.js';
import { findCondition, withTransitions } from './conditions.js';
import { statusEvents, type ClusterEvent } from './events.js';
import {
  dedupeTimelines,
  failoverRecord,
  failoverTimelines,
  summarizeFailovers,
  type FailoverSummary,
} from './failovers.js';
import { clusterConditions, clusterPhase, type HealthFacts } from './health.js';
import { observedLeader } from './leader.js';
import { isVoting, memberStatuses } from './members.js';
import type { ClusterObservation } from './observation.js';
import { permissionSwitchStats } from './permission-switch.js';
import { isPodReady, replicaIdOf } from './pods.js';
import { rolloutProgress } from './rollout-progress.js';

const LED_PHASES: ReadonlySet<string> = new Set(['Ready', 'Degraded', 'Scaling', 'Updating', 'QuorumLost']);

export interface StatusComputation {
  status: MuClusterStatus;
  events: ClusterEvent[];
}

export function computeStatus(o: ClusterObservation): StatusComputation {
  const { cluster, now } = o;
  const previous = cluster.status;
  const n = cluster.spec.replicas;
  const pods = o.pods.filter((p) => replicaIdOf(p) !== undefined);
  // An agent is believed only about itself: a report from a pod we do not know is ignored.
  const agents: AgentStatus[] = [];
  for (const pod of pods) {
    const probe = o.probes.get(pod.metadata?.name ?? '');
    if (probe?.ok) agents.push(probe.status);
  }

  const members = memberStatuses(cluster, pods, o.probes, previous?.members, now);
  const timelines = dedupeTimelines(agents);
  const failovers = summarizeFailovers(
    failoverTimelines(timelines.values()).map((t) => failoverRecord(cluster, t)),
    previous,
    cluster.spec.failoverHistoryLimit,
  );
  const leader = leaderStatus(o, agents, failovers, previous?.leader);
  const everLed =
    previous?.leader !== undefined || (previous?.failoverCount ?? 0) > 0 || LED_PHASES.has(previous?.phase ?? '');

  const facts: HealthFacts = {
    replicas: n,
    majority: majority(n),
    podCount: pods.length,
    readyCount: pods.filter((p) => isPodReady(p) && (replicaIdOf(p) ?? n) < n).length,
    votingCount: members.filter((m) => m.id < n && isVoting(m)).length,
    ...(leader ? { leader: { member: leader.member, id: leader.id } } : {}),
    everLed: everLed || leader !== undefined,
    quorumEverFormed: quorumEverFormed(previous),
    unhealthy: members.filter((m) => m.id < n && m.message !== undefined),
    progress: rolloutProgress(cluster, pods, o.desiredPodSpecHash, previous?.members, everLed || leader !== undefined),
    problems: o.problems,
    paused: cluster.metadata.annotations?.[ANNOTATION_RECONCILIATION_PAUSED] === 'true',
  };
  const conditionValues = clusterConditions(facts);

  const status: MuClusterStatus = {
    ...(cluster.metadata.generation !== undefined ? { observedGeneration: cluster.metadata.generation } : {}),
    replicas: pods.length,
    readyReplicas: facts.readyCount,
    selector: replicaSelectorString(cluster),
    phase: clusterPhase(facts, conditionValues),
    ...(previous?.bootstrappedAt ? { bootstrappedAt: previous.bootstrappedAt } : {}),
    ...(leader ? { leader } : {}),
    // Intent is the reconciler's: carried over untouched.
    ...(previous?.targetLeader ? { targetLeader: previous.targetLeader } : {}),
    members,
    ...(failovers.lastFailover ? { lastFailover: failovers.lastFailover } : {}),
    failoverHistory: failovers.failoverHistory,
    failoverCount: failovers.failoverCount,
    conditions: withTransitions(conditionValues, previous?.conditions, cluster.metadata.generation, now),
  };
  const permissionSwitch = permissionSwitchStats(agents) ?? previous?.permissionSwitch;
  if (permissionSwitch) status.permissionSwitch = permissionSwitch;

  const events = statusEvents(previous, status, {
    timelines,
    permissionSwitchSlowMicros: cluster.spec.monitoring.permissionSwitchSlowMicros,
  });
  return { status, events };
}

function quorumEverFormed(previous: MuClusterStatus | undefined): boolean {
  const available = findCondition(previous?.conditions, 'Available');
  if (available?.status === 'True' || available?.reason === 'QuorumLost' || available?.reason === 'NoLeader') return true;
  return (previous?.failoverCount ?? 0) > 0;
}

/**
 * since: kept while the same member leads (unless a failover seen just now handed leadership back to it); else the
 * completion of the failover that made it leader; else now.
 */
function leaderStatus(
  o: ClusterObservation,
  agents: readonly AgentStatus[],
  failovers: FailoverSummary,
  previous: LeaderStatus | undefined,
): LeaderStatus | undefined {
  const found = observedLeader(agents, o.cluster.spec.replicas);
  if (!found) return undefined;
  const member = podName(o.cluster, found.id);
  const pod = o.pods.find((p) => p.metadata?.name === member);
  const last = failovers.lastFailover;
  const electedByNewFailover = last?.toId === found.id && failovers.newIds.includes(last.id);
  let since: string;
  if (previous?.id === found.id && previous.since && !electedByNewFailover) since = previous.since;
  else if (last?.toId === found.id && last.completedAt) since = last.completedAt;
  else since = o.now.toISOString();
  return { member, id: found.id, ...(pod?.spec?.nodeName ? { node: pod.spec.nodeName } : {}), since };
}
