// The KV benchmark's Mu side: see bench_kv.h.
#include "bench_kv.h"

#include <chrono>
#include <random>
#include <thread>

#include "bench_json.h"

namespace mu::tools {

using fabric::ErrorCode;
using fabric::Result;
using fabric::Status;

Status KvClusterConfig::validate() const {
  auto invalid = [](const std::string& m) { return Status::Error(ErrorCode::kInvalidArgument, m); };
  if (replicas < 1 || replicas > 7) return invalid("replicas must be in [1, 7]");
  if (base_port < 1024 || uint32_t{base_port} + 3 * replicas > 32767) {
    return invalid("basePort: ports " + std::to_string(base_port) + ".." +
                   std::to_string(base_port + 3 * replicas - 1) + " must lie in [1024, 32767]");
  }
  if (detector_read_period_ns < 1000 || detector_read_period_ns > 10'000'000'000ull) {
    return invalid("detectorReadPeriodMicros must be in [1, 10000000]");
  }
  if (follower_idle_sleep_us > 100'000) return invalid("followerIdleSleepMicros must be at most 100000");
  if (log_bytes % 4096 != 0 || log_bytes < (1u << 20)) return invalid("logBytes must be a multiple of 4096, >= 1 MiB");
  if (max_value_bytes < 64 || max_value_bytes > (8u << 20)) return invalid("maxValueBytes must be in [64, 8 MiB]");
  return Status::Ok();
}

Result<std::unique_ptr<KvBenchCluster>> KvBenchCluster::start(const KvClusterConfig& config) {
  if (Status s = config.validate(); !s.ok()) return s;
  std::unique_ptr<KvBenchCluster> c(new KvBenchCluster(config));
  const uint32_t n = config.replicas;
  std::random_device rd;
  const std::string secret = "bench-kv-" + std::to_string(rd()) + "-" + std::to_string(rd());
  c->replicas_.resize(n);
  std::vector<std::string> errors(n);
  std::vector<std::thread> starters;
  for (uint32_t i = 0; i < n; ++i) {
    starters.emplace_back([&, i] {
      engine::KvReplicaConfig rc;
      rc.resp_bind = "127.0.0.1";
      engine::EngineConfig& e = rc.engine;
      e.id = i;
      for (uint32_t m = 0; m < n; ++m) {
        const uint16_t port = static_cast<uint16_t>(config.base_port + 3 * m);
        e.members.push_back({m, "127.0.0.1", port, static_cast<uint16_t>(port + 1),
                             static_cast<uint16_t>(port + 2)});
      }
      e.fabric = "soft";
      e.secret = secret;
      e.log_bytes = config.log_bytes;
      e.replication.max_request_bytes = config.max_value_bytes + 4096;
      e.busy_poll = i == 0 ? config.leader_busy_poll : config.follower_busy_poll;
      e.detector.read_period_ns = config.detector_read_period_ns;
      e.bootstrap_timeout_ms = config.start_timeout_ms;
      e.bootstrap = true;
      auto r = engine::KvReplica::start(rc);
      if (r.ok()) {
        c->replicas_[i] = std::move(r.value());
      } else {
        errors[i] = r.status().to_string();
      }
    });
  }
  for (auto& t : starters) t.join();
  for (uint32_t i = 0; i < n; ++i) {
    if (!c->replicas_[i]) {
      return Status::Error(ErrorCode::kUnreachable, "replica " + std::to_string(i) + ": " + errors[i]);
    }
  }
  if (config.follower_idle_sleep_us > 0) {
    for (uint32_t i = 1; i < n; ++i) {
      c->replicas_[i]->engine().add_pollable([us = config.follower_idle_sleep_us] {
        std::this_thread::sleep_for(std::chrono::microseconds(us));
        return false;
      });
    }
  }
  // Replica 0 (the lowest id) leads once the detectors agree; wait for its first commit.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(config.start_timeout_ms);
  for (;;) {
    const engine::EngineStats s = c->replicas_[0]->engine().stats();
    if (s.replication.role == core::Role::kLeader && !s.timelines.empty()) break;
    if (std::chrono::steady_clock::now() > deadline) {
      return Status::Error(ErrorCode::kUnreachable, "replica 0 did not become leader in time");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return c;
}

KvBenchCluster::~KvBenchCluster() { stop(); }

uint16_t KvBenchCluster::resp_port(uint32_t id) const {
  return id < replicas_.size() && replicas_[id] ? replicas_[id]->resp_port() : 0;
}

std::string KvBenchCluster::stats_json() const {
  JsonWriter j;
  j.open_object();
  j.open_array("replicas");
  for (uint32_t i = 0; i < replicas_.size(); ++i) {
    if (!replicas_[i]) continue;
    const engine::KvReplicaStats s = replicas_[i]->stats();
    j.open_object();
    j.field("id", i);
    j.field("role", core::to_string(s.engine.replication.role));
    j.field("leader_view", s.engine.leader_view);
    j.field("commit_index", s.engine.replication.commit_index);
    j.field("applied_index", s.engine.replication.applied_index);
    j.field("entries_decided", s.engine.replication.entries_decided);
    j.field("proposals", s.engine.replication.proposals);
    j.field("failovers", s.engine.failovers);
    j.field("resp_commands", s.resp.commands);
    j.field("resp_connections", s.resp_connections);
    j.field("redirected", s.front_end.redirected);
    j.close_object();
  }
  j.close_array();
  j.close_object();
  return j.str();
}

void KvBenchCluster::stop() {
  for (auto& r : replicas_) {
    if (r) r->stop();
  }
  replicas_.clear();
}

}  // namespace mu::tools
