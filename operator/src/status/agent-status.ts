// The JSON an agent serves at /status, as far as the operator reads it. This is the contract with node-agent/;
// fields the operator does not need may exist and are ignored. Times are microseconds since the Unix epoch on the
// reporting agent's clock (CLOCK_REALTIME); durations are microseconds.

export type AgentRole = 'leader' | 'follower' | 'learner' | 'candidate';
export type PermissionSwitchMechanism = 'accessFlags' | 'qpCycle' | 'mrReregister';

export interface PermissionSwitchTiming {
  /** Replica whose permission manager revoked the old leader's and granted the new leader's write access. */
  replica: number;
  mechanism: PermissionSwitchMechanism;
  /** Time that replica took to switch, from the request to its acknowledgement. */
  durationMicros: number;
}

/**
 * One leader change as the reporting agent saw it, mirroring the engine's FailoverTimeline (native/src/core/
 * replica.h) with times converted to epoch microseconds. The new leader reports the whole timeline; if other agents
 * report the same failover they use the same id. Phases: suspicion → detection → candidacy → permissions granted by
 * a majority → prepared/caught up → first commit.
 */
export interface FailoverTimeline {
  /** Unique per leader change and stable across polls (e.g. "<toId>@<candidateAtMicros>"). */
  id: string;
  /** The leader before; null for the cluster's first election, which is not a failover (the operator skips it). */
  fromId: number | null;
  toId: number;
  /** Why leadership moved: the engine's kebab-case (leader-failed, lower-id-recovered) or CamelCase. */
  reason?: string;
  /** First heartbeat read that saw the old leader's counter not moving; absent when not applicable. */
  suspectedAtMicros?: number;
  /** Its score fell to the failure threshold: the old leader was declared failed. */
  detectedAtMicros: number;
  /** The new leader started asking for write permission. */
  candidateAtMicros?: number;
  /** A majority (the new leader included) had granted write permission. */
  permissionsGrantedAtMicros?: number;
  /** Prepare and catch-up done. */
  preparedAtMicros?: number;
  /** Every replica that granted, the new leader's own switch included. */
  permissionSwitches: PermissionSwitchTiming[];
  /** Catch-up duration, when the agent reports it directly instead of preparedAtMicros. */
  catchUpMicros?: number;
  /** First entry committed by the new leader: the failover is complete. */
  firstCommitAtMicros?: number;
}

export interface AgentFabricInfo {
  kind: 'verbs' | 'soft';
  device?: string;
  port?: number;
  linkLayer?: string;
  gid?: string;
  gidIndex?: number;
  address?: string;
}

export interface AgentStatus {
  replicaId: number;
  role: AgentRole;
  /** Who this agent believes leads; null while it knows of no leader. */
  leaderId: number | null;
  proposalNumber?: number;
  firstUndecidedOffset?: number;
  applyLag?: number;
  fabric?: AgentFabricInfo;
  /** Recent failovers, newest first, bounded by the agent. Lost when the agent restarts (Mu is in-memory). */
  failovers: FailoverTimeline[];
  /** Permission switches this replica performed: a bounded window of recent durations and lifetime counts. */
  permissionSwitch: {
    recentMicros: number[];
    mechanismCounts: Partial<Record<PermissionSwitchMechanism, number>>;
  };
  /** Engine counters the operator reads when present (older agents may lack them). */
  engine?: {
    /**
     * On a leader: attempts to catch a follower up from its log that failed because the entries it lacks were
     * recycled (each time the follower is asked to fetch the state instead).
     */
    catchUpImpossible?: number;
    /** State transfer as this replica saw it; lastError is why its last fetch or install failed ('' if it did not). */
    stateTransfer?: { installed?: number; lastBytes?: number; lastMicros?: number; lastError?: string };
    [counter: string]: unknown;
  };
}

/** Result of polling one agent: a failure is data (habit 15), kept with the time of the attempt. */
export type AgentProbe = { ok: true; at: Date; status: AgentStatus } | { ok: false; at: Date; error: string };
