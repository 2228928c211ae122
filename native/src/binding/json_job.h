// Async work of the addon. A benchmark run off the JS thread, resolving its promise to the JSON document it produced (the
// one the standalone tool prints, parsed: one schema for both). Progress lines are queued back to
// an optional onProgress callback; a failure rejects with an Error whose `code` is the fabric's.
#pragma once

#include <napi.h>

#include <functional>
#include <string>

#include "mu/fabric/fabric.h"

namespace mu::binding {

using Progress = std::function<void(const std::string&)>;
using JsonJob = std::function<fabric::Result<std::string>(const Progress&)>;

// Rejects a worker's promise with its Error, tagged with a code (JS: `err.code`, e.g. the
// fabric status); every async worker of the addon reports failures this way.
void reject_with_code(Napi::Env env, Napi::Promise::Deferred& deferred, const Napi::Error& error,
                      const std::string& code);

// Queues `job` on the libuv pool; returns the promise of its parsed JSON document.
Napi::Value queue_json_job(Napi::Env env, const char* name, JsonJob job, Napi::Function on_progress);

}  // namespace mu::binding
