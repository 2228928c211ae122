// Engines in one process over the soft fabric on loopback: bootstrap, connect, replicate.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "engine/engine.h"

namespace mu::engine {
namespace {

class CountingMachine final : public core::StateMachine {
 public:
  void apply(uint64_t, const uint8_t* request, uint32_t length, uint64_t ticket) override {
    std::lock_guard<std::mutex> lock(mutex);
    applied.emplace_back(reinterpret_cast<const char*>(request), length);
    if (ticket) ++acknowledged;
  }
  size_t count() {
    std::lock_guard<std::mutex> lock(mutex);
    return applied.size();
  }
  std::mutex mutex;
  std::vector<std::string> applied;
  size_t acknowledged = 0;
};

uint16_t port_base() {
  // Distinct per test process run to avoid TIME_WAIT clashes between consecutive runs.
  return static_cast<uint16_t>(20000 + (getpid() % 2000) * 10);
}

std::vector<Member> members(uint32_t n) {
  std::vector<Member> m;
  const uint16_t base = port_base();
  for (uint32_t i = 0; i < n; ++i) {
    m.push_back({i, "127.0.0.1", static_cast<uint16_t>(base + 3 * i),
                 static_cast<uint16_t>(base + 3 * i + 1), static_cast<uint16_t>(base + 3 * i + 2)});
  }
  return m;
}

EngineConfig config(uint32_t id, uint32_t n) {
  EngineConfig c;
  c.id = id;
  c.members = members(n);
  c.fabric = "soft";
  c.secret = "engine-test-secret";
  c.log_bytes = 4u << 20;
  c.replication.max_request_bytes = 4096;
  c.replication.max_batch_bytes = 16384;
  c.static_leader = 0;
  c.busy_poll = false;
  c.bootstrap_timeout_ms = 10000;
  return c;
}

TEST(Engine, ValidateNamesTheBadSetting) {
  EngineConfig c = config(0, 3);
  c.secret = "";
  EXPECT_NE(validate(c).find("secret"), std::string::npos);
  c = config(5, 3);
  EXPECT_NE(validate(c).find("id"), std::string::npos);
  c = config(0, 3);
  c.log_bytes = 1000;
  EXPECT_NE(validate(c).find("logSizeBytes"), std::string::npos);
  c = config(0, 3);
  c.fabric = "carrier-pigeon";
  EXPECT_NE(validate(c).find("fabric"), std::string::npos);
  EXPECT_EQ(validate(config(1, 3)), "");
}

TEST(Engine, ThreeReplicasOverSoftFabricReplicate) {
  constexpr uint32_t n = 3;
  CountingMachine machines[n];
  std::vector<std::unique_ptr<Engine>> engines(n);
  std::vector<std::thread> starters;
  std::string errors[n];
  for (uint32_t i = 0; i < n; ++i) {
    starters.emplace_back([&, i] {
      auto e = Engine::start(config(i, n), &machines[i]);
      if (e.ok()) {
        engines[i] = std::move(e.value());
      } else {
        errors[i] = e.status().to_string();
      }
    });
  }
  for (auto& t : starters) t.join();
  for (uint32_t i = 0; i < n; ++i) ASSERT_TRUE(engines[i]) << errors[i];

  constexpr int kRequests = 500;
  std::atomic<int> queued{0};
  for (int k = 0; k < kRequests; ++k) {
    engines[0]->post([k, &queued](core::ReplicationPlane& plane) {
      std::string v = "value-" + std::to_string(k);
      if (plane.propose(v.data(), static_cast<uint32_t>(v.size()), k + 1).status ==
          core::ProposeStatus::kQueued) {
        ++queued;
      }
    });
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    bool done = true;
    for (auto& m : machines) done = done && m.count() >= kRequests;
    if (done) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(queued.load(), kRequests);
  for (uint32_t i = 0; i < n; ++i) {
    ASSERT_EQ(machines[i].count(), size_t{kRequests}) << "replica " << i;
    EXPECT_EQ(machines[i].applied, machines[0].applied);
  }
  EXPECT_EQ(machines[0].acknowledged, size_t{kRequests});
  EngineStats s = engines[0]->stats();
  EXPECT_EQ(s.replication.role, core::Role::kLeader);
  for (auto& e : engines) e->stop();
}

}  // namespace
}  // namespace mu::engine
