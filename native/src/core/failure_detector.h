// Pull-score failure detection and leader choice (DESIGN.md §3.5; Mu §4.3).
//
// Each replica increments a heartbeat counter in its background region (unless fate sharing
// says its replication plane is stuck). Every read_period_ns, it RDMA-READs each peer's counter
// and scores the peer: up when the counter moved, down when it did not (or the read failed, or is
// overdue). A read is overdue once it has been outstanding for longer than the peer's answer
// timeout: the read period, or more when that peer's reads have been answering slowly (smoothed
// round trip + 4 deviations, as TCP's retransmission timer; capped by the connection timeout). A
// slow link is not a dead peer: judging every period, a leader whose own reads took longer than a
// period lost all its followers while they still saw it alive, and nobody served. A read the
// transport fails outright (connection lost: the peer's process or NIC is gone) fails the peer at
// once: a killed leader is detected at the next read, not after a score's worth of periods.
// Scores are clamped to [0, score_max]; a peer at or below failure_threshold is considered failed until it climbs to recovery_threshold (hysteresis, so a
// slow peer does not flap). The leader is the lowest-id replica considered alive — no voting —
// unless a switchover named a preferred leader that is alive, known, a voter and not leaving:
// then it leads. The preference (background_layout.h, preferred_word) is published with the
// heartbeat, and each replica adopts the highest (latest) one it reads from any peer, so it
// spreads to everyone within about one read period. It stays until a later switchover replaces
// it; while the preferred replica is failed the lowest-id rule applies, and it leads again once
// it is seen alive (and a voter) again.
// Timing never depends on sleep accuracy: only on the injected clock and on polls.
#pragma once

#include <cstdint>
#include <vector>

#include "core/links.h"
#include "core/quorum.h"

namespace mu::core {

struct DetectorConfig {
  uint32_t self_id = 0;
  uint32_t replica_count = 1;
  // Defaults survive a busy 2-core machine without false alarms; RDMA NICs and dedicated cores
  // allow far shorter periods (the Mu paper reads continuously).
  uint64_t read_period_ns = 1'000'000;
  uint32_t score_max = 15;
  uint32_t failure_threshold = 2;
  uint32_t recovery_threshold = 6;
  uint32_t score_up = 1;
  uint32_t score_down = 1;
  // A leader whose replication has pending work and no progress for this long stops its heartbeat
  // so that the others replace it (fate sharing).
  uint64_t fate_share_ns = 50'000'000;
  // Reads failing for this long: the QP is cycled to re-establish the connection. Also the grace
  // a peer gets before its first answer (its first READ opens the connection).
  uint64_t connection_timeout_ns = 200'000'000;
  // A heartbeat read that fails because the transport gave up on the peer (connection lost,
  // retries exhausted) marks it failed at once instead of one missed beat.
  bool fail_on_connection_loss = true;
};
// Returns "" or the name of the setting that is wrong and why.
std::string validate(const DetectorConfig& c);

enum class PeerEvent : uint8_t { kFailed, kRecovered };  // kFailed: score fell to the threshold

struct DetectorEvent {
  PeerEvent kind;
  uint32_t peer;
  uint64_t at_ns;
};

class FailureDetector {
 public:
  FailureDetector(const DetectorConfig& config, ReplicaMemory& memory,
                  std::vector<PeerLink>& peers, size_t scratch_slot_read_bytes);

  // Heartbeat, periodic reads, scoring. `replication_stuck`: fate sharing. Returns progress.
  bool poll(bool replication_stuck);
  void on_completion(const fabric::Completion& c);

  // The preferred leader when it is eligible (alive, known, a voter, not leaving); otherwise the
  // lowest id considered alive among voters (self included when it is a voter); kMaxReplicas
  // when there is none. Learners never lead: their logs may lack decided entries.
  uint32_t leader() const;
  // Targeted switchover: publish `target` as the preferred leader with a new epoch (higher than
  // any preference seen). The caller (Replica) checks that we lead and the target is eligible.
  void set_preferred(uint32_t target);
  // The preferred leader (kMaxReplicas: none) and its raw word (see preferred_word).
  uint32_t preferred() const;
  uint64_t preferred_word() const { return preferred_word_; }
  bool leaving(uint32_t id) const { return id == config_.self_id ? self_leaving_ : leaving_[id]; }
  bool alive(uint32_t id) const { return id == config_.self_id || alive_[id]; }
  bool voter(uint32_t id) const { return id == config_.self_id ? self_voter_ : voter_[id]; }
  void set_self_voter(bool voter) { self_voter_ = voter; }
  bool known(uint32_t id) const { return id == config_.self_id || known_[id]; }
  // voter(), alive() and known() over the whole group in one pass (every poll needs them).
  struct Census {
    uint32_t voters = 0;        // bit per voter
    uint32_t alive = 0;         // how many are alive
    uint32_t alive_voters = 0;  // alive and a voter, or alive and not heard from yet
  };
  Census census() const {
    Census c;
    for (uint32_t i = 0; i < config_.replica_count; ++i) {
      const bool v = voter(i), a = alive(i);
      c.voters |= uint32_t{v} << i;
      c.alive += a;
      // Not heard from yet (start-up): may well be a voter; do not call the quorum lost early.
      c.alive_voters += a && (v || !known(i));
    }
    return c;
  }
  // Graceful hand-over: peers read it with the heartbeat and treat us as failed at once.
  void set_leaving();
  uint32_t score(uint32_t id) const { return score_[id]; }
  // How long a read to this peer may stay outstanding before it counts as a miss.
  uint64_t answer_timeout_ns(uint32_t id) const;
  uint64_t suspected_at_ns(uint32_t id) const { return suspected_at_[id]; }
  uint64_t failed_at_ns(uint32_t id) const { return failed_at_[id]; }
  uint64_t heartbeat() const { return heartbeat_; }
  bool heartbeat_stopped() const { return stopped_; }
  std::vector<DetectorEvent> take_events();
  // Something the background work should act on now rather than at its next turn: a peer failed
  // or recovered (read completions are handled on every poll), or a connection was lost.
  bool urgent() const {
    return !events_.empty() || memory_.device->lost_connections() != seen_lost_connections_;
  }
  // A peer restarted: start over with it (unknown, full score, in its connection grace).
  void forget(uint32_t id);

  // Repair of background-plane QPs, shared with the replication plane (a candidate's permission
  // request may find one broken). Each end cycles its side on its own, and after a break both
  // usually do so together. But a side cycled while the peer's is still in ERR fails at its first
  // post and is in ERR again at once; two ends retrying on the same period with a fixed offset
  // would then never be ready at the same moment (CI: after heavy loss on one replica, two
  // followers stayed unreachable to each other until the leader died, and no quorum formed). So a
  // cycle that follows a cycle which did not bring the link back keeps the QP quiet (nothing
  // posted) for longer than the peer's retry period: the peer's next cycle lands in that window
  // and finds our side ready, and the first post after it succeeds.
  void cycle_background(PeerLink& p, uint64_t now);
  // Work may be posted on p's background QP: it is in RTS and not in a quiet window.
  bool background_usable(const PeerLink& p, uint64_t now) const;
  bool background_quiet(uint32_t id, uint64_t now) const { return now < quiet_until_ns_[id]; }

 private:
  void observe(uint32_t peer, bool moved, uint64_t now);
  void condemn(uint32_t peer, uint64_t now);  // failed now, whatever its score
  bool in_grace(uint32_t peer, uint64_t now) const;
  void sample_round_trip(uint32_t peer, uint64_t rtt_ns);
  PeerLink* link(uint32_t id);

  DetectorConfig config_;
  ReplicaMemory& memory_;
  std::vector<PeerLink>& peers_;
  size_t scratch_slot_read_bytes_;
  uint64_t heartbeat_ = 0;
  bool stopped_ = false;
  bool self_voter_ = true;
  bool self_leaving_ = false;
  uint64_t preferred_word_ = 0;  // ours: set by a switchover or adopted from a peer
  bool voter_[kMaxReplicas] = {};
  bool known_[kMaxReplicas] = {};  // read at least once
  uint64_t first_attempt_ns_[kMaxReplicas] = {};
  bool leaving_[kMaxReplicas] = {};
  uint32_t score_[kMaxReplicas] = {};
  bool alive_[kMaxReplicas] = {};
  uint64_t last_counter_[kMaxReplicas] = {};
  bool read_outstanding_[kMaxReplicas] = {};
  uint64_t read_posted_ns_[kMaxReplicas] = {};
  uint64_t next_read_ns_[kMaxReplicas] = {};
  // The device's lost-connection count when last looked at: a change reads every peer at once.
  uint64_t seen_lost_connections_ = 0;
  uint64_t suspected_at_[kMaxReplicas] = {};
  uint64_t failed_at_[kMaxReplicas] = {};
  uint64_t failing_since_ns_[kMaxReplicas] = {};  // reads erroring since (0: not erroring)
  // Background QP repair (cycle_background): cycles since the last answered read, and the end of
  // the current quiet window.
  uint32_t cycles_unanswered_[kMaxReplicas] = {};
  uint64_t quiet_until_ns_[kMaxReplicas] = {};
  uint64_t read_seq_[kMaxReplicas] = {};
  uint64_t srtt_ns_[kMaxReplicas] = {};    // smoothed round trip of answered reads (0: none yet)
  uint64_t rttvar_ns_[kMaxReplicas] = {};  // its mean deviation
  uint64_t last_heard_ns_[kMaxReplicas] = {};  // last answer showing the counter moved
  std::vector<DetectorEvent> events_;
};

}  // namespace mu::core
