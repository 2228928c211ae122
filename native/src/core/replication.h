// The replication plane (DESIGN.md §3.3, §3.4; Mu §4): one replica's log, its leader logic
// (permission, prepare, accept, catch-up, recycling) and its follower logic (validate and apply).
//
// Poll-driven: propose() only queues; poll() does a bounded step — consume completions, advance
// the leader's phase, post WRITEs/READs, apply decided entries. No sockets, threads or sleeps;
// time comes from the device clock (virtual under simulation).
//
// Invariants (asserted where cheap):
//   applied_index <= commit_index <= next_index            (on the leader)
//   an index below commit_index is decided: a majority, counting the leader, accepted it;
//   entries are written to a follower in index order on one QP, and before the first new entry a
//   joining follower has been brought up to the leader's log (catch-up), so an entry carrying
//   commit c implies the follower's copy of every index < c is the decided one;
//   the leader never overwrites ring bytes a confirmed replica has not applied (recycling).
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include "core/flat.h"
#include "core/links.h"
#include "core/log_format.h"
#include "core/permission_manager.h"
#include "core/quorum.h"
#include "core/state_transfer.h"

namespace mu::core {

struct ReplicationConfig {
  uint32_t self_id = 0;
  uint32_t replica_count = 1;  // ids are 0..replica_count-1
  uint32_t max_request_bytes = 64 * 1024;  // one client request (value size limit)
  uint32_t max_batch_records = 32;          // requests batched into one entry
  uint32_t max_batch_bytes = 64 * 1024;     // payload bytes batched into one entry
  uint32_t max_inflight = 32;               // pipelined entries awaiting a majority
  uint32_t max_pending = 8192;              // queued requests before propose() says "log full"
  uint64_t commit_publish_ns = 50'000;      // an idle leader publishes its commit within this
  uint64_t head_refresh_ns = 2'000'000;     // how often the leader re-reads followers' log heads
  uint64_t rejoin_retry_ns = 5'000'000;     // how often a leader re-asks a lost follower
  uint64_t request_timeout_ns = 50'000'000; // permission request unanswered: ask again
  uint32_t applies_per_poll = 256;
  // How often a ready leader's upkeep runs (see poll()): an eighth of its shortest period.
  uint64_t housekeeping_interval_ns() const {
    return std::min({commit_publish_ns, head_refresh_ns, rejoin_retry_ns}) / 8;
  }
  RevocationMechanism revocation = RevocationMechanism::kQpAccessFlags;
  // true: a voter from the start (a brand-new cluster: the operator's one-time bootstrap).
  // false: a learner — restarted with an empty log, it receives the log but counts toward no
  // majority until it has applied up to the leader's commit point (DESIGN.md §3.6).
  bool start_as_voter = true;

  size_t max_entry_bytes() const {
    return entry_bytes(std::max<size_t>(max_batch_bytes, record_bytes(max_request_bytes)));
  }
};

// What replicas apply. `ticket` is the proposer's tag for requests this replica proposed itself
// (so a front end can answer its client), 0 otherwise.
class StateMachine {
 public:
  virtual ~StateMachine() = default;
  virtual void apply(uint64_t index, const uint8_t* request, uint32_t length, uint64_t ticket) = 0;
  // This replica stopped leading with the request not known to be decided: the outcome is
  // unknown (another leader may still decide it). Never silent: the front end tells its client.
  virtual void abandoned(uint64_t ticket) { (void)ticket; }
  // State transfer (core/state_transfer.h): snapshot() appends everything apply() has built to
  // *out; restore() replaces the state with bytes a snapshot() produced (false: malformed, and
  // the state is unchanged). A machine that returns false from snapshot() cannot serve one, and a
  // replica whose missing entries were recycled cannot be brought back from such a machine.
  virtual bool snapshot(std::vector<uint8_t>* out) const {
    (void)out;
    return false;
  }
  virtual bool restore(const uint8_t* data, size_t length) {
    (void)data;
    (void)length;
    return false;
  }
};

enum class ProposeStatus : uint8_t { kQueued, kNotLeader, kLogFull, kTooLarge };
const char* to_string(ProposeStatus s);

struct ProposeResult {
  ProposeStatus status = ProposeStatus::kQueued;
  std::optional<uint32_t> leader;  // who leads, when known (for kNotLeader)
};

enum class Role : uint8_t { kFollower, kCandidate, kLeader };
const char* to_string(Role r);

// Upper bounds (µs) of the propose→decided latency histogram the leader keeps; the last bucket
// counts everything above.
constexpr uint64_t kLatencyBoundsMicros[] = {1,   2,   5,    10,   20,   50,    100,
                                             200, 500, 1000, 2000, 5000, 10000, 100000};
constexpr size_t kLatencyBuckets = std::size(kLatencyBoundsMicros) + 1;

struct ReplicationStats {
  Role role = Role::kFollower;
  std::optional<uint32_t> leader;
  uint64_t proposal = 0;
  uint64_t next_index = 0;  // leader: FUO
  uint64_t commit_index = 0;
  uint64_t applied_index = 0;
  uint64_t log_used_bytes = 0;
  uint64_t log_ring_bytes = 0;
  uint32_t confirmed_followers = 0;
  uint64_t proposals = 0;
  uint64_t entries_decided = 0;
  uint64_t aborts = 0;
  uint64_t prepares = 0;
  uint64_t adopted = 0;
  uint64_t log_full_events = 0;
  uint64_t pending_requests = 0;
  uint64_t duplicate_batches_skipped = 0;
  uint64_t applied_in_place = 0;  // leader: own entries of its term applied without copy and CRC
  uint64_t peer_failures = 0;
  uint64_t reprepares = 0;  // prepare run again for a follower that granted late
  uint64_t catch_up_impossible = 0;  // a follower whose missing entries were recycled
  uint64_t transfers_requested = 0;  // leader: such followers asked to fetch the state
  uint64_t self_catch_ups = 0;       // candidate: copied decided entries from a follower ahead
  uint64_t self_transfers = 0;       // candidate: ... recycled there, so it fetched the state
  uint64_t snapshots_served = 0;
  uint64_t snapshots_installed = 0;
  bool voter = true;
  const char* phase = "idle";  // leader path: acquire, read-headers, ..., ready
  // Leader: time from an entry's WRITEs being posted to its decision, per decided entry.
  uint64_t latency_buckets[kLatencyBuckets] = {};
  uint64_t latency_sum_ns = 0;
  uint64_t latency_count = 0;
};

// One replica's permission switch for us, as its acknowledgement reported it.
struct GrantTiming {
  uint32_t replica = 0;
  fabric::PermissionMechanism mechanism = fabric::PermissionMechanism::kQpAccessFlags;
  uint64_t switch_ns = 0;    // the granter's revoke + grant
  uint64_t acked_at_ns = 0;  // when its ack reached us (our clock)
};

// Leadership milestones of the current candidacy, for failover timelines.
struct LeaderMilestones {
  uint64_t became_candidate_ns = 0;
  uint64_t permissions_ns = 0;   // majority of permission acks
  uint64_t prepared_ns = 0;      // prepare + catch-up done; serving
  uint64_t first_commit_ns = 0;  // first entry decided in this term
  std::vector<GrantTiming> grants;  // self included
};

class FailureDetector;

class ReplicationPlane {
 public:
  ReplicationPlane(const ReplicationConfig& config, ReplicaMemory memory,
                   std::vector<PeerLink> peers, StateMachine* state_machine);

  // Queues a request (copied). Never blocks. Fails with kNotLeader (naming the leader when
  // known), kTooLarge, or kLogFull when the queue is at capacity (back-pressure).
  ProposeResult propose(const void* request, uint32_t length, uint64_t ticket);

  // One bounded step of work. Returns true if anything happened.
  bool poll();

  // Who leads, as decided by the background plane (or static configuration). Becoming leader
  // starts the real permission → prepare → catch-up path; losing it stops proposing at once.
  void set_leader(uint32_t leader_id);
  // Nobody can lead (no voter alive, as far as we know): stop leading, refuse proposals.
  void set_no_leader();
  // Which peers hold the decided log (the failure detector reads their voter flags). Only
  // voters count toward majorities, for permissions and for decisions.
  // A peer restarted (new QPs, new regions): adopt its new link and reconnect our side of both
  // planes to it. It is out of every set until it asks/grants again; as a restarted replica it
  // comes back as a learner.
  void update_peer(const PeerLink& link);
  void set_peer_voters(uint32_t peer_mask) { peer_voters_ = peer_mask & ~(1u << config_.self_id); }
  bool voter() const { return voter_; }
  // Too few voters alive (see Replica::quorum_lost): proposals are refused, naming no leader.
  void set_serving(bool serving) { serving_ = serving; }

  // Heartbeat completions arrive on the background CQ this plane polls: forwarded there.
  void set_detector(FailureDetector* detector) { detector_ = detector; }
  // Fate sharing: leading (or trying to) with work pending and no commit progress for bound_ns.
  bool stuck(uint64_t bound_ns, uint64_t now_ns) const;
  Role role() const { return role_; }
  std::vector<PeerLink>& peers() { return peers_; }
  ReplicaMemory& memory() { return memory_; }
  const ReplicationConfig& config() const { return config_; }
  std::optional<uint32_t> leader() const { return leader_; }

  const ReplicationStats& stats();
  // Cheap reads for the per-poll path (stats() recomputes the whole snapshot).
  uint64_t log_full_events() const { return stats_.log_full_events; }
  uint64_t pending_requests() const { return pending_requests_; }
  // Diagnostics: this leader's view of a peer (granted/confirmed/joining, QP states).
  std::string describe_peer(uint32_t id);
  const LeaderMilestones& milestones() const { return milestones_; }
  PermissionManager& permissions() { return permissions_; }
  uint32_t self_id() const { return config_.self_id; }
  // State transfer (core/state_transfer.h), engine thread only. The replica a leader asked us
  // to fetch the state from, when a request made against our current log head is pending.
  std::optional<uint32_t> transfer_wanted() const;
  // Our applied state (nullopt when the state machine cannot snapshot).
  std::optional<StateSnapshot> take_snapshot();
  // Replaces our applied state by a snapshot of a longer decided prefix; "" or why not (nothing
  // changes then). A learner stays one until the leader has caught its log up from there.
  std::string install_snapshot(const StateSnapshot& snapshot);

  // Test hook: the replica's local log header (what peers read and write).
  const LogHeader& header() const { return *reinterpret_cast<const LogHeader*>(memory_.log); }

 private:
  struct PeerState {
    bool granted = false;    // acked our current permission request
    bool joining = false;    // granted after the term started: header read / catch-up pending
    bool busy = false;       // a READ or prepare WRITE of the current phase is outstanding
    uint64_t request_seq = 0;
    uint64_t request_sent_ns = 0;
    LogHeader last_header{};  // last header read from this follower (min_proposal, log head)
    uint64_t header_read_ns = 0;
    bool header_read_in_flight = false;
  };

  // One of our batches (requests sharing an entry), from propose() until it is applied here or
  // abandoned. Pooled: a released Batch keeps its buffers for the next one.
  struct Batch {
    uint64_t id = 0;               // 0: free
    std::vector<uint8_t> payload;  // records: [u32 length][bytes]...
    std::vector<uint64_t> tickets;
    uint16_t count = 0;
  };

  struct Inflight {
    uint64_t posted_ns = 0;  // when its WRITEs were posted (latency histogram)
    uint64_t index = 0;
    uint64_t vpos = 0;  // where the entry starts
    uint32_t bytes = 0;
    uint64_t batch_id = 0;
    uint32_t acks = 0;  // replicas whose copy is written (bit per id; self included)
  };

  enum class Phase : uint8_t {
    kIdle,              // follower
    kAcquire,           // permission requests out; waiting for acks from a majority
    kReadHeaders,       // prepare, part 1: read minProposal and log heads of confirmed followers
    kCatchUpSelf,       // a confirmed follower applied past our commit point: READ what we lack
    kAwaitTransfer,     // ... and it was recycled there too: we wait for that follower's state
    kReadSlot,          // prepare at next_index_: our proposal number WRITE, catch-up WRITEs
                        // for lagging followers and the slot READ, in one round trip
    kAcceptAdopted,     // re-propose the adopted value; wait for a majority
    kReady,             // prepare omitted until the next abort: the fast path
  };

  // Leader path.
  void start_candidacy();
  void send_permission_request(PeerLink& peer);
  bool collect_acks();
  void abort(const char* why);
  void reprepare(const char* why);
  void step_down();
  bool advance_leader(bool housekeeping);
  void begin_read_headers();
  void begin_catch_up_self();
  void finish_catch_up_self();
  void begin_write_min_proposal();
  void begin_read_slot();
  void decide_slot();
  bool fill_pipeline();
  bool maybe_publish_commit();
  bool maybe_refresh_heads();
  bool retry_lost_peers();
  void catch_up_peer(uint32_t peer_id, uint64_t from_index, uint64_t from_vpos, uint64_t to_vpos);
  // Writes entry `index` at next_vpos_ locally and posts it to every confirmed follower.
  void accept(uint64_t index, uint64_t batch_id, EntryKind kind, uint16_t count,
              const uint8_t* payload, uint32_t payload_bytes);
  bool space_for(uint64_t position, size_t bytes) const;
  // Our outstanding batches: a new (empty) one with a fresh id, lookup by id (nullptr when it is
  // not one of ours or no longer outstanding), and release after apply or abandonment.
  Batch& new_batch();
  Batch* find_batch(uint64_t id) {
    const uint32_t slot = batch_index_[id & batch_index_mask_];
    if (slot == 0) return nullptr;
    Batch& b = batch_pool_[slot - 1];
    return b.id == id ? &b : nullptr;
  }
  void release_batch(Batch& b);
  bool post_write(PeerLink& peer, WrKind kind, uint64_t value, const uint8_t* source,
                  uint32_t lkey, uint32_t length, uint64_t remote_offset, bool allow_inline);
  bool post_read(PeerLink& peer, WrKind kind, uint64_t value, uint8_t* destination, uint32_t lkey,
                 uint32_t length, uint64_t remote_offset);
  void on_log_completion(const fabric::Completion& c);
  void on_bg_completion(const fabric::Completion& c);
  void peer_failed(uint32_t peer_id);
  void note_ack(uint32_t replica, uint64_t index);
  void advance_commit();
  uint32_t confirmed_count() const;  // confirmed followers (the leader not counted)
  bool quorum() const { return confirmed_count() + 1 >= majority(config_.replica_count); }
  uint32_t voter_mask() const { return peer_voters_ | (voter_ ? 1u << config_.self_id : 0u); }
  bool phase_reads_done() const;
  PeerLink* link(uint32_t id);
  uint8_t* scratch(uint32_t peer, size_t offset) {
    return memory_.scratch + layout_.base(peer) + offset;
  }
  uint64_t tag(uint64_t value) const;  // wr value carrying the term, so stale completions are known
  bool current_term(uint64_t wr_value) const;
  uint64_t untag(uint64_t wr_value) const;
  uint64_t position(uint64_t vpos) const {
    return entry_position(vpos, config_.max_entry_bytes(), ring_bytes());
  }

  // Follower path (every replica, the leader included, applies its own log). A leader learns
  // nothing from its own log: with everything known applied (most polls) there is nothing to do,
  // and that is checked here, without a call.
  bool apply_committed() {
    if (role_ != Role::kFollower && voter_ && applied_index_ >= known_commit_ &&
        __atomic_load_n(&local_header().commit, __ATOMIC_ACQUIRE) <= known_commit_) {
      return false;
    }
    return apply_decided();
  }
  bool apply_decided();
  void apply_entry(const DecodedEntry& entry);
  void publish_local_header();

  LogHeader& local_header() { return *reinterpret_cast<LogHeader*>(memory_.log); }
  uint8_t* ring() { return memory_.log + kHeaderBytes; }
  uint64_t ring_bytes() const { return memory_.log_bytes - kHeaderBytes; }
  uint64_t now() const { return memory_.device->now_ns(); }

  ReplicationConfig config_;
  ReplicaMemory memory_;
  std::vector<PeerLink> peers_;
  StateMachine* state_machine_;
  ScratchLayout layout_;
  PermissionManager permissions_;

  Role role_ = Role::kFollower;
  std::optional<uint32_t> leader_;
  Phase phase_ = Phase::kIdle;
  PeerState peer_state_[kMaxReplicas];
  // This peer granted us permission since our side of its log QP was last cycled: we may have
  // posted on it (see send_permission_request).
  bool granted_since_cycle_[kMaxReplicas] = {};
  uint64_t request_seq_ = 0;   // our permission requests (self and peers), monotonic
  uint64_t self_request_seq_ = 0;
  uint64_t term_ = 0;          // local count of candidacies/aborts; tags work-request ids
  // Entries at or above own_from_index_ were encoded by accept() in term own_term_: while that is
  // still the term and we lead, nobody else can have written them (another writer needs our
  // permission manager's grant, which aborts the term first), so they are applied in place.
  uint64_t own_term_ = UINT64_MAX;
  uint64_t own_from_index_ = 0;
  uint64_t proposal_ = 0;
  uint64_t batch_seq_ = 0;

  // Leader log state. next_* is where the next entry goes (the leader's FUO).
  uint64_t next_index_ = 0;
  uint64_t next_vpos_ = 0;
  uint64_t commit_index_ = 0;  // indices below are decided (as this replica knows)
  uint64_t commit_vpos_ = 0;   // where entry commit_index_ starts (before position())
  uint64_t published_commit_ = 0;
  uint64_t last_send_ns_ = 0;
  uint64_t next_housekeeping_ns_ = 0;  // a ready leader's next upkeep (see poll())
  uint64_t last_rejoin_ns_ = 0;
  Ring<Inflight> inflight_;
  // Our batches not yet applied, without a map: a pool of Batch objects (stable addresses; free
  // ones on a stack, so the serial path reuses one or two warm Batches and allocates nothing)
  // and a direct-mapped index from the low bits of a batch id to its pool slot + 1. Ids are
  // chosen so that their index entry is free; the index doubles when half full.
  std::deque<Batch> batch_pool_;
  std::vector<uint32_t> free_batches_;
  std::vector<uint32_t> batch_index_;
  uint64_t batch_index_mask_ = 0;
  uint32_t live_batches_ = 0;
  Ring<uint64_t> to_propose_;  // batch ids waiting for an index
  uint64_t open_batch_ = 0;    // back of to_propose_, still filling
  uint64_t pending_requests_ = 0;
  // Prepare at next_index_.
  uint64_t adopt_proposal_ = 0;
  std::vector<uint8_t> adopt_entry_;  // the highest-proposal entry found (whole encoding)
  uint32_t prepare_writes_outstanding_ = 0;  // also counts kCatchUpSelf's READs
  uint32_t ahead_peer_ = 0;            // kCatchUpSelf / kAwaitTransfer: who applied past us
  uint64_t ahead_applied_index_ = 0;
  uint32_t ahead_reads_posted_ = 0;    // READs of its entries over our ring...
  uint32_t ahead_reads_done_ = 0;      // ... and those that completed successfully
  bool ahead_read_failed_ = false;

  // Follower (apply) state.
  uint64_t applied_index_ = 0;
  uint64_t applied_vpos_ = 0;
  uint64_t learn_index_ = 0;  // follower: where the next pass learning commit points resumes
  uint64_t learn_vpos_ = 0;
  uint64_t known_commit_ = 0;
  std::vector<uint8_t> apply_scratch_;
  RecentIds applied_batches_;  // batch ids applied lately (a re-proposed batch applies once)

  static constexpr int kCompletionsPerPoll = 32;
  fabric::Completion completions_[kCompletionsPerPoll];  // poll()'s buffer (poll is not reentrant)

  ReplicationStats stats_;
  LeaderMilestones milestones_;
  FailureDetector* detector_ = nullptr;
  bool voter_ = true;
  bool serving_ = true;
  // Bit per peer id: in the confirmed set (receives accepts, counts toward majorities). A mask,
  // not a PeerState field: quorum() is asked on every poll. reset_peer() clears the bit.
  uint32_t confirmed_mask_ = 0;
  bool confirmed(uint32_t id) const { return confirmed_mask_ >> id & 1; }
  void reset_peer(uint32_t id) {
    peer_state_[id] = PeerState{};
    confirmed_mask_ &= ~(1u << id);
  }
  uint32_t peer_voters_ = 0;  // bit per peer id: holds the decided log (learned from reads)
  uint64_t last_progress_ns_ = 0;  // commit advanced, or nothing was pending
};

}  // namespace mu::core
