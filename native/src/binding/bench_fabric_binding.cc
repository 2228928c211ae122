#include "binding/bench_fabric_binding.h"

#include <cmath>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "bench_fabric.h"
#include "binding/json_job.h"

namespace mu::binding {
namespace {

using tools::FabricBenchConfig;

constexpr double kMaxSafeInteger = 9007199254740991.0;  // Number.MAX_SAFE_INTEGER

[[noreturn]] void throw_type_error(Napi::Env env, const std::string& message) {
  throw Napi::TypeError::New(env, "benchFabric: " + message);
}

// options[name] as an integer in [min, max], or `fallback` when absent/undefined.
double integer_option(const Napi::Object& options, const char* name, double min, double max,
                      double fallback) {
  Napi::Value v = options.Get(name);
  if (v.IsUndefined()) return fallback;
  // Built piecewise: GCC 12 at -O3 warns falsely (-Wrestrict) on "literal" + std::string&&.
  std::string range = "[";
  range += std::to_string(static_cast<uint64_t>(min));
  range += ", ";
  range += std::to_string(static_cast<uint64_t>(max));
  range += "]";
  if (!v.IsNumber()) throw_type_error(options.Env(), std::string("options.") + name +
                                                         " must be an integer in " + range);
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || std::floor(d) != d || d < min || d > max) {
    throw_type_error(options.Env(), std::string("options.") + name + " must be an integer in " +
                                        range + ", got " + v.ToString().Utf8Value());
  }
  return d;
}

FabricBenchConfig parse_options(const Napi::Env& env, const Napi::Value& arg,
                                Napi::Function* on_progress) {
  if (!arg.IsObject() || arg.IsArray() || arg.IsFunction()) {
    throw_type_error(env, "expects an options object, e.g. { fabric: 'sim' }");
  }
  const Napi::Object options = arg.As<Napi::Object>();
  static const std::set<std::string> kKnown = {
      "fabric", "iterations", "warmupIterations", "permissionIterations", "headlinePayloadBytes",
      "payloadSizes", "seed", "busyPoll", "onProgress"};
  const Napi::Array keys = options.GetPropertyNames();
  for (uint32_t i = 0; i < keys.Length(); ++i) {
    const std::string key = keys.Get(i).ToString().Utf8Value();
    if (!kKnown.count(key)) throw_type_error(env, "unknown option '" + key + "'");
  }

  FabricBenchConfig config;
  const Napi::Value fabric = options.Get("fabric");
  if (!fabric.IsString() ||
      !tools::parse_bench_fabric(fabric.As<Napi::String>().Utf8Value(), &config.fabric)) {
    throw_type_error(env, "options.fabric must be 'sim' or 'soft', got " +
                              (fabric.IsUndefined() ? std::string("undefined")
                                                    : fabric.ToString().Utf8Value()));
  }
  const double max_iters = FabricBenchConfig::kMaxIterations;
  const double max_payload = FabricBenchConfig::kMaxPayloadBytes;
  config.iterations =
      static_cast<uint32_t>(integer_option(options, "iterations", 1, max_iters, config.iterations));
  config.warmup_iterations = static_cast<uint32_t>(
      integer_option(options, "warmupIterations", 0, max_iters, config.warmup_iterations));
  config.permission_iterations = static_cast<uint32_t>(
      integer_option(options, "permissionIterations", 0, max_iters, config.permission_iterations));
  config.headline_payload_bytes = static_cast<uint32_t>(integer_option(
      options, "headlinePayloadBytes", 1, max_payload, config.headline_payload_bytes));

  const Napi::Value sizes = options.Get("payloadSizes");
  if (!sizes.IsUndefined()) {
    if (!sizes.IsArray() || sizes.As<Napi::Array>().Length() == 0) {
      throw_type_error(env, "options.payloadSizes must be a non-empty array of byte counts");
    }
    const Napi::Array array = sizes.As<Napi::Array>();
    config.sweep_payload_bytes.clear();
    for (uint32_t i = 0; i < array.Length(); ++i) {
      const Napi::Value v = array.Get(i);
      const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
      if (std::floor(d) != d || d < 1 || d > max_payload) {
        throw_type_error(env, "options.payloadSizes[" + std::to_string(i) +
                                  "] must be an integer in [1, " +
                                  std::to_string(FabricBenchConfig::kMaxPayloadBytes) + "]");
      }
      config.sweep_payload_bytes.push_back(static_cast<uint32_t>(d));
    }
  }

  const Napi::Value seed = options.Get("seed");
  if (seed.IsBigInt()) {
    bool lossless = false;
    config.seed = seed.As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) throw_type_error(env, "options.seed must fit in 64 unsigned bits");
  } else {
    config.seed = static_cast<uint64_t>(
        integer_option(options, "seed", 0, kMaxSafeInteger, static_cast<double>(config.seed)));
  }

  const Napi::Value busy_poll = options.Get("busyPoll");
  if (!busy_poll.IsUndefined()) {
    if (!busy_poll.IsBoolean()) throw_type_error(env, "options.busyPoll must be a boolean");
    config.busy_poll = busy_poll.As<Napi::Boolean>().Value();
  }

  const Napi::Value progress = options.Get("onProgress");
  if (!progress.IsUndefined()) {
    if (!progress.IsFunction()) throw_type_error(env, "options.onProgress must be a function");
    *on_progress = progress.As<Napi::Function>();
  }
  fabric::Status valid = config.validate();
  if (!valid.ok()) throw_type_error(env, valid.message);
  return config;
}

}  // namespace

Napi::Value BenchFabric(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1) throw_type_error(env, "expects exactly one argument (options)");
  Napi::Function on_progress;
  FabricBenchConfig config = parse_options(env, info[0], &on_progress);
  return queue_json_job(env, "mu.benchFabric", [config](const Progress& progress) mutable -> fabric::Result<std::string> {
    config.progress = progress;
    auto result = tools::run_fabric_bench(config);
    if (!result.ok()) return result.status();
    return tools::to_json(result.value());
  }, on_progress);
}

}  // namespace mu::binding
