// A whole Mu group inside one SimWorld, driven by one seed: every replica's memory, QPs and
// replication plane, a recording state machine per replica, and a checker that watches from
// outside (agreement of applied prefixes, nothing acknowledged lost, nothing applied twice).
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "core/background_layout.h"
#include "core/replica.h"
#include "mu/fabric/sim.h"

namespace mu::core::testing {

struct Applied {
  uint64_t index;
  std::string request;
  bool operator==(const Applied& o) const { return index == o.index && request == o.request; }
};

class RecordingStateMachine final : public StateMachine {
 public:
  void apply(uint64_t index, const uint8_t* request, uint32_t length, uint64_t ticket) override {
    applied.push_back({index, std::string(reinterpret_cast<const char*>(request), length)});
    if (ticket != 0) acknowledged.push_back(ticket);
  }
  void abandoned(uint64_t ticket) override { abandoned_tickets.push_back(ticket); }
  // The applied sequence itself, so that the checker compares a replica that installed a
  // snapshot with the others position by position.
  bool snapshot(std::vector<uint8_t>* out) const override {
    const auto put = [&](uint64_t v) {
      for (int i = 0; i < 8; ++i) out->push_back(static_cast<uint8_t>(v >> (8 * i)));
    };
    put(applied.size());
    for (const Applied& a : applied) {
      put(a.index);
      put(a.request.size());
      out->insert(out->end(), a.request.begin(), a.request.end());
    }
    return true;
  }
  bool restore(const uint8_t* data, size_t length) override {
    size_t at = 0;
    const auto get = [&](uint64_t* v) {
      if (length - at < 8) return false;
      *v = 0;
      for (int i = 0; i < 8; ++i) *v |= uint64_t{data[at + i]} << (8 * i);
      at += 8;
      return true;
    };
    std::vector<Applied> restored;
    uint64_t count = 0;
    if (!get(&count)) return false;
    for (uint64_t k = 0; k < count; ++k) {
      uint64_t index = 0, bytes = 0;
      if (!get(&index) || !get(&bytes) || length - at < bytes) return false;
      restored.push_back({index, std::string(reinterpret_cast<const char*>(data + at), bytes)});
      at += bytes;
    }
    if (at != length) return false;
    applied = std::move(restored);
    ++restores;
    return true;
  }
  std::vector<Applied> applied;
  uint64_t restores = 0;
  std::vector<uint64_t> acknowledged;
  std::vector<uint64_t> abandoned_tickets;
};

struct SimReplica {
  std::unique_ptr<fabric::Device> device;
  std::vector<uint8_t> log, background, scratch;
  std::unique_ptr<fabric::MemoryRegion> log_mr, background_mr, scratch_mr;
  std::unique_ptr<fabric::CompletionQueue> log_cq, bg_cq;
  std::map<uint32_t, std::unique_ptr<fabric::QueuePair>> log_qps, bg_qps;  // by peer id
  RecordingStateMachine machine;
  std::unique_ptr<Replica> replica;
  ReplicationPlane* plane = nullptr;
  bool crashed = false;
  bool paused = false;  // not polled (the process is frozen); its NIC still serves peers
  bool fetching = false;  // a state transfer is on its way to it
};

struct SimClusterOptions {
  uint32_t replicas = 3;
  size_t ring_bytes = 1 << 20;
  fabric::SimFaults faults{};
  ReplicationConfig config{};  // self_id / replica_count are filled in per replica
  DetectorConfig detector{};
  // false: leadership is static (set_leader); true: each replica's failure detector decides.
  bool detector_driven = false;
  // A state transfer arrives within this many scheduler steps of being asked for.
  uint64_t transfer_max_steps = 4000;
};

class SimCluster {
 public:
  SimCluster(uint64_t seed, SimClusterOptions options)
      : options_(options), world_(seed, options.faults), rng_(seed ^ 0x5eed) {
    const uint32_t n = options.replicas;
    config_ = options.config;
    config_.replica_count = n;
    for (uint32_t i = 0; i < n; ++i) {
      auto r = std::make_unique<SimReplica>();
      init_memory(*r, i);
      replicas_.push_back(std::move(r));
    }
    // A QP pair per replica pair per plane. Log QPs start read-only: write access is only ever
    // granted by a permission manager.
    for (uint32_t i = 0; i < n; ++i) {
      for (uint32_t j = 0; j < n; ++j) {
        if (i == j) continue;
        SimReplica& a = *replicas_[i];
        a.log_qps[j] = take(a.device->create_qp(*a.log_cq, fabric::QpCaps{1024, 256}));
        a.bg_qps[j] = take(a.device->create_qp(*a.bg_cq, fabric::QpCaps{256, 256}));
      }
    }
    for (uint32_t i = 0; i < n; ++i) {
      for (uint32_t j = i + 1; j < n; ++j) {
        connect(*replicas_[i]->log_qps[j], *replicas_[j]->log_qps[i], fabric::kRemoteRead);
        connect(*replicas_[i]->bg_qps[j], *replicas_[j]->bg_qps[i],
                fabric::kRemoteRead | fabric::kRemoteWrite);
      }
    }
    for (uint32_t i = 0; i < n; ++i) make_plane(i, /*voter=*/true);
  }

  void init_memory(SimReplica& r, uint32_t i) {
    const size_t scratch_bytes = ScratchLayout{config_.max_entry_bytes()}.total_bytes();
    r.device = world_.create_device("replica-" + std::to_string(i));
    r.log.assign(kHeaderBytes + options_.ring_bytes, 0);
    r.background.assign(kBackgroundBytes, 0);
    r.scratch.assign(scratch_bytes, 0);
    r.log_mr = take(r.device->register_region(r.log.data(), r.log.size(), fabric::kAccessAll));
    r.background_mr = take(r.device->register_region(r.background.data(), r.background.size(),
                                                     fabric::kAccessAll));
    r.scratch_mr = take(r.device->register_region(r.scratch.data(), r.scratch.size(),
                                                  fabric::kLocalWrite));
    r.log_cq = take(r.device->create_cq(1 << 16));
    r.bg_cq = take(r.device->create_cq(1 << 12));
  }

  PeerLink link_to(uint32_t from, uint32_t to) {
    SimReplica& peer = *replicas_[to];
    PeerLink p;
    p.id = to;
    p.log_qp = replicas_[from]->log_qps[to].get();
    p.log_qp_peer = peer.log_qps[from]->address();
    p.log = peer.log_mr->remote();
    p.bg_qp = replicas_[from]->bg_qps[to].get();
    p.bg_qp_peer = peer.bg_qps[from]->address();
    p.background = peer.background_mr->remote();
    return p;
  }

  void make_plane(uint32_t i, bool voter) {
    SimReplica& r = *replicas_[i];
    ReplicaMemory memory;
    memory.device = r.device.get();
    memory.log = r.log.data();
    memory.log_bytes = r.log.size();
    memory.log_mr = r.log_mr.get();
    memory.background = r.background.data();
    memory.background_mr = r.background_mr.get();
    memory.scratch = r.scratch.data();
    memory.scratch_bytes = r.scratch.size();
    memory.scratch_mr = r.scratch_mr.get();
    memory.log_cq = r.log_cq.get();
    memory.bg_cq = r.bg_cq.get();
    std::vector<PeerLink> peers;
    for (uint32_t j = 0; j < size(); ++j) {
      if (j != i) peers.push_back(link_to(i, j));
    }
    ReplicaConfig rc;
    rc.replication = config_;
    rc.replication.self_id = i;
    rc.replication.start_as_voter = voter;
    rc.detector = options_.detector;
    rc.detector.self_id = i;
    rc.detector.replica_count = size();
    if (!options_.detector_driven) rc.static_leader = static_leader_;
    r.replica = std::make_unique<Replica>(rc, memory, std::move(peers), &r.machine);
    r.plane = &r.replica->plane();
  }

  static void connect_one(fabric::QueuePair& q, const fabric::QpAddress& remote, uint32_t access) {
    if (!q.to_init(access).ok() || !q.to_rtr(remote).ok() || !q.to_rts().ok()) {
      throw std::runtime_error("cannot connect a QP");
    }
  }

  // Replica i comes back as a new process: new device, empty memory, new QPs; a learner. Its
  // peers learn its new addresses (as the engine's bootstrap channel would tell them) and
  // reconnect their side.
  void restart(uint32_t i) {
    const uint32_t n = size();
    auto old = std::move(replicas_[i]);
    old->replica.reset();
    auto r = std::make_unique<SimReplica>();
    init_memory(*r, i);
    for (uint32_t j = 0; j < n; ++j) {
      if (j == i) continue;
      r->log_qps[j] = take(r->device->create_qp(*r->log_cq, fabric::QpCaps{1024, 256}));
      r->bg_qps[j] = take(r->device->create_qp(*r->bg_cq, fabric::QpCaps{256, 256}));
      SimReplica& peer = *replicas_[j];
      connect_one(*r->log_qps[j], peer.log_qps[i]->address(), fabric::kRemoteRead);
      connect_one(*r->bg_qps[j], peer.bg_qps[i]->address(),
                  fabric::kRemoteRead | fabric::kRemoteWrite);
    }
    replicas_[i] = std::move(r);
    graveyard_.push_back(std::move(old));  // the old device's memory stays valid (never touched)
    make_plane(i, /*voter=*/false);
    for (uint32_t j = 0; j < n; ++j) {
      if (j == i || replicas_[j]->crashed) continue;
      replicas_[j]->plane->update_peer(link_to(j, i));
    }
  }

  SimReplica& replica(uint32_t i) { return *replicas_[i]; }
  uint32_t size() const { return static_cast<uint32_t>(replicas_.size()); }
  fabric::SimWorld& world() { return world_; }
  std::mt19937_64& rng() { return rng_; }

  void set_leader(uint32_t id) {
    static_leader_ = id;
    for (auto& r : replicas_) {
      if (!r->crashed) r->replica->set_static_leader(id);
    }
    for (auto& r : replicas_) {
      if (!r->crashed) r->replica->poll();  // takes the new view at once
    }
  }
  // The leader most live replicas agree on, if any.
  std::optional<uint32_t> agreed_leader() {
    std::map<uint32_t, uint32_t> votes;
    uint32_t live = 0;
    for (auto& r : replicas_) {
      if (r->crashed || r->paused) continue;
      ++live;
      if (r->plane->stats().role == Role::kLeader) ++votes[r->replica->id()];
    }
    for (auto& [id, v] : votes) {
      if (v >= 1 && replicas_[id]->plane->stats().role == Role::kLeader) return id;
    }
    return std::nullopt;
  }

  // One scheduler step: a fabric event or one poll of a random live, unpaused replica.
  void step() {
    ++steps_;
    deliver_transfers();
    if (rng_() % 2 == 0) {
      world_.step();
      return;
    }
    const uint32_t i = static_cast<uint32_t>(rng_() % replicas_.size());
    SimReplica& r = *replicas_[i];
    if (r.crashed || r.paused) return;
    r.replica->poll();
    maybe_fetch_state(i);
  }

  // State transfer as the engine does it over its bootstrap channel: a replica asked by a leader
  // fetches that leader's snapshot (taken at once, as the leader's engine thread would between
  // two polls) and installs it when it "arrives", a random number of steps later — meanwhile
  // the leader goes on and may recycle the tail the replica still needs.
  void maybe_fetch_state(uint32_t i) {
    SimReplica& r = *replicas_[i];
    if (r.fetching) return;
    const std::optional<uint32_t> from = r.plane->transfer_wanted();
    if (!from || *from >= size()) return;
    SimReplica& source = *replicas_[*from];
    if (source.crashed || source.paused) return;  // no answer; the next leader asks again
    std::optional<StateSnapshot> snapshot = source.plane->take_snapshot();
    if (!snapshot) return;
    r.fetching = true;
    transfers_.push_back({&r, steps_ + rng_() % options_.transfer_max_steps, std::move(*snapshot)});
  }
  void deliver_transfers() {
    for (size_t k = 0; k < transfers_.size();) {
      PendingTransfer& t = transfers_[k];
      if (t.due_step > steps_) {
        ++k;
        continue;
      }
      // The target may have crashed or been restarted meanwhile (then `to` is in the graveyard).
      if (!t.to->crashed && !t.to->paused) {
        const std::string why = t.to->plane->install_snapshot(t.snapshot);
        if (why.empty()) ++installed_snapshots_;
        if (std::getenv("MU_DEBUG")) {
          std::printf("step %llu: snapshot @%llu from %u installed on %u: %s\n",
                      static_cast<unsigned long long>(steps_),
                      static_cast<unsigned long long>(t.snapshot.applied_index), t.snapshot.source,
                      t.to->replica->id(), why.empty() ? "ok" : why.c_str());
        }
      }
      if (t.to->crashed || !t.to->paused) {
        t.to->fetching = false;
        transfers_.erase(transfers_.begin() + static_cast<std::ptrdiff_t>(k));
      } else {
        ++k;  // a paused process installs when it wakes up
      }
    }
  }
  uint64_t installed_snapshots() const { return installed_snapshots_; }
  void run(size_t steps) {
    for (size_t i = 0; i < steps; ++i) step();
  }

  // Proposes on `leader`; remembers the ticket so the checker can verify it is never lost.
  ProposeStatus propose(uint32_t leader, const std::string& request) {
    const uint64_t ticket = next_ticket_++;
    ProposeResult r = replicas_[leader]->plane->propose(request.data(),
                                                        static_cast<uint32_t>(request.size()), ticket);
    if (r.status == ProposeStatus::kQueued) proposed_[ticket] = request;
    return r.status;
  }

  void crash(uint32_t i) {
    replicas_[i]->crashed = true;
    world_.crash(*replicas_[i]->device);
  }

  // Runs until every live replica applied `count` entries or the step budget is spent.
  bool run_until_applied(size_t count, size_t max_steps) {
    for (size_t s = 0; s < max_steps; ++s) {
      step();
      if (s % 64 == 0 && all_applied(count)) return true;
    }
    return all_applied(count);
  }
  bool all_applied(size_t count) {
    for (auto& r : replicas_) {
      if (!r->crashed && r->machine.applied.size() < count) return false;
    }
    return true;
  }

  std::string describe() {
    std::string out;
    for (auto& r : replicas_) {
      auto st = r->plane->stats();
      out += "replica " + std::to_string(r->replica->id()) + (r->crashed ? " crashed" : "") +
             (r->paused ? " paused" : "") + " role=" + to_string(st.role) + " view=" +
             std::to_string(r->replica->leader_view()) + " applied=" +
             std::to_string(r->machine.applied.size()) + " commit=" +
             std::to_string(st.commit_index) + " confirmed=" +
             std::to_string(st.confirmed_followers) + " holder=" +
             std::to_string(r->plane->permissions().holder()) + " aborts=" +
             std::to_string(st.aborts) + " reprepares=" + std::to_string(st.reprepares) +
             " peer_failures=" + std::to_string(st.peer_failures) + " catchup_impossible=" +
             std::to_string(st.catch_up_impossible) + " snapshots_installed=" +
             std::to_string(st.snapshots_installed) + " phase=" + st.phase + " voter=" +
             std::to_string(st.voter) + " next=" + std::to_string(st.next_index) + " pending=" +
             std::to_string(st.pending_requests) + " used=" + std::to_string(st.log_used_bytes) + "/" +
             std::to_string(st.log_ring_bytes) + " full=" + std::to_string(st.log_full_events) + " hb_stopped=" +
             std::to_string(r->replica->detector().heartbeat_stopped()) + " alive=";
      for (uint32_t j = 0; j < replicas_.size(); ++j) {
        out += r->replica->detector().alive(j) ? "1" : "0";
      }
      out += "\n";
      if (st.role != Role::kFollower) {
        for (uint32_t j = 0; j < replicas_.size(); ++j) {
          if (j != r->replica->id()) out += "    peer " + std::to_string(j) + ": " + r->plane->describe_peer(j) + "\n";
        }
      }
    }
    return out;
  }

  // The checker. Agreement: applied sequences are prefixes of one another. Exactly once: no
  // request applied twice. No loss: every acknowledged ticket's request is in the longest log.
  std::string dump_applied() {
    std::string out;
    for (auto& r : replicas_) {
      out += "replica " + std::to_string(r->replica->id()) + ":";
      const auto& a = r->machine.applied;
      for (size_t k = 0; k < a.size(); ++k) {
        if (k == 0 || a[k].index != a[k - 1].index) out += "\n  @" + std::to_string(a[k].index) + ":";
        out += " " + a[k].request.substr(0, a[k].request.find('.'));
      }
      out += "\n";
    }
    return out;
  }
  void check(const std::string& context) {
    const std::vector<Applied>* longest = nullptr;
    for (auto& r : replicas_) {
      if (longest == nullptr || r->machine.applied.size() > longest->size()) {
        longest = &r->machine.applied;
      }
    }
    for (size_t i = 0; i < replicas_.size(); ++i) {
      const auto& mine = replicas_[i]->machine.applied;
      for (size_t k = 0; k < mine.size(); ++k) {
        ASSERT_EQ(mine[k], (*longest)[k])
            << context << ": replica " << i << " disagrees at applied position " << k << " ("
            << mine[k].request << "@" << mine[k].index << " vs " << (*longest)[k].request << "@"
            << (*longest)[k].index << ")\n" << describe() << (std::getenv("MU_DEBUG") ? dump_applied() : "");
      }
    }
    std::set<std::string> seen;
    for (const Applied& a : *longest) {
      ASSERT_TRUE(seen.insert(a.request).second) << context << ": applied twice: " << a.request;
    }
    for (auto& r : replicas_) {
      for (uint64_t ticket : r->machine.acknowledged) {
        ASSERT_TRUE(proposed_.count(ticket)) << context << ": unknown ticket";
        ASSERT_TRUE(seen.count(proposed_[ticket]))
            << context << ": acknowledged but not applied: " << proposed_[ticket];
      }
    }
  }

 private:
  template <typename T>
  static T take(fabric::Result<T> r) {
    if (!r.ok()) throw std::runtime_error(r.status().to_string());
    return std::move(r.value());
  }
  static void connect(fabric::QueuePair& a, fabric::QueuePair& b, uint32_t access) {
    if (!a.to_init(access).ok() || !b.to_init(access).ok() || !a.to_rtr(b.address()).ok() ||
        !b.to_rtr(a.address()).ok() || !a.to_rts().ok() || !b.to_rts().ok()) {
      throw std::runtime_error("cannot connect QPs");
    }
  }

  SimClusterOptions options_;
  ReplicationConfig config_;
  uint32_t static_leader_ = kNoReplica;
  fabric::SimWorld world_;
  std::mt19937_64 rng_;
  std::vector<std::unique_ptr<SimReplica>> replicas_;
  std::vector<std::unique_ptr<SimReplica>> graveyard_;
  struct PendingTransfer {
    SimReplica* to;
    uint64_t due_step;
    StateSnapshot snapshot;
  };
  std::vector<PendingTransfer> transfers_;
  uint64_t steps_ = 0;
  uint64_t installed_snapshots_ = 0;
  uint64_t next_ticket_ = 1;
  std::map<uint64_t, std::string> proposed_;
};

}  // namespace mu::core::testing
