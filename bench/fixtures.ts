// Small, hand-made benchmark results in the native tools' schemas, for the report and plot tests
// (they exercise formatting and rendering without running anything; the figures are made up).
import type {
  FailoverBenchResults, ReplicationBenchResults, ReplicationLatencyPoint,
} from '../node-agent/src/native/perf-bench.js';
import type { KvBenchResults, KvRow } from './kv/run.js';

function latency(p50: number, p99: number) {
  return { samples: 1000, p50_us: p50, p99_us: p99, mean_us: (p50 + p99) / 2, min_us: p50 / 2, max_us: p99 * 2 };
}

function replicationPoint(bytes: number, p50: number, floor: number): ReplicationLatencyPoint {
  return {
    benchmark: 'replication-latency', fabric: 'soft', time_base: 'wall-clock', payload_bytes: bytes,
    ...latency(p50, p50 * 3),
    floor_samples: 2000, floor_p50_us: floor, floor_p99_us: floor * 3, floor_mean_us: floor, floor_min_us: floor / 2,
    floor_max_us: floor * 9,
    fanout_first_samples: 1000, fanout_first_p50_us: p50 * 0.9, fanout_first_p99_us: p50 * 2,
    fanout_first_mean_us: p50, fanout_first_min_us: p50 / 2, fanout_first_max_us: p50 * 4,
    fanout_all_samples: 1000, fanout_all_p50_us: p50, fanout_all_p99_us: p50 * 2, fanout_all_mean_us: p50,
    fanout_all_min_us: p50 / 2, fanout_all_max_us: p50 * 4,
    ratio_p50: p50 / floor, ratio_p99: 1, leader_polls_per_request: 120,
  };
}

export function replicationFixture(sweep = true): ReplicationBenchResults {
  const sizes = [8, 64, 512, 4096];
  const points = sizes.map((b, i) => replicationPoint(b, 20 + i, 9 + i));
  return {
    schema: 'mu.bench.replication/v1', fabric: 'soft', time_base: 'wall-clock', replicas: 3, payload_bytes: 64,
    iterations: 1000, warmup_iterations: 100, rounds: 2, seed: 1, total_wall_s: 1.5,
    settings: { follower_poll_every: 4, nic_cpu: -1, poll_cpu: -1, leader: 'static (replica 0)' },
    ratio_p50: points[1]!.ratio_p50,
    latency: points[1]!,
    points: sweep ? points : [],
    throughput: [1, 4, 16, 64].map((w) => ({
      benchmark: 'replication-throughput' as const, fabric: 'soft' as const, time_base: 'wall-clock' as const,
      window: w, payload_bytes: 64, requests: 1000, seconds: 0.1 / w, ops_per_s: 10_000 * w, entries_per_s: 10_000,
      mean_batch: w, ...latency(25, 80),
    })),
    engine_cost: [
      { benchmark: 'engine-cost', fabric: 'sim', time_base: 'wall-clock', mode: 'serial', batch: 1, requests: 1000,
        entries: 1000, leader_ns_per_request: 800, followers_ns_per_request: 900, fabric_ns_per_request: 1200,
        wall_ns_per_request: 3100, leader_polls_per_request: 2, timer_overhead_ns: 9 },
      { benchmark: 'engine-cost', fabric: 'sim', time_base: 'wall-clock', mode: 'batched', batch: 8, requests: 1000,
        entries: 125, leader_ns_per_request: 170, followers_ns_per_request: 150, fabric_ns_per_request: 200,
        wall_ns_per_request: 530, leader_polls_per_request: 0.25, timer_overhead_ns: 9 },
    ],
  };
}

export function failoverFixture(): FailoverBenchResults {
  const trials = [0, 1, 2].map((i) => ({
    trial: i, ok: true, from: 0, to: 1, suspected_us: 100, failed_us: 13_000 + i * 100, candidate_us: 13_010 + i * 100,
    permissions_us: 13_080 + i * 100, prepared_us: 13_400 + i * 100, first_commit_us: 13_410 + i * 100,
    breakdown_us: { detection: 13_000 + i * 100, election: 10, permission_switch: 70, catch_up: 320, first_commit: 10 },
    grants: [{ replica: 1, mechanism: 'qp-access-flags', switch_us: 5 }, { replica: 2, mechanism: 'qp-access-flags', switch_us: 40 }],
  }));
  const s = latency(13_500, 13_700);
  return {
    schema: 'mu.bench.failover/v1', fabric: 'soft', time_base: 'wall-clock', fault: 'kill', replicas: 3,
    trials_requested: 4, failed_trials: 1, pause_ms: 200, load_per_second: 1000, busy_poll: false, idle_sleep_us: 0,
    total_wall_s: 3.2,
    settings: { read_period_us: 1000, score_max: 15, failure_threshold: 2, recovery_threshold: 6, score_up: 1,
      score_down: 1, fate_share_us: 50_000, connection_timeout_us: 20_000, misses_to_detect: 13,
      nominal_detection_us: 13_000 },
    summary: { total: s, detection: latency(13_100, 13_200), election: latency(10, 12),
      permission_switch: latency(70, 90), catch_up: latency(320, 400), first_commit: latency(10, 11) },
    trials: [...trials, { trial: 3, ok: false, error: 'no takeover within 10000 ms' }],
    quiet: { measured: true, seconds: 30.1, proposals: 30_000, applied: 29_990, leader_changes: 0, failovers: 0, events: [] },
  };
}

export function kvFixture(): KvBenchResults {
  const row = (target: KvRow['target'], test: string, round: number, ops: number, p50: number): KvRow => ({
    target, test, round, ops_per_s: ops, avg_us: p50 * 1.2, min_us: p50 / 4, p50_us: p50, p95_us: p50 * 3,
    p99_us: p50 * 5, max_us: p50 * 20,
  });
  const runs = [
    row('redis-server', 'SET', 0, 60_000, 400), row('redis-server', 'GET', 0, 62_000, 380),
    row('mu', 'SET', 0, 40_000, 700), row('mu', 'GET', 0, 41_000, 690),
  ];
  return {
    schema: 'mu.bench.kv/v1',
    settings: { requests: 10_000, clients: 50, pipeline: 1, data_size: 64, keyspace: 100_000, rounds: 1, tests: ['set', 'get'] },
    targets: {
      redis: { port: 22_999, version: '7.0.15', persistence: 'off' },
      mu: { port: 23_002, replicas: 3, fabric: 'soft', leader: 0, options: { followerIdleSleepMicros: 100 } },
    },
    table: runs.map(({ round: _round, ...r }) => r),
    ratios: [{ test: 'SET', ops_per_s: 40 / 60, p50: 700 / 400, p99: 700 / 400 },
      { test: 'GET', ops_per_s: 41 / 62, p50: 690 / 380, p99: 690 / 380 }],
    runs,
    mu_stats: { replicas: [] },
    total_wall_s: 4,
  };
}
