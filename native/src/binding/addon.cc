// The Node-API addon `mu_engine.node`: the native engine as the node agent loads it
// (node-agent/src/native/engine.ts holds the TypeScript types of these exports).
#include <napi.h>

#include <string>

#include "binding/bench_fabric_binding.h"
#include "binding/bench_perf_binding.h"
#include "binding/replica_binding.h"
#if defined(MU_WITH_VERBS)
#include "mu/fabric/verbs.h"
#endif

namespace mu::binding {
namespace {

// Kept equal to package.json "version" (a jest test checks it).
constexpr char kEngineVersion[] = "0.1.0";

Napi::Value Version(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), kEngineVersion);
}

// The fabric backends compiled into this build.
Napi::Value Fabrics(Napi::Env env) {
  Napi::Array fabrics = Napi::Array::New(env);
  uint32_t n = 0;
  fabrics.Set(n++, "sim");
  fabrics.Set(n++, "soft");
#ifdef MU_WITH_VERBS
  fabrics.Set(n++, "verbs");
#endif
  return fabrics;
}

#if defined(MU_WITH_VERBS)
// discoverVerbs(sysfsRoot?: string) → string: the RDMA devices, ports and GIDs as JSON
// (fabric::to_json), from sysfs completed by libibverbs (active MTU). Throws on an unreadable
// device; a machine without RDMA gives "[]".
Napi::Value DiscoverVerbs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string root = "/sys/class/infiniband";
  if (info.Length() > 0 && !info[0].IsUndefined()) {
    if (!info[0].IsString()) throw Napi::TypeError::New(env, "discoverVerbs: sysfsRoot must be a string");
    root = info[0].As<Napi::String>().Utf8Value();
  }
  auto devices = fabric::discover_verbs_devices(root);
  if (!devices.ok()) throw Napi::Error::New(env, "discoverVerbs: " + devices.status().to_string());
  return Napi::String::New(env, fabric::to_json(devices.value()));
}
#endif

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("version", Napi::Function::New(env, Version, "version"));
  exports.Set("benchFabric", Napi::Function::New(env, BenchFabric, "benchFabric"));
  exports.Set("fabrics", Fabrics(env));
  exports.Set("napiVersion", Napi::Number::New(env, NAPI_VERSION));
  InitReplica(env, exports);
  InitPerfBench(env, exports);  // benchReplication, benchFailover, startKvBenchCluster
#if defined(MU_WITH_VERBS)
  exports.Set("discoverVerbs", Napi::Function::New(env, DiscoverVerbs, "discoverVerbs"));
#endif
  return exports;
}

}  // namespace
}  // namespace mu::binding

// NODE_API_MODULE wants an unqualified name.
static Napi::Object InitMuEngine(Napi::Env env, Napi::Object exports) {
  return mu::binding::Init(env, exports);
}
NODE_API_MODULE(mu_engine, InitMuEngine)
