// State transfer (DESIGN.md §3.6): how a replica whose missing log entries were recycled gets
// back in. The leader's catch-up copies log entries; once the ring has wrapped past what a
// replica lacks, it asks that replica (a one-sided WRITE into its log header) to fetch the
// applied state instead. The replica fetches a StateSnapshot from the leader out of band (the
// engine's bootstrap channel; the simulator hands it over directly), installs it, and publishes
// its new log head; the leader's next catch-up then copies only the tail after it.
//
// A snapshot is the applied state of a decided prefix [0, applied_index): the state machine's
// bytes, where that prefix ends in the ring (vpos, the same on every replica), and the ids of
// the batches applied lately — without them a batch re-proposed after an abort and decided
// again after the snapshot point would be applied twice on the replica that installed it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace mu::core {

struct StateSnapshot {
  uint64_t applied_index = 0;  // entries [0, applied_index) are in `machine`
  uint64_t applied_vpos = 0;   // where entry applied_index starts
  uint64_t ring_bytes = 0;     // vpos only means the same thing with the same ring geometry
  uint64_t max_entry_bytes = 0;
  uint32_t source = 0;         // the replica that took it
  std::vector<uint64_t> applied_batches;  // oldest first
  std::vector<uint8_t> machine;           // StateMachine::snapshot()
};

// The leader's request in a replica's log header (LogHeader::transfer_request): which replica
// to fetch the state from (a confirmed follower, or the leader itself), and the log head the
// leader saw there, so that a request made against an older state is ignored.
constexpr uint64_t transfer_request(uint32_t source, uint64_t seen_applied_index) {
  return (uint64_t{source + 1} << 56) | (seen_applied_index & ((uint64_t{1} << 56) - 1));
}
constexpr uint32_t transfer_request_source(uint64_t request) {
  return static_cast<uint32_t>(request >> 56) - 1;
}
constexpr uint64_t transfer_request_seen(uint64_t request) {
  return request & ((uint64_t{1} << 56) - 1);
}

// Self-checking encoding: magic, version, fields, CRC32C over everything before it.
std::vector<uint8_t> encode_snapshot(const StateSnapshot& snapshot);
// "" when `data` is a whole, intact snapshot (then *out holds it); otherwise what is wrong.
std::string decode_snapshot(const uint8_t* data, size_t length, StateSnapshot* out);

}  // namespace mu::core
