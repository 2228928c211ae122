#include "apps/kv/kv_replicated.h"

#include <cassert>

namespace mu::kv {

void KvStateMachine::apply(uint64_t index, const uint8_t* request, uint32_t length,
                           uint64_t ticket) {
  stats_.last_index = index;
  const RecordError e = decode_record(request, length, &record_);
  if (e != RecordError::kNone) {
    // Every replica sees the same bytes and rejects them alike, so state stays identical.
    ++stats_.malformed_records;
    if (ticket != 0) {
      std::string reply;
      ReplyWriter(&reply, 2).error(std::string("ERR malformed replicated record: ") + to_string(e));
      if (sink_->complete(RequestId::from_ticket(ticket), std::move(reply))) {
        ++stats_.replies_routed;
      } else {
        ++stats_.replies_dropped;
      }
    }
    return;
  }
  ++stats_.applied;
  reply_.clear();
  store_->execute(record_.argv, record_.now_ms, record_.resp_version, &reply_);
  if (ticket == 0) return;  // someone else's client: the reply is not ours to send
  if (sink_->complete(RequestId::from_ticket(ticket), std::move(reply_))) {
    ++stats_.replies_routed;
  } else {
    ++stats_.replies_dropped;
  }
  reply_ = std::string();
}

void KvStateMachine::abandoned(uint64_t ticket) {
  ++stats_.abandoned;
  if (!sink_->fail_pending(RequestId::from_ticket(ticket))) ++stats_.replies_dropped;
}

ReplicatedKvHandler::ReplicatedKvHandler(ReplicatedKvOptions options, ProposeFn propose,
                                         ClockFn clock_ms)
    : options_(std::move(options)), propose_(std::move(propose)), clock_ms_(std::move(clock_ms)) {
  assert(propose_ && clock_ms_);
}

std::string ReplicatedKvHandler::redirect_error(std::optional<uint32_t> leader) const {
  if (!leader || *leader == options_.self_id) return "CLUSTERDOWN no leader elected";
  if (*leader >= options_.resp_addresses.size() || options_.resp_addresses[*leader].empty()) {
    return "CLUSTERDOWN the leader is replica " + std::to_string(*leader) +
           " but its address is unknown";
  }
  return "MOVED 0 " + options_.resp_addresses[*leader];
}

Disposition ReplicatedKvHandler::handle(RequestId id, const CommandInfo& info, Argv argv,
                                        int resp_version, std::string* reply) {
  (void)info;  // reads and writes take the same path: both are ordered by the log
  encode_record(clock_ms_(), resp_version, argv, &record_);
  const core::ProposeResult r =
      propose_(record_.data(), static_cast<uint32_t>(record_.size()), id.ticket());
  ReplyWriter w(reply, resp_version);
  switch (r.status) {
    case core::ProposeStatus::kQueued:
      ++stats_.proposed;
      return Disposition::kPending;
    case core::ProposeStatus::kNotLeader: {
      const std::string e = redirect_error(r.leader);
      (e.starts_with("MOVED") ? stats_.redirected : stats_.no_leader)++;
      w.error(e);
      return Disposition::kReplied;
    }
    case core::ProposeStatus::kLogFull:
      ++stats_.log_full;  // nothing was queued: retrying is safe
      w.error("TRYAGAIN replication log full, retry later");
      return Disposition::kReplied;
    case core::ProposeStatus::kTooLarge:
      ++stats_.too_large;
      w.error("ERR request too large for the replication log (" + std::to_string(record_.size()) +
              " bytes)");
      return Disposition::kReplied;
  }
  w.error("ERR internal error: unknown propose status");
  return Disposition::kReplied;
}

}  // namespace mu::kv
