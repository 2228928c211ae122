// The KV benchmark's Mu side (DESIGN.md §7; `mu bench kv`): N KvReplicas (engine + KV state
// machine + RESP front end, what the node agent runs in a pod) in this process over the soft
// fabric on 127.0.0.1, replica 0 leading. The load itself comes from redis-benchmark, run by the
// CLI against the leader's RESP port and against a plain redis-server in the same run.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/kv_replica.h"

namespace mu::tools {

struct KvClusterConfig {
  uint32_t replicas = 3;
  // Ports (all below 32768): replica i uses base_port + 3i (bootstrap), +1 (soft NIC), +2 (RESP).
  uint16_t base_port = 23000;
  bool leader_busy_poll = true;   // the leader's engine thread spins (Mu's fast path)
  bool follower_busy_poll = false;
  // > 0: followers' engine threads sleep this long per iteration. They do nothing on the fast
  // path (the leader writes their logs one-sided); sleeping leaves the CPU to the NIC threads
  // and the clients on a machine with few cores. 0: yield only (busy_poll false) or spin.
  uint32_t follower_idle_sleep_us = 100;
  // The failure detector's read period (the engine's default is 1 ms). The KV benchmark measures
  // the data path; on a machine with fewer cores than threads a 1 ms period can declare a busy
  // peer failed mid-run (see `mu bench failover` for detection figures).
  uint64_t detector_read_period_ns = 1'000'000;
  size_t log_bytes = 64u << 20;
  uint32_t max_value_bytes = 64 * 1024;
  int start_timeout_ms = 20'000;

  fabric::Status validate() const;
};

class KvBenchCluster {
 public:
  static fabric::Result<std::unique_ptr<KvBenchCluster>> start(const KvClusterConfig& config);
  ~KvBenchCluster();
  KvBenchCluster(const KvBenchCluster&) = delete;
  KvBenchCluster& operator=(const KvBenchCluster&) = delete;

  const KvClusterConfig& config() const { return config_; }
  uint16_t resp_port(uint32_t id) const;
  uint32_t leader() const { return 0; }
  // A JSON object: per replica role, leader view, commit/applied index, failovers, RESP counters.
  std::string stats_json() const;
  void stop();

 private:
  explicit KvBenchCluster(const KvClusterConfig& config) : config_(config) {}
  KvClusterConfig config_;
  std::vector<std::unique_ptr<engine::KvReplica>> replicas_;
};

}  // namespace mu::tools
