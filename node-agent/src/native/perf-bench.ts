// The performance benchmarks of the native engine (native/src/binding/bench_perf_binding.h):
// their options and result documents, field for field as the C++ side writes them
// (native/tools/bench_{replication,failover,kv}.cc: to_json / stats_json).
import { EngineLoadError, type FabricName, type LatencyFigures, loadEngine, type TimeBase } from './engine.js';

type Prefixed<P extends string> = {
  [K in keyof LatencyFigures as `${P}${K & string}`]: number;
};

// --- replication ------------------------------------------------------------------------------

export interface ReplicationLatencyPoint extends LatencyFigures, Partial<Prefixed<'floor_'>>,
  Partial<Prefixed<'fanout_first_'>>, Partial<Prefixed<'fanout_all_'>> {
  benchmark: 'replication-latency';
  fabric: FabricName;
  time_base: TimeBase;
  payload_bytes: number;
  /** p50 / floor p50 (null when the floor was not measured). */
  ratio_p50: number | null;
  ratio_p99: number | null;
  leader_polls_per_request: number;
}

export interface ReplicationThroughputPoint extends LatencyFigures {
  benchmark: 'replication-throughput';
  fabric: FabricName;
  time_base: TimeBase;
  window: number;
  payload_bytes: number;
  requests: number;
  seconds: number;
  ops_per_s: number;
  entries_per_s: number;
  mean_batch: number;
}

export interface EngineCostFigures {
  benchmark: 'engine-cost';
  fabric: 'sim';
  time_base: 'wall-clock';
  mode: 'serial' | 'batched';
  batch: number;
  requests: number;
  entries: number;
  leader_ns_per_request: number;
  followers_ns_per_request: number;
  fabric_ns_per_request: number;
  wall_ns_per_request: number;
  leader_polls_per_request: number;
  timer_overhead_ns: number;
}

export interface ReplicationBenchResults {
  schema: 'mu.bench.replication/v1';
  fabric: FabricName;
  time_base: TimeBase;
  replicas: number;
  payload_bytes: number;
  iterations: number;
  warmup_iterations: number;
  rounds: number;
  seed: number;
  total_wall_s: number;
  settings: Record<string, string | number | boolean>;
  /** The headline point's ratio (null without a floor). */
  ratio_p50: number | null;
  latency: ReplicationLatencyPoint;
  points: ReplicationLatencyPoint[];
  throughput: ReplicationThroughputPoint[];
  engine_cost: EngineCostFigures[];
}

export interface ReplicationBenchOptions {
  fabric: FabricName;
  replicas?: number;
  payloadBytes?: number;
  sweep?: boolean;
  payloadSizes?: number[];
  iterations?: number;
  warmupIterations?: number;
  rounds?: number;
  floor?: boolean;
  windows?: number[];
  throughputRequests?: number;
  costRequests?: number;
  costBatch?: number;
  seed?: number;
  busyPoll?: boolean;
  followerPollEvery?: number;
  yieldAfterIdlePolls?: number;
  nicCpu?: number;
  pollCpu?: number;
  onProgress?: (line: string) => void;
}

// --- failover ---------------------------------------------------------------------------------

export type FailoverFault = 'kill' | 'pause';

export interface FailoverBreakdown {
  detection: number;
  election: number;
  permission_switch: number;
  catch_up: number;
  first_commit: number;
}

export interface FailoverTrialResult {
  trial: number;
  ok: boolean;
  error?: string;
  from?: number;
  to?: number;
  suspected_us?: number;
  failed_us?: number;
  candidate_us?: number;
  permissions_us?: number;
  prepared_us?: number;
  first_commit_us?: number;
  breakdown_us?: FailoverBreakdown;
  grants?: { replica: number; mechanism: string; switch_us: number }[];
}

export interface FailoverBenchResults {
  schema: 'mu.bench.failover/v1';
  fabric: FabricName;
  time_base: TimeBase;
  fault: FailoverFault;
  replicas: number;
  trials_requested: number;
  failed_trials: number;
  pause_ms: number;
  load_per_second: number;
  busy_poll: boolean;
  idle_sleep_us: number;
  total_wall_s: number;
  settings: {
    read_period_us: number;
    score_max: number;
    failure_threshold: number;
    recovery_threshold: number;
    score_up: number;
    score_down: number;
    fate_share_us: number;
    connection_timeout_us: number;
    misses_to_detect: number;
    nominal_detection_us: number;
  };
  summary: Record<keyof FailoverBreakdown | 'total', LatencyFigures>;
  trials: FailoverTrialResult[];
  quiet: {
    measured: boolean;
    seconds: number;
    proposals: number;
    applied: number;
    leader_changes: number;
    failovers: number;
    events: string[];
  };
}

export interface FailoverBenchOptions {
  fabric: FabricName;
  replicas?: number;
  trials?: number;
  fault?: FailoverFault;
  pauseMs?: number;
  quietSeconds?: number;
  loadPerSecond?: number;
  readPeriodMicros?: number;
  failureThreshold?: number;
  recoveryThreshold?: number;
  scoreMax?: number;
  basePort?: number;
  busyPoll?: boolean;
  idleSleepMicros?: number;
  seed?: number;
  trialTimeoutMs?: number;
  onProgress?: (line: string) => void;
}

// --- KV cluster -------------------------------------------------------------------------------

export interface KvBenchClusterOptions {
  replicas?: number;
  basePort?: number;
  leaderBusyPoll?: boolean;
  followerBusyPoll?: boolean;
  followerIdleSleepMicros?: number;
  logBytes?: number;
  maxValueBytes?: number;
  detectorReadPeriodMicros?: number;
}

export interface KvReplicaBenchStats {
  id: number;
  role: 'leader' | 'follower' | 'candidate';
  leader_view: number;
  commit_index: number;
  applied_index: number;
  entries_decided: number;
  proposals: number;
  failovers: number;
  resp_commands: number;
  resp_connections: number;
  redirected: number;
}

export interface KvBenchCluster {
  readonly respPorts: readonly number[];
  readonly leaderPort: number;
  readonly leader: number;
  stats(): { replicas: KvReplicaBenchStats[] };
  /** Stops every replica (joins their threads); idempotent. */
  stop(): void;
}

export interface PerfBenchEngine {
  version(): string;
  benchReplication(options: ReplicationBenchOptions): Promise<ReplicationBenchResults>;
  benchFailover(options: FailoverBenchOptions): Promise<FailoverBenchResults>;
  startKvBenchCluster(options: KvBenchClusterOptions): Promise<KvBenchCluster>;
}

/** The engine with the performance benchmarks (an addon built before them lacks them). */
export function loadPerfBench(): PerfBenchEngine {
  const engine = loadEngine() as unknown as Partial<PerfBenchEngine>;
  for (const name of ['benchReplication', 'benchFailover', 'startKvBenchCluster'] as const) {
    if (typeof engine[name] !== 'function') {
      throw new EngineLoadError(`the native engine does not export ${name} (an older build)`,
        'rebuild it with `node hack/build-addon.mjs`');
    }
  }
  return engine as PerfBenchEngine;
}
