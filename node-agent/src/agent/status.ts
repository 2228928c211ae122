// The /status document: what the operator reads (operator/src/status/agent-status.ts: AgentStatus, field for field)
// plus what a person debugging a replica wants — member views, readiness with its reasons, log use, the RESP front
// end, the RDMA details and versions. Built from one engine stats snapshot; pure, so it is unit-tested.
import type {
  AgentFabricInfo, AgentRole, AgentStatus, FailoverTimeline, PermissionSwitchMechanism,
} from '../../../operator/src/status/agent-status.js';
import type { EngineFailoverTimeline, ReplicaStats } from '../native/replica.js';
import type { AgentConfig } from './config.js';
import type { RdmaDevice, RdmaSelection } from './rdma.js';

/** Recent permission-switch durations kept for /status (the operator computes percentiles over them). */
export const RECENT_SWITCHES = 64;
/** Failovers listed in /status, newest first. */
export const MAX_FAILOVERS = 16;
/** A voter further behind its commit point than this (entries not yet applied) is not ready. */
export const MAX_READY_APPLY_LAG = 10_000;

export interface Readiness {
  ready: boolean;
  /** Engine running, a leader known, a majority of voters reachable (self included). */
  quorum: boolean;
  /** This replica holds the decided log: a voter (a learner is still being caught up). */
  voter: boolean;
  caughtUp: boolean;
  reasons: string[];
}

export interface FabricState {
  kind: 'soft' | 'verbs';
  /** Why this fabric: e.g. "configured" or "auto: no RDMA device found under /sys/class/infiniband". */
  reason: string;
  selection?: RdmaSelection;
  devices?: RdmaDevice[];
}

/** Lifetime counts the agent keeps from engine events (the engine's own windows are bounded). */
export interface EventTally {
  permissionSwitches: Partial<Record<PermissionSwitchMechanism, number>>;
  recentSwitchMicros: number[];
  leaderChanges: number;
  quorumLost: { since: number; detail: string } | null;
}

export interface StatusContext {
  config: AgentConfig;
  fabric: FabricState;
  /** Resolved IPv4 address of each member. */
  addresses: string[];
  versions: { agent: string; engine: string; node: string; napi: number };
  startedAtMs: number;
  tally: EventTally;
  phase: 'starting' | 'running' | 'leaving' | 'stopping' | 'stopped' | 'failed';
}

export function newTally(): EventTally {
  return { permissionSwitches: {}, recentSwitchMicros: [], leaderChanges: 0, quorumLost: null };
}

export function majority(n: number): number {
  return Math.floor(n / 2) + 1;
}

export function agentRole(stats: ReplicaStats): AgentRole {
  if (!stats.voter) return 'learner';
  return stats.role;
}

/** Who this replica believes leads: the detector's choice, else what the replication plane follows. */
export function leaderOf(stats: ReplicaStats): number | null {
  return stats.leaderView ?? stats.leader;
}

export function readiness(stats: ReplicaStats | undefined, members: number, phase: StatusContext['phase'],
  tally: EventTally): Readiness {
  const reasons: string[] = [];
  if (!stats || phase === 'starting') {
    return { ready: false, quorum: false, voter: false, caughtUp: false, reasons: ['the engine is starting'] };
  }
  if (!stats.running || phase !== 'running') reasons.push(`the agent is ${phase}`);
  const alive = 1 + stats.peers.filter((p) => p.alive).length;
  const leader = leaderOf(stats);
  const quorum = stats.running && alive >= majority(members) && leader !== null && tally.quorumLost === null;
  if (alive < majority(members)) reasons.push(`${alive} of ${members} replicas reachable, ${majority(members)} needed`);
  if (leader === null) reasons.push('no leader known');
  if (tally.quorumLost) reasons.push(`quorum lost: ${tally.quorumLost.detail}`);
  const voter = stats.voter;
  if (!voter) reasons.push('a learner: still being caught up from the leader');
  const lag = Math.max(0, stats.commitIndex - stats.appliedIndex);
  const caughtUp = voter && lag <= MAX_READY_APPLY_LAG;
  if (voter && !caughtUp) reasons.push(`${lag} committed entries not applied yet`);
  return { ready: reasons.length === 0 && quorum && voter && caughtUp, quorum, voter, caughtUp, reasons };
}

export function failoverId(t: EngineFailoverTimeline): string {
  return `${t.to ?? 'none'}@${t.candidateAtMicros ?? t.firstCommitAtMicros ?? 0}`;
}

export function toFailover(t: EngineFailoverTimeline): FailoverTimeline & Record<string, unknown> {
  const defined = <T>(v: T | null): T | undefined => (v === null ? undefined : v);
  return {
    id: failoverId(t),
    fromId: t.from,
    toId: t.to ?? -1,
    reason: t.reason,
    ...(t.suspectedAtMicros !== null ? { suspectedAtMicros: t.suspectedAtMicros } : {}),
    // The first election has no failed leader: its "detection" is the start of candidacy.
    detectedAtMicros: t.failedAtMicros ?? t.candidateAtMicros ?? t.firstCommitAtMicros ?? 0,
    candidateAtMicros: defined(t.candidateAtMicros),
    permissionsGrantedAtMicros: defined(t.permissionsAtMicros),
    preparedAtMicros: defined(t.preparedAtMicros),
    firstCommitAtMicros: defined(t.firstCommitAtMicros),
    permissionSwitches: t.grants.map((g) => ({
      replica: g.replica,
      mechanism: g.mechanism === 'unknown' ? 'accessFlags' : g.mechanism,
      durationMicros: g.switchMicros,
    })),
    catchUpMicros: t.catchUpMicros,
    // Durations, for people (the operator recomputes them from the times above).
    detectionMicros: t.detectionMicros,
    permissionSwitchMicros: t.permissionSwitchMicros,
    totalMicros: t.totalMicros,
  };
}

function fabricInfo(fabric: FabricState, config: AgentConfig, address: string): AgentFabricInfo & Record<string, unknown> {
  if (fabric.kind === 'soft') {
    return { kind: 'soft', address: `${address}:${config.self.fabricPort}`, reason: fabric.reason };
  }
  const s = fabric.selection!;
  return {
    kind: 'verbs', device: s.device, port: s.port, linkLayer: s.linkLayer, gid: s.gid, gidIndex: s.gidIndex,
    ...(s.address ? { address: s.address } : {}), gidType: s.gidType, activeMtu: s.activeMtu, reason: fabric.reason,
  };
}

export type StatusDocument = AgentStatus & Record<string, unknown>;

export function buildStatus(stats: ReplicaStats, ctx: StatusContext, nowMs: number = Date.now()): StatusDocument {
  const { config } = ctx;
  const leaderId = leaderOf(stats);
  const peers = new Map(stats.peers.map((p) => [p.id, p]));
  const ready = readiness(stats, config.members.length, ctx.phase, ctx.tally);
  const members = config.members.map((m) => {
    const self = m.id === config.replicaId;
    const view = peers.get(m.id);
    const address = ctx.addresses[m.id] ?? m.host;
    return {
      id: m.id,
      ...(m.name ? { name: m.name } : {}),
      host: m.host,
      self,
      leader: m.id === leaderId,
      // As this replica's failure detector sees it (itself: alive while running).
      alive: self ? stats.running : view?.alive ?? false,
      heartbeatScore: self ? null : view?.score ?? 0,
      resp: `${address}:${m.respPort}`,
      agent: `http://${address}:${m.id === config.replicaId ? config.httpPort : m.agentPort}`,
    };
  });
  const failovers = [...stats.timelines].reverse().slice(0, MAX_FAILOVERS).map(toFailover);
  return {
    replicaId: config.replicaId,
    role: agentRole(stats),
    leaderId,
    proposalNumber: stats.proposal,
    firstUndecidedOffset: stats.nextIndex,
    commitIndex: stats.commitIndex,
    appliedIndex: stats.appliedIndex,
    applyLag: Math.max(0, stats.commitIndex - stats.appliedIndex),
    fabric: fabricInfo(ctx.fabric, config, ctx.addresses[config.replicaId] ?? config.self.host),
    failovers,
    permissionSwitch: {
      recentMicros: [...ctx.tally.recentSwitchMicros],
      mechanismCounts: { ...ctx.tally.permissionSwitches },
    },
    phase: ctx.phase,
    ready: ready.ready,
    readiness: ready,
    cluster: config.cluster,
    namespace: config.namespace,
    members,
    engine: {
      phase: stats.phase,
      voter: stats.voter,
      leaderView: stats.leaderView,
      replicationLeader: stats.leader,
      preferredLeader: stats.preferredLeader ?? null,
      confirmedFollowers: stats.confirmedFollowers,
      proposals: stats.proposals,
      entriesDecided: stats.entriesDecided,
      aborts: stats.aborts,
      prepares: stats.prepares,
      // Leader side: followers it could not catch up from its log (the entries they lack were
      // recycled); each was asked to fetch the state instead.
      catchUpImpossible: stats.catchUpImpossible,
      stateTransfer: stats.stateTransfer,
      pendingRequests: stats.pendingRequests,
      heartbeat: stats.heartbeat,
      heartbeatStopped: stats.heartbeatStopped,
      failovers: stats.failovers,
      leaderChangesSeen: ctx.tally.leaderChanges,
      quorumLost: ctx.tally.quorumLost,
      uptimeSeconds: stats.uptimeMicros / 1e6,
    },
    log: {
      usedBytes: stats.logUsedBytes,
      ringBytes: stats.logRingBytes,
      usage: stats.logRingBytes > 0 ? stats.logUsedBytes / stats.logRingBytes : 0,
    },
    kv: { ...stats.kv, respPort: stats.resp.port, connections: stats.resp.connections, commands: stats.resp.commands },
    rdma: ctx.fabric.kind === 'verbs' || ctx.fabric.devices
      ? { selected: ctx.fabric.selection ?? null, devices: ctx.fabric.devices ?? [] }
      : null,
    versions: ctx.versions,
    pod: config.pod,
    bootstrap: config.bootstrap,
    startedAtMicros: ctx.startedAtMs * 1000,
    uptimeSeconds: (nowMs - ctx.startedAtMs) / 1000,
  };
}
