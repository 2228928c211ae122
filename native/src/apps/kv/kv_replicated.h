// The KV application on top of the replication plane (DESIGN.md §3.7):
//
//   client -RESP-> RespServer -> ReplicatedKvHandler -propose(record, ticket)-> ReplicationPlane
//                      ^                                                             | log order
//                      +---- complete(ticket → RequestId, reply) <-- KvStateMachine <+ apply()
//
// ReplicatedKvHandler (leader side of every read and write): stamps the leader's wall clock
// into a record (record.h) and proposes it with a ticket naming the connection and pipeline
// position. Reads go through the log too (see commands.h for why). On a follower, propose()
// answers kNotLeader and the client gets a redirect:
//
//   -MOVED 0 <leader-host>:<leader-resp-port>
//
// chosen over -READONLY because followers cannot serve reads either (they would not be
// linearizable), and MOVED is what cluster-aware clients (redis-cli -c, redis-py/ioredis/
// lettuce cluster modes) follow on their own; plain clients show the error, which names the
// leader. Slot 0 because Mu has no slots: every key lives on the one leader. When no leader is
// known: "-CLUSTERDOWN no leader elected" (clients treat it as "retry later").
//
// KvStateMachine (every replica): decodes each applied record, executes it on the KvStore, and
// on the replica that proposed it (ticket != 0) routes the reply to the RESP server. A reply
// for a connection that has gone away is dropped and counted. abandoned(ticket) becomes
// ReplySink::fail_pending (outcome unknown; see resp_server.h for the texts).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "apps/kv/kv_store.h"
#include "apps/kv/record.h"
#include "apps/kv/resp_server.h"
#include "core/replication.h"

namespace mu::kv {

struct KvStateMachineStats {
  uint64_t applied = 0;
  uint64_t replies_routed = 0;     // tickets answered through the sink
  uint64_t replies_dropped = 0;    // the sink could not deliver (connection gone)
  uint64_t malformed_records = 0;  // rejected by decode_record; never executed
  uint64_t abandoned = 0;
  uint64_t last_index = 0;
};

class KvStateMachine final : public core::StateMachine {
 public:
  KvStateMachine(KvStore* store, ReplySink* sink) : store_(store), sink_(sink) {}

  void apply(uint64_t index, const uint8_t* request, uint32_t length, uint64_t ticket) override;
  void abandoned(uint64_t ticket) override;
  // State transfer: the store's whole state (KvStore::save_state).
  bool snapshot(std::vector<uint8_t>* out) const override {
    store_->save_state(out);
    return true;
  }
  bool restore(const uint8_t* data, size_t length) override {
    return store_->load_state(data, length);
  }

  const KvStateMachineStats& stats() const { return stats_; }

 private:
  KvStore* store_;
  ReplySink* sink_;
  Record record_;      // reused: views into the request being applied
  std::string reply_;  // reused on replicas that do not answer
  KvStateMachineStats stats_;
};

struct ReplicatedKvOptions {
  uint32_t self_id = 0;
  // RESP "host:port" of every replica, by replica id: where MOVED sends clients.
  std::vector<std::string> resp_addresses;
};

struct ReplicatedKvStats {
  uint64_t proposed = 0;
  uint64_t redirected = 0;  // MOVED
  uint64_t no_leader = 0;   // CLUSTERDOWN
  uint64_t log_full = 0;
  uint64_t too_large = 0;
};

class ReplicatedKvHandler final : public CommandHandler {
 public:
  // ReplicationPlane::propose, or a stand-in in tests and the standalone tool.
  using ProposeFn =
      std::function<core::ProposeResult(const void* request, uint32_t length, uint64_t ticket)>;
  // The leader's wall clock in ms since the Unix epoch: EX/PX/EXAT/PXAT are wall-clock times.
  using ClockFn = std::function<uint64_t()>;

  ReplicatedKvHandler(ReplicatedKvOptions options, ProposeFn propose, ClockFn clock_ms);

  Disposition handle(RequestId id, const CommandInfo& info, Argv argv, int resp_version,
                     std::string* reply) override;

  // "MOVED 0 host:port", or CLUSTERDOWN when the leader or its address is unknown.
  std::string redirect_error(std::optional<uint32_t> leader) const;
  const ReplicatedKvStats& stats() const { return stats_; }

 private:
  ReplicatedKvOptions options_;
  ProposeFn propose_;
  ClockFn clock_ms_;
  std::vector<uint8_t> record_;  // reused; propose() copies it
  ReplicatedKvStats stats_;
};

}  // namespace mu::kv
