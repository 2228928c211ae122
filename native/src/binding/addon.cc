// The Node-API addon `mu_engine.node`: the native engine as the node agent loads it
// (node-agent/src/native/engine.ts holds the TypeScript types of these exports).
#include <napi.h>

#include <string>

#include "binding/bench_fabric_binding.h"

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

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("version", Napi::Function::New(env, Version, "version"));
  exports.Set("benchFabric", Napi::Function::New(env, BenchFabric, "benchFabric"));
  exports.Set("fabrics", Fabrics(env));
  exports.Set("napiVersion", Napi::Number::New(env, NAPI_VERSION));
  return exports;
}

}  // namespace
}  // namespace mu::binding

// NODE_API_MODULE wants an unqualified name.
static Napi::Object InitMuEngine(Napi::Env env, Napi::Object exports) {
  return mu::binding::Init(env, exports);
}
NODE_API_MODULE(mu_engine, InitMuEngine)
