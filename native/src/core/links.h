// What a replica's engine core is handed by whoever set up the fabric (the in-process simulator,
// or the agent's bootstrap over soft/verbs): its registered memory, CQs, and one QP per peer per
// plane. The core owns none of it and never creates or destroys fabric objects.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "mu/fabric/fabric.h"

namespace mu::core {

struct PeerLink {
  uint32_t id = 0;
  fabric::QueuePair* log_qp = nullptr;  // replication plane: our side of the pair to this peer
  fabric::QpAddress log_qp_peer;        // the peer's side, to cycle ours back to it
  fabric::RemoteRegion log;             // the peer's replication region (header + ring)
  fabric::QueuePair* bg_qp = nullptr;   // background plane
  fabric::QpAddress bg_qp_peer;
  fabric::RemoteRegion background;      // the peer's background region
};

struct ReplicaMemory {
  fabric::Device* device = nullptr;
  uint8_t* log = nullptr;  // [LogHeader | ring]
  size_t log_bytes = 0;
  fabric::MemoryRegion* log_mr = nullptr;
  uint8_t* background = nullptr;  // BackgroundLayout, kBackgroundBytes
  fabric::MemoryRegion* background_mr = nullptr;
  uint8_t* scratch = nullptr;  // local-only buffers for READ destinations and WRITE sources
  size_t scratch_bytes = 0;
  fabric::MemoryRegion* scratch_mr = nullptr;
  fabric::CompletionQueue* log_cq = nullptr;
  fabric::CompletionQueue* bg_cq = nullptr;
};

// Work-request ids: [kind:8][peer:8][value:48]. Completions are routed by kind.
enum class WrKind : uint8_t {
  kAccept = 1,        // entry WRITE; value = index
  kReadHeader = 3,    // READ of a follower's log header
  kWriteMinProposal = 4,
  kReadSlot = 5,      // prepare: READ of the entry at FUO
  kCatchUp = 6,       // catch-up WRITEs of decided entries
  kCommit = 7,        // idle commit publication
  kRequest = 8,       // permission request WRITE (background plane)
  kAck = 9,           // permission acknowledgement WRITE (background plane)
  kHeartbeatRead = 10,
  kTransferRequest = 11,  // asks a replica we cannot catch up to fetch the state instead
  kCatchUpRead = 12,      // a candidate behind a follower READs the decided entries it lacks
};

constexpr uint64_t make_wr_id(WrKind kind, uint32_t peer, uint64_t value) {
  return (uint64_t{static_cast<uint8_t>(kind)} << 56) | (uint64_t{peer & 0xff} << 48) |
         (value & ((uint64_t{1} << 48) - 1));
}
constexpr WrKind wr_kind(uint64_t wr_id) { return static_cast<WrKind>(wr_id >> 56); }
constexpr uint32_t wr_peer(uint64_t wr_id) { return static_cast<uint32_t>((wr_id >> 48) & 0xff); }
constexpr uint64_t wr_value(uint64_t wr_id) { return wr_id & ((uint64_t{1} << 48) - 1); }

}  // namespace mu::core
