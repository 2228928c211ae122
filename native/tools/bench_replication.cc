// The replication benchmark: see bench_replication.h for what is measured and how.
#include "bench_replication.h"

#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>

#include "bench_cluster.h"
#include "bench_json.h"

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define MU_BENCH_HAVE_TSC 1
#endif
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define MU_BENCH_TOGGLE_COLLECT() CALLGRIND_TOGGLE_COLLECT
#else
#define MU_BENCH_TOGGLE_COLLECT() \
  do {                            \
  } while (0)
#endif

namespace mu::tools {

using fabric::ErrorCode;
using fabric::Result;
using fabric::Status;

Status ReplicationBenchConfig::validate() const {
  auto invalid = [](const std::string& m) { return Status::Error(ErrorCode::kInvalidArgument, m); };
  if (replicas < 1 || replicas > 7) return invalid("replicas must be in [1, 7], got " + std::to_string(replicas));
  if (iterations == 0 || iterations > kMaxIterations) {
    return invalid("iterations must be in [1, " + std::to_string(kMaxIterations) + "]");
  }
  if (warmup_iterations > kMaxIterations) return invalid("warmup_iterations too large");
  if (rounds == 0 || rounds > iterations) return invalid("rounds must be in [1, iterations]");
  std::vector<uint32_t> sizes = {payload_bytes};
  if (sweep) sizes.insert(sizes.end(), sweep_payload_bytes.begin(), sweep_payload_bytes.end());
  if (sweep && sweep_payload_bytes.empty()) return invalid("sweep_payload_bytes must not be empty");
  for (uint32_t s : sizes) {
    if (s == 0 || s > kMaxPayloadBytes) {
      return invalid("payload sizes must be in [1, " + std::to_string(kMaxPayloadBytes) +
                     "] bytes, got " + std::to_string(s));
    }
  }
  for (uint32_t w : windows) {
    if (w == 0 || w > 4096) return invalid("windows must be in [1, 4096], got " + std::to_string(w));
  }
  if (throughput_requests > kMaxIterations) return invalid("throughput_requests too large");
  if (cost_requests > kMaxIterations) return invalid("cost_requests too large");
  if (cost_batch == 0 || cost_batch > 1024) return invalid("cost_batch must be in [1, 1024]");
  if (follower_poll_every == 0) return invalid("follower_poll_every must be positive");
  if (max_batch_records == 0 || max_batch_records > 4096) return invalid("max_batch_records must be in [1, 4096]");
  if (max_inflight == 0 || max_inflight > 1024) return invalid("max_inflight must be in [1, 1024]");
  if (op_timeout_ms == 0) return invalid("op_timeout_ms must be positive");
  return Status::Ok();
}

namespace {

// Pins the calling thread to one CPU; restores the affinity it had on destruction.
class ThreadPlacement {
 public:
  ThreadPlacement() { saved_ok_ = sched_getaffinity(0, sizeof saved_, &saved_) == 0; }
  ~ThreadPlacement() {
    if (changed_ && saved_ok_) sched_setaffinity(0, sizeof saved_, &saved_);
  }
  ThreadPlacement(const ThreadPlacement&) = delete;
  ThreadPlacement& operator=(const ThreadPlacement&) = delete;
  void pin(int cpu) {
    if (cpu < 0) return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    changed_ |= sched_setaffinity(0, sizeof set, &set) == 0;
  }
  void unpin() {
    if (changed_ && saved_ok_) sched_setaffinity(0, sizeof saved_, &saved_);
  }

 private:
  cpu_set_t saved_{};
  bool saved_ok_ = false;
  bool changed_ = false;
};

void report(const ReplicationBenchConfig& c, const std::string& line) {
  if (c.progress) c.progress(line);
}

// The leader's ticket sink: latency of each of its own requests, on the polling thread.
struct Probe {
  fabric::Device* clock = nullptr;
  uint64_t base_ticket = 1;
  std::vector<uint64_t> start_ns;  // by ticket - base_ticket
  std::vector<uint64_t> latencies_ns;
  uint64_t completed = 0;
  bool record = true;

  static void on_ticket(void* context, uint64_t ticket) {
    auto* p = static_cast<Probe*>(context);
    ++p->completed;
    if (!p->record || ticket < p->base_ticket || ticket - p->base_ticket >= p->start_ns.size()) {
      return;
    }
    p->latencies_ns.push_back(p->clock->now_ns() - p->start_ns[ticket - p->base_ticket]);
  }
};

core::ReplicationConfig replication_config(const ReplicationBenchConfig& c) {
  core::ReplicationConfig rc;
  rc.max_request_bytes = std::max<uint32_t>(4096, ReplicationBenchConfig::kMaxPayloadBytes);
  rc.max_batch_records = c.max_batch_records;
  rc.max_batch_bytes = 64 * 1024;
  rc.max_inflight = c.max_inflight;
  rc.max_pending = 16384;
  return rc;
}

// Drives one in-process group from the calling thread.
class Driver {
 public:
  Driver(const ReplicationBenchConfig& config, BenchCluster& cluster)
      : config_(config), cluster_(cluster), leader_(cluster.plane(0)) {
    probe_.clock = &cluster.device(0);
    cluster.machine(0).set_sink(&Probe::on_ticket, &probe_);
  }

  bool sim() const { return cluster_.world() != nullptr; }

  // One turn: the leader polls; followers every follower_poll_every turns; sim: one step.
  void turn() {
    bool progress = leader_poll();
    if (++turns_ % config_.follower_poll_every == 0) {
      for (uint32_t i = 1; i < cluster_.size(); ++i) progress |= cluster_.replica(i).poll();
    }
    if (sim()) {
      cluster_.world()->step();
    } else if (config_.yield_after_idle_polls != 0) {
      idle_ = progress ? 0 : idle_ + 1;
      if (idle_ >= config_.yield_after_idle_polls) {
        sched_yield();
        idle_ = 0;
      }
    }
  }
  bool leader_poll() {
    ++leader_polls_;
    return cluster_.replica(0).poll();
  }

  // Until replica 0 leads with every follower confirmed (both WRITEs go out on the fast path).
  Status wait_ready() {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    for (uint64_t k = 0;; ++k) {
      cluster_.poll_all();
      if (sim()) cluster_.world()->step();
      const core::ReplicationStats& s = leader_.stats();
      if (s.role == core::Role::kLeader && std::strcmp(s.phase, "ready") == 0 &&
          s.confirmed_followers + 1 == cluster_.size()) {
        return Status::Ok();
      }
      if ((k & 1023) == 0 && std::chrono::steady_clock::now() > deadline) {
        return Status::Error(ErrorCode::kUnreachable,
                             std::string("replica 0 did not become a ready leader (phase ") +
                                 s.phase + ", confirmed followers " +
                                 std::to_string(s.confirmed_followers) + ")");
      }
    }
  }

  // Proposes `count` requests with at most `window` outstanding; latencies land in the probe.
  Status run(uint32_t payload_bytes, uint64_t count, uint32_t window, bool record) {
    payload_.assign(payload_bytes, 0);
    probe_.record = record;
    probe_.latencies_ns.clear();
    probe_.start_ns.assign(count, 0);
    probe_.base_ticket = next_ticket_;
    const uint64_t first_completed = probe_.completed;
    uint64_t issued = 0;
    const uint64_t timeout_ns = uint64_t{config_.op_timeout_ms} * 1'000'000;
    auto last_progress = std::chrono::steady_clock::now();
    uint64_t last_completed = first_completed;
    for (uint64_t spins = 0; probe_.completed - first_completed < count; ++spins) {
      while (issued < count && issued - (probe_.completed - first_completed) < window) {
        const uint64_t ticket = next_ticket_++;
        std::memcpy(payload_.data(), &ticket, std::min<size_t>(payload_bytes, sizeof ticket));
        probe_.start_ns[issued] = cluster_.device(0).now_ns();
        const core::ProposeResult r =
            leader_.propose(payload_.data(), payload_bytes, ticket);
        if (r.status != core::ProposeStatus::kQueued) {
          return Status::Error(ErrorCode::kInternal,
                               std::string("propose: ") + core::to_string(r.status) + " (" +
                                   describe() + ")");
        }
        ++issued;
      }
      turn();
      if ((spins & 4095) == 4095) {
        const auto now = std::chrono::steady_clock::now();
        if (probe_.completed != last_completed) {
          last_completed = probe_.completed;
          last_progress = now;
        } else if (uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(now - last_progress).count()) >
                   timeout_ns) {
          return Status::Error(ErrorCode::kUnreachable,
                               "no proposal applied within " + std::to_string(config_.op_timeout_ms) +
                                   " ms (leader phase " + leader_.stats().phase + ")");
        }
      }
    }
    return Status::Ok();
  }

  // Bare WRITEs of `bytes` from replica 0 to every follower at once (probe QPs), `count` times.
  Status fanout(uint32_t bytes, uint32_t count, std::vector<uint64_t>* first,
                std::vector<uint64_t>* all) {
    const auto& links = cluster_.probe_links();
    fabric::CompletionQueue* cq = cluster_.probe_cq();
    if (links.empty() || cq == nullptr) return Status::Ok();
    fabric::Device& clock = cluster_.device(0);
    for (uint32_t i = 0; i < count; ++i) {
      const uint64_t t0 = clock.now_ns();
      for (const ProbeLink& l : links) {
        fabric::WorkRequest wr;
        wr.wr_id = ++probe_seq_;
        wr.opcode = fabric::Opcode::kWrite;
        wr.local_addr = cluster_.probe_source();
        wr.length = bytes;
        wr.lkey = cluster_.probe_lkey();
        wr.remote_addr = l.region.addr;
        wr.rkey = l.region.rkey;
        wr.inline_data = bytes <= l.qp->max_inline();
        Status s = l.qp->post(wr);
        if (!s.ok()) return Status::Error(s.code, "probe WRITE: " + s.message);
      }
      size_t got = 0;
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(config_.op_timeout_ms);
      for (uint64_t spins = 0; got < links.size(); ++spins) {
        fabric::Completion c[8];
        const int n = cq->poll(c, 8);
        for (int k = 0; k < n; ++k) {
          if (c[k].status != fabric::WcStatus::kSuccess) {
            return Status::Error(ErrorCode::kInternal, std::string("probe WRITE completed with ") +
                                                           fabric::to_string(c[k].status));
          }
          const uint64_t t = clock.now_ns() - t0;
          if (got == 0 && first != nullptr) first->push_back(t);
          if (++got == links.size() && all != nullptr) all->push_back(t);
        }
        if (sim()) {
          cluster_.world()->step();
        } else if (n == 0 && config_.yield_after_idle_polls != 0 &&
                   (spins + 1) % config_.yield_after_idle_polls == 0) {
          sched_yield();  // waits as the replication loop does
        }
        if ((spins & 4095) == 4095 && std::chrono::steady_clock::now() > deadline) {
          return Status::Error(ErrorCode::kUnreachable, "probe WRITE: no completion in time");
        }
      }
    }
    return Status::Ok();
  }

  // The leader's view, for error messages.
  std::string describe() {
    core::Replica& r = cluster_.replica(0);
    const core::ReplicationStats& s = leader_.stats();
    std::string out = std::string("leader role ") + core::to_string(s.role) + ", phase " + s.phase +
                      ", confirmed followers " + std::to_string(s.confirmed_followers) +
                      ", quorum lost " + (r.quorum_lost() ? "yes" : "no") + ", peers";
    for (uint32_t i = 1; i < cluster_.size(); ++i) {
      out += " " + std::to_string(i) + ":" + (r.detector().alive(i) ? "alive" : "failed") + "/" +
             (r.detector().voter(i) ? "voter" : "learner") + "/score " +
             std::to_string(r.detector().score(i));
    }
    return out;
  }

  Probe& probe() { return probe_; }
  uint64_t leader_polls() const { return leader_polls_; }
  core::ReplicationPlane& leader() { return leader_; }

 private:
  const ReplicationBenchConfig& config_;
  BenchCluster& cluster_;
  core::ReplicationPlane& leader_;
  Probe probe_;
  std::vector<uint8_t> payload_;
  uint64_t next_ticket_ = 1;
  uint64_t turns_ = 0;
  uint64_t leader_polls_ = 0;
  uint32_t idle_ = 0;
  uint64_t probe_seq_ = 0;
};

Result<std::unique_ptr<BenchCluster>> make_cluster(const ReplicationBenchConfig& config,
                                                   BenchFabric fabric, bool cost_model) {
  ClusterOptions o;
  o.fabric = fabric;
  o.replicas = config.replicas;
  o.ring_bytes = 16u << 20;
  o.replication = replication_config(config);
  o.static_leader = 0;
  // The leader is static; the detector only has to keep the group "serving". On a shared,
  // oversubscribed machine the polling thread can be descheduled for tens of milliseconds, which
  // the default 1 ms read period would count as a failure (and stop proposals): read slowly.
  o.detector.read_period_ns = 25'000'000;
  o.detector.connection_timeout_ns = 2'000'000'000;
  o.seed = config.seed;
  o.soft_busy_poll = config.busy_poll;
  o.sim_faults.tear_probability = 0.0;  // the benchmark measures the model, not its faults
  o.probe_qps = !cost_model && config.replicas > 1;
  if (cost_model) o.sim_faults.max_delay_steps = 0;
  return BenchCluster::create(o);
}

std::string format_point(const ReplicationPoint& p, const char* unit) {
  char line[256];
  if (p.floor.samples > 0) {
    std::snprintf(line, sizeof line,
                  "%5u B  replication p50 %8.2f p99 %8.2f | floor p50 %8.2f p99 %8.2f | "
                  "fan-out first p50 %8.2f all p50 %8.2f %s | ratio_p50 %.2f",
                  p.payload_bytes, p.latency.p50_us, p.latency.p99_us, p.floor.p50_us,
                  p.floor.p99_us, p.fanout_first.p50_us, p.fanout_all.p50_us, unit, p.ratio_p50);
  } else {
    std::snprintf(line, sizeof line, "%5u B  replication p50 %8.2f p99 %8.2f %s", p.payload_bytes,
                  p.latency.p50_us, p.latency.p99_us, unit);
  }
  return line;
}

// The floor for one payload size: WRITE round trips on a fresh QP pair of the same fabric.
Status measure_floor(const ReplicationBenchConfig& config, uint32_t bytes, uint32_t iterations,
                     uint32_t warmup, std::vector<uint64_t>* samples) {
  FabricBenchConfig fc;
  fc.fabric = config.fabric;
  fc.iterations = iterations;
  fc.warmup_iterations = warmup;
  fc.permission_iterations = 0;
  fc.headline_payload_bytes = bytes;
  fc.sweep_payload_bytes = {bytes};
  fc.seed = config.seed;
  fc.busy_poll = config.busy_poll;
  fc.keep_samples = true;
  fc.nic_cpu = config.nic_cpu;
  fc.poll_cpu = config.poll_cpu;
  fc.yield_after_idle_polls = config.yield_after_idle_polls;  // waits as the replication loop does
  auto r = run_fabric_bench(fc);
  if (!r.ok()) return Status::Error(r.status().code, "fabric floor: " + r.status().message);
  for (const WritePoint* p : {&r.value().headline, &r.value().sweep.front()}) {
    samples->insert(samples->end(), p->samples_ns.begin(), p->samples_ns.end());
  }
  return Status::Ok();
}

// Latency (and floor) for every payload size, floor and replication alternating in rounds.
Status measure_latency(const ReplicationBenchConfig& config, Driver& driver,
                       const std::vector<uint32_t>& sizes, std::vector<ReplicationPoint>* out) {
  const char* unit = driver.sim() ? "virtual us" : "us";
  std::vector<std::vector<uint64_t>> repl(sizes.size()), floor(sizes.size());
  std::vector<std::vector<uint64_t>> fan_first(sizes.size()), fan_all(sizes.size());
  std::vector<uint64_t> polls(sizes.size(), 0);
  for (uint32_t round = 0; round < config.rounds; ++round) {
    const uint32_t chunk = config.iterations / config.rounds +
                           (round < config.iterations % config.rounds ? 1 : 0);
    if (chunk == 0) continue;
    report(config, "round " + std::to_string(round + 1) + "/" + std::to_string(config.rounds) +
                       ": " + std::to_string(chunk) + " proposals per size" +
                       (config.floor ? " + as many WRITEs (floor)" : ""));
    for (size_t k = 0; k < sizes.size(); ++k) {
      if (config.floor) {
        Status s = measure_floor(config, sizes[k], chunk, std::min<uint32_t>(chunk, 200), &floor[k]);
        if (!s.ok()) return s;
      }
      Status s = driver.fanout(sizes[k], chunk, &fan_first[k], &fan_all[k]);
      if (!s.ok()) return s;
      // A short untimed run first: the size's first entries warm the caches and the NIC path.
      s = driver.run(sizes[k], std::min<uint32_t>(chunk, 100), 1, false);
      if (!s.ok()) return s;
      const uint64_t polls_before = driver.leader_polls();
      s = driver.run(sizes[k], chunk, 1, true);
      if (!s.ok()) return s;
      polls[k] += driver.leader_polls() - polls_before;
      auto& lat = driver.probe().latencies_ns;
      repl[k].insert(repl[k].end(), lat.begin(), lat.end());
    }
  }
  for (size_t k = 0; k < sizes.size(); ++k) {
    ReplicationPoint p;
    p.payload_bytes = sizes[k];
    p.latency = summarize_ns(repl[k]);
    p.leader_polls_per_request = repl[k].empty() ? 0 : double(polls[k]) / double(repl[k].size());
    p.fanout_first = summarize_ns(fan_first[k]);
    p.fanout_all = summarize_ns(fan_all[k]);
    if (!floor[k].empty()) {
      p.floor = summarize_ns(floor[k]);
      p.ratio_p50 = p.floor.p50_us > 0 ? p.latency.p50_us / p.floor.p50_us : 0;
      p.ratio_p99 = p.floor.p99_us > 0 ? p.latency.p99_us / p.floor.p99_us : 0;
    }
    report(config, "  " + format_point(p, unit));
    out->push_back(p);
  }
  return Status::Ok();
}

// --- engine cost ---------------------------------------------------------------------------

uint64_t ticks() {
#if defined(MU_BENCH_HAVE_TSC)
  return __rdtsc();
#else
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
#endif
}

Result<EngineCost> measure_cost(const ReplicationBenchConfig& config, uint32_t batch) {
  auto made = make_cluster(config, BenchFabric::kSim, /*cost_model=*/true);
  if (!made.ok()) return made.status();
  BenchCluster& cluster = *made.value();
  Driver driver(config, cluster);
  Status s = driver.wait_ready();
  if (!s.ok()) return s;
  fabric::SimWorld& world = *cluster.world();
  core::Replica& leader = cluster.replica(0);
  core::ReplicationPlane& plane = cluster.plane(0);
  Probe& probe = driver.probe();
  probe.record = false;
  std::vector<uint8_t> payload(config.payload_bytes, 0x5a);

  // Timer overhead: an empty timed section, in ticks.
  uint64_t overhead_sum = 0;
  constexpr int kCalibrations = 200'000;
  for (int i = 0; i < kCalibrations; ++i) {
    const uint64_t a = ticks();
    const uint64_t b = ticks();
    overhead_sum += b - a;
  }
  const double overhead_ticks = double(overhead_sum) / kCalibrations;

  auto run = [&](uint64_t count, bool collect, EngineCost* cost) -> Status {
    uint64_t leader_ticks = 0, follower_ticks = 0, fabric_ticks = 0;
    uint64_t leader_sections = 0, follower_sections = 0, fabric_sections = 0, leader_polls = 0;
    uint64_t issued = 0;
    uint64_t ticket = 1'000'000'000;
    const uint64_t done0 = probe.completed;
    const uint64_t entries0 = plane.stats().entries_decided;
    const auto wall0 = std::chrono::steady_clock::now();
    const uint64_t t0 = ticks();
    uint64_t idle = 0;
    while (probe.completed - done0 < count) {
      const uint64_t a = ticks();
      if (collect) MU_BENCH_TOGGLE_COLLECT();
      for (uint32_t k = 0; k < batch && issued < count && issued - (probe.completed - done0) < batch; ++k) {
        std::memcpy(payload.data(), &ticket, std::min<size_t>(payload.size(), sizeof ticket));
        if (plane.propose(payload.data(), static_cast<uint32_t>(payload.size()), ticket++).status !=
            core::ProposeStatus::kQueued) {
          if (collect) MU_BENCH_TOGGLE_COLLECT();
          return Status::Error(ErrorCode::kInternal, "propose refused during the cost run");
        }
        ++issued;
      }
      leader.poll();
      if (collect) MU_BENCH_TOGGLE_COLLECT();
      const uint64_t b = ticks();
      leader_ticks += b - a;
      ++leader_sections;
      ++leader_polls;
      world.run_until_idle(1'000'000);
      const uint64_t c = ticks();
      for (uint32_t i = 1; i < cluster.size(); ++i) cluster.replica(i).poll();
      const uint64_t d = ticks();
      world.run_until_idle(1'000'000);
      const uint64_t e = ticks();
      fabric_ticks += (c - b) + (e - d);
      fabric_sections += 2;
      follower_ticks += d - c;
      ++follower_sections;
      if (++idle > 100 * (count + 10)) {
        return Status::Error(ErrorCode::kInternal, "the cost run makes no progress");
      }
    }
    const uint64_t t1 = ticks();
    const double wall_ns = double(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                      std::chrono::steady_clock::now() - wall0)
                                      .count());
    const double ns_per_tick = t1 > t0 ? wall_ns / double(t1 - t0) : 1.0;
    auto net = [&](uint64_t t, uint64_t sections) {
      const double v = (double(t) - overhead_ticks * double(sections)) * ns_per_tick;
      return std::max(0.0, v) / double(count);
    };
    cost->batch = batch;
    cost->requests = count;
    cost->entries = plane.stats().entries_decided - entries0;
    cost->wall_ns_per_request = wall_ns / double(count);
    cost->leader_ns_per_request = net(leader_ticks, leader_sections);
    cost->followers_ns_per_request = net(follower_ticks, follower_sections);
    cost->fabric_ns_per_request = net(fabric_ticks, fabric_sections);
    cost->leader_polls_per_request = double(leader_polls) / double(count);
    cost->timer_overhead_ns = overhead_ticks * ns_per_tick;
    return Status::Ok();
  };
  EngineCost cost;
  cost.mode = batch == 1 ? "serial" : "batched";
  // Warm-up (allocations of the first batches, caches), then the measured run.
  s = run(std::min<uint64_t>(config.cost_requests, 2'000), false, &cost);
  if (!s.ok()) return s;
  s = run(config.cost_requests, config.callgrind_leader, &cost);
  if (!s.ok()) return s;
  return cost;
}

void latency_point_json(JsonWriter& j, const ReplicationBenchResult& r, const ReplicationPoint& p) {
  j.open_object();
  j.field("benchmark", "replication-latency");
  j.field("fabric", to_string(r.fabric));
  j.field("time_base", r.time_base);
  j.field("payload_bytes", p.payload_bytes);
  j.latency(p.latency);
  if (p.floor.samples > 0) {
    j.latency(p.floor, "floor_");
    j.field("ratio_p50", p.ratio_p50, 3);
    j.field("ratio_p99", p.ratio_p99, 3);
  } else {
    j.null_field("ratio_p50");
    j.null_field("ratio_p99");
  }
  j.field("leader_polls_per_request", p.leader_polls_per_request, 1);
  if (p.fanout_first.samples > 0) {
    j.latency(p.fanout_first, "fanout_first_");
    j.latency(p.fanout_all, "fanout_all_");
  }
  j.close_object();
}

}  // namespace

Result<std::vector<EngineCost>> run_engine_cost(const ReplicationBenchConfig& config) {
  Status valid = config.validate();
  if (!valid.ok()) return valid;
  std::vector<EngineCost> out;
  std::vector<uint32_t> batches;
  if (config.cost_serial) batches.push_back(1);
  if (config.cost_batched && config.cost_batch > 1) batches.push_back(config.cost_batch);
  for (uint32_t batch : batches) {
    report(config, "engine cost on sim: " + std::to_string(config.cost_requests) + " requests, " +
                       (batch == 1 ? std::string("serial (one request per entry)")
                                   : std::to_string(batch) + " requests per leader poll"));
    auto cost = measure_cost(config, batch);
    if (!cost.ok()) return cost.status();
    char line[256];
    std::snprintf(line, sizeof line,
                  "  leader %.0f ns/request, followers %.0f, simulator %.0f, whole loop %.0f "
                  "(%.2f leader polls/request, timer overhead %.0f ns subtracted)",
                  cost.value().leader_ns_per_request, cost.value().followers_ns_per_request,
                  cost.value().fabric_ns_per_request, cost.value().wall_ns_per_request,
                  cost.value().leader_polls_per_request, cost.value().timer_overhead_ns);
    report(config, line);
    out.push_back(cost.value());
  }
  return out;
}

Result<ReplicationBenchResult> run_replication_bench(const ReplicationBenchConfig& config) {
  Status valid = config.validate();
  if (!valid.ok()) return valid;
  const auto wall_start = std::chrono::steady_clock::now();
  ReplicationBenchResult result;
  result.fabric = config.fabric;
  result.time_base = config.fabric == BenchFabric::kSim ? "virtual" : "wall-clock";
  result.replicas = config.replicas;
  result.iterations = config.iterations;
  result.warmup_iterations = config.warmup_iterations;
  result.rounds = config.rounds;
  result.seed = config.seed;
  result.follower_poll_every = config.follower_poll_every;
  result.yield_after_idle_polls = config.yield_after_idle_polls;
  result.nic_cpu = config.nic_cpu;
  result.poll_cpu = config.poll_cpu;
  result.max_batch_records = config.max_batch_records;
  result.max_inflight = config.max_inflight;
  result.busy_poll = config.busy_poll;

  {
    report(config, std::string("replication over ") + to_string(config.fabric) + ": " +
                       std::to_string(config.replicas) + " replicas in-process, leader 0");
    ThreadPlacement placement;
    if (config.fabric == BenchFabric::kSoft) placement.pin(config.nic_cpu);  // NIC threads inherit
    auto made = make_cluster(config, config.fabric, /*cost_model=*/false);
    if (!made.ok()) return made.status();
    if (config.poll_cpu >= 0) {
      placement.pin(config.poll_cpu);
    } else {
      placement.unpin();
    }
    BenchCluster& cluster = *made.value();
    Driver driver(config, cluster);
    Status s = driver.wait_ready();
    if (!s.ok()) return s;
    if (config.warmup_iterations > 0) {
      report(config, "warm-up: " + std::to_string(config.warmup_iterations) + " proposals");
      s = driver.run(config.payload_bytes, config.warmup_iterations, 1, false);
      if (!s.ok()) return s;
    }
    std::vector<uint32_t> sizes = {config.payload_bytes};
    if (config.sweep) {
      for (uint32_t b : config.sweep_payload_bytes) {
        if (std::find(sizes.begin(), sizes.end(), b) == sizes.end()) sizes.push_back(b);
      }
    }
    std::vector<ReplicationPoint> points;
    s = measure_latency(config, driver, sizes, &points);
    if (!s.ok()) return s;
    result.headline = points.front();
    if (config.sweep) {
      for (uint32_t b : config.sweep_payload_bytes) {
        for (const ReplicationPoint& p : points) {
          if (p.payload_bytes == b) result.points.push_back(p);
        }
      }
    }

    for (uint32_t window : config.windows) {
      if (config.throughput_requests == 0) break;
      report(config, "throughput: window " + std::to_string(window) + ", " +
                         std::to_string(config.throughput_requests) + " requests of " +
                         std::to_string(config.payload_bytes) + " B");
      const uint64_t entries0 = driver.leader().stats().entries_decided;
      const uint64_t t0 = cluster.device(0).now_ns();
      s = driver.run(config.payload_bytes, config.throughput_requests, window, true);
      if (!s.ok()) return s;
      const uint64_t t1 = cluster.device(0).now_ns();
      ThroughputPoint tp;
      tp.window = window;
      tp.payload_bytes = config.payload_bytes;
      tp.requests = config.throughput_requests;
      tp.seconds = double(t1 - t0) / 1e9;
      const uint64_t entries = driver.leader().stats().entries_decided - entries0;
      tp.ops_per_s = tp.seconds > 0 ? double(tp.requests) / tp.seconds : 0;
      tp.entries_per_s = tp.seconds > 0 ? double(entries) / tp.seconds : 0;
      tp.mean_batch = entries > 0 ? double(tp.requests) / double(entries) : 0;
      tp.latency = summarize_ns(driver.probe().latencies_ns);
      char line[200];
      std::snprintf(line, sizeof line,
                    "  %.0f requests/s, %.0f entries/s, %.1f requests/entry, p50 %.2f p99 %.2f %s",
                    tp.ops_per_s, tp.entries_per_s, tp.mean_batch, tp.latency.p50_us,
                    tp.latency.p99_us, driver.sim() ? "virtual us" : "us");
      report(config, line);
      result.throughput.push_back(tp);
    }
  }

  if (config.cost_requests > 0) {
    auto cost = run_engine_cost(config);
    if (!cost.ok()) return cost.status();
    result.engine_cost = std::move(cost.value());
  }
  result.total_wall_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  return result;
}

std::string to_json(const ReplicationBenchResult& r) {
  JsonWriter j;
  j.open_object();
  j.field("schema", "mu.bench.replication/v1");
  j.field("fabric", to_string(r.fabric));
  j.field("time_base", r.time_base);
  j.field("replicas", r.replicas);
  j.field("payload_bytes", r.headline.payload_bytes);
  j.field("iterations", r.iterations);
  j.field("warmup_iterations", r.warmup_iterations);
  j.field("rounds", r.rounds);
  j.field("seed", r.seed);
  j.field("total_wall_s", r.total_wall_s, 3);
  j.open_object("settings");
  j.field("follower_poll_every", r.follower_poll_every);
  j.field("yield_after_idle_polls", r.yield_after_idle_polls);
  j.field("nic_cpu", r.nic_cpu);
  j.field("poll_cpu", r.poll_cpu);
  j.field("max_batch_records", r.max_batch_records);
  j.field("max_inflight", r.max_inflight);
  j.field("soft_busy_poll", r.busy_poll);
  j.field("leader", "static (replica 0)");
  j.field("detector_read_period_ms", 25);
  j.field("driver", "one thread polls every replica; latency on the leader's device clock");
  j.close_object();
  if (r.headline.floor.samples > 0) {
    j.field("ratio_p50", r.headline.ratio_p50, 3);
  } else {
    j.null_field("ratio_p50");
  }
  j.key("latency");
  latency_point_json(j, r, r.headline);
  j.open_array("points");
  for (const ReplicationPoint& p : r.points) latency_point_json(j, r, p);
  j.close_array();
  j.open_array("throughput");
  for (const ThroughputPoint& t : r.throughput) {
    j.open_object();
    j.field("benchmark", "replication-throughput");
    j.field("fabric", to_string(r.fabric));
    j.field("time_base", r.time_base);
    j.field("window", t.window);
    j.field("payload_bytes", t.payload_bytes);
    j.field("requests", t.requests);
    j.field("seconds", t.seconds, 6);
    j.field("ops_per_s", t.ops_per_s, 1);
    j.field("entries_per_s", t.entries_per_s, 1);
    j.field("mean_batch", t.mean_batch, 2);
    j.latency(t.latency);
    j.close_object();
  }
  j.close_array();
  j.open_array("engine_cost");
  for (const EngineCost& c : r.engine_cost) {
    j.open_object();
    j.field("benchmark", "engine-cost");
    j.field("fabric", "sim");
    j.field("time_base", "wall-clock");
    j.field("mode", c.mode);
    j.field("batch", c.batch);
    j.field("requests", c.requests);
    j.field("entries", c.entries);
    j.field("leader_ns_per_request", c.leader_ns_per_request, 1);
    j.field("followers_ns_per_request", c.followers_ns_per_request, 1);
    j.field("fabric_ns_per_request", c.fabric_ns_per_request, 1);
    j.field("wall_ns_per_request", c.wall_ns_per_request, 1);
    j.field("leader_polls_per_request", c.leader_polls_per_request, 2);
    j.field("timer_overhead_ns", c.timer_overhead_ns, 1);
    j.close_object();
  }
  j.close_array();
  j.close_object();
  return j.str();
}

}  // namespace mu::tools
