// The fabric benchmark: see bench_fabric.h for what is measured and in which time base.
#include "bench_fabric.h"

#include <sched.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <sstream>

#include "mu/fabric/permission.h"
#include "mu/fabric/sim.h"
#include "mu/fabric/soft.h"

// Always-on check of the tool's own invariants (a broken one is a bug here, not bad input).
#define BENCH_CHECK(cond)                                                                \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);     \
      std::abort();                                                                      \
    }                                                                                    \
  } while (0)

namespace mu::tools {

using fabric::Completion;
using fabric::CompletionQueue;
using fabric::Device;
using fabric::ErrorCode;
using fabric::MemoryRegion;
using fabric::PermissionChange;
using fabric::PermissionMechanism;
using fabric::QpCaps;
using fabric::QueuePair;
using fabric::Result;
using fabric::Status;
using fabric::WcStatus;
using fabric::WorkRequest;

const char* to_string(BenchFabric f) {
  switch (f) {
    case BenchFabric::kSim: return "sim";
    case BenchFabric::kSoft: return "soft";
  }
  return "?";
}

bool parse_bench_fabric(const std::string& name, BenchFabric* out) {
  if (name == "sim") {
    *out = BenchFabric::kSim;
    return true;
  }
  if (name == "soft") {
    *out = BenchFabric::kSoft;
    return true;
  }
  return false;
}

Status FabricBenchConfig::validate() const {
  auto invalid = [](const std::string& m) { return Status::Error(ErrorCode::kInvalidArgument, m); };
  if (iterations == 0 || iterations > kMaxIterations) {
    return invalid("iterations must be in [1, " + std::to_string(kMaxIterations) + "], got " +
                   std::to_string(iterations));
  }
  if (warmup_iterations > kMaxIterations) {
    return invalid("warmup_iterations must be at most " + std::to_string(kMaxIterations));
  }
  if (permission_iterations > kMaxIterations) {
    return invalid("permission_iterations must be at most " + std::to_string(kMaxIterations));
  }
  if (sweep_payload_bytes.empty()) return invalid("sweep_payload_bytes must not be empty");
  std::vector<uint32_t> sizes = sweep_payload_bytes;
  sizes.push_back(headline_payload_bytes);
  for (uint32_t size : sizes) {
    if (size == 0 || size > kMaxPayloadBytes) {
      return invalid("payload sizes must be in [1, " + std::to_string(kMaxPayloadBytes) +
                     "] bytes, got " + std::to_string(size));
    }
  }
  if (op_timeout_ms == 0) return invalid("op_timeout_ms must be positive");
  if (nic_cpu >= CPU_SETSIZE || poll_cpu >= CPU_SETSIZE) return invalid("nic_cpu/poll_cpu: no such CPU");
  return Status::Ok();
}

LatencySummary summarize_ns(std::vector<uint64_t>& samples_ns) {
  LatencySummary s;
  if (samples_ns.empty()) return s;
  std::sort(samples_ns.begin(), samples_ns.end());
  const size_t n = samples_ns.size();
  // Nearest rank: the smallest sample with at least p% of the samples at or below it.
  auto rank = [n](double p) {
    size_t r = static_cast<size_t>(std::ceil(p * static_cast<double>(n)));
    return std::clamp<size_t>(r, 1, n) - 1;
  };
  double sum = 0;
  for (uint64_t v : samples_ns) sum += static_cast<double>(v);
  s.samples = static_cast<uint32_t>(n);
  s.p50_us = static_cast<double>(samples_ns[rank(0.50)]) / 1e3;
  s.p99_us = static_cast<double>(samples_ns[rank(0.99)]) / 1e3;
  s.mean_us = sum / static_cast<double>(n) / 1e3;
  s.min_us = static_cast<double>(samples_ns.front()) / 1e3;
  s.max_us = static_cast<double>(samples_ns.back()) / 1e3;
  BENCH_CHECK(s.min_us <= s.p50_us && s.p50_us <= s.p99_us && s.p99_us <= s.max_us);
  BENCH_CHECK(s.min_us <= s.mean_us && s.mean_us <= s.max_us);
  return s;
}

namespace {

constexpr uint32_t kAccessFull = fabric::kAccessAll;
constexpr uint32_t kAccessRevoked = fabric::kAccessAll & ~fabric::kRemoteWrite;
static_assert((kAccessRevoked & fabric::kRemoteWrite) == 0);
// sim: scheduler steps one operation may take before the run is declared stuck.
constexpr uint64_t kSimMaxStepsPerOp = 1'000'000;
constexpr uint32_t kCqDepth = 64;

// Two devices, whatever the backend, and how to make them progress.
class Fabric {
 public:
  virtual ~Fabric() = default;
  virtual Device& device(int i) = 0;
  // sim: one scheduler step; soft: nothing (its NIC threads progress by themselves).
  virtual void step() = 0;
  virtual bool virtual_time() const = 0;
};

class SimFabric final : public Fabric {
 public:
  explicit SimFabric(uint64_t seed) : world_(seed, faults()) {
    devices_[0] = world_.create_device("bench-requester");
    devices_[1] = world_.create_device("bench-responder");
  }
  Device& device(int i) override { return *devices_.at(i); }
  void step() override { world_.step(); }
  bool virtual_time() const override { return true; }

 private:
  static fabric::SimFaults faults() {
    fabric::SimFaults f;
    f.tear_probability = 0.0;  // a benchmark measures the model's latency, not its faults
    return f;
  }
  fabric::SimWorld world_;  // declared first: outlives the devices
  std::array<std::unique_ptr<Device>, 2> devices_;
};

class SoftFabric final : public Fabric {
 public:
  static Result<std::unique_ptr<Fabric>> open(bool busy_poll) {
    auto fabric = std::unique_ptr<SoftFabric>(new SoftFabric());
    const std::string secret = random_secret();
    const char* names[2] = {"bench-requester", "bench-responder"};
    for (int i = 0; i < 2; ++i) {
      fabric::SoftConfig config;
      config.name = names[i];
      config.listen_host = "127.0.0.1";
      config.listen_port = 0;
      config.secret = secret;
      config.busy_poll = busy_poll;
      auto device = fabric::open_soft_device(config);
      if (!device.ok()) {
        return Status::Error(device.status().code,
                             "opening soft device " + config.name + ": " + device.status().message);
      }
      fabric->devices_[i] = std::move(device.value());
    }
    return std::unique_ptr<Fabric>(std::move(fabric));
  }
  Device& device(int i) override { return *devices_.at(i); }
  void step() override {}
  bool virtual_time() const override { return false; }

 private:
  SoftFabric() = default;
  static std::string random_secret() {
    std::random_device rd;
    std::string hex;
    for (int i = 0; i < 8; ++i) {
      char word[9];
      std::snprintf(word, sizeof word, "%08x", static_cast<unsigned>(rd()));
      hex += word;
    }
    BENCH_CHECK(hex.size() == 64);
    return hex;
  }
  std::array<std::unique_ptr<fabric::SoftDevice>, 2> devices_;
};

// One side of the connection: its memory, region, CQ and QP.
struct Endpoint {
  Device* device = nullptr;
  std::vector<uint8_t> buffer;
  std::unique_ptr<MemoryRegion> region;
  std::unique_ptr<CompletionQueue> cq;
  std::unique_ptr<QueuePair> qp;
};

Status with_context(const Status& s, const std::string& what) {
  return Status::Error(s.code, what + ": " + s.message);
}

class Bench {
 public:
  Bench(const FabricBenchConfig& config, Fabric& fabric) : config_(config), fabric_(fabric) {}

  Status setup(size_t region_bytes) {
    for (int i = 0; i < 2; ++i) {
      Endpoint& e = side_[i];
      e.device = &fabric_.device(i);
      e.buffer.assign(region_bytes, 0);
      auto region = e.device->register_region(e.buffer.data(), e.buffer.size(), kAccessFull);
      if (!region.ok()) return with_context(region.status(), "register_region");
      e.region = std::move(region.value());
      auto cq = e.device->create_cq(kCqDepth);
      if (!cq.ok()) return with_context(cq.status(), "create_cq");
      e.cq = std::move(cq.value());
      auto qp = e.device->create_qp(*e.cq, QpCaps{});
      if (!qp.ok()) return with_context(qp.status(), "create_qp");
      e.qp = std::move(qp.value());
    }
    for (Endpoint& e : side_) {
      Status s = e.qp->to_init(kAccessFull);
      if (!s.ok()) return with_context(s, "to_init");
    }
    for (int i = 0; i < 2; ++i) {
      Status s = side_[i].qp->to_rtr(side_[1 - i].qp->address());
      if (!s.ok()) return with_context(s, "to_rtr");
    }
    for (Endpoint& e : side_) {
      Status s = e.qp->to_rts();
      if (!s.ok()) return with_context(s, "to_rts");
    }
    return Status::Ok();
  }

  uint32_t max_inline() const { return requester().qp->max_inline(); }

  // One signaled WRITE of `bytes` from the requester's region to the responder's, polled to its
  // completion. *rtt_ns is measured in the device's time base (virtual on sim).
  Status write_once(uint32_t bytes, uint64_t sequence, uint64_t* rtt_ns) {
    Endpoint& req = requester();
    const Endpoint& resp = responder();
    BENCH_CHECK(bytes <= req.buffer.size() && bytes <= resp.buffer.size());
    // A fresh pattern per WRITE, so that a stale copy in the responder's memory is detected.
    std::memset(req.buffer.data(), static_cast<int>(sequence & 0xff), bytes);
    std::memcpy(req.buffer.data(), &sequence, std::min<size_t>(bytes, sizeof sequence));

    WorkRequest wr;
    wr.wr_id = sequence;
    wr.opcode = fabric::Opcode::kWrite;
    wr.local_addr = req.buffer.data();
    wr.length = bytes;
    wr.lkey = req.region->lkey();
    wr.remote_addr = resp.region->remote().addr;
    wr.rkey = resp.region->rkey();
    wr.signaled = true;
    wr.inline_data = bytes <= req.qp->max_inline();

    const uint64_t start_ns = req.device->now_ns();
    Status posted = req.qp->post(wr);
    if (!posted.ok()) return with_context(posted, "post WRITE");
    Completion completion;
    Status polled = poll_one(*req.cq, &completion);
    const uint64_t end_ns = req.device->now_ns();
    if (!polled.ok()) return polled;
    if (completion.status != WcStatus::kSuccess) {
      return Status::Error(ErrorCode::kInternal,
                           "WRITE of " + std::to_string(bytes) + " B completed with '" +
                               fabric::to_string(completion.status) + "'");
    }
    BENCH_CHECK(completion.wr_id == sequence);
    BENCH_CHECK(end_ns >= start_ns);
    *rtt_ns = end_ns - start_ns;
    return Status::Ok();
  }

  // After a completed WRITE its bytes must be in the responder's memory (in-process on both sim
  // and soft, so the benchmark can look).
  Status check_landed(uint32_t bytes) const {
    if (std::memcmp(requester().buffer.data(), responder().buffer.data(), bytes) != 0) {
      return Status::Error(ErrorCode::kInternal, "a WRITE of " + std::to_string(bytes) +
                                                     " B completed but its data did not land");
    }
    return Status::Ok();
  }

  Status measure_write(uint32_t bytes, WritePoint* point) {
    uint64_t rtt_ns = 0;
    for (uint32_t i = 0; i < config_.warmup_iterations; ++i) {
      Status s = write_once(bytes, next_sequence_++, &rtt_ns);
      if (!s.ok()) return s;
    }
    std::vector<uint64_t> samples;
    samples.reserve(config_.iterations);
    const auto wall_start = std::chrono::steady_clock::now();
    for (uint32_t i = 0; i < config_.iterations; ++i) {
      Status s = write_once(bytes, next_sequence_++, &rtt_ns);
      if (!s.ok()) return s;
      samples.push_back(rtt_ns);
    }
    const auto wall_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                             std::chrono::steady_clock::now() - wall_start)
                             .count();
    Status landed = check_landed(bytes);
    if (!landed.ok()) return landed;
    point->payload_bytes = bytes;
    point->inline_data = bytes <= max_inline();
    point->rtt = summarize_ns(samples);
    if (config_.keep_samples) point->samples_ns = std::move(samples);
    point->wall_ns_per_op = static_cast<double>(wall_ns) / config_.iterations;
    BENCH_CHECK(point->rtt.samples == config_.iterations);
    return Status::Ok();
  }

  // Fast path on the responder: revoke remote write in RTS, then grant it back. A WRITE after
  // every grant checks that the QP pair still carries traffic.
  Status measure_fast_path(std::vector<PermissionFigures>* out) {
    std::vector<uint64_t> revoke_ns, grant_ns;
    Endpoint& resp = responder();
    for (uint32_t i = 0; i < config_.permission_iterations; ++i) {
      PermissionChange revoke = fabric::change_qp_access(*resp.device, *resp.qp, kAccessRevoked);
      if (!revoke.status.ok()) return with_context(revoke.status, "fast-path revoke");
      PermissionChange grant = fabric::change_qp_access(*resp.device, *resp.qp, kAccessFull);
      if (!grant.status.ok()) return with_context(grant.status, "fast-path grant");
      BENCH_CHECK(revoke.mechanism == PermissionMechanism::kQpAccessFlags);
      revoke_ns.push_back(revoke.duration_ns);
      grant_ns.push_back(grant.duration_ns);
      Status s = verify_traffic();
      if (!s.ok()) return with_context(s, "WRITE after a fast-path grant");
    }
    out->push_back({PermissionMechanism::kQpAccessFlags, "revoke", summarize_ns(revoke_ns)});
    out->push_back({PermissionMechanism::kQpAccessFlags, "grant", summarize_ns(grant_ns)});
    return Status::Ok();
  }

  // Slow path: cycle the responder's QP through RESET→INIT→RTR→RTS, then the requester's (both
  // sides must be cycled before traffic flows again), and check a WRITE goes through.
  Status measure_slow_path(std::vector<PermissionFigures>* out) {
    std::vector<uint64_t> responder_ns, requester_ns, both_ns;
    Endpoint& req = requester();
    Endpoint& resp = responder();
    for (uint32_t i = 0; i < config_.permission_iterations; ++i) {
      PermissionChange r1 = fabric::cycle_qp(*resp.device, *resp.qp, kAccessFull, req.qp->address());
      if (!r1.status.ok()) return with_context(r1.status, "slow-path cycle of the responder QP");
      PermissionChange r0 = fabric::cycle_qp(*req.device, *req.qp, kAccessFull, resp.qp->address());
      if (!r0.status.ok()) return with_context(r0.status, "slow-path cycle of the requester QP");
      BENCH_CHECK(r1.mechanism == PermissionMechanism::kQpStateCycle);
      responder_ns.push_back(r1.duration_ns);
      requester_ns.push_back(r0.duration_ns);
      both_ns.push_back(r1.duration_ns + r0.duration_ns);
      Status s = verify_traffic();
      if (!s.ok()) return with_context(s, "WRITE after a QP cycle");
    }
    out->push_back({PermissionMechanism::kQpStateCycle, "responder", summarize_ns(responder_ns)});
    out->push_back({PermissionMechanism::kQpStateCycle, "requester", summarize_ns(requester_ns)});
    out->push_back({PermissionMechanism::kQpStateCycle, "both", summarize_ns(both_ns)});
    return Status::Ok();
  }

 private:
  Endpoint& requester() { return side_[0]; }
  Endpoint& responder() { return side_[1]; }
  const Endpoint& requester() const { return side_[0]; }
  const Endpoint& responder() const { return side_[1]; }

  Status verify_traffic() {
    uint64_t rtt_ns = 0;
    constexpr uint32_t kBytes = 64;
    Status s = write_once(kBytes, next_sequence_++, &rtt_ns);
    if (s.ok()) s = check_landed(kBytes);
    return s;
  }

  Status poll_one(CompletionQueue& cq, Completion* out) {
    if (fabric_.virtual_time()) {
      for (uint64_t steps = 0; steps < kSimMaxStepsPerOp; ++steps) {
        if (cq.poll(out, 1) == 1) return Status::Ok();
        fabric_.step();
      }
      return Status::Error(ErrorCode::kInternal, "no completion after " +
                                                     std::to_string(kSimMaxStepsPerOp) +
                                                     " simulator steps");
    }
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(config_.op_timeout_ms);
    for (uint64_t spins = 0;; ++spins) {
      if (cq.poll(out, 1) == 1) return Status::Ok();
      if (config_.yield_after_idle_polls != 0 && (spins + 1) % config_.yield_after_idle_polls == 0) {
        sched_yield();
      }
      // The clock is read every 1024 polls: cheap, and bounds the loop.
      if ((spins & 1023) == 1023 && std::chrono::steady_clock::now() > deadline) {
        return Status::Error(ErrorCode::kUnreachable, "no completion within " +
                                                          std::to_string(config_.op_timeout_ms) +
                                                          " ms");
      }
    }
  }

  const FabricBenchConfig& config_;
  Fabric& fabric_;
  std::array<Endpoint, 2> side_;
  uint64_t next_sequence_ = 1;
};

// Pins the calling thread to one CPU; restores the affinity it had on destruction.
class ScopedAffinity {
 public:
  ScopedAffinity() { saved_ok_ = sched_getaffinity(0, sizeof saved_, &saved_) == 0; }
  ~ScopedAffinity() { restore(); }
  ScopedAffinity(const ScopedAffinity&) = delete;
  ScopedAffinity& operator=(const ScopedAffinity&) = delete;
  void pin(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    changed_ |= sched_setaffinity(0, sizeof set, &set) == 0;
  }
  void restore() {
    if (changed_ && saved_ok_) sched_setaffinity(0, sizeof saved_, &saved_);
    changed_ = false;
  }

 private:
  cpu_set_t saved_{};
  bool saved_ok_ = false;
  bool changed_ = false;
};

void report(const FabricBenchConfig& config, const std::string& line) {
  if (config.progress) config.progress(line);
}

std::string format_point(const WritePoint& p, const char* unit) {
  char line[160];
  std::snprintf(line, sizeof line, "%5u B%s  p50 %8.2f  p99 %8.2f  mean %8.2f %s", p.payload_bytes,
                p.inline_data ? " inline" : "       ", p.rtt.p50_us, p.rtt.p99_us, p.rtt.mean_us,
                unit);
  return line;
}

}  // namespace

Result<FabricBenchResult> run_fabric_bench(const FabricBenchConfig& config) {
  Status valid = config.validate();
  if (!valid.ok()) return valid;
  const auto wall_start = std::chrono::steady_clock::now();

  std::unique_ptr<Fabric> fabric;
  ScopedAffinity affinity;
  if (config.fabric == BenchFabric::kSim) {
    fabric = std::make_unique<SimFabric>(config.seed);
  } else {
    if (config.nic_cpu >= 0) affinity.pin(config.nic_cpu);  // the NIC threads inherit it
    auto soft = SoftFabric::open(config.busy_poll);
    if (!soft.ok()) return soft.status();
    fabric = std::move(soft.value());
    if (config.poll_cpu >= 0) {
      affinity.pin(config.poll_cpu);
    } else {
      affinity.restore();
    }
  }
  const char* unit = fabric->virtual_time() ? "virtual us" : "us";

  uint32_t largest = config.headline_payload_bytes;
  for (uint32_t size : config.sweep_payload_bytes) largest = std::max(largest, size);
  const size_t region_bytes = std::max<size_t>(largest, 4096);

  Bench bench(config, *fabric);
  report(config, std::string("fabric ") + to_string(config.fabric) + ": connecting a QP pair");
  Status s = bench.setup(region_bytes);
  if (!s.ok()) return s;

  FabricBenchResult result;
  result.fabric = config.fabric;
  result.time_base = fabric->virtual_time() ? "virtual" : "wall-clock";
  result.iterations = config.iterations;
  result.warmup_iterations = config.warmup_iterations;
  result.permission_iterations = config.permission_iterations;
  result.max_inline = bench.max_inline();
  result.seed = config.seed;

  report(config, "WRITE round trip, " + std::to_string(config.headline_payload_bytes) + " B (" +
                     std::to_string(config.warmup_iterations) + " warm-up + " +
                     std::to_string(config.iterations) + " timed)");
  s = bench.measure_write(config.headline_payload_bytes, &result.headline);
  if (!s.ok()) return s;
  report(config, "  " + format_point(result.headline, unit));

  report(config, "payload sweep, " + std::to_string(config.sweep_payload_bytes.size()) +
                     " sizes, max_inline " + std::to_string(result.max_inline) + " B");
  for (uint32_t bytes : config.sweep_payload_bytes) {
    WritePoint point;
    s = bench.measure_write(bytes, &point);
    if (!s.ok()) return s;
    report(config, "  " + format_point(point, unit));
    result.sweep.push_back(point);
  }

  if (config.permission_iterations > 0) {
    report(config, "permission change, fast path (set_access in RTS) x" +
                       std::to_string(config.permission_iterations));
    s = bench.measure_fast_path(&result.permission_changes);
    if (!s.ok()) return s;
    report(config, "permission change, slow path (RESET->INIT->RTR->RTS on both QPs) x" +
                       std::to_string(config.permission_iterations));
    s = bench.measure_slow_path(&result.permission_changes);
    if (!s.ok()) return s;
  }
  result.total_wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                                      wall_start)
                            .count();
  BENCH_CHECK(result.sweep.size() == config.sweep_payload_bytes.size());
  return result;
}

namespace {

// Minimal JSON writer: enough for flat objects of strings, numbers and booleans.
class Json {
 public:
  void open_object() { separator(); out_ << '{'; first_ = true; }
  void close_object() { out_ << '}'; first_ = false; }
  void open_array(const char* key) { this->key(key); out_ << '['; first_ = true; }
  void close_array() { out_ << ']'; first_ = false; }
  void key(const char* k) { separator(); string(k); out_ << ':'; first_ = true; }
  void field(const char* k, const std::string& v) { key(k); string(v); first_ = false; }
  void field(const char* k, const char* v) { field(k, std::string(v)); }
  void field(const char* k, bool v) { key(k); out_ << (v ? "true" : "false"); first_ = false; }
  void field(const char* k, uint64_t v) { key(k); out_ << v; first_ = false; }
  void field(const char* k, uint32_t v) { field(k, static_cast<uint64_t>(v)); }
  void field(const char* k, double v, int decimals) {
    key(k);
    char number[64];
    if (std::isfinite(v)) {
      std::snprintf(number, sizeof number, "%.*f", decimals, v);
    } else {
      std::snprintf(number, sizeof number, "null");
    }
    out_ << number;
    first_ = false;
  }
  std::string str() const { return out_.str(); }

 private:
  void separator() {
    if (!first_) out_ << ',';
  }
  void string(const std::string& s) {
    out_ << '"';
    for (char c : s) {
      if (c == '"' || c == '\\') {
        out_ << '\\' << c;
      } else if (static_cast<unsigned char>(c) < 0x20) {
        char escaped[8];
        std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
        out_ << escaped;
      } else {
        out_ << c;
      }
    }
    out_ << '"';
  }
  std::ostringstream out_;
  bool first_ = true;
};

void latency_fields(Json& j, const LatencySummary& s) {
  j.field("samples", s.samples);
  j.field("p50_us", s.p50_us, 3);
  j.field("p99_us", s.p99_us, 3);
  j.field("mean_us", s.mean_us, 3);
  j.field("min_us", s.min_us, 3);
  j.field("max_us", s.max_us, 3);
}

void write_point(Json& j, const FabricBenchResult& r, const WritePoint& p) {
  j.open_object();
  j.field("benchmark", "fabric-write-rtt");
  j.field("fabric", to_string(r.fabric));
  j.field("time_base", r.time_base);
  j.field("payload_bytes", p.payload_bytes);
  j.field("inline", p.inline_data);
  latency_fields(j, p.rtt);
  j.field("wall_ns_per_op", p.wall_ns_per_op, 1);
  j.close_object();
}

}  // namespace

std::string to_json(const FabricBenchResult& r) {
  Json j;
  j.open_object();
  j.field("schema", "mu.bench.fabric/v1");
  j.field("fabric", to_string(r.fabric));
  j.field("time_base", r.time_base);
  j.field("iterations", r.iterations);
  j.field("warmup_iterations", r.warmup_iterations);
  j.field("permission_iterations", r.permission_iterations);
  j.field("max_inline", r.max_inline);
  j.field("seed", r.seed);
  j.field("total_wall_s", r.total_wall_s, 3);
  j.key("write_rtt");
  write_point(j, r, r.headline);
  j.open_array("points");
  for (const WritePoint& p : r.sweep) write_point(j, r, p);
  j.close_array();
  j.open_array("permission_changes");
  for (const PermissionFigures& f : r.permission_changes) {
    j.open_object();
    j.field("benchmark", "fabric-permission-change");
    j.field("fabric", to_string(r.fabric));
    j.field("time_base", r.time_base);
    j.field("mechanism", fabric::to_string(f.mechanism));
    j.field("path", f.mechanism == PermissionMechanism::kQpAccessFlags ? "fast" : "slow");
    j.field("step", f.step);
    latency_fields(j, f.duration);
    j.close_object();
  }
  j.close_array();
  j.close_object();
  return j.str();
}

}  // namespace mu::tools
