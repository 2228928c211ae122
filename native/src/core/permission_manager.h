// The permission manager (DESIGN.md §3.5; Mu §4.2): the one place that decides which replica may
// WRITE into this replica's log. It serves candidates' requests found in the local request array,
// in order (several seen at once: by id), revokes write access from everyone else, grants it to
// the candidate, and acknowledges with a one-sided WRITE into the candidate's background region.
// The revoked side never has to cooperate: the fabric enforces the change once it returns.
#pragma once

#include <cstdint>
#include <vector>

#include "core/background_layout.h"
#include "core/links.h"
#include "mu/fabric/permission.h"

namespace mu::core {

// Scratch-region layout shared by the planes (local buffers only; never remotely accessible).
struct ScratchLayout {
  size_t slot_read_bytes;  // per peer: one entry window for prepare reads

  static constexpr size_t kHeaderRead = 0;            // 256 B: a follower's LogHeader
  static constexpr size_t kRequestSource = 256;       // 64 B: our permission request
  static constexpr size_t kAckSource = 320;           // 64 B: our ack to this candidate
  static constexpr size_t kCommitSource = 384;        // 8 B: commit value being published
  static constexpr size_t kMinProposalSource = 392;   // 8 B
  static constexpr size_t kHeartbeatRead = 400;       // 32 B: heartbeat, voter, leaving, preferred
  static constexpr size_t kTransferRequestSource = 432;  // 8 B: "fetch the state" (state_transfer.h)
  static constexpr size_t kFixedBytes = 448;
  static_assert(kHeartbeatRead + background_offset::kLivenessBytes <= kTransferRequestSource);
  static_assert(kTransferRequestSource + 8 <= kFixedBytes);

  size_t per_peer_bytes() const { return kFixedBytes + slot_read_bytes; }
  size_t total_bytes() const { return per_peer_bytes() * kMaxReplicas; }
  size_t base(uint32_t peer) const { return per_peer_bytes() * peer; }
  size_t slot_read(uint32_t peer) const { return base(peer) + kFixedBytes; }
};

enum class RevocationMechanism : uint8_t {
  kQpAccessFlags,  // fast path, falling back to QP state cycling
  kQpStateCycle,   // always cycle
  kRegionReregistration,
};

struct PermissionSwitch {
  uint32_t candidate = 0;
  uint64_t request_seq = 0;
  fabric::PermissionMechanism mechanism = fabric::PermissionMechanism::kQpAccessFlags;
  uint64_t duration_ns = 0;  // revoke + grant, as timed on this replica
  uint64_t at_ns = 0;        // when the switch finished
  uint32_t revoked = 0;      // how many QPs lost write access
};

class PermissionManager {
 public:
  PermissionManager(uint32_t self_id, ReplicaMemory& memory, std::vector<PeerLink>& peers,
                    size_t scratch_slot_read_bytes, RevocationMechanism mechanism);

  // Serves requests that appeared since the last call. Bounded: at most one pass over the array.
  // Returns the number of requests served.
  int poll();
  void on_completion(const fabric::Completion& c);

  // Requests are served only for the replica this one currently believes leads (the failure
  // detector's view): safety never depends on it, but it keeps a stale old leader from grabbing
  // permissions back and duelling. Requests from others wait (served if the view changes).
  void set_leader_view(uint32_t leader) { leader_view_ = leader; }
  uint32_t holder() const { return holder_; }  // who may write our log now (self: nobody else)
  uint32_t access_for(uint32_t peer) const { return desired_access_[peer]; }
  // Switches since the last call (for timelines, stats and events).
  std::vector<PermissionSwitch> take_switches();
  // A peer restarted: forget its old requests (served numbers and the slot it wrote).
  void forget(uint32_t peer);
  const PermissionSwitch* last_switch() const { return has_last_ ? &last_ : nullptr; }
  uint64_t ack_failures() const { return ack_failures_; }

 private:
  void serve(uint32_t candidate, const PermissionSlot& request);
  PeerLink* peer(uint32_t id);
  uint8_t* ack_source(uint32_t candidate);

  uint32_t self_;
  ReplicaMemory& memory_;
  std::vector<PeerLink>& peers_;
  size_t scratch_slot_read_bytes_;
  RevocationMechanism mechanism_;
  uint32_t holder_;
  uint32_t leader_view_ = kMaxReplicas;  // none yet: nobody is granted anything
  uint64_t served_seq_[kMaxReplicas] = {};
  uint32_t desired_access_[kMaxReplicas] = {};
  // Its write access was revoked without cycling its QP since: WRITEs it posted before may still
  // arrive, so granting it again must cycle the QP (fabric.h contract 2: RESET drops them).
  bool stale_writes_possible_[kMaxReplicas] = {};
  std::vector<PermissionSwitch> switches_;
  PermissionSwitch last_{};
  bool has_last_ = false;
  uint64_t ack_failures_ = 0;
};

}  // namespace mu::core
