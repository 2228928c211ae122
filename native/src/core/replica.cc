#include "core/replica.h"

namespace mu::core {

const char* to_string(EventKind k) {
  switch (k) {
    case EventKind::kLeaderChanged: return "LeaderChanged";
    case EventKind::kFailoverCompleted: return "FailoverCompleted";
    case EventKind::kPermissionSwitch: return "PermissionSwitch";
    case EventKind::kPeerFailed: return "PeerFailed";
    case EventKind::kPeerRecovered: return "PeerRecovered";
    case EventKind::kLogFull: return "LogFull";
    case EventKind::kQuorumLost: return "QuorumLost";
    case EventKind::kQuorumRestored: return "QuorumRestored";
  }
  return "?";
}

Replica::Replica(const ReplicaConfig& config, ReplicaMemory memory, std::vector<PeerLink> peers,
                 StateMachine* state_machine)
    : config_(config),
      plane_(config.replication, memory, std::move(peers), state_machine),
      detector_(config.detector, plane_.memory(), plane_.peers(),
                config.replication.max_entry_bytes()) {
  plane_.set_detector(&detector_);
}

void Replica::push(Event e) {
  events_.push_back(std::move(e));
  if (events_.size() > config_.event_history) events_.erase(events_.begin());
}

bool Replica::poll() {
  const uint64_t now = plane_.memory().device->now_ns();
  // Its own cadence, unless the detector just saw a peer fail or recover (a read completion on
  // the last poll) or a connection close: a failover must not wait for the next turn.
  const bool background = now >= next_background_ns_ || detector_.urgent();
  bool progress = false;
  if (background) {
    next_background_ns_ = now + config_.background_interval_ns();
    progress = poll_background(now);
  }
  progress |= plane_.poll();
  if (background) report_plane(now);
  return progress;
}

bool Replica::poll_background(uint64_t now) {
  // Fate sharing: while our replication is stuck our heartbeat stops, so the others replace us.
  // If it stays stuck for as long as they need to notice, we step aside for as long again and
  // beat again as a follower: otherwise a leader that is dead to the others but alive to itself
  // would keep believing it leads, and never be seen to recover.
  const DetectorConfig& dc = config_.detector;
  const uint64_t notice_ns = uint64_t{dc.score_max - dc.failure_threshold + 1} * dc.read_period_ns * 2;
  bool stuck = now >= demoted_until_ns_ && plane_.stuck(dc.fate_share_ns, now);
  if (!stuck) {
    stuck_since_ns_ = 0;
  } else if (stuck_since_ns_ == 0) {
    stuck_since_ns_ = now;
  } else if (now - stuck_since_ns_ > notice_ns) {
    push({EventKind::kPeerFailed, now, id(), kNoReplica, 0,
          std::string("self: replication stuck in phase ") + plane_.stats().phase +
              ", stepping aside"});
    demoted_until_ns_ = now + notice_ns;
    stuck_since_ns_ = 0;
    stuck = false;
  }
  detector_.set_self_voter(plane_.voter());
  bool progress = detector_.poll(stuck);
  const FailureDetector::Census census = detector_.census();
  plane_.set_peer_voters(census.voters);
  const uint32_t alive = census.alive, alive_voters = census.alive_voters;
  const uint32_t needed = majority(config_.replication.replica_count);
  if (alive_voters >= needed) {
    short_of_voters_since_ns_ = 0;
    if (quorum_lost_) {
      quorum_lost_ = data_may_be_lost_ = false;
      push({EventKind::kQuorumRestored, now, kNoReplica, kNoReplica, alive_voters, ""});
    }
  } else if (short_of_voters_since_ns_ == 0) {
    short_of_voters_since_ns_ = now;
  } else if (!quorum_lost_ && now - short_of_voters_since_ns_ > notice_ns) {
    quorum_lost_ = true;
    data_may_be_lost_ = alive >= needed;
    push({EventKind::kQuorumLost, now, kNoReplica, kNoReplica, alive_voters,
          data_may_be_lost_ ? "data may be lost, re-bootstrap required"
                            : "no quorum of voters reachable"});
  }
  for (const DetectorEvent& e : detector_.take_events()) {
    push({e.kind == PeerEvent::kFailed ? EventKind::kPeerFailed : EventKind::kPeerRecovered,
          e.at_ns, e.peer, kNoReplica, 0, ""});
  }
  uint32_t view = config_.static_leader ? *config_.static_leader : detector_.leader();
  if (!config_.static_leader && view == id() && now < demoted_until_ns_) {
    view = kNoReplica;
    for (uint32_t i = 0; i < config_.replication.replica_count; ++i) {
      if (i != id() && detector_.alive(i) && detector_.voter(i)) {
        view = i;
        break;
      }
    }
  }
  if (view != leader_view_) {
    const uint32_t previous = leader_view_;
    // A handover asked for: the old leader is still alive and the new one is the preferred one.
    const bool switchover = previous != kNoReplica && view != kNoReplica &&
                            view == detector_.preferred() && detector_.alive(previous) &&
                            !detector_.leaving(previous);
    push({EventKind::kLeaderChanged, now, leader_view_, view, 0, switchover ? "switchover" : ""});
    leader_view_ = view;
    if (view == kNoReplica) {
      plane_.set_no_leader();
    } else {
      plane_.set_leader(view);
    }
    if (view == id()) {
      FailoverTimeline t;
      t.from = previous;
      t.to = id();
      if (previous == kNoReplica) {
        t.reason = "initial";
      } else if (switchover) {
        t.reason = "switchover";
      } else if (previous < id() || !detector_.alive(previous)) {
        t.reason = "leader-failed";
        t.suspected_ns = detector_.suspected_at_ns(previous);
        t.failed_ns = detector_.failed_at_ns(previous);
        if (t.suspected_ns == 0) t.suspected_ns = t.failed_ns;
      } else {
        t.reason = "lower-id-recovered";
      }
      pending_ = t;
    } else {
      pending_.reset();
    }
    progress = true;
  }
  plane_.set_serving(!quorum_lost_);
  return progress;
}

void Replica::report_plane(uint64_t now) {
  for (const PermissionSwitch& s : plane_.permissions().take_switches()) {
    switches_.push_back(s);
    if (switches_.size() > config_.timeline_history * 4) switches_.pop_front();
    push({EventKind::kPermissionSwitch, s.at_ns, s.candidate, kNoReplica, s.duration_ns,
          fabric::to_string(s.mechanism)});
  }
  const uint64_t full = plane_.log_full_events();
  if (full != last_log_full_) {
    push({EventKind::kLogFull, now, kNoReplica, kNoReplica, plane_.pending_requests(), ""});
    last_log_full_ = full;
  }
  const LeaderMilestones& m = plane_.milestones();
  if (pending_ && m.first_commit_ns != 0 && plane_.role() == Role::kLeader) {
    FailoverTimeline t = *pending_;
    t.candidate_ns = m.became_candidate_ns;
    t.permissions_ns = m.permissions_ns;
    t.prepared_ns = m.prepared_ns;
    t.first_commit_ns = m.first_commit_ns;
    t.grants = m.grants;
    timelines_.push_back(t);
    if (timelines_.size() > config_.timeline_history) timelines_.pop_front();
    ++failovers_;
    push({EventKind::kFailoverCompleted, m.first_commit_ns, t.from, id(), t.total_ns(), t.reason});
    pending_.reset();
  }
}

std::string Replica::set_preferred_leader(uint32_t to) {
  const uint32_t n = config_.replication.replica_count;
  if (to >= n) {
    return "replica " + std::to_string(to) + " is not a member (ids 0.." + std::to_string(n - 1) + ")";
  }
  if (config_.static_leader) return "the leader is fixed by configuration (static leader)";
  if (leader_view_ != id()) {
    return leader_view_ == kNoReplica
               ? "replica " + std::to_string(id()) + " does not lead: no leader at the moment"
               : "replica " + std::to_string(id()) + " does not lead: replica " +
                     std::to_string(leader_view_) + " does";
  }
  if (to != id()) {
    const std::string who = "replica " + std::to_string(to);
    if (!detector_.known(to) || !detector_.alive(to)) return who + " is not alive";
    if (detector_.leaving(to)) return who + " is leaving";
    if (!detector_.voter(to)) return who + " is a learner (not caught up): it cannot lead";
  }
  detector_.set_preferred(to);
  next_background_ns_ = 0;  // acted on at the next poll
  return "";
}

void Replica::leave() {
  detector_.set_leaving();
  demoted_until_ns_ = UINT64_MAX;  // never again in this process
  next_background_ns_ = 0;
}

std::vector<Event> Replica::take_events() {
  std::vector<Event> out;
  out.swap(events_);
  return out;
}

}  // namespace mu::core
