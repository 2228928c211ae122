// TypeScript types of startReplica / Replica (native/src/binding/replica_binding.cc): one replica of the replicated
// KV service — engine thread, failure detector, RESP front end — run from JavaScript. Field for field what the C++
// side produces. Absolute times are microseconds since the Unix epoch (CLOCK_REALTIME, integral); durations are
// microseconds with nanosecond precision (fractional).

/** The operator's names (operator/src/status/agent-status.ts) for how write permission moves to a new leader. */
export type PermissionMechanism = 'accessFlags' | 'qpCycle' | 'mrReregister';
export type EngineRole = 'leader' | 'follower' | 'candidate';

export interface ReplicaMember {
  id: number;
  /** IPv4 address peers reach this replica on. */
  host: string;
  /** TCP port of the connection-setup exchange (0 only in a one-replica group). */
  bootstrapPort: number;
  /** TCP port of the soft NIC (soft fabric only). */
  fabricPort: number;
  /** RESP (Redis protocol) port; 0 = any free port (see Replica.respPort). */
  respPort: number;
}

export interface ReplicaReplicationOptions {
  maxRequestBytes?: number;
  maxBatchRecords?: number;
  maxBatchBytes?: number;
  maxInflight?: number;
  maxPending?: number;
  commitPublishMicros?: number;
  headRefreshMicros?: number;
  rejoinRetryMicros?: number;
  requestTimeoutMicros?: number;
  appliesPerPoll?: number;
  revocation?: PermissionMechanism;
}

export interface ReplicaDetectorOptions {
  readPeriodMicros?: number;
  scoreMax?: number;
  failureThreshold?: number;
  recoveryThreshold?: number;
  scoreUp?: number;
  scoreDown?: number;
  fateShareMicros?: number;
  connectionTimeoutMicros?: number;
}

export interface ReplicaOptions {
  id: number;
  /** Every replica, this one included; ids 0..n-1. */
  members: ReplicaMember[];
  fabric: 'soft' | 'verbs';
  /** The cluster's fabric key (authenticates soft-NIC and bootstrap connections). */
  secret: string | Buffer;
  /** Network namespace (/var/run/netns/NAME) for the soft NIC and bootstrap sockets. */
  netns?: string;
  verbs?: { device?: string; port?: number; gidIndex?: number };
  /** Replicated log ring bytes: a multiple of 4096, the same on every replica. */
  logBytes?: number;
  replication?: ReplicaReplicationOptions;
  detector?: ReplicaDetectorOptions;
  /** true only when creating a brand-new cluster; otherwise the replica starts as a learner. */
  bootstrap?: boolean;
  /** The engine thread spins (a core of its own) instead of yielding when idle. Default true. */
  busyPoll?: boolean;
  bootstrapTimeoutMs?: number;
  /** Address the RESP front end listens on (default 0.0.0.0). */
  respBind?: string;
  maxClients?: number;
  /** Engine events, on the JS thread, oldest first. A throw becomes an uncaught exception. */
  onEvent?: (event: ReplicaEvent) => void;
}

export type ReplicaEvent =
  | { kind: 'LeaderChanged'; atMicros: number; from: number | null; to: number | null }
  | { kind: 'FailoverCompleted'; atMicros: number; from: number | null; to: number | null; totalMicros: number;
    reason: string }
  | { kind: 'PermissionSwitch'; atMicros: number; candidate: number | null; durationMicros: number;
    mechanism: PermissionMechanism | 'unknown' }
  | { kind: 'PeerFailed'; atMicros: number; peer: number | null; detail?: string }
  | { kind: 'PeerRecovered'; atMicros: number; peer: number | null; detail?: string }
  | { kind: 'LogFull'; atMicros: number; pendingRequests: number }
  /** Kinds the engine added after this binding (e.g. QuorumLost, QuorumRestored): raw value and detail. */
  | { kind: 'QuorumLost' | 'QuorumRestored'; atMicros: number; value: number; detail?: string };

export interface GrantTiming {
  replica: number;
  mechanism: PermissionMechanism | 'unknown';
  switchMicros: number;
  ackedAtMicros: number | null;
}

/** A leader change as the new leader recorded it (core::FailoverTimeline); null = phase not reached. */
export interface EngineFailoverTimeline {
  from: number | null;
  to: number | null;
  /** leader-failed | initial | lower-id-recovered | switchover */
  reason: string;
  suspectedAtMicros: number | null;
  failedAtMicros: number | null;
  candidateAtMicros: number | null;
  permissionsAtMicros: number | null;
  preparedAtMicros: number | null;
  firstCommitAtMicros: number | null;
  detectionMicros: number;
  permissionSwitchMicros: number;
  catchUpMicros: number;
  totalMicros: number;
  grants: GrantTiming[];
}

export interface EnginePermissionSwitch {
  candidate: number;
  requestSeq: number;
  mechanism: PermissionMechanism | 'unknown';
  durationMicros: number;
  atMicros: number | null;
  revoked: number;
}

export interface ReplicaStats {
  atMicros: number;
  replicaId: number;
  fabric: string;
  running: boolean;
  role: EngineRole;
  /** false: a learner (restarted empty, being caught up; counts toward no majority). */
  voter: boolean;
  phase: string;
  /** Leader as the replication plane knows it. */
  leader: number | null;
  /** Leader as the failure detector chooses it. */
  leaderView: number | null;
  /** The preferred leader a switchover named (it leads while alive and a voter); null: none. */
  preferredLeader: number | null;
  proposal: number;
  /** Leader: first undecided offset (FUO). */
  nextIndex: number;
  commitIndex: number;
  appliedIndex: number;
  logUsedBytes: number;
  logRingBytes: number;
  confirmedFollowers: number;
  proposals: number;
  entriesDecided: number;
  aborts: number;
  prepares: number;
  adopted: number;
  logFullEvents: number;
  pendingRequests: number;
  duplicateBatchesSkipped: number;
  peerFailures: number;
  catchUpImpossible: number;
  /** State transfer (docs/engine.md, "Restart without memory"). */
  stateTransfer: {
    /** Leader: followers it asked to fetch the state (their missing entries were recycled). */
    requested: number;
    /** Snapshots this replica served to others. */
    served: number;
    /** Snapshots this replica fetched and installed. */
    installed: number;
    /** As a candidate behind a follower: caught itself up by reading that follower's log. */
    selfCatchUps: number;
    /** ... or, recycled there too, by fetching that follower's state. */
    selfTransfers: number;
    lastBytes: number;
    lastMicros: number;
    /** Why the last fetch or install failed; '' when it succeeded (or none happened). */
    lastError: string;
  };
  /** Leader: propose→decided latency per decided entry; counts per bucket (not cumulative), the
   *  last bucket above the last bound. */
  replicationLatency: { boundsMicros: number[]; counts: number[]; sumMicros: number; count: number };
  peers: { id: number; alive: boolean; score: number }[];
  heartbeat: number;
  heartbeatStopped: boolean;
  polls: number;
  uptimeMicros: number;
  failovers: number;
  /** Newest last, bounded. */
  timelines: EngineFailoverTimeline[];
  /** Switches this replica's permission manager made, newest last, bounded. */
  permissionSwitches: EnginePermissionSwitch[];
  resp: {
    port: number;
    connections: number;
    connectionsAccepted: number;
    connectionsRejected: number;
    connectionsClosed: number;
    commands: number;
    completed: number;
    protocolErrors: number;
    rejectedCommands: number;
    unknownCommands: number;
    bytesRead: number;
    bytesWritten: number;
  };
  kv: {
    keys: number;
    applied: number;
    lastIndex: number;
    malformedRecords: number;
    proposed: number;
    redirected: number;
    noLeader: number;
    logFull: number;
    tooLarge: number;
  };
}

export type SwitchoverResult = { ok: true } | { ok: false; error: string };

export interface Replica {
  readonly id: number;
  /** The RESP port actually listened on. */
  readonly respPort: number;
  readonly running: boolean;
  /** A snapshot; never blocks the engine thread. After stop(): the last one, with running false. */
  stats(): ReplicaStats;
  /**
   * A KV command through the same path as a RESP client (writes and reads through the log; a follower answers
   * -MOVED). Resolves with the RESP2-encoded reply (errors are replies too: "-ERR …\r\n"). Rejects with code
   * MU_REPLICA_STOPPED when the replica stops first.
   */
  execute(argv: string[]): Promise<string>;
  /** Graceful hand-over: peers treat this replica as failed at once. false when already stopped. */
  leave(): boolean;
  /**
   * Targeted switchover: make replica `to` the preferred leader. Runs on the engine thread; accepted only on the
   * replica that leads (in its own view) and for a target that is a member, alive, a voter (not a learner) and not
   * leaving — to itself it is accepted and changes nothing but the preference. When accepted, this replica steps
   * down and `to` takes over within a few heartbeat read periods. Resolves { ok: true } or { ok: false, error }
   * (why not, naming the leader when this replica does not lead). Rejects with code MU_REPLICA_STOPPED when the
   * replica stops first; throws a TypeError for an id that is not an integer in 0..15.
   */
  switchover(to: number): Promise<SwitchoverResult>;
  /** Stops the engine off the JS thread; idempotent. */
  stop(): Promise<void>;
}

/** A failed start rejects with this: code is the fabric's error name (e.g. "unreachable", "invalid argument"). */
export interface ReplicaStartError extends Error {
  code: string;
}

export interface ReplicaApi {
  /** Options are checked at once (a TypeError naming the option); setup runs on a worker thread. */
  startReplica(options: ReplicaOptions): Promise<Replica>;
  /** Present when the addon was built with libibverbs: the devices as JSON (fabric::to_json). */
  discoverVerbs?: (sysfsRoot?: string) => string;
}

/** Decodes one RESP2 reply as execute() returns it: strings, integers, null, arrays; an error becomes RespError. */
export class RespError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RespError';
  }
}
export type RespValue = string | number | null | RespValue[];

export function decodeResp(text: string): RespValue {
  const [value, end] = decodeAt(text, 0);
  if (end !== text.length) throw new RangeError(`trailing bytes after a RESP reply: ${JSON.stringify(text.slice(end))}`);
  return value;
}

function decodeAt(text: string, at: number): [RespValue, number] {
  const eol = text.indexOf('\r\n', at);
  if (eol < 0) throw new RangeError(`incomplete RESP reply: ${JSON.stringify(text.slice(at))}`);
  const head = text.slice(at + 1, eol);
  switch (text[at]) {
    case '+': return [head, eol + 2];
    case '-': throw new RespError(head);
    case ':': return [Number(head), eol + 2];
    case '$': {
      const n = Number(head);
      if (n < 0) return [null, eol + 2];
      // Lengths are bytes; replies from execute() are UTF-8 decoded strings.
      const bytes = Buffer.from(text.slice(eol + 2), 'utf8');
      const body = bytes.subarray(0, n).toString('utf8');
      return [body, eol + 2 + body.length + 2];
    }
    case '*': {
      const n = Number(head);
      if (n < 0) return [null, eol + 2];
      const items: RespValue[] = [];
      let next = eol + 2;
      for (let i = 0; i < n; i++) {
        const [item, after] = decodeAt(text, next);
        items.push(item);
        next = after;
      }
      return [items, next];
    }
    default:
      throw new RangeError(`not a RESP2 reply: ${JSON.stringify(text.slice(at, at + 16))}`);
  }
}
