// The replication benchmark (DESIGN.md §7; issue "Benchmarks" of the replication plane):
//
//  1. Latency: a tight propose loop on the leader of an in-process group (bench_cluster.h), one
//     proposal outstanding at a time; latency = propose() → the leader applies that request
//     (decided by a majority, counting the leader), timed with the leader device's clock on the
//     one thread that proposes and polls. Nothing crosses threads in the measured path except the
//     fabric itself (soft: the NIC threads). Followers are polled by the same thread every
//     `follower_poll_every` leader polls (they do no fast-path work; they apply, beat and grant).
//  2. The floor: the fabric's own signaled one-sided WRITE round trip (bench_fabric.h) at the same
//     payload, measured in the same run, interleaved with (1) in rounds so that a change of
//     machine load hits both; ratio_p50 = replication p50 / floor p50.
//  3. Throughput: `window` proposals kept outstanding; requests proposed between two leader polls
//     share an entry (batching) and up to max_inflight entries are in flight (pipelining).
//  4. Engine CPU cost per replicated request over the sim fabric (in-process, no threads): the
//     wall-clock time spent inside the leader's propose()+poll() calls, the followers' polls and
//     the simulator, per request — serial (one request per entry) and batched.
//
// Time base: soft → wall-clock (CLOCK_MONOTONIC); sim → the world's virtual time for latency (a
// model, not a machine), wall-clock for the engine cost.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "bench_fabric.h"

namespace mu::tools {

struct ReplicationBenchConfig {
  static constexpr uint32_t kMaxIterations = 10'000'000;
  static constexpr uint32_t kMaxPayloadBytes = 64 * 1024;

  BenchFabric fabric = BenchFabric::kSoft;
  uint32_t replicas = 3;
  uint32_t payload_bytes = 64;
  bool sweep = false;  // also every size of sweep_payload_bytes
  std::vector<uint32_t> sweep_payload_bytes = {8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096};
  uint32_t iterations = 10'000;        // timed proposals per payload size (over all rounds)
  uint32_t warmup_iterations = 1'000;  // untimed, before the first round
  uint32_t rounds = 4;                 // floor and replication alternate this many times
  bool floor = true;                   // measure the fabric floor
  // Throughput: one run per window size (0 entries: skipped).
  std::vector<uint32_t> windows = {1, 4, 16, 64};
  uint32_t throughput_requests = 20'000;  // per window
  // Engine cost over sim (0: skipped). Batched mode proposes `cost_batch` requests per leader poll.
  uint32_t cost_requests = 100'000;
  uint32_t cost_batch = 8;
  bool cost_serial = true;   // run the serial cost mode
  bool cost_batched = true;  // run the batched cost mode (when cost_batch > 1)
  uint64_t seed = 1;
  bool busy_poll = false;            // soft: NIC threads spin (needs a free core per NIC thread)
  // Followers polled once per this many leader polls (~4 leader polls per request on the soft
  // fabric). Each follower poll costs the leader's thread ~0.5 us, mostly cache misses on what its
  // NIC thread wrote on the other CPU: in a deployment that falls on the follower's own CPU, not
  // inside the leader's round trip. 16 (instead of 4): p50 6.3-6.5 us against 6.6-7.5, alternated.
  uint32_t follower_poll_every = 16;
  // The polling thread calls sched_yield() after this many polls without progress (0: never,
  // a pure spin). On a machine with fewer free cores than soft-NIC threads, a woken NIC thread
  // placed on the spinning thread's core otherwise waits for the scheduler's slice to end.
  uint32_t yield_after_idle_polls = 0;
  // CPU placement (soft): the soft NICs' threads inherit the affinity of the thread that opens
  // the devices. -1: leave the scheduler free. With nic_cpu set, every NIC thread (of the group
  // and of the floor's device pair) runs on that CPU, so a NIC waking another NIC is a local
  // wakeup, and the polling thread runs on poll_cpu (one core each: what a real RDMA host has —
  // the NIC is not a CPU thread at all). Applied to the floor and the group alike.
  int nic_cpu = -1;
  int poll_cpu = -1;
  uint32_t max_batch_records = 32;   // ReplicationConfig: requests per entry
  uint32_t max_inflight = 32;        // ReplicationConfig: entries in flight
  uint32_t op_timeout_ms = 5'000;    // one proposal not applied within this: the run fails
  bool callgrind_leader = false;     // engine cost: collect (callgrind) only in leader calls
  std::function<void(const std::string&)> progress;

  fabric::Status validate() const;
};

struct ReplicationPoint {
  uint32_t payload_bytes = 0;
  LatencySummary latency;  // propose → applied on the leader
  LatencySummary floor;    // WRITE round trip (all zero when the floor was not measured)
  // Diagnostics: bare WRITEs of the payload from the leader's device to every follower's at
  // once, over the group's own NICs; time to the first completion (a majority of 3 counting
  // the leader) and to the last. Replication minus fanout_first ≈ the engine's own share.
  LatencySummary fanout_first;
  LatencySummary fanout_all;
  double ratio_p50 = 0;    // latency.p50 / floor.p50 (0 without a floor)
  double ratio_p99 = 0;
  double leader_polls_per_request = 0;
};

struct ThroughputPoint {
  uint32_t window = 0;
  uint32_t payload_bytes = 0;
  uint64_t requests = 0;
  double seconds = 0;  // in the bench's time base
  double ops_per_s = 0;
  double entries_per_s = 0;
  double mean_batch = 0;  // requests per entry
  LatencySummary latency;
};

struct EngineCost {
  std::string mode;  // "serial" (one request per entry) | "batched"
  uint32_t batch = 1;  // requests proposed per leader poll
  uint64_t requests = 0;
  uint64_t entries = 0;
  double wall_ns_per_request = 0;       // the whole loop: every replica + the simulator
  double leader_ns_per_request = 0;     // inside the leader's propose() and poll()
  double followers_ns_per_request = 0;  // inside the followers' poll()
  double fabric_ns_per_request = 0;     // inside SimWorld::step (the emulated NICs)
  double leader_polls_per_request = 0;
  double timer_overhead_ns = 0;  // per timed section, already subtracted
};

struct ReplicationBenchResult {
  BenchFabric fabric = BenchFabric::kSoft;
  std::string time_base;
  uint32_t replicas = 0;
  uint32_t iterations = 0;
  uint32_t warmup_iterations = 0;
  uint32_t rounds = 0;
  uint64_t seed = 0;
  uint32_t follower_poll_every = 0;
  uint32_t yield_after_idle_polls = 0;
  // CPU placement (soft): the soft NICs' threads inherit the affinity of the thread that opens
  // the devices. -1: leave the scheduler free. With nic_cpu set, every NIC thread (of the group
  // and of the floor's device pair) runs on that CPU, so a NIC waking another NIC is a local
  // wakeup, and the polling thread runs on poll_cpu (one core each: what a real RDMA host has —
  // the NIC is not a CPU thread at all). Applied to the floor and the group alike.
  int nic_cpu = -1;
  int poll_cpu = -1;
  uint32_t max_batch_records = 0;
  uint32_t max_inflight = 0;
  bool busy_poll = false;
  ReplicationPoint headline;
  std::vector<ReplicationPoint> points;  // the sweep (empty without it)
  std::vector<ThroughputPoint> throughput;
  std::vector<EngineCost> engine_cost;
  double total_wall_s = 0;
};

fabric::Result<ReplicationBenchResult> run_replication_bench(const ReplicationBenchConfig& config);

// Only the engine-cost part (used by mu-bench-engine-cost under callgrind).
fabric::Result<std::vector<EngineCost>> run_engine_cost(const ReplicationBenchConfig& config);

// One JSON document, schema "mu.bench.replication/v1" (see node-agent/src/native/engine.ts).
std::string to_json(const ReplicationBenchResult& result);

}  // namespace mu::tools
