// The cluster's conditions and phase from what was observed. Available = a leader and a voting majority (the
// cluster can commit); Ready = Available and every member as specified; Degraded explains what is missing.
import type { ClusterPhase, MemberStatus } from '../api/types.js';
import type { ConditionValue } from './conditions.js';
import type { OperatorProblem } from './observation.js';
import type { RolloutProgress } from './rollout-progress.js';

export interface HealthFacts {
  replicas: number;
  majority: number;
  /** Replica pods that exist (any state). */
  podCount: number;
  readyCount: number;
  /** Ready members that count toward quorum (not learners). */
  votingCount: number;
  leader?: { member: string; id: number };
  /** A leader was ever observed: before that the cluster is bootstrapping, not broken. */
  everLed: boolean;
  /**
   * A voting majority was ever seen (Available was True before, or its loss was already reported): until then a
   * short majority means members are still joining (Bootstrapping), not that quorum was lost.
   */
  quorumEverFormed: boolean;
  /** Desired members with something wrong, each with its message. */
  unhealthy: readonly MemberStatus[];
  progress: RolloutProgress;
  problems: readonly OperatorProblem[];
  paused: boolean;
}

export function clusterConditions(f: HealthFacts): ConditionValue[] {
  const available = availableCondition(f);
  return [
    available,
    readyCondition(f, available),
    progressingCondition(f),
    degradedCondition(f, available),
    f.paused
      ? {
          type: 'ReconciliationPaused',
          status: 'True',
          reason: 'PausedByAnnotation',
          message: 'the reconciliation-paused annotation is "true": status is observed, nothing is changed',
        }
      : { type: 'ReconciliationPaused', status: 'False', reason: 'NotPaused', message: 'reconciling' },
  ];
}

function availableCondition(f: HealthFacts): ConditionValue {
  const quorum = `${f.votingCount} of ${f.replicas} replicas can vote (majority ${f.majority})`;
  if (!f.everLed && !f.leader) {
    return {
      type: 'Available',
      status: 'False',
      reason: 'Bootstrapping',
      message: `waiting for the first leader; ${quorum}`,
    };
  }
  if (f.votingCount < f.majority) {
    if (!f.quorumEverFormed) {
      return {
        type: 'Available',
        status: 'False',
        reason: 'Bootstrapping',
        message: `waiting for a majority to join; ${quorum}${unhealthyList(f)}`,
      };
    }
    return { type: 'Available', status: 'False', reason: 'QuorumLost', message: `${quorum}${unhealthyList(f)}` };
  }
  if (!f.leader) {
    return {
      type: 'Available',
      status: 'False',
      reason: 'NoLeader',
      message: `${quorum}, but no agent reports a leader`,
    };
  }
  return {
    type: 'Available',
    status: 'True',
    reason: 'QuorumAvailable',
    message: `leader ${f.leader.member}; ${quorum}`,
  };
}

function readyCondition(f: HealthFacts, available: ConditionValue): ConditionValue {
  if (available.status !== 'True') {
    return { type: 'Ready', status: 'False', reason: 'NotAvailable', message: available.message };
  }
  if (f.unhealthy.length > 0 || f.readyCount < f.replicas) {
    return {
      type: 'Ready',
      status: 'False',
      reason: 'MembersNotReady',
      message: `${f.readyCount} of ${f.replicas} members ready${unhealthyList(f)}`,
    };
  }
  if (f.progress.activity) {
    return { type: 'Ready', status: 'False', reason: f.progress.activity.reason, message: f.progress.activity.message };
  }
  return {
    type: 'Ready',
    status: 'True',
    reason: 'AllMembersReady',
    message: `${f.replicas} of ${f.replicas} members ready; leader ${f.leader!.member}`,
  };
}

function progressingCondition(f: HealthFacts): ConditionValue {
  const activity = f.progress.activity;
  if (!activity) {
    return {
      type: 'Progressing',
      status: 'False',
      reason: 'Reconciled',
      message: `all ${f.replicas} pods match the spec`,
    };
  }
  if (f.paused) {
    return {
      type: 'Progressing',
      status: 'False',
      reason: 'ReconciliationPaused',
      message: `paused with work pending: ${activity.message}`,
    };
  }
  return { type: 'Progressing', status: 'True', reason: activity.reason, message: activity.message };
}

function degradedCondition(f: HealthFacts, available: ConditionValue): ConditionValue {
  // Losing quorum outranks everything; operator-detected problems, which often explain it, ride along.
  const problems = f.problems.map((p) => `${p.reason}: ${p.message}`).join('; ');
  if (available.reason === 'QuorumLost') {
    const also = problems ? `; ${problems}` : '';
    return { type: 'Degraded', status: 'True', reason: 'QuorumLost', message: `${available.message}${also}` };
  }
  const problem = f.problems[0];
  if (problem) {
    const more =
      f.problems.length > 1
        ? ` (and ${f.problems
            .slice(1)
            .map((p) => p.reason)
            .join(', ')})`
        : '';
    return { type: 'Degraded', status: 'True', reason: problem.reason, message: `${problem.message}${more}` };
  }
  if (available.reason === 'Bootstrapping') {
    return {
      type: 'Degraded',
      status: 'False',
      reason: 'Bootstrapping',
      message:
        !f.everLed && !f.leader
          ? 'the cluster has not elected its first leader yet'
          : 'the first members are still joining',
    };
  }
  if (f.unhealthy.length > 0) {
    return {
      type: 'Degraded',
      status: 'True',
      reason: 'MembersUnavailable',
      message: `${f.unhealthy.length} of ${f.replicas} members unhealthy${unhealthyList(f)}`,
    };
  }
  if (available.status !== 'True') {
    return { type: 'Degraded', status: 'True', reason: available.reason, message: available.message };
  }
  return { type: 'Degraded', status: 'False', reason: 'AsExpected', message: 'all members healthy' };
}

function unhealthyList(f: HealthFacts): string {
  if (f.unhealthy.length === 0) return '';
  return `: ${f.unhealthy.map((m) => `${m.name}: ${m.message ?? 'not ready'}`).join('; ')}`;
}

/** One word for `kubectl get mu`; automation reads the conditions. */
export function clusterPhase(f: HealthFacts, conditions: readonly ConditionValue[]): ClusterPhase {
  const get = (type: ConditionValue['type']) => conditions.find((c) => c.type === type)!;
  if (f.podCount === 0) return 'Pending';
  const available = get('Available');
  if (f.progress.activity?.reason === 'Creating' || available.reason === 'Bootstrapping') return 'Bootstrapping';
  if (available.reason === 'QuorumLost') return 'QuorumLost';
  if (available.status !== 'True') return 'Degraded';
  const activity = f.progress.activity?.reason;
  if (activity === 'RollingUpdate') return 'Updating';
  if (activity === 'ScalingUp' || activity === 'ScalingDown') return 'Scaling';
  if (get('Ready').status === 'True') return 'Ready';
  return 'Degraded';
}
