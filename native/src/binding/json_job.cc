#include "binding/json_job.h"

#include <utility>

namespace mu::binding {
namespace {

class JsonJobWorker final : public Napi::AsyncProgressQueueWorker<char> {
 public:
  JsonJobWorker(Napi::Env env, const char* name, JsonJob job, Napi::Function on_progress)
      : Napi::AsyncProgressQueueWorker<char>(env, name),
        job_(std::move(job)),
        deferred_(Napi::Promise::Deferred::New(env)) {
    if (!on_progress.IsEmpty()) on_progress_ = Napi::Persistent(on_progress);
  }
  Napi::Promise promise() const { return deferred_.Promise(); }

  void Execute(const ExecutionProgress& progress) override {
    auto result = job_([&progress](const std::string& line) { progress.Send(line.data(), line.size()); });
    if (!result.ok()) {
      error_code_ = fabric::to_string(result.status().code);
      SetError(result.status().to_string());
      return;
    }
    json_ = std::move(result.value());
  }
  void OnProgress(const char* data, size_t count) override {
    if (on_progress_.IsEmpty()) return;
    Napi::HandleScope scope(Env());
    on_progress_.Call({Napi::String::New(Env(), data, count)});
  }
  void OnOK() override {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    Napi::Object json = env.Global().Get("JSON").As<Napi::Object>();
    deferred_.Resolve(json.Get("parse").As<Napi::Function>().Call(json, {Napi::String::New(env, json_)}));
  }
  void OnError(const Napi::Error& error) override { reject_with_code(Env(), deferred_, error, error_code_); }

 private:
  JsonJob job_;
  Napi::Promise::Deferred deferred_;
  Napi::FunctionReference on_progress_;
  std::string json_;
  std::string error_code_ = "internal error";
};

}  // namespace

void reject_with_code(Napi::Env env, Napi::Promise::Deferred& deferred, const Napi::Error& error,
                      const std::string& code) {
  Napi::HandleScope scope(env);
  Napi::Object value = error.Value();
  value.Set("code", Napi::String::New(env, code));
  deferred.Reject(value);
}

Napi::Value queue_json_job(Napi::Env env, const char* name, JsonJob job, Napi::Function on_progress) {
  auto* worker = new JsonJobWorker(env, name, std::move(job), on_progress);  // owned by N-API
  Napi::Promise promise = worker->promise();
  worker->Queue();
  return promise;
}

}  // namespace mu::binding
