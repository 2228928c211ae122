#include "binding/replica_binding.h"

#include <time.h>

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "binding/json_job.h"
#include "engine/kv_replica.h"

namespace mu::binding {
namespace {

using engine::KvReplica;
using engine::KvReplicaConfig;
using engine::KvReplicaStats;

constexpr double kMaxSafeInteger = 9007199254740991.0;  // Number.MAX_SAFE_INTEGER
constexpr auto kEventPollPeriod = std::chrono::milliseconds(2);
constexpr char kStoppedCode[] = "MU_REPLICA_STOPPED";

uint64_t clock_ns(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// --- option parsing: every error names the option ("options.members[1].respPort") -------------

[[noreturn]] void fail(Napi::Env env, const std::string& message) {
  throw Napi::TypeError::New(env, "startReplica: " + message);
}

std::string describe(const Napi::Value& v) {
  if (v.IsUndefined()) return "undefined";
  if (v.IsNull()) return "null";
  if (v.IsString()) return "'" + v.As<Napi::String>().Utf8Value() + "'";
  if (v.IsArray()) return "an array";
  if (v.IsFunction()) return "a function";
  if (v.IsObject()) return "an object";
  return v.ToString().Utf8Value();
}

void check_keys(Napi::Env env, const Napi::Object& o, const std::string& path,
                const std::set<std::string>& known) {
  const Napi::Array keys = o.GetPropertyNames();
  for (uint32_t i = 0; i < keys.Length(); ++i) {
    const std::string key = keys.Get(i).ToString().Utf8Value();
    if (known.count(key) == 0) fail(env, "unknown option " + path + "." + key);
  }
}

bool is_plain_object(const Napi::Value& v) {
  return v.IsObject() && !v.IsArray() && !v.IsFunction() && !v.IsBuffer();
}

// o[name] as an object, or an empty handle when absent.
Napi::Object object_option(Napi::Env env, const Napi::Object& o, const char* name,
                           const std::string& path) {
  const Napi::Value v = o.Get(name);
  if (v.IsUndefined()) return Napi::Object();
  if (!is_plain_object(v)) fail(env, path + "." + name + " must be an object, got " + describe(v));
  return v.As<Napi::Object>();
}

double number_option(Napi::Env env, const Napi::Object& o, const char* name,
                     const std::string& path, double min, double max, double fallback, bool integer,
                     bool required = false) {
  const Napi::Value v = o.IsEmpty() ? Napi::Value() : o.Get(name);
  if (v.IsEmpty() || v.IsUndefined()) {
    if (required) fail(env, path + "." + name + " is required");
    return fallback;
  }
  const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : NAN;
  if (!std::isfinite(d) || (integer && std::floor(d) != d) || d < min || d > max) {
    char range[96];
    snprintf(range, sizeof range, integer ? "an integer in [%.0f, %.0f]" : "a number in [%g, %g]",
             min, max);
    fail(env, path + "." + name + " must be " + range + ", got " + describe(v));
  }
  return d;
}

bool bool_option(Napi::Env env, const Napi::Object& o, const char* name, const std::string& path,
                 bool fallback) {
  const Napi::Value v = o.IsEmpty() ? Napi::Value() : o.Get(name);
  if (v.IsEmpty() || v.IsUndefined()) return fallback;
  if (!v.IsBoolean()) fail(env, path + "." + name + " must be true or false, got " + describe(v));
  return v.As<Napi::Boolean>().Value();
}

std::string string_option(Napi::Env env, const Napi::Object& o, const char* name,
                          const std::string& path, const std::string& fallback, bool required,
                          bool allow_empty) {
  const Napi::Value v = o.IsEmpty() ? Napi::Value() : o.Get(name);
  if (v.IsEmpty() || v.IsUndefined()) {
    if (required) fail(env, path + "." + name + " is required");
    return fallback;
  }
  if (!v.IsString()) fail(env, path + "." + name + " must be a string, got " + describe(v));
  std::string s = v.As<Napi::String>().Utf8Value();
  if (s.empty() && !allow_empty) fail(env, path + "." + name + " must not be empty");
  return s;
}

uint64_t micros_option(Napi::Env env, const Napi::Object& o, const char* name,
                       const std::string& path, uint64_t fallback_ns) {
  // Fractional microseconds are allowed (e.g. 0.5); the engine works in nanoseconds.
  const double us = number_option(env, o, name, path, 0.001, 3.6e9,
                                  static_cast<double>(fallback_ns) / 1000.0, false);
  return static_cast<uint64_t>(std::llround(us * 1000.0));
}

core::RevocationMechanism parse_mechanism(Napi::Env env, const Napi::Object& o,
                                          const std::string& path,
                                          core::RevocationMechanism fallback) {
  const Napi::Value v = o.IsEmpty() ? Napi::Value() : o.Get("revocation");
  if (v.IsEmpty() || v.IsUndefined()) return fallback;
  const std::string s = v.IsString() ? v.As<Napi::String>().Utf8Value() : "";
  if (s == "accessFlags") return core::RevocationMechanism::kQpAccessFlags;
  if (s == "qpCycle") return core::RevocationMechanism::kQpStateCycle;
  if (s == "mrReregister") return core::RevocationMechanism::kRegionReregistration;
  fail(env, path + ".revocation must be 'accessFlags', 'qpCycle' or 'mrReregister', got " +
                describe(v));
}

KvReplicaConfig parse_options(Napi::Env env, const Napi::Value& arg, Napi::Function* on_event) {
  if (!is_plain_object(arg)) {
    fail(env, "expects an options object, e.g. { id: 0, members: [...], fabric: 'soft', secret }");
  }
  const Napi::Object o = arg.As<Napi::Object>();
  const std::string p = "options";
  check_keys(env, o, p,
             {"id", "members", "fabric", "secret", "netns", "verbs", "logBytes", "replication",
              "detector", "bootstrap", "busyPoll", "bootstrapTimeoutMs", "respBind", "maxClients",
              "onEvent"});
  KvReplicaConfig c;
  engine::EngineConfig& e = c.engine;
  const double max_id = core::kMaxReplicas - 1;
  e.id = static_cast<uint32_t>(number_option(env, o, "id", p, 0, max_id, 0, true, true));

  const Napi::Value members = o.Get("members");
  if (!members.IsArray() || members.As<Napi::Array>().Length() == 0) {
    fail(env, "options.members must be a non-empty array of {id, host, bootstrapPort, "
              "fabricPort, respPort}, got " + describe(members));
  }
  const Napi::Array list = members.As<Napi::Array>();
  if (list.Length() > core::kMaxReplicas) {
    fail(env, "options.members has " + std::to_string(list.Length()) + " entries; at most " +
                  std::to_string(core::kMaxReplicas) + " replicas are supported");
  }
  for (uint32_t i = 0; i < list.Length(); ++i) {
    const std::string mp = "options.members[" + std::to_string(i) + "]";
    const Napi::Value mv = list.Get(i);
    if (!is_plain_object(mv)) fail(env, mp + " must be an object, got " + describe(mv));
    const Napi::Object m = mv.As<Napi::Object>();
    check_keys(env, m, mp, {"id", "host", "bootstrapPort", "fabricPort", "respPort"});
    engine::Member member;
    member.id = static_cast<uint32_t>(number_option(env, m, "id", mp, 0, max_id, 0, true, true));
    member.host = string_option(env, m, "host", mp, "", true, false);
    member.bootstrap_port =
        static_cast<uint16_t>(number_option(env, m, "bootstrapPort", mp, 0, 65535, 0, true));
    member.fabric_port =
        static_cast<uint16_t>(number_option(env, m, "fabricPort", mp, 0, 65535, 0, true));
    member.resp_port =
        static_cast<uint16_t>(number_option(env, m, "respPort", mp, 0, 65535, 0, true, true));
    e.members.push_back(std::move(member));
  }

  e.fabric = string_option(env, o, "fabric", p, "", true, false);
  if (e.fabric != "soft" && e.fabric != "verbs") {
    fail(env, "options.fabric must be 'soft' or 'verbs', got '" + e.fabric + "'");
  }
  const Napi::Value secret = o.Get("secret");
  if (secret.IsString()) {
    e.secret = secret.As<Napi::String>().Utf8Value();
  } else if (secret.IsBuffer()) {
    const auto buffer = secret.As<Napi::Buffer<char>>();
    e.secret.assign(buffer.Data(), buffer.Length());
  } else {
    fail(env, "options.secret must be a string or a Buffer (the cluster's fabric key), got " +
                  describe(secret));
  }
  if (e.secret.empty()) fail(env, "options.secret must not be empty");
  e.netns = string_option(env, o, "netns", p, "", false, true);

  const Napi::Object verbs = object_option(env, o, "verbs", p);
  if (!verbs.IsEmpty()) {
    const std::string vp = "options.verbs";
    check_keys(env, verbs, vp, {"device", "port", "gidIndex"});
    e.verbs_device = string_option(env, verbs, "device", vp, "", false, true);
    e.verbs_port = static_cast<uint8_t>(number_option(env, verbs, "port", vp, 1, 255, 1, true));
    e.verbs_gid_index =
        static_cast<int>(number_option(env, verbs, "gidIndex", vp, -1, 255, -1, true));
  }
  e.log_bytes = static_cast<size_t>(number_option(env, o, "logBytes", p, 4096, 1ull << 40,
                                                  static_cast<double>(e.log_bytes), true));

  const Napi::Object rep = object_option(env, o, "replication", p);
  if (!rep.IsEmpty()) {
    const std::string rp = "options.replication";
    check_keys(env, rep, rp,
               {"maxRequestBytes", "maxBatchRecords", "maxBatchBytes", "maxInflight", "maxPending",
                "commitPublishMicros", "headRefreshMicros", "rejoinRetryMicros",
                "requestTimeoutMicros", "appliesPerPoll", "revocation"});
    core::ReplicationConfig& r = e.replication;
    r.max_request_bytes = static_cast<uint32_t>(
        number_option(env, rep, "maxRequestBytes", rp, 16, 64u << 20, r.max_request_bytes, true));
    r.max_batch_records = static_cast<uint32_t>(
        number_option(env, rep, "maxBatchRecords", rp, 1, 65536, r.max_batch_records, true));
    r.max_batch_bytes = static_cast<uint32_t>(
        number_option(env, rep, "maxBatchBytes", rp, 64, 64u << 20, r.max_batch_bytes, true));
    r.max_inflight = static_cast<uint32_t>(
        number_option(env, rep, "maxInflight", rp, 1, 4096, r.max_inflight, true));
    r.max_pending = static_cast<uint32_t>(
        number_option(env, rep, "maxPending", rp, 1, 1u << 24, r.max_pending, true));
    r.commit_publish_ns = micros_option(env, rep, "commitPublishMicros", rp, r.commit_publish_ns);
    r.head_refresh_ns = micros_option(env, rep, "headRefreshMicros", rp, r.head_refresh_ns);
    r.rejoin_retry_ns = micros_option(env, rep, "rejoinRetryMicros", rp, r.rejoin_retry_ns);
    r.request_timeout_ns =
        micros_option(env, rep, "requestTimeoutMicros", rp, r.request_timeout_ns);
    r.applies_per_poll = static_cast<uint32_t>(
        number_option(env, rep, "appliesPerPoll", rp, 1, 1u << 20, r.applies_per_poll, true));
    r.revocation = parse_mechanism(env, rep, rp, r.revocation);
  }

  const Napi::Object det = object_option(env, o, "detector", p);
  if (!det.IsEmpty()) {
    const std::string dp = "options.detector";
    check_keys(env, det, dp,
               {"readPeriodMicros", "scoreMax", "failureThreshold", "recoveryThreshold", "scoreUp",
                "scoreDown", "fateShareMicros", "connectionTimeoutMicros"});
    core::DetectorConfig& d = e.detector;
    d.read_period_ns = micros_option(env, det, "readPeriodMicros", dp, d.read_period_ns);
    d.score_max = static_cast<uint32_t>(
        number_option(env, det, "scoreMax", dp, 1, 1000, d.score_max, true));
    d.failure_threshold = static_cast<uint32_t>(
        number_option(env, det, "failureThreshold", dp, 0, 1000, d.failure_threshold, true));
    d.recovery_threshold = static_cast<uint32_t>(
        number_option(env, det, "recoveryThreshold", dp, 1, 1000, d.recovery_threshold, true));
    d.score_up =
        static_cast<uint32_t>(number_option(env, det, "scoreUp", dp, 1, 1000, d.score_up, true));
    d.score_down =
        static_cast<uint32_t>(number_option(env, det, "scoreDown", dp, 1, 1000, d.score_down,
                                            true));
    d.fate_share_ns = micros_option(env, det, "fateShareMicros", dp, d.fate_share_ns);
    d.connection_timeout_ns =
        micros_option(env, det, "connectionTimeoutMicros", dp, d.connection_timeout_ns);
  }
  e.bootstrap = bool_option(env, o, "bootstrap", p, false);
  e.busy_poll = bool_option(env, o, "busyPoll", p, e.busy_poll);
  e.bootstrap_timeout_ms = static_cast<int>(
      number_option(env, o, "bootstrapTimeoutMs", p, 1, 3'600'000, e.bootstrap_timeout_ms, true));
  c.resp_bind = string_option(env, o, "respBind", p, c.resp_bind, false, false);
  c.max_clients = static_cast<uint32_t>(
      number_option(env, o, "maxClients", p, 1, 1'000'000, c.max_clients, true));

  const Napi::Value cb = o.Get("onEvent");
  if (!cb.IsUndefined()) {
    if (!cb.IsFunction()) fail(env, "options.onEvent must be a function, got " + describe(cb));
    *on_event = cb.As<Napi::Function>();
  }
  // The engine's own checks (member ids, ports, log size against the entry size, detector
  // thresholds); its messages name the setting.
  if (std::string problem = engine::validate(e); !problem.empty()) {
    fail(env, "invalid configuration: " + problem);
  }
  return c;
}

// --- the replica shared between the JS object, workers and thread-safe functions --------------

struct Reply {
  uint64_t call = 0;
  std::string text;
  bool switchover = false;  // text: "" when accepted, otherwise why not
};
struct EventBatch {
  std::vector<core::Event> events;
};

class ReplicaCore;
class ReplicaWrap;
void CallReply(Napi::Env env, Napi::Function, ReplicaCore* core, Reply* reply);
void CallEvents(Napi::Env env, Napi::Function callback, ReplicaCore* core, EventBatch* batch);
using ReplyChannel = Napi::TypedThreadSafeFunction<ReplicaCore, Reply, CallReply>;
using EventChannel = Napi::TypedThreadSafeFunction<ReplicaCore, EventBatch, CallEvents>;

// Lives as long as the JS object, a stop in progress, or a thread-safe function that may still
// call back into it (each holds a shared_ptr).
class ReplicaCore {
 public:
  ReplicaCore(std::unique_ptr<KvReplica> replica, uint32_t id, std::string fabric)
      : id(id), fabric(std::move(fabric)), replica_(std::move(replica)) {
    resp_port = replica_->resp_port();
    // One offset for the replica's life: converted times (and ids built from them) stay stable.
    epoch_offset_ns = static_cast<int64_t>(clock_ns(CLOCK_REALTIME)) -
                      static_cast<int64_t>(clock_ns(CLOCK_MONOTONIC));
  }
  ~ReplicaCore() { halt(); }

  // Any thread but the engine's and the poller's. Stops the event poller and the engine (joins
  // both), keeps the last stats and frees the replica. Idempotent; concurrent calls serialize.
  void halt() {
    std::lock_guard<std::mutex> halt_lock(halt_mutex_);
    {
      std::lock_guard<std::mutex> lock(poller_mutex_);
      poller_stop_ = true;
    }
    poller_cv_.notify_all();
    if (poller_.joinable()) poller_.join();
    KvReplica* running = nullptr;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      running = replica_.get();
    }
    if (running == nullptr) return;
    running->stop();  // joins the engine thread: no reply or event is produced after this
    std::unique_ptr<KvReplica> dying;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      final_stats_ = replica_->stats();
      dying = std::move(replica_);
    }
    dying.reset();  // closes the RESP listener and the fabric, frees the log
  }

  void start_poller() {
    KvReplica* r = replica_.get();
    poller_ = std::thread([this, r] {
      for (;;) {
        {
          std::unique_lock<std::mutex> lock(poller_mutex_);
          if (poller_cv_.wait_for(lock, kEventPollPeriod, [this] { return poller_stop_; })) return;
        }
        std::vector<core::Event> events = r->take_events();
        if (events.empty()) continue;
        auto* batch = new EventBatch{std::move(events)};
        if (event_channel.NonBlockingCall(batch) != napi_ok) delete batch;  // closing
      }
    });
  }

  // A snapshot: live while running, the last one after halt().
  KvReplicaStats stats() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return replica_ ? replica_->stats() : final_stats_;
  }

  // False when the replica is no longer running (the caller rejects the command).
  bool submit(std::vector<std::string> argv, uint64_t call) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!replica_) return false;
    const ReplyChannel channel = reply_channel;  // the handle outlives the engine thread
    replica_->submit(std::move(argv), [channel, call](std::string text) {
      auto* reply = new Reply{call, std::move(text)};
      if (channel.NonBlockingCall(reply) != napi_ok) delete reply;  // closing: nobody waits
    });
    return true;
  }

  // A targeted switchover, answered through the reply channel like a command.
  bool switchover(uint32_t to, uint64_t call) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!replica_) return false;
    const ReplyChannel channel = reply_channel;
    replica_->engine().switchover(to, [channel, call](std::string why) {
      auto* reply = new Reply{call, std::move(why), true};
      if (channel.NonBlockingCall(reply) != napi_ok) delete reply;
    });
    return true;
  }

  bool leave() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!replica_) return false;
    replica_->leave();
    return true;
  }

  int64_t epoch_offset_ns = 0;
  const uint32_t id;
  const std::string fabric;
  uint16_t resp_port = 0;

  // --- JS thread only ---
  enum class State { kRunning, kStopping, kStopped };
  State state = State::kRunning;
  ReplyChannel reply_channel;
  EventChannel event_channel;
  bool reply_channel_live = false;  // created, not yet released or finalized
  bool event_channel_live = false;
  std::map<uint64_t, Napi::Promise::Deferred> pending;
  uint64_t next_call = 0;
  std::vector<Napi::Promise::Deferred> stop_waiters;
  ReplicaWrap* wrap = nullptr;  // cleared by the wrapper's finalizer
  bool holding = false;         // wrapper and reply channel ref'd while commands are pending
  bool cleanup_hook = false;
  napi_env env = nullptr;

 private:
  std::mutex halt_mutex_;
  mutable std::mutex mutex_;  // guards replica_ (its presence) and final_stats_
  std::unique_ptr<KvReplica> replica_;
  KvReplicaStats final_stats_;
  std::mutex poller_mutex_;
  std::condition_variable poller_cv_;
  bool poller_stop_ = false;
  std::thread poller_;
};

void OnEnvCleanup(void* arg);

// Releases the channels and the teardown hook; rejects what is still pending. JS thread, after
// halt(). Safe to call more than once.
void close_on_js_thread(Napi::Env env, ReplicaCore* core, bool can_call_js);

// --- JS values ---------------------------------------------------------------------------------

const char* mechanism_name(fabric::PermissionMechanism m) {
  switch (m) {
    case fabric::PermissionMechanism::kQpAccessFlags: return "accessFlags";
    case fabric::PermissionMechanism::kQpStateCycle: return "qpCycle";
    case fabric::PermissionMechanism::kRegionReregistration: return "mrReregister";
  }
  return "unknown";
}

const char* mechanism_name(const std::string& fabric_name) {
  // Event details carry fabric::to_string(mechanism).
  if (fabric_name == "qp-access-flags") return "accessFlags";
  if (fabric_name == "qp-state-cycle") return "qpCycle";
  if (fabric_name == "region-reregistration") return "mrReregister";
  return "unknown";
}

class Js {
 public:
  Js(Napi::Env env, const ReplicaCore& core) : env_(env), offset_(core.epoch_offset_ns) {}
  Napi::Value num(double v) const { return Napi::Number::New(env_, v); }
  Napi::Value u64(uint64_t v) const { return Napi::Number::New(env_, static_cast<double>(v)); }
  // Engine (CLOCK_MONOTONIC) ns → µs since the Unix epoch, integral; 0 (not reached) → null.
  Napi::Value at(uint64_t ns) const {
    if (ns == 0) return env_.Null();
    const int64_t epoch_ns = static_cast<int64_t>(ns) + offset_;
    return Napi::Number::New(env_, static_cast<double>(epoch_ns / 1000));
  }
  // A duration in ns → µs with ns precision.
  Napi::Value micros(uint64_t ns) const {
    return Napi::Number::New(env_, static_cast<double>(ns) / 1000.0);
  }
  Napi::Value replica(uint32_t id) const {
    return id >= core::kNoReplica ? env_.Null() : Napi::Number::New(env_, id);
  }
  Napi::Value str(const std::string& s) const { return Napi::String::New(env_, s); }
  Napi::Env env() const { return env_; }

 private:
  Napi::Env env_;
  int64_t offset_;
};

Napi::Object timeline_object(const Js& js, const core::FailoverTimeline& t) {
  Napi::Object o = Napi::Object::New(js.env());
  o.Set("from", js.replica(t.from));
  o.Set("to", js.replica(t.to));
  o.Set("reason", js.str(t.reason));
  o.Set("suspectedAtMicros", js.at(t.suspected_ns));
  o.Set("failedAtMicros", js.at(t.failed_ns));
  o.Set("candidateAtMicros", js.at(t.candidate_ns));
  o.Set("permissionsAtMicros", js.at(t.permissions_ns));
  o.Set("preparedAtMicros", js.at(t.prepared_ns));
  o.Set("firstCommitAtMicros", js.at(t.first_commit_ns));
  const bool done = t.first_commit_ns != 0;
  o.Set("detectionMicros", js.micros(t.detection_ns()));
  const bool granted = t.permissions_ns != 0 && t.permissions_ns >= t.candidate_ns;
  o.Set("permissionSwitchMicros", js.micros(granted ? t.permission_switch_ns() : 0));
  o.Set("catchUpMicros",
        js.micros(t.prepared_ns >= t.permissions_ns && t.prepared_ns ? t.catch_up_ns() : 0));
  o.Set("totalMicros", js.micros(done && t.first_commit_ns >= t.start_ns() ? t.total_ns() : 0));
  Napi::Array grants = Napi::Array::New(js.env(), t.grants.size());
  for (uint32_t i = 0; i < t.grants.size(); ++i) {
    const core::GrantTiming& g = t.grants[i];
    Napi::Object go = Napi::Object::New(js.env());
    go.Set("replica", js.u64(g.replica));
    go.Set("mechanism", js.str(mechanism_name(g.mechanism)));
    go.Set("switchMicros", js.micros(g.switch_ns));
    go.Set("ackedAtMicros", js.at(g.acked_at_ns));
    grants.Set(i, go);
  }
  o.Set("grants", grants);
  return o;
}

Napi::Object stats_object(Napi::Env env, const ReplicaCore& core, const KvReplicaStats& s) {
  const Js js(env, core);
  const engine::EngineStats& e = s.engine;
  const core::ReplicationStats& r = e.replication;
  Napi::Object o = Napi::Object::New(env);
  o.Set("atMicros", js.num(static_cast<double>(clock_ns(CLOCK_REALTIME) / 1000)));
  o.Set("replicaId", js.u64(core.id));
  o.Set("fabric", js.str(core.fabric));
  o.Set("running", Napi::Boolean::New(env, core.state == ReplicaCore::State::kRunning));
  o.Set("role", js.str(core::to_string(r.role)));
  o.Set("voter", Napi::Boolean::New(env, r.voter));
  o.Set("phase", js.str(r.phase ? r.phase : ""));
  o.Set("leader", r.leader ? js.replica(*r.leader) : env.Null());
  o.Set("leaderView", js.replica(e.leader_view));
  o.Set("preferredLeader", js.replica(e.preferred_leader));
  o.Set("proposal", js.u64(r.proposal));
  o.Set("nextIndex", js.u64(r.next_index));
  o.Set("commitIndex", js.u64(r.commit_index));
  o.Set("appliedIndex", js.u64(r.applied_index));
  o.Set("logUsedBytes", js.u64(r.log_used_bytes));
  o.Set("logRingBytes", js.u64(r.log_ring_bytes));
  o.Set("confirmedFollowers", js.u64(r.confirmed_followers));
  o.Set("proposals", js.u64(r.proposals));
  o.Set("entriesDecided", js.u64(r.entries_decided));
  o.Set("aborts", js.u64(r.aborts));
  o.Set("prepares", js.u64(r.prepares));
  o.Set("adopted", js.u64(r.adopted));
  o.Set("logFullEvents", js.u64(r.log_full_events));
  o.Set("pendingRequests", js.u64(r.pending_requests));
  o.Set("duplicateBatchesSkipped", js.u64(r.duplicate_batches_skipped));
  o.Set("peerFailures", js.u64(r.peer_failures));
  o.Set("catchUpImpossible", js.u64(r.catch_up_impossible));
  {
    // State transfer (docs/engine.md): asked of others as leader, served, fetched and installed.
    Napi::Object t = Napi::Object::New(env);
    t.Set("requested", js.u64(r.transfers_requested));
    t.Set("served", js.u64(r.snapshots_served));
    t.Set("installed", js.u64(e.state_transfers));
    t.Set("selfCatchUps", js.u64(r.self_catch_ups));
    t.Set("selfTransfers", js.u64(r.self_transfers));
    t.Set("lastBytes", js.u64(e.last_transfer_bytes));
    t.Set("lastMicros", js.u64(e.last_transfer_us));
    t.Set("lastError", Napi::String::New(env, e.last_transfer_error));
    o.Set("stateTransfer", t);
  }
  {
    // Leader's propose→decided latency histogram: per-bucket counts (not cumulative).
    Napi::Object h = Napi::Object::New(env);
    Napi::Array bounds = Napi::Array::New(env, core::kLatencyBuckets - 1);
    Napi::Array counts = Napi::Array::New(env, core::kLatencyBuckets);
    for (uint32_t i = 0; i + 1 < core::kLatencyBuckets; ++i) {
      bounds.Set(i, js.u64(core::kLatencyBoundsMicros[i]));
    }
    for (uint32_t i = 0; i < core::kLatencyBuckets; ++i) counts.Set(i, js.u64(r.latency_buckets[i]));
    h.Set("boundsMicros", bounds);
    h.Set("counts", counts);
    h.Set("sumMicros", js.num(static_cast<double>(r.latency_sum_ns) / 1000.0));
    h.Set("count", js.u64(r.latency_count));
    o.Set("replicationLatency", h);
  }

  Napi::Array peers = Napi::Array::New(env, e.peers.size());
  for (uint32_t i = 0; i < e.peers.size(); ++i) {
    Napi::Object po = Napi::Object::New(env);
    po.Set("id", js.u64(e.peers[i].id));
    po.Set("alive", Napi::Boolean::New(env, e.peers[i].alive));
    po.Set("score", js.u64(e.peers[i].score));
    peers.Set(i, po);
  }
  o.Set("peers", peers);
  o.Set("heartbeat", js.u64(e.heartbeat));
  o.Set("heartbeatStopped", Napi::Boolean::New(env, e.heartbeat_stopped));
  o.Set("polls", js.u64(e.polls));
  o.Set("uptimeMicros", js.micros(e.uptime_ns));
  o.Set("failovers", js.u64(e.failovers));
  Napi::Array timelines = Napi::Array::New(env, e.timelines.size());
  for (uint32_t i = 0; i < e.timelines.size(); ++i) {
    timelines.Set(i, timeline_object(js, e.timelines[i]));
  }
  o.Set("timelines", timelines);
  Napi::Array switches = Napi::Array::New(env, e.recent_switches.size());
  for (uint32_t i = 0; i < e.recent_switches.size(); ++i) {
    const core::PermissionSwitch& ps = e.recent_switches[i];
    Napi::Object so = Napi::Object::New(env);
    so.Set("candidate", js.u64(ps.candidate));
    so.Set("requestSeq", js.u64(ps.request_seq));
    so.Set("mechanism", js.str(mechanism_name(ps.mechanism)));
    so.Set("durationMicros", js.micros(ps.duration_ns));
    so.Set("atMicros", js.at(ps.at_ns));
    so.Set("revoked", js.u64(ps.revoked));
    switches.Set(i, so);
  }
  o.Set("permissionSwitches", switches);

  Napi::Object resp = Napi::Object::New(env);
  resp.Set("port", js.u64(core.resp_port));
  resp.Set("connections", js.u64(s.resp_connections));
  resp.Set("connectionsAccepted", js.u64(s.resp.connections_accepted));
  resp.Set("connectionsRejected", js.u64(s.resp.connections_rejected));
  resp.Set("connectionsClosed", js.u64(s.resp.connections_closed));
  resp.Set("commands", js.u64(s.resp.commands));
  resp.Set("completed", js.u64(s.resp.completed));
  resp.Set("protocolErrors", js.u64(s.resp.protocol_errors));
  resp.Set("rejectedCommands", js.u64(s.resp.rejected_commands));
  resp.Set("unknownCommands", js.u64(s.resp.unknown_commands));
  resp.Set("bytesRead", js.u64(s.resp.bytes_read));
  resp.Set("bytesWritten", js.u64(s.resp.bytes_written));
  o.Set("resp", resp);
  Napi::Object kv = Napi::Object::New(env);
  kv.Set("keys", js.u64(s.keys));
  kv.Set("applied", js.u64(s.state_machine.applied));
  kv.Set("lastIndex", js.u64(s.state_machine.last_index));
  kv.Set("malformedRecords", js.u64(s.state_machine.malformed_records));
  kv.Set("proposed", js.u64(s.front_end.proposed));
  kv.Set("redirected", js.u64(s.front_end.redirected));
  kv.Set("noLeader", js.u64(s.front_end.no_leader));
  kv.Set("logFull", js.u64(s.front_end.log_full));
  kv.Set("tooLarge", js.u64(s.front_end.too_large));
  o.Set("kv", kv);
  return o;
}

Napi::Object event_object(const Js& js, const core::Event& e) {
  Napi::Env env = js.env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("kind", js.str(core::to_string(e.kind)));
  o.Set("atMicros", js.at(e.at_ns));
  switch (e.kind) {
    case core::EventKind::kLeaderChanged:
      o.Set("from", js.replica(e.a));
      o.Set("to", js.replica(e.b));
      break;
    case core::EventKind::kFailoverCompleted:
      o.Set("from", js.replica(e.a));
      o.Set("to", js.replica(e.b));
      o.Set("totalMicros", js.micros(e.value));
      o.Set("reason", js.str(e.detail));
      break;
    case core::EventKind::kPermissionSwitch:
      o.Set("candidate", js.replica(e.a));
      o.Set("durationMicros", js.micros(e.value));
      o.Set("mechanism", js.str(mechanism_name(e.detail)));
      break;
    case core::EventKind::kPeerFailed:
    case core::EventKind::kPeerRecovered:
      o.Set("peer", js.replica(e.a));
      if (!e.detail.empty()) o.Set("detail", js.str(e.detail));
      break;
    case core::EventKind::kLogFull:
      o.Set("pendingRequests", js.u64(e.value));
      break;
    default:  // kinds added later (e.g. QuorumLost/QuorumRestored): the raw fields
      o.Set("value", js.u64(e.value));
      if (!e.detail.empty()) o.Set("detail", js.str(e.detail));
      break;
  }
  return o;
}

// --- the JS class ------------------------------------------------------------------------------

struct AddonData {
  Napi::FunctionReference replica_constructor;
};

class ReplicaWrap final : public Napi::ObjectWrap<ReplicaWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Replica",
                       {InstanceMethod<&ReplicaWrap::Stats>("stats"),
                        InstanceMethod<&ReplicaWrap::Execute>("execute"),
                        InstanceMethod<&ReplicaWrap::Leave>("leave"),
                        InstanceMethod<&ReplicaWrap::Switchover>("switchover"),
                        InstanceMethod<&ReplicaWrap::Stop>("stop"),
                        InstanceAccessor<&ReplicaWrap::Id>("id"),
                        InstanceAccessor<&ReplicaWrap::RespPort>("respPort"),
                        InstanceAccessor<&ReplicaWrap::Running>("running")});
  }

  explicit ReplicaWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ReplicaWrap>(info) {
    if (info.Length() != 1 || !info[0].IsExternal()) {
      throw Napi::TypeError::New(info.Env(),
                                 "Replica cannot be constructed directly: use startReplica()");
    }
    auto* handoff = info[0].As<Napi::External<std::shared_ptr<ReplicaCore>>>().Data();
    core_ = *handoff;
    core_->wrap = this;
  }

  // Garbage-collected (or torn down) without a completed stop(): stop the engine here.
  ~ReplicaWrap() override {
    core_->wrap = nullptr;
    core_->halt();
    close_on_js_thread(Env(), core_.get(), /*can_call_js=*/false);
  }

  void hold(Napi::Env env) {
    if (core_->holding) return;
    core_->holding = true;
    Ref();
    if (core_->reply_channel_live) core_->reply_channel.Ref(env);
  }
  void release_hold(Napi::Env env) {
    if (!core_->holding) return;
    core_->holding = false;
    Unref();
    if (core_->reply_channel_live) core_->reply_channel.Unref(env);
  }

 private:
  Napi::Value Id(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), core_->id);
  }
  Napi::Value RespPort(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), core_->resp_port);
  }
  Napi::Value Running(const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), core_->state == ReplicaCore::State::kRunning);
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    return stats_object(info.Env(), *core_, core_->stats());
  }

  Napi::Value Execute(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() != 1 || !info[0].IsArray() || info[0].As<Napi::Array>().Length() == 0) {
      throw Napi::TypeError::New(
          env, "execute: expects a non-empty array of strings, e.g. ['SET', 'k', 'v']");
    }
    const Napi::Array list = info[0].As<Napi::Array>();
    std::vector<std::string> argv;
    argv.reserve(list.Length());
    for (uint32_t i = 0; i < list.Length(); ++i) {
      const Napi::Value v = list.Get(i);
      if (!v.IsString()) {
        throw Napi::TypeError::New(
            env, "execute: argv[" + std::to_string(i) + "] must be a string, got " + describe(v));
      }
      argv.push_back(v.As<Napi::String>().Utf8Value());
    }
    const uint64_t call = ++core_->next_call;
    const bool submitted =
        core_->state == ReplicaCore::State::kRunning && core_->submit(std::move(argv), call);
    return answered_later(env, "execute", call, submitted);
  }

  Napi::Value Switchover(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() != 1 || !info[0].IsNumber()) {
      throw Napi::TypeError::New(env, "switchover: expects a replica id (a number)");
    }
    const double to = info[0].As<Napi::Number>().DoubleValue();
    if (!(to >= 0 && to < core::kMaxReplicas) || to != static_cast<double>(static_cast<uint32_t>(to))) {
      throw Napi::TypeError::New(env, "switchover: the replica id must be an integer in 0.." +
                                          std::to_string(core::kMaxReplicas - 1) + ", got " +
                                          describe(info[0]));
    }
    const uint64_t call = ++core_->next_call;
    const bool submitted = core_->state == ReplicaCore::State::kRunning &&
                           core_->switchover(static_cast<uint32_t>(to), call);
    return answered_later(env, "switchover", call, submitted);
  }

  // A call the engine thread answers later: its promise waits in `pending` under `call`, or is
  // rejected at once (code kStoppedCode) when the replica could not take it.
  Napi::Value answered_later(Napi::Env env, const char* what, uint64_t call, bool submitted) {
    Napi::Promise::Deferred deferred = Napi::Promise::Deferred::New(env);
    Napi::Promise promise = deferred.Promise();
    if (!submitted) {
      Napi::Error error = Napi::Error::New(env, std::string(what) + ": the replica is stopped");
      error.Set("code", Napi::String::New(env, kStoppedCode));
      deferred.Reject(error.Value());
      return promise;
    }
    core_->pending.emplace(call, deferred);
    hold(env);
    return promise;
  }

  Napi::Value Leave(const Napi::CallbackInfo& info) {
    const bool running = core_->state == ReplicaCore::State::kRunning && core_->leave();
    return Napi::Boolean::New(info.Env(), running);
  }

  Napi::Value Stop(const Napi::CallbackInfo& info);

  std::shared_ptr<ReplicaCore> core_;
};

void close_on_js_thread(Napi::Env env, ReplicaCore* core, bool can_call_js) {
  core->state = ReplicaCore::State::kStopped;
  if (can_call_js) {
    Napi::HandleScope scope(env);
    auto pending = std::move(core->pending);
    core->pending.clear();
    for (auto& [call, deferred] : pending) {
      Napi::Error error = Napi::Error::New(env,
                                           "execute: the replica stopped before answering (the "
                                           "command may or may not have been applied)");
      error.Set("code", Napi::String::New(env, kStoppedCode));
      deferred.Reject(error.Value());
    }
    auto waiters = std::move(core->stop_waiters);
    core->stop_waiters.clear();
    for (auto& w : waiters) w.Resolve(env.Undefined());
    if (core->wrap != nullptr) core->wrap->release_hold(env);
  } else {
    core->pending.clear();
    core->stop_waiters.clear();
  }
  if (core->reply_channel_live) {
    core->reply_channel_live = false;
    core->reply_channel.Release();
  }
  if (core->event_channel_live) {
    core->event_channel_live = false;
    core->event_channel.Release();
  }
  if (core->cleanup_hook) {
    core->cleanup_hook = false;
    napi_remove_env_cleanup_hook(core->env, OnEnvCleanup, core);
  }
}

// Environment teardown (process or worker exit): runs before Node closes the thread-safe
// functions (hooks run in reverse order of registration, and ours was added after them).
void OnEnvCleanup(void* arg) {
  auto* core = static_cast<ReplicaCore*>(arg);
  core->cleanup_hook = false;
  core->halt();
}

class StopWorker final : public Napi::AsyncWorker {
 public:
  StopWorker(Napi::Env env, Napi::Object self, std::shared_ptr<ReplicaCore> core)
      : Napi::AsyncWorker(env, "mu.replica.stop"), core_(std::move(core)) {
    self_ = Napi::Persistent(self);  // the JS object stays alive until the stop completes
  }
  void Execute() override { core_->halt(); }
  void OnOK() override { close_on_js_thread(Env(), core_.get(), true); }

 private:
  std::shared_ptr<ReplicaCore> core_;
  Napi::ObjectReference self_;
};

Napi::Value ReplicaWrap::Stop(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Promise::Deferred deferred = Napi::Promise::Deferred::New(env);
  Napi::Promise promise = deferred.Promise();
  switch (core_->state) {
    case ReplicaCore::State::kStopped:
      deferred.Resolve(env.Undefined());
      break;
    case ReplicaCore::State::kStopping:
      core_->stop_waiters.push_back(deferred);
      break;
    case ReplicaCore::State::kRunning:
      core_->state = ReplicaCore::State::kStopping;
      core_->stop_waiters.push_back(deferred);
      (new StopWorker(env, Value(), core_))->Queue();  // owned by N-API
      break;
  }
  return promise;
}

void CallReply(Napi::Env env, Napi::Function, ReplicaCore* core, Reply* reply) {
  std::unique_ptr<Reply> owned(reply);
  if (env == nullptr) return;  // the channel is being torn down
  auto it = core->pending.find(owned->call);
  if (it == core->pending.end()) return;  // already rejected by stop()
  Napi::Promise::Deferred deferred = it->second;
  core->pending.erase(it);
  if (core->pending.empty() && core->wrap != nullptr) core->wrap->release_hold(env);
  if (owned->switchover) {
    Napi::Object result = Napi::Object::New(env);
    result.Set("ok", Napi::Boolean::New(env, owned->text.empty()));
    if (!owned->text.empty()) result.Set("error", Napi::String::New(env, owned->text));
    deferred.Resolve(result);
    return;
  }
  deferred.Resolve(Napi::String::New(env, owned->text));
}

void CallEvents(Napi::Env env, Napi::Function callback, ReplicaCore* core, EventBatch* batch) {
  std::unique_ptr<EventBatch> owned(batch);
  if (env == nullptr || callback.IsEmpty()) return;
  const Js js(env, *core);
  for (const core::Event& e : owned->events) {
    try {
      callback.Call({event_object(js, e)});
    } catch (const Napi::Error& error) {
      // As an event listener that throws: an uncaught exception, reported by Node.
      error.ThrowAsJavaScriptException();
      return;
    }
  }
}

// Keeps the core alive while a thread-safe function can still call into it.
struct ChannelHold {
  std::shared_ptr<ReplicaCore> core;
  bool is_reply;
};
void OnChannelFinalized(Napi::Env, ChannelHold* hold, ReplicaCore*) {
  if (hold->is_reply) {
    hold->core->reply_channel_live = false;
  } else {
    hold->core->event_channel_live = false;
  }
  delete hold;
}

class StartWorker final : public Napi::AsyncWorker {
 public:
  StartWorker(Napi::Env env, KvReplicaConfig config, Napi::Function on_event)
      : Napi::AsyncWorker(env, "mu.startReplica"),
        config_(std::move(config)),
        deferred_(Napi::Promise::Deferred::New(env)) {
    if (!on_event.IsEmpty()) on_event_ = Napi::Persistent(on_event);
  }
  Napi::Promise promise() const { return deferred_.Promise(); }

  void Execute() override {
    auto r = KvReplica::start(config_);
    if (!r.ok()) {
      error_code_ = fabric::to_string(r.status().code);
      SetError("startReplica: replica " + std::to_string(config_.engine.id) + ": " +
               r.status().message);
      return;
    }
    replica_ = std::move(r.value());
  }

  void OnOK() override {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    auto core = std::make_shared<ReplicaCore>(std::move(replica_), config_.engine.id,
                                              config_.engine.fabric);
    core->env = env;
    // Channels first, then the teardown hook (so the hook runs before Node closes the channels).
    core->reply_channel = ReplyChannel::New(env, "mu.replica.reply", 0, 1, core.get(),
                                            OnChannelFinalized, new ChannelHold{core, true});
    core->reply_channel_live = true;
    core->reply_channel.Unref(env);  // ref'd only while commands are pending
    if (!on_event_.IsEmpty()) {
      core->event_channel =
          EventChannel::New(env, on_event_.Value(), "mu.replica.events", 0, 1, core.get(),
                            OnChannelFinalized, new ChannelHold{core, false});
      core->event_channel_live = true;
      core->event_channel.Unref(env);
      core->start_poller();
    }
    napi_add_env_cleanup_hook(env, OnEnvCleanup, core.get());
    core->cleanup_hook = true;
    auto* data = env.GetInstanceData<AddonData>();
    auto handoff = core;
    Napi::Object object = data->replica_constructor.New(
        {Napi::External<std::shared_ptr<ReplicaCore>>::New(env, &handoff)});
    deferred_.Resolve(object);
  }

  void OnError(const Napi::Error& error) override { reject_with_code(Env(), deferred_, error, error_code_); }

 private:
  KvReplicaConfig config_;
  Napi::Promise::Deferred deferred_;
  Napi::FunctionReference on_event_;
  std::unique_ptr<KvReplica> replica_;
  std::string error_code_ = "internal";
};

Napi::Value StartReplica(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1) fail(env, "expects exactly one argument (options)");
  Napi::Function on_event;
  KvReplicaConfig config = parse_options(env, info[0], &on_event);
  auto* worker = new StartWorker(env, std::move(config), on_event);  // owned by N-API
  Napi::Promise promise = worker->promise();
  worker->Queue();
  return promise;
}

}  // namespace

void InitReplica(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  data->replica_constructor = Napi::Persistent(ReplicaWrap::Define(env));
  env.SetInstanceData<AddonData>(data);
  exports.Set("Replica", data->replica_constructor.Value());
  exports.Set("startReplica", Napi::Function::New(env, StartReplica, "startReplica"));
}

}  // namespace mu::binding
