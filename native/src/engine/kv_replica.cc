#include "engine/kv_replica.h"

#include <time.h>

namespace mu::engine {

namespace {
uint64_t wall_clock_ms() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000 + static_cast<uint64_t>(ts.tv_nsec) / 1'000'000;
}
}  // namespace

fabric::Result<std::unique_ptr<KvReplica>> KvReplica::start(const KvReplicaConfig& config) {
  if (std::string problem = validate(config.engine); !problem.empty()) {
    return fabric::Status::Error(fabric::ErrorCode::kInvalidArgument, problem);
  }
  std::unique_ptr<KvReplica> r(new KvReplica());
  KvReplica* self = r.get();
  const Member* me = nullptr;
  kv::ReplicatedKvOptions options;
  options.self_id = config.engine.id;
  options.resp_addresses.resize(config.engine.members.size());
  for (const Member& m : config.engine.members) {
    options.resp_addresses[m.id] = m.host + ":" + std::to_string(m.resp_port);
    if (m.id == config.engine.id) me = &m;
  }
  // Runs on the engine thread (the server is polled there), after the plane exists.
  auto propose = [self](const void* request, uint32_t length, uint64_t ticket) {
    return self->plane_->propose(request, length, ticket);
  };
  r->handler_ = std::make_unique<kv::ReplicatedKvHandler>(options, propose, wall_clock_ms);

  kv::RespServerOptions ro;
  ro.bind_address = config.resp_bind;
  ro.port = me->resp_port;
  ro.max_clients = config.max_clients;
  // A command's record is at most its wire size plus a few bytes: bound the wire size so that
  // whatever the parser accepts fits one replicated request.
  const uint64_t request_bytes = config.engine.replication.max_request_bytes;
  ro.parser.max_command_bytes = request_bytes > 64 ? request_bytes - 16 : request_bytes;
  ro.parser.max_bulk_bytes = request_bytes > 128 ? request_bytes - 64 : request_bytes;
  r->server_ = std::make_unique<kv::RespServer>(ro, r->handler_.get());
  std::string error;
  if (!r->server_->listen(&error)) {
    return fabric::Status::Error(fabric::ErrorCode::kInvalidArgument, "RESP front end: " + error);
  }
  r->resp_port_ = r->server_->port();
  r->demux_.server = r->server_.get();
  r->state_machine_ = std::make_unique<kv::KvStateMachine>(&r->store_, &r->demux_);

  auto engine = Engine::start(config.engine, r->state_machine_.get());
  if (!engine.ok()) return engine.status();
  r->engine_ = std::move(engine.value());
  r->plane_ = &r->engine_->plane_on_engine_thread();

  r->server_->set_replication_view([self, options] {
    core::ReplicationPlane& plane = *self->plane_;
    const core::ReplicationStats& s = plane.stats();
    kv::ReplicationView v;
    v.mu_role = core::to_string(s.role);
    v.is_leader = s.role == core::Role::kLeader;
    v.self_id = options.self_id;
    v.leader_id = s.leader;
    if (s.leader && *s.leader < options.resp_addresses.size()) {
      v.leader_address = options.resp_addresses[*s.leader];
    }
    v.connected_followers = s.confirmed_followers;
    v.replication_fields = {{"mu_commit_index", std::to_string(s.commit_index)},
                            {"mu_applied_index", std::to_string(s.applied_index)},
                            {"mu_proposal", std::to_string(s.proposal)}};
    v.keyspace_fields = {{"db0", "keys=" + std::to_string(self->store_.stored_keys()) +
                                     ",expires=" + std::to_string(self->store_.keys_with_expiry()) +
                                     ",avg_ttl=0"}};
    return v;
  });
  // The front end runs on the engine thread; every so often it publishes its counters.
  r->engine_->add_pollable([self, polls = uint64_t{0}]() mutable {
    const bool progress = self->server_->poll() > 0;
    if ((++polls & 1023) == 0) {
      std::lock_guard<std::mutex> lock(self->mutex_);
      self->snapshot_.resp = self->server_->stats();
      self->snapshot_.state_machine = self->state_machine_->stats();
      self->snapshot_.front_end = self->handler_->stats();
      self->snapshot_.keys = self->store_.stored_keys();
      self->snapshot_.resp_connections = self->server_->connection_count();
    }
    return progress;
  });
  return r;
}

bool ReplyDemux::complete(kv::RequestId id, std::string reply) {
  if (id.connection != kInternal) return server->complete(id, std::move(reply));
  auto it = internal.find(id.seq);
  if (it == internal.end()) return false;
  auto done = std::move(it->second);
  internal.erase(it);
  done(std::move(reply));
  return true;
}

bool ReplyDemux::fail_pending(kv::RequestId id) {
  if (id.connection != kInternal) return server->fail_pending(id);
  return complete(id, "-" + std::string(kv::kUncertainWriteError) + "\r\n");
}

void KvReplica::submit(std::vector<std::string> argv, std::function<void(std::string)> done) {
  engine_->post([this, argv = std::move(argv), done = std::move(done)](core::ReplicationPlane&) {
    if (argv.empty()) return done("-ERR empty command\r\n");
    const kv::CommandInfo* info = kv::find_command(argv[0]);
    if (info == nullptr) return done("-ERR unknown command '" + argv[0] + "'\r\n");
    const int words = static_cast<int>(argv.size());
    if ((info->arity > 0 && words != info->arity) || (info->arity < 0 && words < -info->arity)) {
      return done("-ERR wrong number of arguments for '" + std::string(info->name) +
                  "' command\r\n");
    }
    if (info->command_class == kv::CommandClass::kLocal) {
      return done("-ERR '" + std::string(info->name) + "' is answered by the RESP front end only\r\n");
    }
    std::vector<std::string_view> views(argv.begin(), argv.end());
    const kv::RequestId id{ReplyDemux::kInternal, ++internal_seq_};
    demux_.internal[id.seq] = done;
    std::string reply;
    if (handler_->handle(id, *info, views, 2, &reply) == kv::Disposition::kReplied) {
      demux_.internal.erase(id.seq);
      done(std::move(reply));
    }
  });
}

void KvReplica::leave() { engine_->leave(); }

KvReplica::~KvReplica() { stop(); }

void KvReplica::stop() {
  if (engine_) engine_->stop();  // joins the engine thread: nothing touches the rest after this
}

KvReplicaStats KvReplica::stats() const {
  KvReplicaStats s;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    s = snapshot_;
  }
  s.engine = engine_->stats();
  return s;
}

}  // namespace mu::engine
