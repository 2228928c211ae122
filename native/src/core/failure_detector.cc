#include "core/failure_detector.h"

#include <algorithm>
#include <cassert>
#include <cstring>
#include <string>

#include "core/background_layout.h"
#include "core/permission_manager.h"
#include "mu/fabric/permission.h"

namespace mu::core {

std::string validate(const DetectorConfig& c) {
  if (c.read_period_ns == 0) return "heartbeat.readPeriodMicros: must be positive";
  if (c.score_max == 0 || c.score_max > 1000) return "heartbeat.scoreMax: must be in 1..1000";
  if (c.failure_threshold >= c.recovery_threshold) {
    return "heartbeat.failureThreshold: must be below recoveryThreshold";
  }
  if (c.recovery_threshold > c.score_max) return "heartbeat.recoveryThreshold: above scoreMax";
  if (c.score_up == 0 || c.score_down == 0) return "heartbeat.scoreStep: must be positive";
  return "";
}

FailureDetector::FailureDetector(const DetectorConfig& config, ReplicaMemory& memory,
                                 std::vector<PeerLink>& peers, size_t scratch_slot_read_bytes)
    : config_(config), memory_(memory), peers_(peers),
      scratch_slot_read_bytes_(scratch_slot_read_bytes) {
  assert(validate(config).empty());
  // Everyone starts alive at full score: the lowest id leads from the start, and a replica that
  // never comes up is found out after (score_max - failure_threshold) periods.
  for (uint32_t i = 0; i < kMaxReplicas; ++i) {
    score_[i] = config.score_max;
    alive_[i] = i < config.replica_count;
  }
}

PeerLink* FailureDetector::link(uint32_t id) {
  for (PeerLink& p : peers_) {
    if (p.id == id) return &p;
  }
  return nullptr;
}

uint32_t FailureDetector::preferred() const {
  const uint32_t p = preferred_word::target(preferred_word_);
  return p < config_.replica_count ? p : kMaxReplicas;
}

void FailureDetector::set_preferred(uint32_t target) {
  assert(target < config_.replica_count);
  preferred_word_ = preferred_word::make(preferred_word::epoch(preferred_word_) + 1,
                                         config_.self_id, target);
  auto* bg = reinterpret_cast<BackgroundLayout*>(memory_.background);
  __atomic_store_n(&bg->preferred, preferred_word_, __ATOMIC_RELEASE);
}

uint32_t FailureDetector::leader() const {
  const uint32_t p = preferred();
  if (p != kMaxReplicas && known(p) && alive(p) && voter(p) && !leaving(p)) return p;
  for (uint32_t i = 0; i < config_.replica_count; ++i) {
    // A lower id not heard from yet (nor found failed) may be a voter: do not skip past it, or
    // every replica would briefly elect itself at start-up.
    if (i != config_.self_id && alive_[i] && !known_[i]) return kMaxReplicas;
    if (alive(i) && voter(i) && !leaving(i)) return i;
  }
  return kMaxReplicas;
}

// Until a peer answered once, only the connection timeout counts against it: its first READ
// also opens the connection, which may take far longer than a read period.
bool FailureDetector::in_grace(uint32_t id, uint64_t now) const {
  return !known_[id] && now - first_attempt_ns_[id] < config_.connection_timeout_ns;
}

void FailureDetector::set_leaving() {
  self_leaving_ = true;
  auto* bg = reinterpret_cast<BackgroundLayout*>(memory_.background);
  __atomic_store_n(&bg->leaving, uint64_t{1}, __ATOMIC_RELEASE);
}

bool FailureDetector::poll(bool replication_stuck) {
  const uint64_t now = memory_.device->now_ns();
  auto* bg = reinterpret_cast<BackgroundLayout*>(memory_.background);
  // Fate sharing: a stuck leader must look dead, so it stops beating (and resumes if unstuck).
  stopped_ = replication_stuck;
  if (!stopped_) __atomic_store_n(&bg->heartbeat, ++heartbeat_, __ATOMIC_RELEASE);
  __atomic_store_n(&bg->voter, uint64_t{self_voter_}, __ATOMIC_RELEASE);
  __atomic_store_n(&bg->preferred, preferred_word_, __ATOMIC_RELEASE);

  bool progress = false;
  // A connection was lost (soft fabric: a peer's sockets closed, e.g. its process died): read
  // every peer now rather than at its next slot; the read to a gone peer fails at once and
  // condemns it below — detection in microseconds instead of up to a read period.
  if (const uint64_t lost = memory_.device->lost_connections(); lost != seen_lost_connections_) {
    seen_lost_connections_ = lost;
    for (const PeerLink& p : peers_) {
      next_read_ns_[p.id] = now;
      // One of our connections closed. For a quiet side that most likely means the peer has
      // just cycled its side (that closes the connections bound to it; the count does not say
      // which peer, so every quiet window ends). Waiting out the window would only find our side
      // broken then, and our cycle would break the peer's fresh side in turn, round after round.
      // Read now instead; the failing start is backdated by a connection timeout so that, if the
      // read fails, the cycle is due at once — the peer connects ahead of work only a moment
      // after its cycle (soft NIC: 2 ms), so ours comes before it binds to our old side.
      if (now < quiet_until_ns_[p.id]) {
        quiet_until_ns_[p.id] = 0;
        failing_since_ns_[p.id] = now - std::min(now, config_.connection_timeout_ns);
      }
    }
  }
  const ScratchLayout layout{scratch_slot_read_bytes_};
  for (PeerLink& p : peers_) {
    const uint32_t id = p.id;
    if (first_attempt_ns_[id] == 0) first_attempt_ns_[id] = now;
    if (now < next_read_ns_[id]) continue;
    next_read_ns_[id] = now + config_.read_period_ns;
    if (read_outstanding_[id]) {
      // The first read also opens the connection, which may take far longer than a period:
      // until a peer answered once, only the connection timeout counts against it.
      if (in_grace(id, now)) continue;
      // Not answered yet but not overdue either: a slow path, judged when the answer comes.
      if (now - read_posted_ns_[id] < answer_timeout_ns(id)) continue;
      // Overdue: each further period without an answer counts as "did not move" (a paused or
      // cut-off peer's NIC may never answer).
      observe(id, false, now);
      progress = true;
      continue;
    }
    // Quiet: our side was cycled and waits for the peer's (cycle_background); no answer either.
    const bool quiet = now < quiet_until_ns_[id];
    if (quiet || p.bg_qp->state() != fabric::QpState::kRts) {
      if (failing_since_ns_[id] == 0) failing_since_ns_[id] = now;
      // A broken QP reads nothing until it is cycled (connection timeout): as good as a lost
      // connection (the soft NIC moves the QP to ERR when the peer's socket closes).
      if (!in_grace(id, now)) {
        if (known_[id] && config_.fail_on_connection_loss) {
          condemn(id, now);
        } else {
          observe(id, false, now);
        }
      }
      if (!quiet && now - failing_since_ns_[id] >= config_.connection_timeout_ns) {
        // Re-establish the connection; the peer does the same on its side when it sees errors.
        cycle_background(p, now);
      }
      progress = true;
      continue;
    }
    fabric::WorkRequest wr;
    wr.wr_id = make_wr_id(WrKind::kHeartbeatRead, id, ++read_seq_[id]);
    wr.opcode = fabric::Opcode::kRead;
    wr.local_addr = memory_.scratch + layout.base(id) + ScratchLayout::kHeartbeatRead;
    wr.length = background_offset::kLivenessBytes;
    wr.lkey = memory_.scratch_mr->lkey();
    wr.remote_addr = p.background.addr + background_offset::kHeartbeat;
    wr.rkey = p.background.rkey;
    if (p.bg_qp->post(wr).ok()) {
      read_outstanding_[id] = true;
      read_posted_ns_[id] = now;
    } else {
      observe(id, false, now);
    }
    progress = true;
  }
  return progress;
}

void FailureDetector::on_completion(const fabric::Completion& c) {
  const uint32_t id = wr_peer(c.wr_id);
  if (id >= kMaxReplicas || link(id) == nullptr) return;
  if (wr_value(c.wr_id) != (read_seq_[id] & ((uint64_t{1} << 48) - 1))) return;  // superseded
  read_outstanding_[id] = false;
  const uint64_t now = memory_.device->now_ns();
  if (c.status != fabric::WcStatus::kSuccess) {
    if (failing_since_ns_[id] == 0) failing_since_ns_[id] = now;
    next_read_ns_[id] = now;  // the QP is in ERR: cycle it (when due) at the next pass, not slot
    if (in_grace(id, now)) return;
    // The transport gave up on a peer that had answered before: its NIC is gone (a killed
    // process's sockets close; an RDMA NIC exhausted its retries). That is a verdict, not one
    // more sample: waiting for the score to fall would only delay the failover. A live peer
    // whose connection merely broke climbs back once the QPs are cycled.
    if (c.status == fabric::WcStatus::kRetryExceeded && known_[id] && config_.fail_on_connection_loss) {
      condemn(id, now);
      return;
    }
    observe(id, false, now);
    return;
  }
  failing_since_ns_[id] = 0;
  cycles_unanswered_[id] = 0;
  sample_round_trip(id, now - read_posted_ns_[id]);
  const ScratchLayout layout{scratch_slot_read_bytes_};
  uint64_t words[4];
  static_assert(sizeof words == background_offset::kLivenessBytes);
  std::memcpy(words, memory_.scratch + layout.base(id) + ScratchLayout::kHeartbeatRead,
              sizeof words);
  voter_[id] = words[1] == 1;
  known_[id] = true;
  // A later switchover than the one we know of: adopt it (and publish it with our heartbeat).
  if (words[3] > preferred_word_ && preferred_word::target(words[3]) < config_.replica_count) {
    preferred_word_ = words[3];
  }
  if (words[2] == 1) {
    if (leaving_[id]) return;  // stays failed while it hands over, beating or not
    // A graceful hand-over: no need to wait for the score to fall.
    leaving_[id] = true;
    suspected_at_[id] = suspected_at_[id] ? suspected_at_[id] : now;
    score_[id] = 0;
    if (alive_[id]) {
      alive_[id] = false;
      failed_at_[id] = now;
      events_.push_back({PeerEvent::kFailed, id, now});
    }
    return;
  }
  if (words[2] != 1 && leaving_[id]) leaving_[id] = false;  // restarted since
  const bool moved = words[0] != last_counter_[id];
  last_counter_[id] = words[0];
  if (moved) last_heard_ns_[id] = now;
  observe(id, moved, now);
}

void FailureDetector::sample_round_trip(uint32_t id, uint64_t rtt_ns) {
  if (srtt_ns_[id] == 0) {
    srtt_ns_[id] = std::max<uint64_t>(rtt_ns, 1);
    rttvar_ns_[id] = rtt_ns / 2;
    return;
  }
  const uint64_t deviation = rtt_ns > srtt_ns_[id] ? rtt_ns - srtt_ns_[id] : srtt_ns_[id] - rtt_ns;
  rttvar_ns_[id] = (3 * rttvar_ns_[id] + deviation) / 4;
  srtt_ns_[id] = std::max<uint64_t>((7 * srtt_ns_[id] + rtt_ns) / 8, 1);
}

uint64_t FailureDetector::answer_timeout_ns(uint32_t id) const {
  const uint64_t adaptive = srtt_ns_[id] + 4 * rttvar_ns_[id];
  return std::clamp(adaptive, config_.read_period_ns,
                    std::max(config_.read_period_ns, config_.connection_timeout_ns));
}

void FailureDetector::observe(uint32_t id, bool moved, uint64_t now) {
  uint32_t& s = score_[id];
  if (moved) {
    s = std::min(config_.score_max, s + config_.score_up);
    suspected_at_[id] = 0;
    if (!alive_[id] && s >= config_.recovery_threshold) {
      alive_[id] = true;
      events_.push_back({PeerEvent::kRecovered, id, now});
    }
    return;
  }
  s = s > config_.score_down ? s - config_.score_down : 0;
  if (suspected_at_[id] == 0 && alive_[id]) suspected_at_[id] = now;  // first beat missed
  if (alive_[id] && s <= config_.failure_threshold) {
    alive_[id] = false;
    failed_at_[id] = now;
    events_.push_back({PeerEvent::kFailed, id, now});
  }
}

void FailureDetector::condemn(uint32_t id, uint64_t now) {
  // Suspect since the last sign of life: the fault happened after that, so the timeline's
  // detection interval (suspected → failed) bounds how long the failure went unnoticed.
  if (suspected_at_[id] == 0 && alive_[id]) suspected_at_[id] = last_heard_ns_[id] ? last_heard_ns_[id] : now;
  score_[id] = std::min(score_[id], config_.failure_threshold);
  if (alive_[id]) {
    alive_[id] = false;
    failed_at_[id] = now;
    events_.push_back({PeerEvent::kFailed, id, now});
  }
}

void FailureDetector::forget(uint32_t id) {
  // Failed until its heartbeat proves otherwise (climbing to the recovery threshold): a
  // restarted replica must not make a lower id "unknown" and stall the current leader.
  score_[id] = 0;
  alive_[id] = false;
  known_[id] = true;
  voter_[id] = false;
  leaving_[id] = false;
  read_outstanding_[id] = false;
  first_attempt_ns_[id] = 0;
  failing_since_ns_[id] = 0;
  cycles_unanswered_[id] = 0;
  quiet_until_ns_[id] = 0;
  suspected_at_[id] = 0;
  srtt_ns_[id] = rttvar_ns_[id] = 0;  // a new process, perhaps on another path
  last_heard_ns_[id] = 0;
  ++read_seq_[id];  // completions of reads to the old incarnation are ignored
}

void FailureDetector::cycle_background(PeerLink& p, uint64_t now) {
  const uint32_t id = p.id;
  fabric::cycle_qp(*memory_.device, *p.bg_qp, fabric::kRemoteRead | fabric::kRemoteWrite,
                   p.bg_qp_peer);
  failing_since_ns_[id] = now;
  // RESET drops what was posted without completions (a QP found in ERR may not have flushed its
  // work yet): a read still counted as outstanding would be waited for forever.
  read_outstanding_[id] = false;
  ++read_seq_[id];
  // The first cycle after the link worked is used at once: both ends usually cycle within a
  // read period of each other. Later ones wait out the peer's retry period (the detector's
  // connection timeout; a candidate retries sooner), plus two read slots of lateness.
  if (cycles_unanswered_[id]++ > 0) {
    quiet_until_ns_[id] = now + config_.connection_timeout_ns + 2 * config_.read_period_ns;
  }
}

bool FailureDetector::background_usable(const PeerLink& p, uint64_t now) const {
  return p.bg_qp->state() == fabric::QpState::kRts && now >= quiet_until_ns_[p.id];
}

std::vector<DetectorEvent> FailureDetector::take_events() {
  std::vector<DetectorEvent> out;
  out.swap(events_);
  return out;
}

}  // namespace mu::core
