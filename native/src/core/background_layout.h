// The background region every replica registers (DESIGN.md §3.3, §3.5): heartbeat counter,
// permission-request array (written by candidates) and acknowledgement array (written by
// granters into the candidate's region). Slots are self-checking, so a WRITE seen in pieces is
// ignored until it is whole.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "core/quorum.h"

namespace mu::core {

constexpr uint64_t kSlotMagic = 0x9e3779b97f4a7c15ULL;

// Request flags.
constexpr uint64_t kRequestPleaseCycle = 1;  // the candidate cycled its QP side; cycle yours too
// Ack flags.
constexpr uint64_t kAckCycled = 1;      // the granter cycled its QP side: cycle yours before use
constexpr uint64_t kAckNewRkey = 2;     // the granter re-registered its log: use `rkey`

struct alignas(64) PermissionSlot {
  uint64_t seq;  // 0: never written
  uint64_t flags;
  uint64_t rkey;
  uint64_t switch_ns;  // ack: how long the granter's revoke+grant took (failover timelines)
  uint64_t mechanism;  // ack: fabric::PermissionMechanism used
  uint64_t check;      // detects a slot seen half-written

  static uint64_t checksum(const PermissionSlot& s) {
    return s.seq ^ (s.flags * 3) ^ (s.rkey * 5) ^ (s.switch_ns * 7) ^ (s.mechanism * 11) ^ kSlotMagic;
  }
  static PermissionSlot make(uint64_t seq, uint64_t flags, uint64_t rkey = 0,
                             uint64_t switch_ns = 0, uint64_t mechanism = 0) {
    PermissionSlot s{seq, flags, rkey, switch_ns, mechanism, 0};
    s.check = checksum(s);
    return s;
  }
  // Reads a slot that may be under a remote WRITE; false if empty or torn.
  static bool load(const PermissionSlot* remote, PermissionSlot* out) {
    std::memcpy(out, remote, sizeof *out);
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    return out->seq != 0 && out->check == checksum(*out);
  }
};
static_assert(sizeof(PermissionSlot) == 64);

struct BackgroundLayout {
  // Read together by peers' failure detectors (one READ of kLivenessBytes).
  alignas(64) uint64_t heartbeat;
  uint64_t voter;    // 1: holds the decided log (bootstrapped, or a learner that caught up)
  uint64_t leaving;  // 1: hands over (graceful shutdown): treat as failed at once
  uint64_t preferred;  // the preferred leader (switchover), see preferred_word below; 0: none
  alignas(64) PermissionSlot requests[kMaxReplicas];  // requests[c]: written by candidate c
  alignas(64) PermissionSlot acks[kMaxReplicas];      // acks[r]: written by granter r
};

namespace background_offset {
constexpr size_t kHeartbeat = offsetof(BackgroundLayout, heartbeat);
constexpr size_t kLivenessBytes = 4 * sizeof(uint64_t);
constexpr size_t request(uint32_t candidate) {
  return offsetof(BackgroundLayout, requests) + candidate * sizeof(PermissionSlot);
}
constexpr size_t ack(uint32_t granter) {
  return offsetof(BackgroundLayout, acks) + granter * sizeof(PermissionSlot);
}
}  // namespace background_offset

static_assert(offsetof(BackgroundLayout, preferred) - offsetof(BackgroundLayout, heartbeat) + 8 ==
              background_offset::kLivenessBytes);

// The preferred-leader word (targeted switchover). 0: no preference. Otherwise
//   bits 16..63: epoch — the switchover's number, one more than any the setter had seen
//   bits  8..15: the id of the replica that set it (the leader at the time)
//   bits  0..7:  the preferred replica's id + 1
// Compared as integers: a later switchover (higher epoch; on a tie, the higher setter id)
// replaces an earlier one, so every replica adopts the highest word it reads and all converge.
namespace preferred_word {
constexpr uint64_t make(uint64_t epoch, uint32_t setter, uint32_t target) {
  return (epoch << 16) | (uint64_t{setter} << 8) | (uint64_t{target} + 1);
}
constexpr uint64_t epoch(uint64_t w) { return w >> 16; }
// kMaxReplicas when none (or malformed).
constexpr uint32_t target(uint64_t w) {
  const uint64_t t = w & 0xff;
  return t == 0 || t > kMaxReplicas ? kMaxReplicas : static_cast<uint32_t>(t - 1);
}
}  // namespace preferred_word

constexpr size_t kBackgroundBytes = (sizeof(BackgroundLayout) + 4095) / 4096 * 4096;

}  // namespace mu::core
