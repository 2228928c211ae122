// A replica of the replicated key-value service: the engine (replication + background plane)
// with the KV state machine and the RESP front end on its thread. This is what the node agent
// runs in a pod and what `mu local` starts on loopback.
//
//   client ─RESP─► RespServer ─► ReplicatedKvHandler ─propose─► ReplicationPlane ─► log
//   every replica: log ─apply─► KvStateMachine ─► KvStore; the proposer answers its client.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "apps/kv/kv_replicated.h"
#include "apps/kv/kv_store.h"
#include "apps/kv/resp_server.h"
#include "engine/engine.h"

namespace mu::engine {

struct KvReplicaConfig {
  EngineConfig engine;
  std::string resp_bind = "0.0.0.0";  // listens on members[id].resp_port
  uint32_t max_clients = 10000;
};

struct KvReplicaStats {
  EngineStats engine;
  kv::RespServerStats resp;
  kv::KvStateMachineStats state_machine;
  kv::ReplicatedKvStats front_end;
  uint64_t keys = 0;
  uint64_t resp_connections = 0;
};

// Replies of pending requests go to the RESP server, or to submit()'s callbacks for requests
// made from inside the process (a reserved connection id).
class ReplyDemux final : public kv::ReplySink {
 public:
  static constexpr kv::ConnectionId kInternal = 0xffffffffu;
  kv::RespServer* server = nullptr;
  std::map<uint32_t, std::function<void(std::string)>> internal;  // by seq; engine thread only
  bool complete(kv::RequestId id, std::string reply) override;
  bool fail_pending(kv::RequestId id) override;
};

class KvReplica {
 public:
  static fabric::Result<std::unique_ptr<KvReplica>> start(const KvReplicaConfig& config);
  ~KvReplica();
  KvReplicaStats stats() const;
  std::vector<core::Event> take_events() { return engine_->take_events(); }
  // Runs a KV command through the same path as a RESP client (reads and writes through the log;
  // a follower answers MOVED). `done` gets the RESP2-encoded reply, on the engine thread.
  void submit(std::vector<std::string> argv, std::function<void(std::string)> done);
  // Graceful hand-over: peers see this replica as failed at their next heartbeat read, so the
  // next replica takes over at once; this one stops leading. For SIGTERM.
  void leave();
  Engine& engine() { return *engine_; }
  uint16_t resp_port() const { return resp_port_; }
  void stop();

 private:
  KvReplica() = default;

  kv::KvStore store_;
  std::unique_ptr<kv::ReplicatedKvHandler> handler_;
  std::unique_ptr<kv::RespServer> server_;
  std::unique_ptr<kv::KvStateMachine> state_machine_;
  ReplyDemux demux_;
  uint32_t internal_seq_ = 0;  // engine thread only
  std::unique_ptr<Engine> engine_;
  core::ReplicationPlane* plane_ = nullptr;  // engine thread only
  uint16_t resp_port_ = 0;
  mutable std::mutex mutex_;  // guards the snapshot below, written by the engine thread
  KvReplicaStats snapshot_;
};

}  // namespace mu::engine
