// Diagnostics of a soft NIC (not part of the Device interface): counters of bad input that was
// dropped, and the last error in words. STYLE.md 7: malformed or unauthenticated input is dropped,
// counted and reported — these are the counts and the report.
#pragma once

#include <cstdint>
#include <string>

#include "mu/fabric/soft.h"

namespace mu::fabric {

struct SoftStats {
  uint64_t auth_failures = 0;        // handshakes that failed, in either direction
  uint64_t malformed_frames = 0;     // protocol violations: connection closed, no memory touched
  uint64_t refused_connections = 0;  // CONNECTs to a QP not in RTR/RTS or bound to another peer
  uint64_t unreachable_requests = 0; // requests on a connection whose binding was revoked
  uint64_t eager_connection_retries = 0;  // opened ahead of work, failed unbound, retried
  uint64_t cq_overflows = 0;         // completions lost because a CQ was full
  // Work done by application threads instead of the NIC thread (SoftConfig::send_in_post and
  // complete_in_poll): work requests put on the wire by post(), responses completed by a poll.
  uint64_t sent_in_post = 0;
  uint64_t completed_in_poll = 0;
  uint64_t completed_by_nic = 0;  // responses the NIC thread read (the rest of them)
  // Outgoing connections the NIC stopped reading because a spinning poller read their responses,
  // and those it read again after that poller stopped polling for a while.
  uint64_t responses_parked = 0;
  uint64_t responses_unparked = 0;
  uint64_t local_connections = 0;  // outgoing connections made over AF_UNIX (local_transport)
  uint64_t lingers = 0;  // waits spent polling rather than sleeping (SoftConfig::linger_us)
  // Lingers cut short because a yield took >= 1 ms while the NIC thread was confined to one CPU
  // (lingering is then paused: see SoftConfig::linger_us).
  uint64_t linger_stalls = 0;
  std::string last_error;            // most recent failure, human readable ("" if none)
};

// `device` must come from open_soft_device().
SoftStats soft_stats(const SoftDevice& device);

}  // namespace mu::fabric
