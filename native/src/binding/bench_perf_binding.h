// The performance benchmarks in the addon (native/tools/bench_{replication,failover,kv}.h):
//
//   benchReplication(options) → Promise<object>   (schema mu.bench.replication/v1)
//   benchFailover(options)    → Promise<object>   (schema mu.bench.failover/v1)
//   startKvBenchCluster(options) → Promise<{ respPorts, leaderPort, stats(), stop() }>
//
// The benchmarks run on a worker thread (the event loop stays free); progress lines go to
// options.onProgress. Bad options throw a TypeError naming the option; a failed run rejects with
// an Error whose `code` is the fabric error code name. node-agent/src/native/engine.ts has the
// TypeScript types.
#pragma once

#include <napi.h>

namespace mu::binding {

// Adds the three exports above.
void InitPerfBench(Napi::Env env, Napi::Object exports);

}  // namespace mu::binding
