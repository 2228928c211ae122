// The failover benchmark: see bench_failover.h.
#include "bench_failover.h"

#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <random>
#include <thread>

#include "bench_cluster.h"
#include "bench_json.h"
#include "engine/engine.h"
#include "mu/fabric/soft.h"

namespace mu::tools {

using fabric::ErrorCode;
using fabric::Result;
using fabric::Status;

const char* to_string(FailoverFault f) {
  switch (f) {
    case FailoverFault::kKill: return "kill";
    case FailoverFault::kPause: return "pause";
  }
  return "?";
}

bool parse_failover_fault(const std::string& name, FailoverFault* out) {
  if (name == "kill") {
    *out = FailoverFault::kKill;
    return true;
  }
  if (name == "pause") {
    *out = FailoverFault::kPause;
    return true;
  }
  return false;
}

Status FailoverBenchConfig::validate() const {
  auto invalid = [](const std::string& m) { return Status::Error(ErrorCode::kInvalidArgument, m); };
  if (replicas < 2 || replicas > 7) return invalid("replicas must be in [2, 7]");
  if (trials > 100'000) return invalid("trials must be at most 100000");
  if (pause_ms == 0 || pause_ms > 60'000) return invalid("pause_ms must be in [1, 60000]");
  if (!(quiet_seconds >= 0) || quiet_seconds > 24 * 3600) return invalid("quiet_seconds must be in [0, 86400]");
  if (load_per_second > 1'000'000) return invalid("load_per_second must be at most 1000000");
  if (fabric == BenchFabric::kSoft &&
      (base_port < 1024 || uint32_t{base_port} + 16 * 2 * replicas >= 32768)) {
    return invalid("base_port must leave room for 16 groups below 32768 (ports " +
                   std::to_string(base_port) + ".." + std::to_string(base_port + 32 * replicas) + ")");
  }
  if (trial_timeout_ms == 0) return invalid("trial_timeout_ms must be positive");
  core::DetectorConfig d = detector;
  d.replica_count = replicas;
  if (std::string problem = core::validate(d); !problem.empty()) return invalid(problem);
  return Status::Ok();
}

namespace {

uint64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);  // the soft devices' clock (same base in this process)
  return uint64_t(ts.tv_sec) * 1'000'000'000ull + uint64_t(ts.tv_nsec);
}

void report(const FailoverBenchConfig& c, const std::string& line) {
  if (c.progress) c.progress(line);
}

double us(uint64_t later, uint64_t earlier) {
  return later >= earlier ? double(later - earlier) / 1e3 : -double(earlier - later) / 1e3;
}

// Fills the trial's figures from the new leader's timeline and the fault time.
void fill_trial(FailoverTrial* t, const core::FailoverTimeline& tl, uint64_t fault_ns) {
  t->from = tl.from;
  t->to = tl.to;
  const uint64_t failed = tl.failed_ns != 0 ? tl.failed_ns : tl.candidate_ns;
  t->suspected_us = tl.suspected_ns != 0 ? us(tl.suspected_ns, fault_ns) : us(failed, fault_ns);
  t->failed_us = us(failed, fault_ns);
  t->candidate_us = us(tl.candidate_ns, fault_ns);
  t->permissions_us = us(tl.permissions_ns, fault_ns);
  t->prepared_us = us(tl.prepared_ns, fault_ns);
  t->first_commit_us = us(tl.first_commit_ns, fault_ns);
  t->detection_us = t->failed_us;
  t->election_us = us(tl.candidate_ns, failed);
  t->permission_us = us(tl.permissions_ns, tl.candidate_ns);
  t->catch_up_us = us(tl.prepared_ns, tl.permissions_ns);
  t->commit_us = us(tl.first_commit_ns, tl.prepared_ns);
  for (const core::GrantTiming& g : tl.grants) {
    t->grants.push_back({g.replica, fabric::to_string(g.mechanism), double(g.switch_ns) / 1e3});
  }
  t->ok = true;
}

// A timeline of a takeover from `from` that completed after the fault.
const core::FailoverTimeline* takeover(const std::vector<core::FailoverTimeline>& timelines,
                                       uint32_t from, uint64_t fault_ns) {
  for (auto it = timelines.rbegin(); it != timelines.rend(); ++it) {
    if (it->from == from && it->first_commit_ns >= fault_ns && it->first_commit_ns != 0) return &*it;
  }
  return nullptr;
}

// --- soft: engines in this process ----------------------------------------------------------

class CountingMachine final : public core::StateMachine {
 public:
  void apply(uint64_t, const uint8_t*, uint32_t, uint64_t) override {
    applied.fetch_add(1, std::memory_order_relaxed);
  }
  std::atomic<uint64_t> applied{0};
};

class SoftGroup {
 public:
  SoftGroup(const FailoverBenchConfig& config, uint32_t slot) : config_(config), slot_(slot) {}
  ~SoftGroup() { stop(); }

  Status start() {
    const uint32_t n = config_.replicas;
    machines_ = std::vector<std::unique_ptr<CountingMachine>>(n);
    engines_.resize(n);
    std::vector<std::string> errors(n);
    std::vector<std::thread> starters;
    std::random_device rd;
    const std::string secret = "bench-failover-" + std::to_string(rd()) + std::to_string(rd());
    for (uint32_t i = 0; i < n; ++i) {
      machines_[i] = std::make_unique<CountingMachine>();
      starters.emplace_back([&, i] {
        engine::EngineConfig c;
        c.id = i;
        for (uint32_t m = 0; m < n; ++m) {
          const uint16_t port = static_cast<uint16_t>(config_.base_port + slot_ * 2 * n + 2 * m);
          c.members.push_back({m, "127.0.0.1", port, static_cast<uint16_t>(port + 1), 0});
        }
        c.fabric = "soft";
        c.secret = secret;
        c.log_bytes = 4u << 20;
        c.replication.max_request_bytes = 4096;
        c.replication.max_batch_bytes = 16384;
        c.detector = config_.detector;
        c.busy_poll = config_.busy_poll;
        c.bootstrap_timeout_ms = 15000;
        c.bootstrap = true;
        auto e = engine::Engine::start(c, machines_[i].get());
        if (e.ok()) {
          engines_[i] = std::move(e.value());
        } else {
          errors[i] = e.status().to_string();
        }
      });
    }
    for (auto& t : starters) t.join();
    for (uint32_t i = 0; i < n; ++i) {
      if (!engines_[i]) return Status::Error(ErrorCode::kUnreachable, "engine " + std::to_string(i) + ": " + errors[i]);
    }
    if (config_.idle_sleep_us > 0) {
      for (auto& e : engines_) {
        e->add_pollable([us = config_.idle_sleep_us] {
          std::this_thread::sleep_for(std::chrono::microseconds(us));
          return false;
        });
      }
    }
    return Status::Ok();
  }

  // Until replica 0 leads and its initial timeline is complete (its first commit).
  Status wait_initial_leader() {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(config_.trial_timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
      engine::EngineStats s = engines_[0]->stats();
      if (s.replication.role == core::Role::kLeader && !s.timelines.empty()) return Status::Ok();
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return Status::Error(ErrorCode::kUnreachable, "replica 0 did not become leader in time");
  }

  // A thread offering load_per_second proposals to every live engine (only the leader accepts).
  void start_load() {
    if (config_.load_per_second == 0) return;
    load_ = std::thread([this] {
      const uint64_t period = 1'000'000'000ull / config_.load_per_second;
      uint64_t next = monotonic_ns();
      while (!stop_load_.load()) {
        next += period;
        {
          std::lock_guard<std::mutex> lock(mutex_);
          for (auto& e : engines_) {
            if (!e) continue;
            e->post([this](core::ReplicationPlane& plane) {
              static const char kRequest[16] = "bench-failover";
              if (plane.propose(kRequest, sizeof kRequest, 0).status == core::ProposeStatus::kQueued) {
                proposals_.fetch_add(1, std::memory_order_relaxed);
              }
            });
          }
        }
        const uint64_t now = monotonic_ns();
        if (next > now) {
          std::this_thread::sleep_for(std::chrono::nanoseconds(next - now));
        } else if (now - next > 100 * period) {
          next = now;  // fell far behind (a busy machine): do not burst
        }
      }
    });
  }

  void stop_load() {
    stop_load_.store(true);
    if (load_.joinable()) load_.join();
  }

  // kill: stops and destroys engine `id`; returns the fault time. A SIGKILL takes the engine
  // thread and the NIC at once; in one process they go one after the other: the engine thread
  // first (stop() joins it, up to one idle nap), then the NIC (crash(): every connection drops).
  // The fault time is when both are gone — the NIC's death, which is what peers can notice; the
  // engine having stopped beating a little earlier cannot be noticed sooner than the next
  // heartbeat read, and one missed beat only raises suspicion. Freeing the engine's memory is
  // not part of the fault (it took ≈0.6 ms here and all of it counted as detection before).
  uint64_t kill(uint32_t id) {
    std::lock_guard<std::mutex> lock(mutex_);
    const uint64_t stop_started = monotonic_ns();
    engines_[id]->stop();
    const uint64_t at = monotonic_ns();
    last_stop_ns_ = at - stop_started;
    if (fabric::SoftDevice* soft = engines_[id]->soft_device()) soft->crash();
    engines_[id].reset();
    return at;
  }
  uint64_t last_stop_ns() const { return last_stop_ns_; }

  // pause: the engine thread sleeps pause_ms inside a posted work item; returns when it started.
  uint64_t pause(uint32_t id, uint32_t pause_ms) {
    auto started = std::make_shared<std::atomic<uint64_t>>(0);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      engines_[id]->post([started, pause_ms](core::ReplicationPlane&) {
        started->store(monotonic_ns());
        std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms));
      });
    }
    while (started->load() == 0) std::this_thread::sleep_for(std::chrono::microseconds(50));
    return started->load();
  }

  // Waits for a live replica's timeline of a takeover from `from` after `fault_ns`.
  bool wait_takeover(uint32_t from, uint64_t fault_ns, core::FailoverTimeline* out) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(config_.trial_timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
      for (uint32_t i = 0; i < engines_.size(); ++i) {
        if (i == from) continue;
        std::lock_guard<std::mutex> lock(mutex_);
        if (!engines_[i]) continue;
        const engine::EngineStats s = engines_[i]->stats();
        if (const core::FailoverTimeline* t = takeover(s.timelines, from, fault_ns)) {
          *out = *t;
          return true;
        }
      }
      std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
    return false;
  }

  // The survivors' view, for a trial that did not complete.
  std::string describe() {
    std::lock_guard<std::mutex> lock(mutex_);
    std::string out;
    for (uint32_t i = 0; i < engines_.size(); ++i) {
      if (!engines_[i]) continue;
      const engine::EngineStats s = engines_[i]->stats();
      out += "; replica " + std::to_string(i) + ": " + core::to_string(s.replication.role) + " phase " +
             s.replication.phase + ", view " + std::to_string(s.leader_view) + ", confirmed " +
             std::to_string(s.replication.confirmed_followers) + ", heartbeat " +
             (s.heartbeat_stopped ? "stopped" : "beating") + ", peers";
      for (const engine::PeerView& p : s.peers) {
        out += " " + std::to_string(p.id) + (p.alive ? ":alive/" : ":failed/") + std::to_string(p.score);
      }
      out += ", timelines " + std::to_string(s.timelines.size());
      if (!s.timelines.empty()) {
        const core::FailoverTimeline& t = s.timelines.back();
        out += " (last " + std::to_string(t.from) + "->" + std::to_string(t.to) + " " + t.reason + ")";
      }
    }
    return out;
  }

  // Replica 0 leads and every live replica agrees.
  bool stable_on(uint32_t leader) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (uint32_t i = 0; i < engines_.size(); ++i) {
      if (!engines_[i]) continue;
      const engine::EngineStats s = engines_[i]->stats();
      if (s.leader_view != leader) return false;
      if (i == leader && (s.replication.role != core::Role::kLeader || std::strcmp(s.replication.phase, "ready") != 0)) {
        return false;
      }
    }
    return true;
  }

  std::vector<std::vector<core::Event>> take_events() {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<std::vector<core::Event>> out(engines_.size());
    for (uint32_t i = 0; i < engines_.size(); ++i) {
      if (engines_[i]) out[i] = engines_[i]->take_events();
    }
    return out;
  }

  uint64_t applied(uint32_t id) const { return machines_[id]->applied.load(); }
  uint64_t proposals() const { return proposals_.load(); }

  void stop() {
    stop_load();
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& e : engines_) {
      if (e) e->stop();
    }
    engines_.clear();
  }

 private:
  const FailoverBenchConfig& config_;
  uint32_t slot_;
  std::mutex mutex_;  // guards engines_ against the load thread
  uint64_t last_stop_ns_ = 0;
  std::vector<std::unique_ptr<CountingMachine>> machines_;  // outlive the engines
  std::vector<std::unique_ptr<engine::Engine>> engines_;
  std::thread load_;
  std::atomic<bool> stop_load_{false};
  std::atomic<uint64_t> proposals_{0};
};

Status soft_trial(const FailoverBenchConfig& config, uint32_t trial, FailoverTrial* out) {
  SoftGroup group(config, trial % 16);
  Status s = group.start();
  if (!s.ok()) return s;
  s = group.wait_initial_leader();
  if (!s.ok()) return s;
  group.start_load();
  // Let the group settle under load (detector scores at their maximum, pipeline warm), then
  // fault replica 0 only while it leads with everyone's agreement: on an overloaded machine a
  // spurious leader change may be under way, and faulting a follower measures nothing.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const auto settle_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (!group.stable_on(0)) {
    if (std::chrono::steady_clock::now() > settle_deadline) {
      out->error = "disturbed: replica 0 was not the agreed leader before the fault (spurious leader changes)" +
                   group.describe();
      return Status::Ok();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const uint64_t fault_ns =
      config.fault == FailoverFault::kKill ? group.kill(0) : group.pause(0, config.pause_ms);
  core::FailoverTimeline t;
  if (!group.wait_takeover(0, fault_ns, &t)) {
    out->error = "no takeover within " + std::to_string(config.trial_timeout_ms) + " ms" + group.describe();
    return Status::Ok();
  }
  fill_trial(out, t, fault_ns);
  if (config.fault == FailoverFault::kKill) out->engine_stop_us = double(group.last_stop_ns()) / 1000.0;
  if (t.failed_ns != 0 && t.failed_ns < fault_ns) {
    out->ok = false;
    out->error = "disturbed: the new leader had declared replica 0 failed " +
                 std::to_string((fault_ns - t.failed_ns) / 1000) + " us before the fault (a spurious change)";
  }
  if (config.fault == FailoverFault::kPause) {
    // Let the old leader wake up and find itself replaced before the group is torn down.
    const uint64_t wake = fault_ns + uint64_t{config.pause_ms} * 1'000'000;
    const uint64_t now = monotonic_ns();
    if (wake > now) std::this_thread::sleep_for(std::chrono::nanoseconds(wake - now));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  group.stop();
  return Status::Ok();
}

std::string describe_event(uint32_t replica, const core::Event& e, uint64_t origin_ns) {
  char line[200];
  std::snprintf(line, sizeof line, "replica %u at %.3f s: %s a=%d b=%d %s", replica,
                double(e.at_ns - std::min(origin_ns, e.at_ns)) / 1e9, core::to_string(e.kind),
                e.a == core::kNoReplica ? -1 : int(e.a), e.b == core::kNoReplica ? -1 : int(e.b),
                e.detail.c_str());
  return line;
}

void count_quiet_events(const std::vector<std::vector<core::Event>>& events, uint64_t origin_ns,
                        QuietFigures* q) {
  for (uint32_t i = 0; i < events.size(); ++i) {
    for (const core::Event& e : events[i]) {
      const bool change = e.kind == core::EventKind::kLeaderChanged;
      const bool takeover = e.kind == core::EventKind::kFailoverCompleted;
      if (!change && !takeover && e.kind != core::EventKind::kPeerFailed &&
          e.kind != core::EventKind::kQuorumLost) {
        continue;
      }
      q->leader_changes += change;
      q->failovers += takeover;
      if (q->events.size() < 50) q->events.push_back(describe_event(i, e, origin_ns));
    }
  }
}

Status soft_quiet(const FailoverBenchConfig& config, QuietFigures* q) {
  SoftGroup group(config, 15);
  Status s = group.start();
  if (!s.ok()) return s;
  s = group.wait_initial_leader();
  if (!s.ok()) return s;
  // The initial election is over only when every replica follows replica 0 (a replica's view,
  // and its LeaderChanged event, are published together): before that, a late "none → 0" on a
  // follower would count as a leader change of the quiet period.
  const auto settle_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!group.stable_on(0) && std::chrono::steady_clock::now() < settle_deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  (void)group.take_events();  // the initial election
  group.start_load();
  const uint64_t origin = monotonic_ns();
  const uint64_t applied0 = group.applied(0);
  const uint64_t end = origin + uint64_t(config.quiet_seconds * 1e9);
  uint64_t next_report = origin + 5'000'000'000ull;
  while (monotonic_ns() < end) {
    count_quiet_events(group.take_events(), origin, q);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (monotonic_ns() >= next_report) {
      next_report += 5'000'000'000ull;
      report(config, "  quiet: " + std::to_string((monotonic_ns() - origin) / 1'000'000'000) +
                         " s, leader changes so far " + std::to_string(q->leader_changes));
    }
  }
  group.stop_load();
  count_quiet_events(group.take_events(), origin, q);
  q->seconds = double(monotonic_ns() - origin) / 1e9;
  q->proposals = group.proposals();
  q->applied = group.applied(0) - applied0;
  q->measured = true;
  group.stop();
  return Status::Ok();
}

// --- sim: the deterministic simulator -------------------------------------------------------

ClusterOptions sim_options(const FailoverBenchConfig& config, uint64_t seed) {
  ClusterOptions o;
  o.fabric = BenchFabric::kSim;
  o.replicas = config.replicas;
  o.ring_bytes = 1u << 20;
  o.replication.max_request_bytes = 1024;
  o.replication.max_batch_bytes = 4096;
  o.detector = config.detector;
  o.static_leader.reset();
  o.seed = seed;
  o.sim_faults.max_delay_steps = 3;
  o.sim_faults.tear_probability = 0.0;
  return o;
}

class SimLoad {
 public:
  SimLoad(const FailoverBenchConfig& config, BenchCluster& c) : c_(c) {
    period_ns_ = config.load_per_second ? 1'000'000'000ull / config.load_per_second : 0;
  }
  void tick() {
    if (period_ns_ == 0) return;
    const uint64_t now = c_.world()->now_ns();
    if (now < next_ns_) return;
    next_ns_ = now + period_ns_;
    for (uint32_t i = 0; i < c_.size(); ++i) {
      if (c_.crashed(i) || c_.paused(i)) continue;
      static const char kRequest[16] = "bench-failover";
      proposals_ += c_.plane(i).propose(kRequest, sizeof kRequest, 0).status ==
                    core::ProposeStatus::kQueued;
    }
  }
  uint64_t proposals() const { return proposals_; }

 private:
  BenchCluster& c_;
  uint64_t period_ns_ = 0;
  uint64_t next_ns_ = 0;
  uint64_t proposals_ = 0;
};

constexpr uint64_t kSimMaxSteps = 400'000'000;

Status sim_wait_initial(BenchCluster& c, SimLoad* load) {
  for (uint64_t k = 0; k < kSimMaxSteps; ++k) {
    c.sim_step();
    if (load) load->tick();
    if ((k & 255) == 0 && c.leader() == 0u && !c.replica(0).timelines().empty()) return Status::Ok();
  }
  return Status::Error(ErrorCode::kInternal, "sim: replica 0 did not become leader");
}

Status sim_trial(const FailoverBenchConfig& config, uint32_t trial, FailoverTrial* out) {
  auto made = BenchCluster::create(sim_options(config, config.seed + trial));
  if (!made.ok()) return made.status();
  BenchCluster& c = *made.value();
  SimLoad load(config, c);
  Status s = sim_wait_initial(c, nullptr);
  if (!s.ok()) return s;
  fabric::SimWorld& world = *c.world();
  // Settle under load for a few detector periods.
  const uint64_t settle_until = world.now_ns() + 5 * config.detector.read_period_ns;
  while (world.now_ns() < settle_until) {
    c.sim_step();
    load.tick();
  }
  const uint64_t fault_ns = world.now_ns();
  if (config.fault == FailoverFault::kKill) {
    c.crash(0);
  } else {
    c.pause(0);
  }
  const uint64_t wake_ns = fault_ns + uint64_t{config.pause_ms} * 1'000'000;
  const uint64_t give_up_ns = fault_ns + uint64_t{config.trial_timeout_ms} * 1'000'000;
  for (uint64_t k = 0; k < kSimMaxSteps; ++k) {
    c.sim_step();
    load.tick();
    if (config.fault == FailoverFault::kPause && c.paused(0) && world.now_ns() >= wake_ns) c.resume(0);
    if ((k & 255) != 0) continue;
    for (uint32_t i = 1; i < c.size(); ++i) {
      const auto& tls = c.replica(i).timelines();
      const std::vector<core::FailoverTimeline> v(tls.begin(), tls.end());
      if (const core::FailoverTimeline* t = takeover(v, 0, fault_ns)) {
        fill_trial(out, *t, fault_ns);
        return Status::Ok();
      }
    }
    if (world.now_ns() > give_up_ns) break;
  }
  out->error = "no takeover within " + std::to_string(config.trial_timeout_ms) + " virtual ms";
  return Status::Ok();
}

Status sim_quiet(const FailoverBenchConfig& config, QuietFigures* q) {
  auto made = BenchCluster::create(sim_options(config, config.seed ^ 0x9e37));
  if (!made.ok()) return made.status();
  BenchCluster& c = *made.value();
  SimLoad load(config, c);
  Status s = sim_wait_initial(c, nullptr);
  if (!s.ok()) return s;
  std::vector<std::vector<core::Event>> events(c.size());
  for (uint32_t i = 0; i < c.size(); ++i) (void)c.replica(i).take_events();
  fabric::SimWorld& world = *c.world();
  const uint64_t origin = world.now_ns();
  const uint64_t applied0 = c.machine(0).applied;
  const uint64_t end = origin + uint64_t(config.quiet_seconds * 1e9);
  uint64_t next_report = origin + 1'000'000'000ull;
  for (uint64_t k = 0; world.now_ns() < end; ++k) {
    c.sim_step();
    load.tick();
    if ((k & 4095) == 0) {
      std::vector<std::vector<core::Event>> batch(c.size());
      for (uint32_t i = 0; i < c.size(); ++i) batch[i] = c.replica(i).take_events();
      count_quiet_events(batch, origin, q);
      if (world.now_ns() >= next_report) {
        next_report += 1'000'000'000ull;
        report(config, "  quiet: " + std::to_string((world.now_ns() - origin) / 1'000'000'000) +
                           " virtual s, leader changes so far " + std::to_string(q->leader_changes));
      }
    }
  }
  q->seconds = double(world.now_ns() - origin) / 1e9;
  q->proposals = load.proposals();
  q->applied = c.machine(0).applied - applied0;
  q->measured = true;
  return Status::Ok();
}

void summarize(FailoverBenchResult* r) {
  std::vector<uint64_t> total, detection, election, permission, catch_up, commit;
  auto ns = [](double v) { return static_cast<uint64_t>(std::max(0.0, v) * 1e3); };
  for (const FailoverTrial& t : r->trials) {
    if (!t.ok) {
      ++r->failed_trials;
      continue;
    }
    total.push_back(ns(t.first_commit_us));
    detection.push_back(ns(t.detection_us));
    election.push_back(ns(t.election_us));
    permission.push_back(ns(t.permission_us));
    catch_up.push_back(ns(t.catch_up_us));
    commit.push_back(ns(t.commit_us));
  }
  r->total = summarize_ns(total);
  r->detection = summarize_ns(detection);
  r->election = summarize_ns(election);
  r->permission = summarize_ns(permission);
  r->catch_up = summarize_ns(catch_up);
  r->commit = summarize_ns(commit);
}

void trial_json(JsonWriter& j, const FailoverTrial& t) {
  j.open_object();
  j.field("trial", t.trial);
  j.field("ok", t.ok);
  if (!t.ok) {
    j.field("error", t.error);
    j.close_object();
    return;
  }
  j.field("from", t.from);
  j.field("to", t.to);
  j.field("suspected_us", t.suspected_us, 1);
  j.field("failed_us", t.failed_us, 1);
  j.field("candidate_us", t.candidate_us, 1);
  j.field("permissions_us", t.permissions_us, 1);
  j.field("prepared_us", t.prepared_us, 1);
  j.field("first_commit_us", t.first_commit_us, 1);
  // kill: how long the in-process stop of the engine thread took just before the fault (its
  // NIC's death); a SIGKILL has no such interval (see SoftGroup::kill).
  j.field("engine_stop_us", t.engine_stop_us, 1);
  j.open_object("breakdown_us");
  j.field("detection", t.detection_us, 1);
  j.field("election", t.election_us, 1);
  j.field("permission_switch", t.permission_us, 1);
  j.field("catch_up", t.catch_up_us, 1);
  j.field("first_commit", t.commit_us, 1);
  j.close_object();
  j.open_array("grants");
  for (const GrantFigure& g : t.grants) {
    j.open_object();
    j.field("replica", g.replica);
    j.field("mechanism", g.mechanism);
    j.field("switch_us", g.switch_us, 1);
    j.close_object();
  }
  j.close_array();
  j.close_object();
}

}  // namespace

Result<FailoverBenchResult> run_failover_bench(const FailoverBenchConfig& input) {
  Status valid = input.validate();
  if (!valid.ok()) return valid;
  FailoverBenchConfig config = input;
  config.detector.replica_count = config.replicas;
  const auto wall_start = std::chrono::steady_clock::now();
  FailoverBenchResult r;
  r.fabric = config.fabric;
  r.time_base = config.fabric == BenchFabric::kSim ? "virtual" : "wall-clock";
  r.fault = config.fault;
  r.replicas = config.replicas;
  r.pause_ms = config.pause_ms;
  r.load_per_second = config.load_per_second;
  r.busy_poll = config.busy_poll;
  r.idle_sleep_us = config.idle_sleep_us;
  r.detector = config.detector;
  const char* unit = config.fabric == BenchFabric::kSim ? "virtual us" : "us";
  for (uint32_t i = 0; i < config.trials; ++i) {
    FailoverTrial t;
    t.trial = i;
    Status s = config.fabric == BenchFabric::kSim ? sim_trial(config, i, &t) : soft_trial(config, i, &t);
    if (!s.ok()) return Status::Error(s.code, "trial " + std::to_string(i) + ": " + s.message);
    char line[240];
    if (t.ok) {
      std::snprintf(line, sizeof line,
                    "trial %u: %u -> %u in %.0f %s (detection %.0f, election %.0f, permission %.0f, "
                    "catch-up %.0f, first commit %.0f)",
                    i, t.from, t.to, t.first_commit_us, unit, t.detection_us, t.election_us,
                    t.permission_us, t.catch_up_us, t.commit_us);
    } else {
      std::snprintf(line, sizeof line, "trial %u: FAILED: %s", i, t.error.c_str());
    }
    report(config, line);
    r.trials.push_back(std::move(t));
  }
  summarize(&r);
  if (config.quiet_seconds > 0) {
    report(config, "quiet load: " + std::to_string(config.load_per_second) + " proposals/s for " +
                       std::to_string(config.quiet_seconds) +
                       (config.fabric == BenchFabric::kSim ? " virtual" : "") +
                       " s, counting leader changes");
    Status s = config.fabric == BenchFabric::kSim ? sim_quiet(config, &r.quiet) : soft_quiet(config, &r.quiet);
    if (!s.ok()) return Status::Error(s.code, "quiet phase: " + s.message);
    report(config, "  " + std::to_string(r.quiet.leader_changes) + " leader changes, " +
                       std::to_string(r.quiet.failovers) + " failovers in " +
                       std::to_string(r.quiet.seconds) + " s");
  }
  r.total_wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  return r;
}

std::string to_json(const FailoverBenchResult& r) {
  JsonWriter j;
  j.open_object();
  j.field("schema", "mu.bench.failover/v1");
  j.field("fabric", to_string(r.fabric));
  j.field("time_base", r.time_base);
  j.field("fault", to_string(r.fault));
  j.field("replicas", r.replicas);
  j.field("trials_requested", static_cast<uint32_t>(r.trials.size()));
  j.field("failed_trials", r.failed_trials);
  j.field("pause_ms", r.pause_ms);
  j.field("load_per_second", r.load_per_second);
  j.field("busy_poll", r.busy_poll);
  j.field("idle_sleep_us", r.idle_sleep_us);
  j.field("total_wall_s", r.total_wall_s, 3);
  j.open_object("settings");
  j.field("read_period_us", double(r.detector.read_period_ns) / 1e3, 1);
  j.field("score_max", r.detector.score_max);
  j.field("failure_threshold", r.detector.failure_threshold);
  j.field("recovery_threshold", r.detector.recovery_threshold);
  j.field("score_up", r.detector.score_up);
  j.field("score_down", r.detector.score_down);
  j.field("fate_share_us", double(r.detector.fate_share_ns) / 1e3, 1);
  j.field("connection_timeout_us", double(r.detector.connection_timeout_ns) / 1e3, 1);
  // Missed reads from a full score to the failure threshold, and the time they take.
  const uint32_t misses = (r.detector.score_max - r.detector.failure_threshold + r.detector.score_down - 1) /
                          r.detector.score_down;
  j.field("misses_to_detect", misses);
  j.field("nominal_detection_us", double(misses) * double(r.detector.read_period_ns) / 1e3, 1);
  j.close_object();
  j.open_object("summary");
  j.open_object("total");
  j.latency(r.total);
  j.close_object();
  j.open_object("detection");
  j.latency(r.detection);
  j.close_object();
  j.open_object("election");
  j.latency(r.election);
  j.close_object();
  j.open_object("permission_switch");
  j.latency(r.permission);
  j.close_object();
  j.open_object("catch_up");
  j.latency(r.catch_up);
  j.close_object();
  j.open_object("first_commit");
  j.latency(r.commit);
  j.close_object();
  j.close_object();
  j.open_array("trials");
  for (const FailoverTrial& t : r.trials) trial_json(j, t);
  j.close_array();
  j.open_object("quiet");
  j.field("measured", r.quiet.measured);
  j.field("seconds", r.quiet.seconds, 3);
  j.field("proposals", r.quiet.proposals);
  j.field("applied", r.quiet.applied);
  j.field("leader_changes", r.quiet.leader_changes);
  j.field("failovers", r.quiet.failovers);
  j.open_array("events");
  for (const std::string& e : r.quiet.events) j.value(e);
  j.close_array();
  j.close_object();
  j.close_object();
  return j.str();
}

}  // namespace mu::tools
