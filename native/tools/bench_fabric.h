// The fabric benchmark (DESIGN.md §7): the one-sided WRITE round trip that replication is measured
// against, and the cost of a permission change on the responder (DESIGN.md §3.2, §3.5).
//
// run_fabric_bench() builds two devices (sim: two devices of one SimWorld, driven by step();
// soft: two soft NICs on 127.0.0.1 sharing a random secret), a region on each, a connected RC QP
// pair, then measures:
//  - signaled WRITE round trips (post → completion polled) at 64 B and over a payload sweep,
//    inline whenever the payload fits in the QP's max_inline;
//  - permission changes on the responder QP, timed by the helpers of permission.h: the fast path
//    (set_access in RTS: revoke, then grant) and the slow path (RESET→INIT→RTR→RTS, responder then
//    requester, as contract 2 of fabric.h requires before traffic flows again).
//
// Time base: soft reports wall-clock time; sim reports the world's *virtual* time (scheduler steps
// × step_ns), which measures the simulator's model, not a machine. For sim the emulator's own
// wall-clock cost per operation is reported beside it.
//
// A tool, not part of the engine: it allocates freely and may take seconds. It never touches
// stdout; progress goes through the optional callback.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "mu/fabric/fabric.h"
#include "mu/fabric/permission.h"

namespace mu::tools {

enum class BenchFabric : uint8_t { kSim, kSoft };
const char* to_string(BenchFabric f);
// "sim" or "soft"; false for anything else.
bool parse_bench_fabric(const std::string& name, BenchFabric* out);

struct FabricBenchConfig {
  static constexpr uint32_t kMaxPayloadBytes = 1u << 20;
  static constexpr uint32_t kMaxIterations = 10'000'000;

  BenchFabric fabric = BenchFabric::kSoft;
  uint32_t iterations = 10'000;        // timed WRITEs per payload size
  uint32_t warmup_iterations = 1'000;  // untimed WRITEs before each payload size
  uint32_t permission_iterations = 200;  // timed revoke+grant pairs, and QP cycles
  uint32_t headline_payload_bytes = 64;
  std::vector<uint32_t> sweep_payload_bytes = {8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096};
  uint64_t seed = 1;  // sim: the world's seed
  bool busy_poll = false;  // soft: NIC threads spin instead of blocking (a free core each)
  // Wall-clock bound on one operation (soft) before the run is abandoned as stuck.
  uint32_t op_timeout_ms = 5'000;
  // Keep every timed round trip in WritePoint::samples_ns (for benchmarks that merge or compare
  // raw distributions, e.g. the replication benchmark's floor). Not written to JSON.
  bool keep_samples = false;
  // soft: CPU placement. nic_cpu >= 0: the two NIC threads are created on (and stay on) that CPU;
  // poll_cpu >= 0: the measuring thread runs there. The caller's affinity is restored afterwards.
  int nic_cpu = -1;
  int poll_cpu = -1;
  // soft: the measuring thread yields its CPU after this many empty CQ polls (0: it spins). The
  // replication benchmark passes its own setting so that its floor waits the way it does.
  uint32_t yield_after_idle_polls = 0;
  // Optional: receives one human-readable line per phase (from the calling thread).
  std::function<void(const std::string&)> progress;

  fabric::Status validate() const;  // names the offending field
};

// A distribution of one timed quantity. Units: µs (virtual µs on sim).
struct LatencySummary {
  uint32_t samples = 0;
  double p50_us = 0;
  double p99_us = 0;
  double mean_us = 0;
  double min_us = 0;
  double max_us = 0;
};
// Nearest-rank percentiles over samples_ns (reordered in place). Empty input → all zero.
LatencySummary summarize_ns(std::vector<uint64_t>& samples_ns);

struct WritePoint {
  uint32_t payload_bytes = 0;
  bool inline_data = false;
  LatencySummary rtt;
  double wall_ns_per_op = 0;  // wall-clock cost per WRITE round trip of the whole loop
  std::vector<uint64_t> samples_ns;  // only with FabricBenchConfig::keep_samples (sorted)
};

struct PermissionFigures {
  fabric::PermissionMechanism mechanism = fabric::PermissionMechanism::kQpAccessFlags;
  std::string step;  // "revoke", "grant" (fast path); "responder", "requester" (slow path)
  LatencySummary duration;
};

struct FabricBenchResult {
  BenchFabric fabric = BenchFabric::kSoft;
  std::string time_base;  // "wall-clock" or "virtual"
  uint32_t iterations = 0;
  uint32_t warmup_iterations = 0;
  uint32_t permission_iterations = 0;
  uint32_t max_inline = 0;
  uint64_t seed = 0;
  WritePoint headline;             // headline_payload_bytes
  std::vector<WritePoint> sweep;   // in sweep_payload_bytes order
  std::vector<PermissionFigures> permission_changes;
  double total_wall_s = 0;
};

fabric::Result<FabricBenchResult> run_fabric_bench(const FabricBenchConfig& config);

// The result as one JSON document. Every WRITE point is an object with benchmark
// "fabric-write-rtt", fabric, payload_bytes, p50_us, p99_us, mean_us (…); every permission figure
// one with benchmark "fabric-permission-change". The CLI and the addon share this schema.
std::string to_json(const FabricBenchResult& result);

}  // namespace mu::tools
