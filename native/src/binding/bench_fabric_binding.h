// benchFabric(options) → Promise<results>: the fabric benchmark (native/tools/bench_fabric.h) on a
// worker thread, so the event loop stays free while it runs.
#pragma once

#include <napi.h>

namespace mu::binding {

// JS: benchFabric({ fabric: 'sim' | 'soft', iterations?, warmupIterations?,
//                   permissionIterations?, headlinePayloadBytes?, payloadSizes?, seed?, busyPoll?,
//                   onProgress?: (line: string) => void }) → Promise<object>
// Bad options throw a TypeError naming the option; a failed run rejects with an Error whose
// `code` is the fabric's error code name (e.g. "unreachable").
Napi::Value BenchFabric(const Napi::CallbackInfo& info);

}  // namespace mu::binding
