// One replica's engine core: the replication plane and the background plane's failure detector,
// polled together, plus what operators want to see — leader changes and failover timelines with
// microsecond breakdowns (DESIGN.md §3.5). Poll-driven and deterministic under simulation.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "core/failure_detector.h"
#include "core/replication.h"

namespace mu::core {

constexpr uint32_t kNoReplica = kMaxReplicas;

struct FailoverTimeline {
  uint32_t from = kNoReplica;  // leader before (kNoReplica: none, e.g. the first election)
  uint32_t to = kNoReplica;
  std::string reason;          // leader-failed | initial | lower-id-recovered | switchover
  uint64_t suspected_ns = 0;   // first heartbeat of `from` seen not moving (0: not applicable)
  uint64_t failed_ns = 0;      // its score reached the failure threshold: detection
  uint64_t candidate_ns = 0;   // we started asking for permissions
  uint64_t permissions_ns = 0;  // a majority granted
  uint64_t prepared_ns = 0;     // prepare and catch-up done
  uint64_t first_commit_ns = 0;
  std::vector<GrantTiming> grants;

  uint64_t start_ns() const { return suspected_ns != 0 ? suspected_ns : candidate_ns; }
  uint64_t detection_ns() const { return failed_ns >= suspected_ns && suspected_ns ? failed_ns - suspected_ns : 0; }
  uint64_t permission_switch_ns() const { return permissions_ns - candidate_ns; }
  uint64_t catch_up_ns() const { return prepared_ns - permissions_ns; }
  uint64_t total_ns() const { return first_commit_ns - start_ns(); }
};

enum class EventKind : uint8_t {
  kLeaderChanged,      // a: old leader (kNoReplica: none), b: new leader
  kFailoverCompleted,  // b: self; see timelines()
  kPermissionSwitch,   // a: candidate granted; value: duration ns; detail: mechanism
  kPeerFailed,         // a: peer
  kPeerRecovered,      // a: peer
  kLogFull,            // value: pending requests
  kQuorumLost,         // detail: "no quorum reachable" or "data may be lost, re-bootstrap required"
  kQuorumRestored,
};
const char* to_string(EventKind k);

struct Event {
  EventKind kind;
  uint64_t at_ns = 0;
  uint32_t a = kNoReplica;
  uint32_t b = kNoReplica;
  uint64_t value = 0;
  std::string detail;
};

struct ReplicaConfig {
  ReplicationConfig replication;
  DetectorConfig detector;
  std::optional<uint32_t> static_leader;  // tests/experiments: bypass the detector's choice
  size_t timeline_history = 32;
  size_t event_history = 1024;
  // The background plane's work (heartbeat, failure detection, leader choice, fate sharing,
  // events) runs at most this often, not on every poll of the replication loop: its timescale is
  // the read period (a millisecond), the loop's a microsecond (Mu runs it on a thread of its own).
  // Capped at read_period_ns / 8, so that the heartbeat always moves between two peer reads.
  uint64_t background_poll_ns = 10'000;
  uint64_t background_interval_ns() const {
    return std::min(background_poll_ns, detector.read_period_ns / 8);
  }
};

class Replica {
 public:
  Replica(const ReplicaConfig& config, ReplicaMemory memory, std::vector<PeerLink> peers,
          StateMachine* state_machine);
  bool poll();
  // Graceful hand-over (SIGTERM): peers treat us as failed at their next read; we stop leading.
  void leave();
  // Targeted switchover: makes `to` the preferred leader (see FailureDetector::leader). Only the
  // replica that leads (in its own view) accepts, and only for a target that is a member, alive,
  // a voter and not leaving; to itself it is accepted and changes nothing but the preference.
  // This replica steps down at its next poll; the others adopt the preference from its heartbeat
  // region within about one read period, and `to` becomes candidate. Returns "" when accepted,
  // otherwise why not. Engine thread only.
  std::string set_preferred_leader(uint32_t to);
  // Tests/experiments: fix the leader (nullopt: the failure detector chooses again).
  void set_static_leader(std::optional<uint32_t> leader) {
    config_.static_leader = leader;
    next_background_ns_ = 0;  // taken at the next poll
  }

  ReplicationPlane& plane() { return plane_; }
  FailureDetector& detector() { return detector_; }
  uint32_t id() const { return config_.replication.self_id; }
  uint32_t leader_view() const { return leader_view_; }
  std::vector<Event> take_events();
  const std::deque<FailoverTimeline>& timelines() const { return timelines_; }
  // The permission switches this replica's permission manager made, newest last (bounded).
  const std::deque<PermissionSwitch>& switches() const { return switches_; }
  uint64_t failovers() const { return failovers_; }
  // Fewer voters alive than a majority, for longer than detection takes. With a majority of
  // replicas alive but too few voters (they restarted empty), data may be lost: nobody may start
  // a new history on its own — an operator re-bootstraps explicitly (DESIGN.md §3.6).
  bool quorum_lost() const { return quorum_lost_; }
  bool data_may_be_lost() const { return data_may_be_lost_; }

 private:
  void push(Event e);
  bool poll_background(uint64_t now);  // before the replication plane's poll
  void report_plane(uint64_t now);     // after it: permission switches, log full, timelines

  ReplicaConfig config_;
  ReplicationPlane plane_;
  FailureDetector detector_;
  uint32_t leader_view_ = kNoReplica;
  std::optional<FailoverTimeline> pending_;  // our own candidacy, until its first commit
  std::deque<FailoverTimeline> timelines_;
  std::deque<PermissionSwitch> switches_;
  std::vector<Event> events_;
  uint64_t failovers_ = 0;
  uint64_t last_log_full_ = 0;
  uint64_t stuck_since_ns_ = 0;    // fate sharing stopped our heartbeat at (0: beating)
  uint64_t demoted_until_ns_ = 0;  // we failed to lead: defer to others until then
  uint64_t short_of_voters_since_ns_ = 0;
  uint64_t next_background_ns_ = 0;  // the background plane's next turn (see background_poll_ns)
  bool quorum_lost_ = false;
  bool data_may_be_lost_ = false;
};

}  // namespace mu::core
