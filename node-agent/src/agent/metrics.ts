// Prometheus metrics of one replica (prom-client, a registry of its own). Gauges and counters follow the engine's
// stats snapshot, refreshed at scrape time; the failover and permission-switch histograms follow engine events.
// The engine has no per-request replication latency histogram yet: proposals and commits are counters, and the
// failover phases and permission switches are histograms.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

// The engine's latency histogram bounds (native/src/core/replication.h kLatencyBoundsMicros).
const LATENCY_BOUNDS_MICROS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 100000];

import type { ReplicaEvent, ReplicaStats } from '../native/replica.js';
import type { AgentConfig } from './config.js';
import { agentRole, type Readiness, toFailover } from './status.js';

const ROLES = ['leader', 'follower', 'candidate', 'learner'] as const;
/** 1 µs .. ~4 s: permission switches take µs on RDMA NICs, ms on the soft fabric. */
const SWITCH_BUCKETS = [1e-6, 2e-6, 5e-6, 1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 5e-2, 0.1, 0.5];
const FAILOVER_BUCKETS = [1e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1, 5];

const replicaLabel = (id: number | null): string => (id === null ? 'none' : String(id));

export class AgentMetrics {
  readonly registry = new Registry();
  private readonly last = new Map<string, number>();
  private readonly countedFailovers = new Set<string>();

  private readonly info: Gauge<'cluster' | 'fabric' | 'version'>;
  private readonly role: Gauge<'role'>;
  private readonly leader: Gauge;
  private readonly ready: Gauge;
  private readonly proposal: Gauge;
  private readonly fuo: Gauge;
  private readonly commitIndex: Gauge;
  private readonly appliedIndex: Gauge;
  private readonly applyLag: Gauge;
  private readonly logUsed: Gauge;
  private readonly logSize: Gauge;
  private readonly logUsage: Gauge;
  private readonly pending: Gauge;
  private readonly confirmedFollowers: Gauge;
  private readonly heartbeatStopped: Gauge;
  private readonly peerScore: Gauge<'peer'>;
  private readonly peerAlive: Gauge<'peer'>;
  private readonly keys: Gauge;
  private readonly respConnections: Gauge;
  private readonly totals: Record<string, Counter>;
  private readonly failovers: Counter<'from' | 'to'>;
  private readonly leaderChanges: Counter<'from' | 'to'>;
  private readonly peerEvents: Counter<'peer' | 'event'>;
  private readonly failoverPhase: Histogram<'phase'>;
  private readonly permissionSwitch: Histogram<'mechanism'>;
  private readonly replicationLatency: Histogram<string>;
  private latencyCountsSeen: number[] = [];
  private readonly latencySum: Gauge;

  constructor(config: AgentConfig, version: string, fabric: string, withProcessMetrics = true) {
    const r = [this.registry];
    this.registry.setDefaultLabels({ replica: String(config.replicaId) });
    if (withProcessMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'mu_agent_' });
    // Every series carries replica="<id>" (a default label).
    this.info = new Gauge({ name: 'mu_replica_info', help: 'Replica identity (always 1)', registers: r,
      labelNames: ['cluster', 'fabric', 'version'] });
    this.info.set({ cluster: config.cluster, fabric, version }, 1);
    const gauge = (name: string, help: string): Gauge => new Gauge({ name, help, registers: r });
    this.role = new Gauge({ name: 'mu_role', help: 'Role of this replica (1 for the current one)', registers: r,
      labelNames: ['role'] });
    this.leader = gauge('mu_leader_id', 'Replica this one believes leads (-1: none)');
    this.ready = gauge('mu_ready', '1 when /readyz answers ready');
    this.proposal = gauge('mu_proposal_number', 'Current proposal number');
    this.fuo = gauge('mu_first_undecided_offset', 'Leader: first undecided log index (FUO)');
    this.commitIndex = gauge('mu_commit_index', 'Commit point known to this replica');
    this.appliedIndex = gauge('mu_applied_index', 'Last log index applied to the state machine');
    this.applyLag = gauge('mu_apply_lag_entries', 'Committed entries not yet applied');
    this.logUsed = gauge('mu_log_used_bytes', 'Bytes of the log ring in use');
    this.logSize = gauge('mu_log_size_bytes', 'Bytes of the log ring');
    this.logUsage = gauge('mu_log_usage_ratio', 'Fraction of the log ring in use');
    this.pending = gauge('mu_pending_requests', 'Requests queued on the leader, not yet in the log');
    this.confirmedFollowers = gauge('mu_confirmed_followers', 'Leader: followers that granted it write access');
    this.heartbeatStopped = gauge('mu_heartbeat_stopped', '1 when fate sharing stopped this replica\'s heartbeat');
    this.peerScore = new Gauge({ name: 'mu_peer_heartbeat_score', help: 'Failure-detector score of each peer',
      registers: r, labelNames: ['peer'] });
    this.peerAlive = new Gauge({ name: 'mu_peer_alive', help: '1 when the failure detector considers the peer alive',
      registers: r, labelNames: ['peer'] });
    this.keys = gauge('mu_kv_keys', 'Keys in the replicated key-value store');
    this.respConnections = gauge('mu_resp_connections', 'Open RESP client connections');
    const counter = (name: string, help: string): Counter => new Counter({ name, help, registers: r });
    this.totals = {
      proposals: counter('mu_proposals_total', 'Client requests proposed by this replica as leader'),
      entriesDecided: counter('mu_commits_total', 'Log entries decided (committed) by this replica as leader'),
      aborts: counter('mu_aborts_total', 'Proposals aborted (leadership lost or a write failed)'),
      prepares: counter('mu_prepares_total', 'Prepare phases run'),
      logFullEvents: counter('mu_log_full_total', 'Times the log was full (back-pressure)'),
      peerFailures: counter('mu_peer_failures_total', 'Replication writes to a peer that failed'),
      applied: counter('mu_applied_total', 'Requests applied to the state machine'),
      respCommands: counter('mu_resp_commands_total', 'RESP commands received'),
    };
    this.failovers = new Counter({ name: 'mu_failovers_total',
      help: 'Leader changes this replica completed as the new leader (from: previous leader, "none" at first election)',
      registers: r, labelNames: ['from', 'to'] });
    this.leaderChanges = new Counter({ name: 'mu_leader_changes_total',
      help: 'Leader changes seen by this replica\'s failure detector', registers: r, labelNames: ['from', 'to'] });
    this.peerEvents = new Counter({ name: 'mu_peer_events_total', help: 'Peers declared failed or recovered',
      registers: r, labelNames: ['peer', 'event'] });
    this.failoverPhase = new Histogram({ name: 'mu_failover_phase_seconds',
      help: 'Failover phases completed by this replica as new leader: detection, permission_switch, catch_up, total',
      registers: r, labelNames: ['phase'], buckets: FAILOVER_BUCKETS });
    // Buckets equal the engine's, so bucket counts are exact; _sum uses each bucket's upper bound
    // (the engine's exact sum is mu_replication_latency_seconds_total).
    this.replicationLatency = new Histogram({ name: 'mu_replication_latency_seconds',
      help: 'Leader: time from posting an entry\'s WRITEs to its decision (majority), per decided entry',
      registers: r, buckets: LATENCY_BOUNDS_MICROS.map((us) => us / 1e6) });
    this.latencySum = new Gauge({ name: 'mu_replication_latency_seconds_total',
      help: 'Leader: exact sum of the replication latencies counted in mu_replication_latency_seconds', registers: r });
    this.permissionSwitch = new Histogram({ name: 'mu_permission_switch_seconds',
      help: 'Permission switches made by this replica (revoke the old leader, grant the new one), by mechanism',
      registers: r, labelNames: ['mechanism'], buckets: SWITCH_BUCKETS });
  }

  /** Engine events: counters and histograms that need every occurrence. */
  onEvent(e: ReplicaEvent): void {
    switch (e.kind) {
      case 'LeaderChanged':
        this.leaderChanges.inc({ from: replicaLabel(e.from), to: replicaLabel(e.to) });
        break;
      case 'PermissionSwitch':
        this.permissionSwitch.observe({ mechanism: e.mechanism }, e.durationMicros / 1e6);
        break;
      case 'PeerFailed':
      case 'PeerRecovered':
        this.peerEvents.inc({ peer: replicaLabel(e.peer), event: e.kind === 'PeerFailed' ? 'failed' : 'recovered' });
        break;
      default:
        break;
    }
  }

  /** New entries of the engine's latency histogram since the last scrape, bucket by bucket. */
  private observeLatency(h: ReplicaStats['replicationLatency'] | undefined): void {
    if (!h) return;
    h.counts.forEach((count, i) => {
      const fresh = count - (this.latencyCountsSeen[i] ?? 0);
      if (fresh <= 0) return;
      const upper = i < h.boundsMicros.length ? h.boundsMicros[i] : 2 * h.boundsMicros[h.boundsMicros.length - 1];
      for (let k = 0; k < fresh; ++k) this.replicationLatency.observe(upper / 1e6);
    });
    this.latencyCountsSeen = [...h.counts];
    this.latencySum.set(h.sumMicros / 1e6);
  }

  /** At scrape time: the snapshot's gauges and cumulative counters, and timelines not yet counted. */
  refresh(stats: ReplicaStats, ready: Readiness): void {
    const role = agentRole(stats);
    for (const r of ROLES) this.role.set({ role: r }, r === role ? 1 : 0);
    this.leader.set(stats.leaderView ?? stats.leader ?? -1);
    this.ready.set(ready.ready ? 1 : 0);
    this.proposal.set(stats.proposal);
    this.fuo.set(stats.nextIndex);
    this.commitIndex.set(stats.commitIndex);
    this.appliedIndex.set(stats.appliedIndex);
    this.applyLag.set(Math.max(0, stats.commitIndex - stats.appliedIndex));
    this.logUsed.set(stats.logUsedBytes);
    this.logSize.set(stats.logRingBytes);
    this.logUsage.set(stats.logRingBytes > 0 ? stats.logUsedBytes / stats.logRingBytes : 0);
    this.pending.set(stats.pendingRequests);
    this.confirmedFollowers.set(stats.confirmedFollowers);
    this.heartbeatStopped.set(stats.heartbeatStopped ? 1 : 0);
    this.observeLatency(stats.replicationLatency);
    for (const p of stats.peers) {
      this.peerScore.set({ peer: String(p.id) }, p.score);
      this.peerAlive.set({ peer: String(p.id) }, p.alive ? 1 : 0);
    }
    this.keys.set(stats.kv.keys);
    this.respConnections.set(stats.resp.connections);
    const cumulative: Record<string, number> = {
      proposals: stats.proposals, entriesDecided: stats.entriesDecided, aborts: stats.aborts, prepares: stats.prepares,
      logFullEvents: stats.logFullEvents, peerFailures: stats.peerFailures, applied: stats.kv.applied,
      respCommands: stats.resp.commands,
    };
    for (const [key, value] of Object.entries(cumulative)) {
      const delta = value - (this.last.get(key) ?? 0);
      if (delta > 0) this.totals[key]!.inc(delta);
      this.last.set(key, value);
    }
    for (const t of stats.timelines) {
      if (t.firstCommitAtMicros === null) continue;
      const doc = toFailover(t);
      if (this.countedFailovers.has(doc.id)) continue;
      this.countedFailovers.add(doc.id);
      this.failovers.inc({ from: replicaLabel(t.from), to: replicaLabel(t.to) });
      if (t.from === null) continue; // the first election is not a failover: no phases to time
      this.failoverPhase.observe({ phase: 'detection' }, t.detectionMicros / 1e6);
      this.failoverPhase.observe({ phase: 'permission_switch' }, t.permissionSwitchMicros / 1e6);
      this.failoverPhase.observe({ phase: 'catch_up' }, t.catchUpMicros / 1e6);
      this.failoverPhase.observe({ phase: 'total' }, t.totalMicros / 1e6);
    }
  }
}
