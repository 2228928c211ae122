#include "core/replication.h"

#include <algorithm>
#include <cassert>
#include <cstring>
#include <utility>

#include "core/background_layout.h"
#include "core/failure_detector.h"

namespace mu::core {

using fabric::Completion;
using fabric::QpState;
using fabric::WcStatus;

namespace {
constexpr uint64_t kIndexBits = 36;  // wr value = [term:12][index:36]
constexpr uint64_t kIndexMask = (uint64_t{1} << kIndexBits) - 1;
constexpr size_t kAppliedBatchHistory = 1 << 16;
constexpr uint64_t kCatchUpChunkBytes = 1 << 20;
constexpr size_t kWarmBatches = 64;  // released Batches that keep their buffers
}  // namespace

const char* to_string(ProposeStatus s) {
  switch (s) {
    case ProposeStatus::kQueued: return "queued";
    case ProposeStatus::kNotLeader: return "not leader";
    case ProposeStatus::kLogFull: return "log full";
    case ProposeStatus::kTooLarge: return "request too large";
  }
  return "?";
}

const char* to_string(Role r) {
  switch (r) {
    case Role::kFollower: return "follower";
    case Role::kCandidate: return "candidate";
    case Role::kLeader: return "leader";
  }
  return "?";
}

ReplicationPlane::ReplicationPlane(const ReplicationConfig& config, ReplicaMemory memory,
                                   std::vector<PeerLink> peers, StateMachine* state_machine)
    : config_(config),
      memory_(memory),
      peers_(std::move(peers)),
      state_machine_(state_machine),
      layout_{config.max_entry_bytes()},
      permissions_(config.self_id, memory_, peers_, config.max_entry_bytes(), config.revocation),
      applied_batches_(kAppliedBatchHistory) {
  assert(config_.replica_count >= 1 && config_.replica_count <= kMaxReplicas);
  assert(config_.self_id < config_.replica_count);
  assert(peers_.size() + 1 == config_.replica_count);
  assert(memory_.log_bytes > kHeaderBytes);
  assert(ring_bytes() % kCacheLineBytes == 0);
  assert(ring_bytes() >= 2 * config_.max_entry_bytes());
  assert(memory_.scratch_bytes >= layout_.total_bytes());
  LogHeader& h = local_header();
  h.ring_bytes = ring_bytes();
  h.magic = kLogMagic;
  // Batch ids must not repeat across restarts of this replica: seed them from the clock.
  batch_seq_ = now() & ((uint64_t{1} << 55) - 1);
  voter_ = config.start_as_voter;
  stats_.log_ring_bytes = ring_bytes();
  batch_index_.assign(64, 0);
  batch_index_mask_ = batch_index_.size() - 1;
  inflight_.reserve(config_.max_inflight + 1);
  to_propose_.reserve(64);
}

ReplicationPlane::Batch& ReplicationPlane::new_batch() {
  if ((live_batches_ + 1) * 2 > batch_index_.size()) {
    // Twice the slots: ids distinct modulo n stay distinct modulo 2n, so nothing collides.
    batch_index_.assign(batch_index_.size() * 2, 0);
    batch_index_mask_ = batch_index_.size() - 1;
    for (size_t i = 0; i < batch_pool_.size(); ++i) {
      const uint64_t id = batch_pool_[i].id;
      if (id != 0) batch_index_[id & batch_index_mask_] = static_cast<uint32_t>(i + 1);
    }
  }
  uint64_t id;
  do {  // ids only need to be unique and increasing: skip those whose index entry is taken
    id = (uint64_t{config_.self_id + 1} << 56) | (++batch_seq_ & ((uint64_t{1} << 56) - 1));
  } while (batch_index_[id & batch_index_mask_] != 0);
  uint32_t slot;
  if (!free_batches_.empty()) {
    slot = free_batches_.back();
    free_batches_.pop_back();
  } else {
    batch_pool_.emplace_back();
    slot = static_cast<uint32_t>(batch_pool_.size() - 1);
  }
  Batch& b = batch_pool_[slot];
  assert(b.id == 0 && b.count == 0 && b.payload.empty() && b.tickets.empty());
  b.id = id;
  batch_index_[id & batch_index_mask_] = slot + 1;
  ++live_batches_;
  return b;
}

void ReplicationPlane::release_batch(Batch& b) {
  assert(b.id != 0 && find_batch(b.id) == &b);
  const uint32_t slot = batch_index_[b.id & batch_index_mask_] - 1;
  batch_index_[b.id & batch_index_mask_] = 0;
  b.id = 0;
  b.count = 0;
  b.payload.clear();
  b.tickets.clear();
  // Keep a few warm Batches with their buffers; beyond those (after a burst), give memory back.
  if (free_batches_.size() >= kWarmBatches) {
    std::vector<uint8_t>().swap(b.payload);
    std::vector<uint64_t>().swap(b.tickets);
  }
  free_batches_.push_back(slot);
  --live_batches_;
}

PeerLink* ReplicationPlane::link(uint32_t id) {
  for (PeerLink& p : peers_) {
    if (p.id == id) return &p;
  }
  return nullptr;
}

uint32_t ReplicationPlane::confirmed_count() const {
  // Learners receive everything but count toward nothing.
  return count_members(confirmed_mask_ & peer_voters_);
}

uint64_t ReplicationPlane::tag(uint64_t value) const {
  return ((term_ & 0xfff) << kIndexBits) | (value & kIndexMask);
}
bool ReplicationPlane::current_term(uint64_t wr_value) const {
  return (wr_value >> kIndexBits) == (term_ & 0xfff);
}
uint64_t ReplicationPlane::untag(uint64_t wr_value) const { return wr_value & kIndexMask; }

// ---------------------------------------------------------------------------------------------
// Proposals

ProposeResult ReplicationPlane::propose(const void* request, uint32_t length, uint64_t ticket) {
  if (role_ == Role::kFollower) return {ProposeStatus::kNotLeader, leader_};
  if (!serving_) return {ProposeStatus::kNotLeader, std::nullopt};
  if (length > config_.max_request_bytes) return {ProposeStatus::kTooLarge, leader_};
  if (pending_requests_ >= config_.max_pending) {
    ++stats_.log_full_events;
    return {ProposeStatus::kLogFull, leader_};
  }
  // Batching: requests queued between two polls share an entry, up to the batch limits.
  Batch* batch = nullptr;
  if (open_batch_ != 0) {
    Batch* open = find_batch(open_batch_);
    assert(open != nullptr);
    if (open->count < config_.max_batch_records &&
        open->payload.size() + record_bytes(length) <= config_.max_batch_bytes) {
      batch = open;
    }
  }
  if (batch == nullptr) {
    batch = &new_batch();
    open_batch_ = batch->id;
    to_propose_.push_back(open_batch_);
  }
  const size_t at = batch->payload.size();
  batch->payload.resize(at + record_bytes(length));
  append_record(batch->payload.data() + at, request, length);
  batch->tickets.push_back(ticket);
  ++batch->count;
  ++pending_requests_;
  ++stats_.proposals;
  return {ProposeStatus::kQueued, leader_};
}

// ---------------------------------------------------------------------------------------------
// The poll loop

bool ReplicationPlane::poll() {
  bool progress = false;
  // A ready leader's upkeep works on timescales of tens of microseconds and more: the background
  // CQ (heartbeat reads, permission traffic), its permission manager (a would-be leader's request),
  // late grants, lost followers, idle commit publication and log-head refresh are looked at every
  // housekeeping_interval_ns(), not on every poll of the replication loop. Followers and every
  // failover phase look at everything on every poll.
  const bool ready = phase_ == Phase::kReady;
  bool housekeeping = !ready;
  if (ready) {
    const uint64_t t = now();
    if (t >= next_housekeeping_ns_) {
      next_housekeeping_ns_ = t + config_.housekeeping_interval_ns();
      housekeeping = true;
    }
  }
  // A ready leader sends what was proposed since the last poll before it looks at completions:
  // the send is the start of the request's round trip, the CQ polls are not. Safe before this
  // poll's permission check: only permissions_.poll() below hands our log to another candidate,
  // and the check right after it finds that out before anything else is sent.
  if (ready && !to_propose_.empty() && quorum()) progress |= fill_pipeline();
  Completion* cs = completions_;  // a member: not constructed (32 × 24 bytes) on every poll
  int n = memory_.log_cq->poll(cs, kCompletionsPerPoll);
  for (int i = 0; i < n; ++i) on_log_completion(cs[i]);
  progress |= n > 0;
  // What these acks decided is applied (and answered) now, not after the rest of the poll: a
  // decided entry stays decided whatever the checks below find.
  if (n > 0 && role_ != Role::kFollower && applied_index_ < known_commit_) apply_committed();
  if (housekeeping) {
    n = memory_.bg_cq->poll(cs, kCompletionsPerPoll);
    for (int i = 0; i < n; ++i) on_bg_completion(cs[i]);
    progress |= n > 0;
    progress |= permissions_.poll() > 0;
    // Our own log now belongs to another candidate: our local copy no longer counts as an
    // accept, so continuing would let two leaders each see a majority. Start over (Mu §4.2).
    if (role_ != Role::kFollower && permissions_.holder() != config_.self_id) {
      abort("our own permission manager granted another candidate");
      start_candidacy();
    }
  }
  if (role_ != Role::kFollower) progress |= advance_leader(housekeeping);
  progress |= apply_committed();
  return progress;
}

void ReplicationPlane::set_leader(uint32_t leader_id) {
  assert(leader_id < config_.replica_count);
  leader_ = leader_id;
  permissions_.set_leader_view(leader_id);
  if (leader_id == config_.self_id) {
    if (role_ == Role::kFollower && voter_) start_candidacy();
  } else if (role_ != Role::kFollower) {
    step_down();
  }
}

void ReplicationPlane::update_peer(const PeerLink& fresh) {
  PeerLink* p = link(fresh.id);
  assert(p != nullptr && fresh.log_qp == p->log_qp && fresh.bg_qp == p->bg_qp);
  *p = fresh;
  permissions_.forget(p->id);  // first: the new incarnation starts without write access
  fabric::cycle_qp(*memory_.device, *p->log_qp, permissions_.access_for(p->id), p->log_qp_peer);
  fabric::cycle_qp(*memory_.device, *p->bg_qp, fabric::kRemoteRead | fabric::kRemoteWrite,
                   p->bg_qp_peer);
  reset_peer(p->id);
  peer_voters_ &= ~(1u << p->id);
  if (detector_ != nullptr) detector_->forget(p->id);
}

void ReplicationPlane::set_no_leader() {
  leader_.reset();
  permissions_.set_leader_view(kMaxReplicas);
  if (role_ != Role::kFollower) step_down();
}

void ReplicationPlane::step_down() {
  role_ = Role::kFollower;
  phase_ = Phase::kIdle;
  ++term_;
  for (PeerLink& p : peers_) reset_peer(p.id);
  inflight_.clear();
  // Not known to be decided: the new leader may still decide some (then our apply answers them
  // as usual); the front end must treat the rest as unknown outcomes.
  // The queued ones in queue order, then the rest (accepted, not known decided) oldest first.
  for (size_t i = 0; i < to_propose_.size(); ++i) {
    Batch* b = find_batch(to_propose_[i]);
    if (b == nullptr) continue;
    for (uint64_t ticket : b->tickets) state_machine_->abandoned(ticket);
    pending_requests_ -= b->count;
    release_batch(*b);
  }
  std::vector<std::pair<uint64_t, uint32_t>> rest;  // (id, pool slot): rare path, may allocate
  for (size_t i = 0; i < batch_pool_.size(); ++i) {
    if (batch_pool_[i].id != 0) rest.emplace_back(batch_pool_[i].id, static_cast<uint32_t>(i));
  }
  std::sort(rest.begin(), rest.end());
  for (const auto& [id, slot] : rest) {
    Batch& b = batch_pool_[slot];
    for (uint64_t ticket : b.tickets) state_machine_->abandoned(ticket);
    pending_requests_ -= b.count;
    release_batch(b);
  }
  assert(live_batches_ == 0);
  to_propose_.clear();
  open_batch_ = 0;
  assert(pending_requests_ == 0);
}

// ---------------------------------------------------------------------------------------------
// Leader: permission (Mu §4.2), then prepare (§4.1), catch-up, and the accept fast path.

void ReplicationPlane::start_candidacy() {
  role_ = Role::kCandidate;
  ++term_;
  milestones_ = LeaderMilestones{};
  milestones_.became_candidate_ns = now();
  last_progress_ns_ = now();
  phase_ = Phase::kAcquire;
  // Our own permission manager first: revoke every peer's write access to our log.
  self_request_seq_ = ++request_seq_;
  auto* bg = reinterpret_cast<BackgroundLayout*>(memory_.background);
  const PermissionSlot self_request = PermissionSlot::make(self_request_seq_, 0);
  std::memcpy(&bg->requests[config_.self_id], &self_request, sizeof self_request);
  permissions_.poll();
  if (const PermissionSwitch* sw = permissions_.last_switch();
      sw != nullptr && sw->candidate == config_.self_id && sw->request_seq == self_request_seq_) {
    milestones_.grants.push_back({config_.self_id, sw->mechanism, sw->duration_ns, now()});
  }
  for (PeerLink& p : peers_) {
    reset_peer(p.id);
    send_permission_request(p);
  }
  last_rejoin_ns_ = now();
}

void ReplicationPlane::send_permission_request(PeerLink& p) {
  PeerState& ps = peer_state_[p.id];
  uint64_t flags = 0;
  // A QP side in ERR/RESET cannot carry anything; cycling needs both sides (fabric.h contract 2).
  // Nor may anything we posted in an earlier term still be queued or on the wire: granted again,
  // the peer would let such a WRITE land over slots another leader decided meanwhile (and ahead of
  // this term's prepare READs, which would read it back). Resetting our side drops them; the
  // grantor cycles its side too. We post on a peer's log QP only after it granted us, so "granted
  // since the last cycle" covers it; a fresh candidate (a follower until now) has no such grant.
  if (p.log_qp->state() != QpState::kRts || granted_since_cycle_[p.id]) {
    fabric::cycle_qp(*memory_.device, *p.log_qp, permissions_.access_for(p.id), p.log_qp_peer);
    flags |= kRequestPleaseCycle;
    granted_since_cycle_[p.id] = false;
  }
  ps.request_seq = ++request_seq_;
  ps.request_sent_ns = now();
  ps.granted = false;
  if (detector_ != nullptr) {
    // The detector paces background QP repair (cycle_background): posting into a quiet window
    // would break the window the peer's side is meant to land in. Asked again after
    // request_timeout_ns.
    const uint64_t t = ps.request_sent_ns;
    if (p.bg_qp->state() != QpState::kRts && !detector_->background_quiet(p.id, t)) {
      detector_->cycle_background(p, t);
    }
    if (!detector_->background_usable(p, t)) return;
  } else if (p.bg_qp->state() != QpState::kRts) {
    fabric::cycle_qp(*memory_.device, *p.bg_qp, fabric::kRemoteRead | fabric::kRemoteWrite,
                     p.bg_qp_peer);
  }
  const PermissionSlot request = PermissionSlot::make(ps.request_seq, flags);
  uint8_t* source = scratch(p.id, ScratchLayout::kRequestSource);
  std::memcpy(source, &request, sizeof request);
  fabric::WorkRequest wr;
  wr.wr_id = make_wr_id(WrKind::kRequest, p.id, ps.request_seq);
  wr.opcode = fabric::Opcode::kWrite;
  wr.local_addr = source;
  wr.length = sizeof request;
  wr.lkey = memory_.scratch_mr->lkey();
  wr.remote_addr = p.background.addr + background_offset::request(config_.self_id);
  wr.rkey = p.background.rkey;
  wr.inline_data = sizeof request <= p.bg_qp->max_inline();
  (void)p.bg_qp->post(wr);  // failure: no ack will come; retried after request_timeout_ns
}

bool ReplicationPlane::collect_acks() {
  bool progress = false;
  auto* bg = reinterpret_cast<BackgroundLayout*>(memory_.background);
  for (PeerLink& p : peers_) {
    PeerState& ps = peer_state_[p.id];
    if (ps.granted || ps.request_seq == 0) continue;
    PermissionSlot ack;
    if (!PermissionSlot::load(&bg->acks[p.id], &ack) || ack.seq != ps.request_seq) continue;
    if ((ack.flags & kAckCycled) || p.log_qp->state() != QpState::kRts) {
      fabric::cycle_qp(*memory_.device, *p.log_qp, permissions_.access_for(p.id), p.log_qp_peer);
    }
    if (ack.flags & kAckNewRkey) p.log.rkey = static_cast<uint32_t>(ack.rkey);
    ps.granted = true;
    granted_since_cycle_[p.id] = true;  // marked here, not on every post (the fast path)
    milestones_.grants.push_back({p.id, static_cast<fabric::PermissionMechanism>(ack.mechanism),
                                  ack.switch_ns, now()});
    progress = true;
  }
  return progress;
}

bool ReplicationPlane::advance_leader(bool housekeeping) {
  // housekeeping: see poll() (always true outside a ready leader's steady state).
  bool progress = housekeeping && collect_acks();
  switch (phase_) {
    case Phase::kIdle:
      return progress;
    case Phase::kAcquire: {
      uint32_t granted = 0;
      for (PeerLink& p : peers_) granted += peer_state_[p.id].granted && (peer_voters_ >> p.id & 1);
      if (granted + 1 >= majority(config_.replica_count)) {
        milestones_.permissions_ns = now();
        last_progress_ns_ = now();
        confirmed_mask_ = 0;
        for (PeerLink& p : peers_) confirmed_mask_ |= uint32_t{peer_state_[p.id].granted} << p.id;
        begin_read_headers();
        return true;
      }
      // Requests that went unanswered (lost, or the peer is down): ask again, with a new seq.
      for (PeerLink& p : peers_) {
        PeerState& ps = peer_state_[p.id];
        if (!ps.granted && now() - ps.request_sent_ns >= config_.request_timeout_ns) {
          send_permission_request(p);
        }
      }
      return progress;
    }
    case Phase::kReadHeaders:
      if (!phase_reads_done()) return progress;
      if (!quorum()) return abort("lost quorum reading headers"), true;
      begin_catch_up_self();
      return true;
    case Phase::kCatchUpSelf:
      if (prepare_writes_outstanding_ > 0) return progress;
      if (!quorum()) return abort("lost quorum catching ourselves up"), true;
      finish_catch_up_self();
      return true;
    case Phase::kAwaitTransfer:
      // install_snapshot() moves us on. Meanwhile we hold permissions but commit nothing: if
      // it takes long, fate sharing hands leadership to someone else.
      if (!quorum()) return abort("lost quorum waiting for the state"), true;
      return progress;
    case Phase::kReadSlot:
      if (!phase_reads_done() || prepare_writes_outstanding_ > 0) return progress;
      if (!quorum()) return abort("lost quorum during prepare"), true;
      decide_slot();
      return true;
    case Phase::kAcceptAdopted:
      // advance_commit() moves us on once the adopted entry is decided.
      if (!quorum()) return abort("lost quorum accepting an adopted value"), true;
      return progress;
    case Phase::kReady:
      if (!quorum()) return abort("lost quorum"), true;
      progress |= fill_pipeline();
      if (housekeeping) {
        progress |= retry_lost_peers();
        progress |= maybe_publish_commit();
        progress |= maybe_refresh_heads();
      }
      return progress;
  }
  return progress;
}

bool ReplicationPlane::phase_reads_done() const {
  for (const PeerLink& p : peers_) {
    if (confirmed(p.id) && peer_state_[p.id].busy) return false;
  }
  return true;
}

void ReplicationPlane::abort(const char* why) {
  (void)why;
  ++stats_.aborts;
  ++term_;  // completions of the aborted attempt are ignored from now on
  role_ = Role::kCandidate;
  // Undecided entries go back to the proposal queue, in order, ahead of newer requests; if
  // another copy gets decided through adoption, apply skips the duplicate by batch id.
  for (size_t i = inflight_.size(); i-- > 0;) {
    const uint64_t id = inflight_[i].batch_id;
    if (id != 0 && find_batch(id) != nullptr) to_propose_.push_front(id);
  }
  inflight_.clear();
  open_batch_ = 0;
  next_index_ = commit_index_;
  next_vpos_ = commit_vpos_;
  prepare_writes_outstanding_ = 0;
  phase_ = Phase::kAcquire;
  for (PeerLink& p : peers_) {
    reset_peer(p.id);
    send_permission_request(p);
  }
}

// Back to prepare while keeping the permissions we hold: undecided entries go back to the queue
// (as in abort), completions of the current attempt are ignored from now on.
void ReplicationPlane::reprepare(const char* why) {
  (void)why;
  ++stats_.reprepares;
  ++term_;
  role_ = Role::kCandidate;
  for (size_t i = inflight_.size(); i-- > 0;) {
    const uint64_t id = inflight_[i].batch_id;
    if (id != 0 && find_batch(id) != nullptr) to_propose_.push_front(id);
  }
  inflight_.clear();
  open_batch_ = 0;
  next_index_ = commit_index_;
  next_vpos_ = commit_vpos_;
  prepare_writes_outstanding_ = 0;
  for (PeerLink& p : peers_) {
    PeerState& ps = peer_state_[p.id];
    ps.busy = false;
    ps.header_read_in_flight = false;
    ps.joining = false;  // its header read belongs to the old attempt: asked again when ready
  }
  last_progress_ns_ = now();
  begin_read_headers();
}

void ReplicationPlane::begin_read_headers() {
  phase_ = Phase::kReadHeaders;
  ++stats_.prepares;
  // Everything we know to be decided is applied first: our log is now only written by us, so
  // the commit point and where it lives (commit_vpos_) come from our own applied state.
  for (int guard = 0; guard < 1 << 20 && applied_index_ < known_commit_; ++guard) {
    if (!apply_committed()) break;
  }
  commit_index_ = applied_index_;
  commit_vpos_ = applied_vpos_;
  next_index_ = commit_index_;
  next_vpos_ = commit_vpos_;
  published_commit_ = 0;
  for (PeerLink& p : peers_) {
    PeerState& ps = peer_state_[p.id];
    if (!confirmed(p.id)) continue;
    ps.busy = true;
    post_read(p, WrKind::kReadHeader, tag(0), scratch(p.id, ScratchLayout::kHeaderRead),
              memory_.scratch_mr->lkey(), sizeof(LogHeader), 0);
  }
}

// A confirmed follower may have applied entries past our commit point (we were paused or cut
// off while others went on). Those are decided, and prepare's slot reads cannot be trusted for
// them: the follower may have recycled their bytes, and reading "empty" there would let us
// decide something else (or re-decide a stale value of our own) at a decided index. So first
// copy them from the follower that applied the most: READ its ring over ours (same offsets),
// then validate and apply (finish_catch_up_self). Nothing else writes our ring meanwhile: our
// own permission manager revoked every peer when we became candidate.
void ReplicationPlane::begin_catch_up_self() {
  const PeerLink* ahead = nullptr;
  for (const PeerLink& p : peers_) {
    const PeerState& ps = peer_state_[p.id];
    if (confirmed(p.id) && ps.last_header.applied_index > commit_index_ &&
        (ahead == nullptr || ps.last_header.applied_index > peer_state_[ahead->id].last_header.applied_index)) {
      ahead = &p;
    }
  }
  if (ahead == nullptr) return begin_write_min_proposal();
  const LogHeader& h = peer_state_[ahead->id].last_header;
  phase_ = Phase::kCatchUpSelf;
  ahead_peer_ = ahead->id;
  ahead_applied_index_ = h.applied_index;
  prepare_writes_outstanding_ = 0;
  ahead_reads_posted_ = ahead_reads_done_ = 0;
  ahead_read_failed_ = false;
  if (h.applied_vpos < commit_vpos_ || h.applied_vpos - commit_vpos_ > ring_bytes()) {
    return finish_catch_up_self();  // more than a ring behind: nothing to READ
  }
  PeerLink& p = *link(ahead->id);
  for (uint64_t at = commit_vpos_; at < h.applied_vpos;) {
    const uint64_t offset = at % ring_bytes();
    const uint64_t chunk =
        std::min<uint64_t>({h.applied_vpos - at, ring_bytes() - offset, kCatchUpChunkBytes});
    if (!post_read(p, WrKind::kCatchUpRead, tag(0), ring() + offset, memory_.log_mr->lkey(),
                   static_cast<uint32_t>(chunk), kHeaderBytes + offset)) {
      ahead_read_failed_ = true;
      return;  // finish_catch_up_self starts over without it (quorum permitting)
    }
    ++prepare_writes_outstanding_;
    ++ahead_reads_posted_;
    at += chunk;
  }
}

void ReplicationPlane::finish_catch_up_self() {
  // Apply what the READs brought: every intact entry up to the follower's log head is decided.
  // Only entries READ from it, never our own older copies (possibly undecided values) in the
  // same places, so without READs (more than a ring behind) nothing is applied here.
  if (ahead_read_failed_) {
    // The follower failed under us: we know nothing about those entries (the READ may have
    // landed in part). Prepare again with whoever is left; one of them may be ahead too.
    return reprepare("the follower we were catching up from failed");
  }
  if (ahead_reads_posted_ > 0 && ahead_reads_done_ == ahead_reads_posted_) {
    const uint64_t known = known_commit_;
    known_commit_ = std::max(known_commit_, ahead_applied_index_);
    for (int guard = 0; guard < 1 << 20 && applied_index_ < ahead_applied_index_; ++guard) {
      if (!apply_committed()) break;
    }
    known_commit_ = std::max(known, applied_index_);
  }
  if (applied_index_ >= ahead_applied_index_) {
    ++stats_.self_catch_ups;
    commit_index_ = applied_index_;
    commit_vpos_ = applied_vpos_;
    next_index_ = commit_index_;
    next_vpos_ = commit_vpos_;
    return begin_write_min_proposal();
  }
  // Recycled in its ring as well: only its state can bring us up. We keep our permissions and
  // wait (transfer_wanted() names the follower; the engine fetches, install_snapshot resumes).
  phase_ = Phase::kAwaitTransfer;
  ++stats_.self_transfers;
  __atomic_store_n(&local_header().transfer_request, transfer_request(ahead_peer_, applied_index_),
                   __ATOMIC_RELEASE);
}

// Prepare proper, in one round trip: per confirmed follower, the WRITE of our proposal number,
// the catch-up WRITEs if it lags, and the READ of the slot at next_index_ are posted together.
// The QP executes them in order at the follower, so the READ sees the slot after our promise
// and after the catch-up — as if they had been done one after the other — and a failed WRITE
// fails the READ behind it (the QP stops at the error).
void ReplicationPlane::begin_write_min_proposal() {
  // A unique proposal number above every minProposal seen: [round:56][replica id:8].
  uint64_t highest = std::max(local_header().min_proposal, proposal_);
  for (PeerLink& p : peers_) {
    if (confirmed(p.id)) highest = std::max(highest, peer_state_[p.id].last_header.min_proposal);
  }
  proposal_ = ((highest >> 8) + 1) << 8 | config_.self_id;
  local_header().min_proposal = proposal_;
  stats_.proposal = proposal_;
  prepare_writes_outstanding_ = 0;
  for (PeerLink& p : peers_) {
    if (!confirmed(p.id)) continue;
    uint8_t* source = scratch(p.id, ScratchLayout::kMinProposalSource);
    std::memcpy(source, &proposal_, sizeof proposal_);
    if (post_write(p, WrKind::kWriteMinProposal, tag(0), source, memory_.scratch_mr->lkey(),
                   sizeof proposal_, header_offset::kMinProposal, true)) {
      ++prepare_writes_outstanding_;
    }
    const LogHeader& h = peer_state_[p.id].last_header;
    if (confirmed(p.id) && h.applied_index < commit_index_) {
      catch_up_peer(p.id, h.applied_index, h.applied_vpos, commit_vpos_);
    }
  }
  begin_read_slot();
}

// Copies our log bytes [from_vpos, to_vpos) into the peer's ring, after checking that they are
// still ours to copy (not recycled). A peer that cannot be caught up leaves the confirmed set.
void ReplicationPlane::catch_up_peer(uint32_t peer_id, uint64_t from_index, uint64_t from_vpos,
                                     uint64_t to_vpos) {
  PeerLink& p = *link(peer_id);
  // Every entry of the range must still be intact here: recycling may have reused its bytes.
  bool intact = to_vpos >= from_vpos && to_vpos - from_vpos <= ring_bytes();
  const size_t max_payload = config_.max_entry_bytes() - entry_bytes(0);
  DecodedEntry e;
  for (uint64_t index = from_index, vpos = from_vpos; intact && vpos < to_vpos; ++index) {
    const uint64_t at = position(vpos);
    if (at >= to_vpos) break;  // only the skipped tail of a lap remains
    intact = read_entry(ring(), ring_bytes(), at, index, max_payload, apply_scratch_, &e) ==
             EntryRead::kValid;
    vpos = at + entry_bytes(e.header.payload_bytes);
  }
  if (!intact) {
    // Its missing entries were recycled: it must fetch the applied state (state_transfer.h).
    // Ask it in its log header (we hold write permission there), naming the log head we saw so
    // that it ignores the request once it has moved on. Until its log head is one we can catch
    // up from, it stays out of the confirmed set (and out of every quorum); asked again later.
    // The state comes from the most advanced confirmed follower when there is one, so that our
    // engine thread does not stop committing while a large state is serialized; its applied
    // point is past what we recycled (we keep what confirmed followers have not applied), so
    // the tail after it is ours to copy. Otherwise from us.
    uint32_t state_source = config_.self_id;
    uint64_t source_applied = 0;
    for (const PeerLink& other : peers_) {
      const PeerState& os = peer_state_[other.id];
      if (other.id != peer_id && confirmed(other.id) && os.last_header.applied_index > source_applied &&
          os.last_header.applied_index > from_index) {
        state_source = other.id;
        source_applied = os.last_header.applied_index;
      }
    }
    uint8_t* source = scratch(peer_id, ScratchLayout::kTransferRequestSource);
    const uint64_t request = transfer_request(state_source, from_index);
    std::memcpy(source, &request, sizeof request);
    if (post_write(p, WrKind::kTransferRequest, tag(0), source, memory_.scratch_mr->lkey(),
                   sizeof request, header_offset::kTransferRequest, true)) {
      ++stats_.transfers_requested;
    }
    reset_peer(peer_id);
    peer_state_[peer_id].request_sent_ns = now();
    ++stats_.peer_failures;
    ++stats_.catch_up_impossible;
    return;
  }
  uint64_t at = from_vpos;
  while (at < to_vpos) {
    const uint64_t offset = at % ring_bytes();
    // Bounded WRITEs: fabrics cap one message (the soft NIC at 4 MiB); the QP keeps their order.
    const uint64_t chunk = std::min<uint64_t>(
        {to_vpos - at, ring_bytes() - offset, kCatchUpChunkBytes});
    if (!post_write(p, WrKind::kCatchUp, tag(0), ring() + offset, memory_.log_mr->lkey(),
                    static_cast<uint32_t>(chunk), kHeaderBytes + offset, false)) {
      return;
    }
    ++prepare_writes_outstanding_;
    at += chunk;
  }
}

void ReplicationPlane::begin_read_slot() {
  phase_ = Phase::kReadSlot;
  const uint64_t at = position(next_vpos_);
  for (PeerLink& p : peers_) {
    PeerState& ps = peer_state_[p.id];
    if (!confirmed(p.id)) continue;
    ps.busy = true;
    post_read(p, WrKind::kReadSlot, tag(next_index_), scratch(p.id, ScratchLayout::kFixedBytes),
              memory_.scratch_mr->lkey(), static_cast<uint32_t>(config_.max_entry_bytes()),
              kHeaderBytes + at % ring_bytes());
  }
}

void ReplicationPlane::decide_slot() {
  const uint64_t at = position(next_vpos_);
  const size_t max_payload = config_.max_entry_bytes() - entry_bytes(0);
  // Our own acceptor state counts too.
  DecodedEntry best;
  bool found = false;
  const uint8_t* best_bytes = nullptr;
  DecodedEntry mine;
  if (read_entry(ring(), ring_bytes(), at, next_index_, max_payload, apply_scratch_, &mine) ==
      EntryRead::kValid) {
    best = mine;
    best_bytes = apply_scratch_.data();
    found = true;
  }
  for (PeerLink& p : peers_) {
    if (!confirmed(p.id)) continue;
    const uint8_t* buf = scratch(p.id, ScratchLayout::kFixedBytes);
    DecodedEntry theirs;
    if (decode_entry(buf, config_.max_entry_bytes(), at, next_index_, max_payload, &theirs) !=
        EntryRead::kValid) {
      continue;  // empty, stale or torn (a torn copy was never completely accepted there)
    }
    if (!found || theirs.header.proposal > best.header.proposal) {
      best = theirs;
      best_bytes = buf;
      found = true;
    }
  }
  if (!found) {
    // Every slot read was empty: no value can have been decided at or after next_index_ by an
    // earlier leader, so prepare is omitted from now on (until the next abort).
    phase_ = Phase::kReady;
    role_ = Role::kLeader;
    if (milestones_.prepared_ns == 0) milestones_.prepared_ns = now();  // a re-prepare keeps the first
    stats_.confirmed_followers = confirmed_count();
    // A no-op entry right away establishes the new term's commit point (the first commit of a
    // failover timeline) even when no client is waiting. Requests re-queued at the abort that
    // prepare has just decided by adoption are not waiting any more (fill_pipeline would skip
    // them): without this, a re-prepare that adopted everything left the term with no first
    // commit until the next client request (engine test: 2 to 5 runs in 40 failed).
    while (!to_propose_.empty() && find_batch(to_propose_.front()) == nullptr) {
      if (open_batch_ == to_propose_.front()) open_batch_ = 0;
      to_propose_.pop_front();
    }
    if (to_propose_.empty()) accept(next_index_, 0, EntryKind::kNoop, 0, nullptr, 0);
    return;
  }
  // Adopt: re-propose the highest-proposal value found, with our proposal number.
  ++stats_.adopted;
  adopt_entry_.assign(best_bytes + sizeof(EntryHeader),
                      best_bytes + sizeof(EntryHeader) + best.header.payload_bytes);
  const EntryHeader h = best.header;
  phase_ = Phase::kAcceptAdopted;
  accept(next_index_, h.batch_id, h.kind, h.record_count, adopt_entry_.data(), h.payload_bytes);
}

bool ReplicationPlane::space_for(uint64_t at, size_t bytes) const {
  // The oldest byte any confirmed replica (or we) still needs: never overwrite it.
  uint64_t oldest = applied_vpos_;
  for (const PeerLink& p : peers_) {
    const PeerState& ps = peer_state_[p.id];
    if (confirmed(p.id)) oldest = std::min(oldest, ps.last_header.applied_vpos);
  }
  return at + bytes - oldest <= ring_bytes();
}

void ReplicationPlane::accept(uint64_t index, uint64_t batch_id, EntryKind kind, uint16_t count,
                              const uint8_t* payload, uint32_t payload_bytes) {
  assert(index == next_index_);
  const uint64_t at = position(next_vpos_);
  EntryHeader h;
  h.index = index;
  h.proposal = proposal_;
  h.commit = commit_index_;
  h.vpos = at;
  h.payload_bytes = payload_bytes;
  h.kind = kind;
  h.record_count = count;
  h.batch_id = batch_id;
  uint8_t* local = ring() + at % ring_bytes();
  const uint32_t bytes = static_cast<uint32_t>(encode_entry(local, h, payload));
  if (own_term_ != term_) {
    own_term_ = term_;
    own_from_index_ = index;
  }
  Inflight f;
  const uint64_t t = now();
  f.posted_ns = t;
  f.index = index;
  f.vpos = at;
  f.bytes = bytes;
  f.batch_id = batch_id;
  f.acks = 1u << config_.self_id;  // our own copy is written
  inflight_.push_back(f);
  for (PeerLink& p : peers_) {
    if (!confirmed(p.id)) continue;
    post_write(p, WrKind::kAccept, tag(index), local, memory_.log_mr->lkey(), bytes,
               kHeaderBytes + at % ring_bytes(), true);
  }
  next_index_ = index + 1;
  next_vpos_ = at + bytes;
  last_send_ns_ = t;
  // A single-replica group decides at once; otherwise only an ack can decide it.
  if (majority(config_.replica_count) == 1) advance_commit();
}

bool ReplicationPlane::fill_pipeline() {
  bool progress = false;
  while (inflight_.size() < config_.max_inflight && !to_propose_.empty()) {
    const uint64_t id = to_propose_.front();
    const Batch* found = find_batch(id);
    if (found == nullptr) {  // decided meanwhile through adoption
      to_propose_.pop_front();
      if (open_batch_ == id) open_batch_ = 0;
      continue;
    }
    const Batch& b = *found;
    const uint64_t at = position(next_vpos_);
    if (!space_for(at, entry_bytes(b.payload.size()))) {
      // Back-pressure: wait for followers to apply; refresh their heads now, not later.
      for (PeerLink& p : peers_) peer_state_[p.id].header_read_ns = 0;
      break;
    }
    to_propose_.pop_front();
    if (open_batch_ == id) open_batch_ = 0;
    accept(next_index_, id, EntryKind::kData, b.count, b.payload.data(),
           static_cast<uint32_t>(b.payload.size()));
    progress = true;
  }
  return progress;
}

bool ReplicationPlane::maybe_publish_commit() {
  // Followers learn the commit point from the next entry; when there is none for a while, the
  // leader writes it into their headers so they never lag by "the last entry" forever.
  if (commit_index_ <= published_commit_ || !inflight_.empty()) return false;
  if (now() - last_send_ns_ < config_.commit_publish_ns) return false;
  for (PeerLink& p : peers_) {
    if (!confirmed(p.id)) continue;
    uint8_t* source = scratch(p.id, ScratchLayout::kCommitSource);
    std::memcpy(source, &commit_index_, sizeof commit_index_);
    post_write(p, WrKind::kCommit, tag(commit_index_), source, memory_.scratch_mr->lkey(),
               sizeof commit_index_, header_offset::kCommit, true);
  }
  published_commit_ = commit_index_;
  last_send_ns_ = now();
  return true;
}

bool ReplicationPlane::maybe_refresh_heads() {
  bool progress = false;
  const uint64_t t = now();  // one clock read per poll, not one per peer
  for (PeerLink& p : peers_) {
    PeerState& ps = peer_state_[p.id];
    if (!confirmed(p.id) || ps.header_read_in_flight) continue;
    if (ps.header_read_ns != 0 && t - ps.header_read_ns < config_.head_refresh_ns) continue;
    ps.header_read_in_flight = true;
    ps.header_read_ns = t;
    post_read(p, WrKind::kReadHeader, tag(1), scratch(p.id, ScratchLayout::kHeaderRead),
              memory_.scratch_mr->lkey(), sizeof(LogHeader), 0);
    progress = true;
  }
  return progress;
}

bool ReplicationPlane::retry_lost_peers() {
  bool progress = false;
  for (PeerLink& p : peers_) {
    PeerState& ps = peer_state_[p.id];
    if (confirmed(p.id) || ps.joining) continue;
    if (ps.granted) {
      // Granted after the term started: read its log head, then catch it up (on completion).
      ps.joining = true;
      ps.header_read_in_flight = true;
      post_read(p, WrKind::kReadHeader, tag(2), scratch(p.id, ScratchLayout::kHeaderRead),
                memory_.scratch_mr->lkey(), sizeof(LogHeader), 0);
      progress = true;
    } else if (now() - ps.request_sent_ns >= config_.rejoin_retry_ns) {
      send_permission_request(p);
      progress = true;
    }
  }
  return progress;
}

bool ReplicationPlane::post_write(PeerLink& p, WrKind kind, uint64_t value, const uint8_t* source,
                                  uint32_t lkey, uint32_t length, uint64_t remote_offset,
                                  bool allow_inline) {
  fabric::WorkRequest wr;
  wr.wr_id = make_wr_id(kind, p.id, value);
  wr.opcode = fabric::Opcode::kWrite;
  wr.local_addr = const_cast<uint8_t*>(source);
  wr.length = length;
  wr.lkey = lkey;
  wr.remote_addr = p.log.addr + remote_offset;
  wr.rkey = p.log.rkey;
  wr.inline_data = allow_inline && length <= p.log_qp->max_inline();
  if (p.log_qp->post(wr).ok()) return true;
  peer_failed(p.id);
  return false;
}

bool ReplicationPlane::post_read(PeerLink& p, WrKind kind, uint64_t value, uint8_t* destination,
                                 uint32_t lkey, uint32_t length, uint64_t remote_offset) {
  fabric::WorkRequest wr;
  wr.wr_id = make_wr_id(kind, p.id, value);
  wr.opcode = fabric::Opcode::kRead;
  wr.local_addr = destination;
  wr.length = length;
  wr.lkey = lkey;
  wr.remote_addr = p.log.addr + remote_offset;
  wr.rkey = p.log.rkey;
  if (p.log_qp->post(wr).ok()) return true;
  peer_failed(p.id);
  return false;
}

void ReplicationPlane::peer_failed(uint32_t peer_id) {
  PeerState& ps = peer_state_[peer_id];
  if (!confirmed(peer_id) && !ps.granted && !ps.joining) return;
  ++stats_.peer_failures;
  // A minority failure drops the peer; the leader carries on if a majority remains. The QP is in
  // ERR now; it is cycled when we ask this peer for permission again.
  reset_peer(peer_id);
  ps.request_sent_ns = now();
}

void ReplicationPlane::on_log_completion(const Completion& c) {
  const WrKind kind = wr_kind(c.wr_id);
  const uint32_t peer = wr_peer(c.wr_id);
  const uint64_t value = wr_value(c.wr_id);
  if (peer >= kMaxReplicas || link(peer) == nullptr) return;
  if (!current_term(value) || role_ == Role::kFollower) return;  // an earlier attempt's
  if (c.status != WcStatus::kSuccess) {
    if (kind == WrKind::kCatchUpRead) ahead_read_failed_ = true;
    // A prepare-phase WRITE that failed is no longer outstanding either.
    if ((kind == WrKind::kWriteMinProposal || kind == WrKind::kCatchUp ||
         kind == WrKind::kCatchUpRead) &&
        prepare_writes_outstanding_ > 0) {
      --prepare_writes_outstanding_;
    }
    peer_failed(peer);
    return;
  }
  PeerState& ps = peer_state_[peer];
  switch (kind) {
    case WrKind::kAccept:
      note_ack(peer, untag(value));
      return;
    case WrKind::kReadHeader: {
      std::memcpy(&ps.last_header, scratch(peer, ScratchLayout::kHeaderRead), sizeof(LogHeader));
      ps.header_read_in_flight = false;
      ps.header_read_ns = now();
      if (untag(value) == 0) {
        ps.busy = false;  // prepare's header read
      } else if (untag(value) == 2 && ps.joining && phase_ != Phase::kReady) {
        ps.joining = false;  // not now (we are preparing): retry_lost_peers asks again later
      } else if (untag(value) == 2 && ps.joining && phase_ == Phase::kReady) {
        // A late grant. Between our prepare and this grant the peer may have accepted values
        // from another leader (it granted them permission meanwhile), so "prepare omitted"
        // no longer holds for a set that includes it (DESIGN.md §8: a stale skip-prepare flag).
        // Prepare again, with it: reads of its log adopt anything decided without us.
        ps.joining = false;
        confirmed_mask_ |= 1u << peer;
        reprepare("a follower granted permission after our prepare");
      }
      return;
    }
    case WrKind::kCatchUpRead:
      ++ahead_reads_done_;
      [[fallthrough]];
    case WrKind::kWriteMinProposal:
    case WrKind::kCatchUp:
      if (prepare_writes_outstanding_ > 0) --prepare_writes_outstanding_;
      return;
    case WrKind::kReadSlot:
      ps.busy = false;
      return;
    case WrKind::kCommit:
    default:
      return;
  }
}

void ReplicationPlane::on_bg_completion(const Completion& c) {
  if (wr_kind(c.wr_id) == WrKind::kHeartbeatRead) {
    if (detector_ != nullptr) detector_->on_completion(c);
    return;
  }
  if (wr_kind(c.wr_id) == WrKind::kAck) {
    permissions_.on_completion(c);
    return;
  }
  // A failed permission request: the peer is unreachable for now; asked again later.
}

void ReplicationPlane::note_ack(uint32_t replica, uint64_t index) {
  if (inflight_.empty() || index < inflight_.front().index) return;
  const uint64_t pos = index - inflight_.front().index;
  if (pos >= inflight_.size()) return;
  inflight_[pos].acks |= 1u << replica;
  advance_commit();
}

void ReplicationPlane::advance_commit() {
  const uint32_t needed = majority(config_.replica_count);
  bool advanced = false;
  uint64_t t = 0;  // one clock read for everything this call decides (a read is ~25 ns on a VM)
  while (!inflight_.empty() &&
         count_members(inflight_.front().acks & voter_mask()) >= needed) {
    const Inflight& f = inflight_.front();
    if (t == 0) t = now();
    const uint64_t latency_ns = t - f.posted_ns;
    size_t bucket = 0;
    while (bucket + 1 < kLatencyBuckets && latency_ns > kLatencyBoundsMicros[bucket] * 1000) ++bucket;
    ++stats_.latency_buckets[bucket];
    stats_.latency_sum_ns += latency_ns;
    ++stats_.latency_count;
    commit_index_ = f.index + 1;
    commit_vpos_ = f.vpos + f.bytes;
    inflight_.pop_front();
    ++stats_.entries_decided;
    advanced = true;
  }
  if (!advanced) return;
  last_progress_ns_ = t;
  known_commit_ = std::max(known_commit_, commit_index_);
  // The new term's first commit: entries adopted during prepare are decided before it is done.
  if (milestones_.first_commit_ns == 0 && phase_ == Phase::kReady) milestones_.first_commit_ns = t;
  if (phase_ == Phase::kAcceptAdopted && inflight_.empty()) {
    begin_read_slot();  // the adopted value is decided: prepare the next index
  }
}

// ---------------------------------------------------------------------------------------------
// Every replica: learn the commit point, apply decided entries in order.

bool ReplicationPlane::apply_decided() {
  LogHeader& h = local_header();
  known_commit_ = std::max(known_commit_, __atomic_load_n(&h.commit, __ATOMIC_ACQUIRE));
  const size_t max_payload = config_.max_entry_bytes() - entry_bytes(0);
  DecodedEntry e;
  if (role_ == Role::kFollower) {
    // Learn piggybacked commit points from entries past the applied point. Only *learning*
    // happens here; an entry is applied after the commit point covering it was seen, by reading
    // it again (a newer leader may have replaced an undecided copy meanwhile). Each pass resumes
    // where the last one stopped: the entries before were read (and their commit points learned)
    // already. If that entry is not valid any more (a new leader rewrote the tail), the pass
    // scans from the applied point as well. Learning less is always safe: a later entry or the
    // leader's published commit point carries the same knowledge.
    uint64_t index = applied_index_;
    uint64_t vpos = applied_vpos_;
    if (learn_index_ > applied_index_) {
      index = learn_index_;
      vpos = learn_vpos_;
    }
    for (uint32_t k = 0; k < config_.applies_per_poll; ++k) {
      const uint64_t at = position(vpos);
      if (read_entry(ring(), ring_bytes(), at, index, max_payload, apply_scratch_, &e) !=
          EntryRead::kValid) {
        if (k == 0 && index != applied_index_) {
          index = applied_index_;
          vpos = applied_vpos_;
          continue;
        }
        break;
      }
      known_commit_ = std::max(known_commit_, e.header.commit);
      h.frontier_index = index + 1;
      h.frontier_vpos = at + entry_bytes(e.header.payload_bytes);
      ++index;
      vpos = at + entry_bytes(e.header.payload_bytes);
    }
    learn_index_ = index;
    learn_vpos_ = vpos;
  }
  bool progress = false;
  const bool own_term = role_ == Role::kLeader && own_term_ == term_;
  for (uint32_t k = 0; k < config_.applies_per_poll && applied_index_ < known_commit_; ++k) {
    const uint64_t at = position(applied_vpos_);
    EntryRead r = EntryRead::kInvalid;
    if (own_term && applied_index_ >= own_from_index_) {
      r = read_own_entry(ring(), ring_bytes(), at, applied_index_, &e);
      assert(r == EntryRead::kValid);  // we wrote it and nobody else could: our own bug otherwise
      stats_.applied_in_place += r == EntryRead::kValid;
    }
    if (r != EntryRead::kValid) {
      r = read_entry(ring(), ring_bytes(), at, applied_index_, max_payload, apply_scratch_, &e);
    }
    if (r != EntryRead::kValid) break;  // being rewritten right now: try again next poll
    apply_entry(e);
    ++applied_index_;
    applied_vpos_ = at + entry_bytes(e.header.payload_bytes);
    progress = true;
  }
  if (progress) publish_local_header();
  // A learner is promoted once it holds everything the leader had decided when it joined: the
  // leader published that commit point right after copying the log into ours.
  const uint64_t published = __atomic_load_n(&h.commit, __ATOMIC_ACQUIRE);
  if (!voter_ && published > 0 && applied_index_ >= published) {
    voter_ = true;
    progress = true;
  }
  return progress;
}

void ReplicationPlane::apply_entry(const DecodedEntry& e) {
  const EntryHeader& h = e.header;
  if (h.kind != EntryKind::kData) return;
  // A batch re-proposed after an abort may also be decided through adoption: apply it once.
  if (h.batch_id != 0 && !applied_batches_.insert(h.batch_id)) {
    ++stats_.duplicate_batches_skipped;
    return;
  }
  // batch_pool_ is a deque: `ours` stays valid even if apply() proposes (a new Batch).
  Batch* ours = h.batch_id != 0 ? find_batch(h.batch_id) : nullptr;
  const bool well_formed = for_each_record(
      e.payload, h.payload_bytes, h.record_count,
      [&](uint16_t i, const uint8_t* data, uint32_t length) {
        const uint64_t ticket = ours != nullptr && i < ours->tickets.size() ? ours->tickets[i] : 0;
        state_machine_->apply(h.index, data, length, ticket);
      });
  assert(well_formed);  // the CRC matched: a malformed batch would be our own bug
  (void)well_formed;
  if (ours != nullptr) {
    pending_requests_ -= ours->count;
    if (open_batch_ == h.batch_id) open_batch_ = 0;
    release_batch(*ours);
  }
}

void ReplicationPlane::publish_local_header() {
  LogHeader& h = local_header();
  // Leaders READ these to recycle log space; written after the applies they describe.
  __atomic_store_n(&h.applied_vpos, applied_vpos_, __ATOMIC_RELEASE);
  __atomic_store_n(&h.applied_index, applied_index_, __ATOMIC_RELEASE);
}

std::optional<uint32_t> ReplicationPlane::transfer_wanted() const {
  const uint64_t request = __atomic_load_n(&header().transfer_request, __ATOMIC_ACQUIRE);
  if (request == 0 || (role_ != Role::kFollower && phase_ != Phase::kAwaitTransfer)) {
    return std::nullopt;
  }
  // Made against an older log head of ours (we applied or installed since): stale.
  if (transfer_request_seen(request) != applied_index_) return std::nullopt;
  const uint32_t source = transfer_request_source(request);
  if (source >= config_.replica_count || source == config_.self_id) return std::nullopt;
  return source;
}

std::optional<StateSnapshot> ReplicationPlane::take_snapshot() {
  StateSnapshot s;
  if (!state_machine_->snapshot(&s.machine)) return std::nullopt;
  s.applied_index = applied_index_;
  s.applied_vpos = applied_vpos_;
  s.ring_bytes = ring_bytes();
  s.max_entry_bytes = config_.max_entry_bytes();
  s.source = config_.self_id;
  s.applied_batches.reserve(applied_batches_.size());
  applied_batches_.for_each_oldest_first([&](uint64_t id) { s.applied_batches.push_back(id); });
  ++stats_.snapshots_served;
  return s;
}

std::string ReplicationPlane::install_snapshot(const StateSnapshot& s) {
  if (role_ != Role::kFollower && phase_ != Phase::kAwaitTransfer) {
    return "this replica leads (or is trying to): it needs no state";
  }
  if (s.ring_bytes != ring_bytes() || s.max_entry_bytes != config_.max_entry_bytes()) {
    return "snapshot from replica " + std::to_string(s.source) + " has another log geometry (ring " +
           std::to_string(s.ring_bytes) + " B, entries up to " + std::to_string(s.max_entry_bytes) +
           " B; ours " + std::to_string(ring_bytes()) + " B, " +
           std::to_string(config_.max_entry_bytes()) + " B): every replica needs the same log size";
  }
  if (s.applied_index <= applied_index_) {
    return "snapshot from replica " + std::to_string(s.source) + " ends at index " +
           std::to_string(s.applied_index) + ", not past ours (" + std::to_string(applied_index_) + ")";
  }
  if (!state_machine_->restore(s.machine.data(), s.machine.size())) {
    return "the state machine rejected the snapshot from replica " + std::to_string(s.source);
  }
  RecentIds batches(kAppliedBatchHistory);
  for (uint64_t id : s.applied_batches) {
    if (id != 0) batches.insert(id);
  }
  applied_batches_ = std::move(batches);
  applied_index_ = s.applied_index;
  applied_vpos_ = s.applied_vpos;
  known_commit_ = std::max(known_commit_, applied_index_);
  LogHeader& h = local_header();
  h.frontier_index = applied_index_;
  h.frontier_vpos = applied_vpos_;
  // A learner is promoted once it applied up to a commit point the leader publishes after
  // catching its log up: none has been published for this log head yet.
  if (!voter_) __atomic_store_n(&h.commit, uint64_t{0}, __ATOMIC_RELEASE);
  publish_local_header();
  ++stats_.snapshots_installed;
  // A candidate that was waiting for this state prepares again from its new commit point.
  if (phase_ == Phase::kAwaitTransfer) {
    commit_index_ = applied_index_;
    commit_vpos_ = applied_vpos_;
    begin_read_headers();
  }
  return "";
}

std::string ReplicationPlane::describe_peer(uint32_t id) {
  PeerLink* p = link(id);
  if (p == nullptr) return "self";
  const PeerState& ps = peer_state_[id];
  return std::string("granted=") + (ps.granted ? "1" : "0") + " confirmed=" +
         (confirmed(id) ? "1" : "0") + " joining=" + (ps.joining ? "1" : "0") + " busy=" +
         (ps.busy ? "1" : "0") + " voter=" + ((peer_voters_ >> id & 1) ? "1" : "0") +
         " log_qp=" + fabric::to_string(p->log_qp->state()) +
         " bg_qp=" + fabric::to_string(p->bg_qp->state()) +
         " request_seq=" + std::to_string(ps.request_seq) +
         " applied=" + std::to_string(ps.last_header.applied_index);
}

bool ReplicationPlane::stuck(uint64_t bound_ns, uint64_t now_ns) const {
  // Waiting for permissions is not stuck replication: those are granted by whoever the others
  // believe leads, and their views converge by themselves.
  if (role_ == Role::kFollower || phase_ == Phase::kAcquire) return false;
  const bool pending = !inflight_.empty() || !to_propose_.empty() || phase_ != Phase::kReady;
  return pending && now_ns - last_progress_ns_ > bound_ns;
}

const ReplicationStats& ReplicationPlane::stats() {
  stats_.role = role_;
  stats_.leader = leader_;
  stats_.next_index = next_index_;
  stats_.commit_index = std::max(commit_index_, known_commit_);
  stats_.applied_index = applied_index_;
  stats_.pending_requests = pending_requests_;
  stats_.confirmed_followers = confirmed_count();
  stats_.log_used_bytes = role_ == Role::kFollower ? 0 : next_vpos_ - applied_vpos_;
  stats_.voter = voter_;
  static constexpr const char* kPhaseNames[] = {
      "idle",  "acquire",        "read-headers", "catch-up-self", "await-transfer",
      "prepare", "accept-adopted", "ready"};
  static_assert(std::size(kPhaseNames) == static_cast<size_t>(Phase::kReady) + 1);
  stats_.phase = kPhaseNames[static_cast<int>(phase_)];
  return stats_;
}

}  // namespace mu::core
