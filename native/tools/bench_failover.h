// The failover benchmark (DESIGN.md §7; issue "Benchmarks" of the background plane).
//
// Each trial starts a fresh group, waits until replica 0 leads and commits under a light load,
// injects a fault into the leader and measures, on the replica that takes over, the time from
// the fault to its first commit — broken down with its failover timeline (core::FailoverTimeline):
//
//   fault ─ detection ─► failed ─ election ─► candidate ─ permission switch ─► majority granted
//         ─ catch-up (prepare + catch-up) ─► serving ─ first commit ─► first entry decided
//
// soft: N engine::Engine objects in this process over the soft fabric on 127.0.0.1 (bootstrap
//       over TCP, one polling thread per engine — the production driver). Faults:
//         kill  — the leader's Engine is stopped and destroyed: its thread stops, its soft NIC
//                 closes, peers' reads fail (a crashed process; the in-process equivalent of
//                 SIGKILL).
//         pause — a work item posted to the leader's engine thread sleeps for pause_ms: the
//                 replica stops polling (heartbeat, permissions, replication) while its soft NIC
//                 keeps serving one-sided operations, as an RDMA NIC does for a stalled host
//                 (SIGSTOP of the agent process would also freeze the soft NIC; see README).
// sim:  the deterministic simulator (virtual time): kill = the host crashes; pause = the host
//       freezes, NIC included, then resumes after pause_ms.
//
// Spurious leader changes: a fresh group under the same light load for quiet_seconds with the
// configured (by default: the engine's default) detector settings; every leader change after the
// initial election is spurious.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "bench_fabric.h"
#include "core/failure_detector.h"

namespace mu::tools {

enum class FailoverFault : uint8_t { kKill, kPause };
const char* to_string(FailoverFault f);
bool parse_failover_fault(const std::string& name, FailoverFault* out);

struct FailoverBenchConfig {
  BenchFabric fabric = BenchFabric::kSoft;
  uint32_t replicas = 3;
  uint32_t trials = 10;
  FailoverFault fault = FailoverFault::kKill;
  uint32_t pause_ms = 200;        // pause: how long the leader is frozen
  double quiet_seconds = 30;      // spurious-change phase (0: skipped); virtual seconds on sim
  uint32_t load_per_second = 1000;  // proposals per second offered to the leader (0: none)
  core::DetectorConfig detector;  // self_id / replica_count are filled in
  uint16_t base_port = 21000;     // soft: ports [base, base + 3 * replicas * 2) (below 32768)
  bool busy_poll = false;         // soft: engine threads spin (true needs a core per engine)
  // soft: > 0 adds a pollable to every engine that sleeps this long on each iteration of its
  // thread, emulating an idle strategy that blocks instead of spinning (the engine has none yet):
  // on a machine with fewer cores than engines + soft NIC threads, spinning engines starve the
  // NIC threads that serve heartbeat reads. 0: the engine's own loop, unchanged.
  uint32_t idle_sleep_us = 0;
  uint64_t seed = 1;              // sim
  uint32_t trial_timeout_ms = 10'000;
  std::function<void(const std::string&)> progress;

  fabric::Status validate() const;
};

struct GrantFigure {
  uint32_t replica = 0;
  std::string mechanism;
  double switch_us = 0;  // the granter's revoke + grant
};

struct FailoverTrial {
  uint32_t trial = 0;
  uint32_t from = 0;
  uint32_t to = 0;
  bool ok = false;
  std::string error;
  // Microseconds from the fault (time base of the bench).
  double suspected_us = 0;  // first missed heartbeat seen by the new leader
  double failed_us = 0;     // detection
  double candidate_us = 0;
  double permissions_us = 0;
  double prepared_us = 0;
  double first_commit_us = 0;  // the total
  // The breakdown (sums to first_commit_us): detection, election, permission switch, catch-up,
  // first commit.
  double detection_us = 0;
  double election_us = 0;
  double permission_us = 0;
  double catch_up_us = 0;
  double commit_us = 0;
  double engine_stop_us = 0;  // kill: the engine thread's stop just before the fault
  std::vector<GrantFigure> grants;
};

struct QuietFigures {
  bool measured = false;
  double seconds = 0;
  uint64_t proposals = 0;
  uint64_t applied = 0;          // on the leader
  uint32_t leader_changes = 0;   // view changes after the initial election, any replica
  uint32_t failovers = 0;        // completed takeovers after the initial election
  std::vector<std::string> events;  // what happened, for the record (bounded)
};

struct FailoverBenchResult {
  BenchFabric fabric = BenchFabric::kSoft;
  std::string time_base;
  FailoverFault fault = FailoverFault::kKill;
  uint32_t replicas = 0;
  uint32_t pause_ms = 0;
  uint32_t load_per_second = 0;
  bool busy_poll = false;
  uint32_t idle_sleep_us = 0;
  core::DetectorConfig detector;
  std::vector<FailoverTrial> trials;
  LatencySummary total, detection, election, permission, catch_up, commit;
  uint32_t failed_trials = 0;
  QuietFigures quiet;
  double total_wall_s = 0;
};

fabric::Result<FailoverBenchResult> run_failover_bench(const FailoverBenchConfig& config);

// Schema "mu.bench.failover/v1" (see node-agent/src/native/engine.ts).
std::string to_json(const FailoverBenchResult& result);

}  // namespace mu::tools
