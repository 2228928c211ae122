#include "binding/bench_perf_binding.h"

#include <cmath>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "bench_failover.h"
#include "binding/json_job.h"
#include "bench_kv.h"
#include "bench_replication.h"

namespace mu::binding {
namespace {

// --- option parsing -----------------------------------------------------------------------------

class Options {
 public:
  Options(const Napi::Env& env, const Napi::Value& arg, const char* function,
          std::set<std::string> known)
      : env_(env), function_(function) {
    if (!arg.IsObject() || arg.IsArray() || arg.IsFunction()) {
      fail(std::string("expects an options object"));
    }
    object_ = arg.As<Napi::Object>();
    known.insert("onProgress");
    const Napi::Array keys = object_.GetPropertyNames();
    for (uint32_t i = 0; i < keys.Length(); ++i) {
      const std::string key = keys.Get(i).ToString().Utf8Value();
      if (!known.count(key)) fail("unknown option '" + key + "'");
    }
  }

  [[noreturn]] void fail(const std::string& message) const {
    throw Napi::TypeError::New(env_, function_ + ": " + message);
  }

  bool has(const char* name) const { return !object_.Get(name).IsUndefined(); }

  double integer(const char* name, double min, double max, double fallback) const {
    const Napi::Value v = object_.Get(name);
    if (v.IsUndefined()) return fallback;
    std::string range = "[";
    range += std::to_string(static_cast<uint64_t>(min));
    range += ", ";
    range += std::to_string(static_cast<uint64_t>(max));
    range += "]";
    const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : std::nan("");
    if (!std::isfinite(d) || std::floor(d) != d || d < min || d > max) {
      fail(std::string("options.") + name + " must be an integer in " + range + ", got " +
           v.ToString().Utf8Value());
    }
    return d;
  }

  double number(const char* name, double min, double max, double fallback) const {
    const Napi::Value v = object_.Get(name);
    if (v.IsUndefined()) return fallback;
    const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : std::nan("");
    if (!std::isfinite(d) || d < min || d > max) {
      fail(std::string("options.") + name + " must be a number in [" + std::to_string(min) + ", " +
           std::to_string(max) + "]");
    }
    return d;
  }

  bool boolean(const char* name, bool fallback) const {
    const Napi::Value v = object_.Get(name);
    if (v.IsUndefined()) return fallback;
    if (!v.IsBoolean()) fail(std::string("options.") + name + " must be a boolean");
    return v.As<Napi::Boolean>().Value();
  }

  std::string choice(const char* name, const std::vector<std::string>& choices,
                     const std::string& fallback) const {
    const Napi::Value v = object_.Get(name);
    if (v.IsUndefined()) return fallback;
    const std::string s = v.IsString() ? v.As<Napi::String>().Utf8Value() : "";
    for (const std::string& c : choices) {
      if (s == c) return s;
    }
    std::string list;
    for (const std::string& c : choices) list += (list.empty() ? "'" : ", '") + c + "'";
    fail(std::string("options.") + name + " must be one of " + list + ", got " + v.ToString().Utf8Value());
  }

  std::vector<uint32_t> integers(const char* name, uint32_t min, uint32_t max, bool allow_empty,
                                 std::vector<uint32_t> fallback) const {
    const Napi::Value v = object_.Get(name);
    if (v.IsUndefined()) return fallback;
    if (!v.IsArray() || (!allow_empty && v.As<Napi::Array>().Length() == 0)) {
      fail(std::string("options.") + name + " must be " + (allow_empty ? "an" : "a non-empty") +
           " array of integers");
    }
    const Napi::Array a = v.As<Napi::Array>();
    std::vector<uint32_t> out;
    for (uint32_t i = 0; i < a.Length(); ++i) {
      const Napi::Value e = a.Get(i);
      const double d = e.IsNumber() ? e.As<Napi::Number>().DoubleValue() : -1;
      if (std::floor(d) != d || d < min || d > max) {
        fail(std::string("options.") + name + "[" + std::to_string(i) + "] must be an integer in [" +
             std::to_string(min) + ", " + std::to_string(max) + "]");
      }
      out.push_back(static_cast<uint32_t>(d));
    }
    return out;
  }

  Napi::Function progress() const {
    const Napi::Value v = object_.Get("onProgress");
    if (v.IsUndefined()) return Napi::Function();
    if (!v.IsFunction()) fail("options.onProgress must be a function");
    return v.As<Napi::Function>();
  }

 private:
  Napi::Env env_;
  std::string function_;
  Napi::Object object_;
};

constexpr double kMaxSafeInteger = 9007199254740991.0;

tools::BenchFabric fabric_option(const Options& o) {
  tools::BenchFabric f = tools::BenchFabric::kSoft;
  tools::parse_bench_fabric(o.choice("fabric", {"soft", "sim"}, "soft"), &f);
  return f;
}

// --- benchReplication -------------------------------------------------------------------------

Napi::Value BenchReplication(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1) throw Napi::TypeError::New(env, "benchReplication: expects exactly one argument (options)");
  const Options o(env, info[0], "benchReplication",
                  {"fabric", "replicas", "payloadBytes", "sweep", "payloadSizes", "iterations",
                   "warmupIterations", "rounds", "floor", "windows", "throughputRequests",
                   "costRequests", "costBatch", "seed", "busyPoll", "followerPollEvery",
                   "yieldAfterIdlePolls", "nicCpu", "pollCpu"});
  tools::ReplicationBenchConfig c;
  const double max_iters = tools::ReplicationBenchConfig::kMaxIterations;
  c.fabric = fabric_option(o);
  c.replicas = uint32_t(o.integer("replicas", 1, 7, c.replicas));
  c.payload_bytes = uint32_t(o.integer("payloadBytes", 1, tools::ReplicationBenchConfig::kMaxPayloadBytes, c.payload_bytes));
  c.sweep = o.boolean("sweep", c.sweep);
  c.sweep_payload_bytes = o.integers("payloadSizes", 1, tools::ReplicationBenchConfig::kMaxPayloadBytes, false, c.sweep_payload_bytes);
  c.iterations = uint32_t(o.integer("iterations", 1, max_iters, c.iterations));
  c.warmup_iterations = uint32_t(o.integer("warmupIterations", 0, max_iters, c.warmup_iterations));
  c.rounds = uint32_t(o.integer("rounds", 1, 1000, c.rounds));
  c.floor = o.boolean("floor", c.floor);
  c.windows = o.integers("windows", 1, 4096, true, c.windows);
  c.throughput_requests = uint32_t(o.integer("throughputRequests", 0, max_iters, c.throughput_requests));
  c.cost_requests = uint32_t(o.integer("costRequests", 0, max_iters, c.cost_requests));
  c.cost_batch = uint32_t(o.integer("costBatch", 1, 1024, c.cost_batch));
  c.seed = uint64_t(o.integer("seed", 0, kMaxSafeInteger, double(c.seed)));
  c.busy_poll = o.boolean("busyPoll", c.busy_poll);
  c.follower_poll_every = uint32_t(o.integer("followerPollEvery", 1, 1'000'000, c.follower_poll_every));
  c.yield_after_idle_polls = uint32_t(o.integer("yieldAfterIdlePolls", 0, 1'000'000, c.yield_after_idle_polls));
  c.nic_cpu = int(o.integer("nicCpu", -1, 1023, c.nic_cpu));
  c.poll_cpu = int(o.integer("pollCpu", -1, 1023, c.poll_cpu));
  if (c.rounds > c.iterations) c.rounds = c.iterations;
  if (fabric::Status s = c.validate(); !s.ok()) o.fail(s.message);
  JsonJob job = [c](const Progress& progress) mutable -> fabric::Result<std::string> {
    c.progress = progress;
    auto r = tools::run_replication_bench(c);
    if (!r.ok()) return r.status();
    return tools::to_json(r.value());
  };
  return queue_json_job(env, "mu.benchReplication", std::move(job), o.progress());
}

// --- benchFailover ----------------------------------------------------------------------------

Napi::Value BenchFailover(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1) throw Napi::TypeError::New(env, "benchFailover: expects exactly one argument (options)");
  const Options o(env, info[0], "benchFailover",
                  {"fabric", "replicas", "trials", "fault", "pauseMs", "quietSeconds",
                   "loadPerSecond", "readPeriodMicros", "failureThreshold", "recoveryThreshold",
                   "scoreMax", "basePort", "busyPoll", "idleSleepMicros", "seed", "trialTimeoutMs"});
  tools::FailoverBenchConfig c;
  c.fabric = fabric_option(o);
  c.replicas = uint32_t(o.integer("replicas", 2, 7, c.replicas));
  c.trials = uint32_t(o.integer("trials", 0, 100'000, c.trials));
  tools::parse_failover_fault(o.choice("fault", {"kill", "pause"}, "kill"), &c.fault);
  c.pause_ms = uint32_t(o.integer("pauseMs", 1, 60'000, c.pause_ms));
  c.quiet_seconds = o.number("quietSeconds", 0, 86'400, c.quiet_seconds);
  c.load_per_second = uint32_t(o.integer("loadPerSecond", 0, 1'000'000, c.load_per_second));
  c.detector.read_period_ns = uint64_t(o.integer("readPeriodMicros", 1, 10'000'000, double(c.detector.read_period_ns / 1000))) * 1000;
  c.detector.failure_threshold = uint32_t(o.integer("failureThreshold", 0, 1000, c.detector.failure_threshold));
  c.detector.recovery_threshold = uint32_t(o.integer("recoveryThreshold", 1, 1000, c.detector.recovery_threshold));
  c.detector.score_max = uint32_t(o.integer("scoreMax", 1, 1000, c.detector.score_max));
  c.base_port = uint16_t(o.integer("basePort", 1024, 32767, c.base_port));
  c.busy_poll = o.boolean("busyPoll", c.busy_poll);
  c.idle_sleep_us = uint32_t(o.integer("idleSleepMicros", 0, 100'000, c.idle_sleep_us));
  c.seed = uint64_t(o.integer("seed", 0, kMaxSafeInteger, double(c.seed)));
  c.trial_timeout_ms = uint32_t(o.integer("trialTimeoutMs", 1, 3'600'000, c.trial_timeout_ms));
  if (fabric::Status s = c.validate(); !s.ok()) o.fail(s.message);
  JsonJob job = [c](const Progress& progress) mutable -> fabric::Result<std::string> {
    c.progress = progress;
    auto r = tools::run_failover_bench(c);
    if (!r.ok()) return r.status();
    return tools::to_json(r.value());
  };
  return queue_json_job(env, "mu.benchFailover", std::move(job), o.progress());
}

// --- startKvBenchCluster ----------------------------------------------------------------------

class KvStartWorker final : public Napi::AsyncWorker {
 public:
  KvStartWorker(Napi::Env env, tools::KvClusterConfig config)
      : Napi::AsyncWorker(env, "mu.startKvBenchCluster"),
        config_(config),
        deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise promise() const { return deferred_.Promise(); }

  void Execute() override {
    auto r = tools::KvBenchCluster::start(config_);
    if (!r.ok()) {
      code_ = fabric::to_string(r.status().code);
      SetError(r.status().to_string());
      return;
    }
    cluster_ = std::shared_ptr<tools::KvBenchCluster>(std::move(r.value()));
  }

  void OnOK() override {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    std::shared_ptr<tools::KvBenchCluster> cluster = cluster_;
    Napi::Object handle = Napi::Object::New(env);
    Napi::Array ports = Napi::Array::New(env);
    for (uint32_t i = 0; i < config_.replicas; ++i) ports.Set(i, Napi::Number::New(env, cluster->resp_port(i)));
    handle.Set("respPorts", ports);
    handle.Set("leaderPort", Napi::Number::New(env, cluster->resp_port(cluster->leader())));
    handle.Set("leader", Napi::Number::New(env, cluster->leader()));
    handle.Set("stats", Napi::Function::New(env, [cluster](const Napi::CallbackInfo& i) -> Napi::Value {
      Napi::Env e = i.Env();
      Napi::Object json = e.Global().Get("JSON").As<Napi::Object>();
      return json.Get("parse").As<Napi::Function>().Call(json, {Napi::String::New(e, cluster->stats_json())});
    }, "stats"));
    // Joins the engine threads (milliseconds); idempotent.
    handle.Set("stop", Napi::Function::New(env, [cluster](const Napi::CallbackInfo& i) -> Napi::Value {
      cluster->stop();
      return i.Env().Undefined();
    }, "stop"));
    deferred_.Resolve(handle);
  }

  void OnError(const Napi::Error& error) override { reject_with_code(Env(), deferred_, error, code_); }

 private:
  tools::KvClusterConfig config_;
  Napi::Promise::Deferred deferred_;
  std::shared_ptr<tools::KvBenchCluster> cluster_;
  std::string code_ = "internal error";
};

Napi::Value StartKvBenchCluster(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1) throw Napi::TypeError::New(env, "startKvBenchCluster: expects exactly one argument (options)");
  const Options o(env, info[0], "startKvBenchCluster",
                  {"replicas", "basePort", "leaderBusyPoll", "followerBusyPoll",
                   "followerIdleSleepMicros", "logBytes", "maxValueBytes", "detectorReadPeriodMicros"});
  tools::KvClusterConfig c;
  c.replicas = uint32_t(o.integer("replicas", 1, 7, c.replicas));
  c.base_port = uint16_t(o.integer("basePort", 1024, 32767, c.base_port));
  c.leader_busy_poll = o.boolean("leaderBusyPoll", c.leader_busy_poll);
  c.follower_busy_poll = o.boolean("followerBusyPoll", c.follower_busy_poll);
  c.follower_idle_sleep_us = uint32_t(o.integer("followerIdleSleepMicros", 0, 100'000, c.follower_idle_sleep_us));
  c.detector_read_period_ns =
      uint64_t(o.integer("detectorReadPeriodMicros", 1, 10'000'000, double(c.detector_read_period_ns / 1000))) * 1000;
  c.log_bytes = size_t(o.integer("logBytes", 1 << 20, double(1ull << 34), double(c.log_bytes)));
  c.max_value_bytes = uint32_t(o.integer("maxValueBytes", 64, 8 << 20, c.max_value_bytes));
  if (fabric::Status s = c.validate(); !s.ok()) o.fail(s.message);
  auto* worker = new KvStartWorker(env, c);
  Napi::Promise promise = worker->promise();
  worker->Queue();
  return promise;
}

}  // namespace

void InitPerfBench(Napi::Env env, Napi::Object exports) {
  exports.Set("benchReplication", Napi::Function::New(env, BenchReplication, "benchReplication"));
  exports.Set("benchFailover", Napi::Function::New(env, BenchFailover, "benchFailover"));
  exports.Set("startKvBenchCluster", Napi::Function::New(env, StartKvBenchCluster, "startKvBenchCluster"));
}

}  // namespace mu::binding
