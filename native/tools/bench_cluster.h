// An in-process Mu group for the benchmarks (DESIGN.md §7): N core::Replica objects over the sim
// or soft fabric, their QPs connected directly (no bootstrap channel), driven by the caller's own
// thread(s). Unlike Engine, nothing here starts a polling thread: the benchmark decides who polls
// what and when, so the measured path contains no cross-thread hand-off (the soft NICs' own
// threads excepted — they are the fabric).
//
// A tool, not part of the engine: it allocates freely and may block during setup.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bench_fabric.h"
#include "core/replica.h"
#include "mu/fabric/fabric.h"
#include "mu/fabric/sim.h"

namespace mu::tools {

// What a benchmark replica applies: counts, and reports its own tickets to a sink.
class TicketMachine final : public core::StateMachine {
 public:
  // Called on the polling thread for each applied request that this replica proposed.
  using Sink = void (*)(void* context, uint64_t ticket);
  void set_sink(Sink sink, void* context) {
    sink_ = sink;
    context_ = context;
  }
  void apply(uint64_t index, const uint8_t* request, uint32_t length, uint64_t ticket) override {
    (void)index;
    (void)request;
    bytes += length;
    ++applied;
    if (ticket != 0 && sink_ != nullptr) sink_(context_, ticket);
  }
  void abandoned(uint64_t ticket) override {
    (void)ticket;
    ++abandoned_tickets;
  }
  uint64_t applied = 0;
  uint64_t bytes = 0;
  uint64_t abandoned_tickets = 0;

 private:
  Sink sink_ = nullptr;
  void* context_ = nullptr;
};

struct ClusterOptions {
  BenchFabric fabric = BenchFabric::kSoft;
  uint32_t replicas = 3;
  size_t ring_bytes = 16u << 20;
  core::ReplicationConfig replication;  // self_id / replica_count are filled in per replica
  core::DetectorConfig detector;        // self_id / replica_count likewise
  // Set: this replica leads from the start and the detector's choice is ignored (a latency
  // benchmark must not be disturbed by an election). Unset: the failure detectors decide.
  std::optional<uint32_t> static_leader = 0;
  uint64_t seed = 1;               // sim
  fabric::SimFaults sim_faults{};  // sim (tear_probability forced to 0 unless set here)
  bool soft_busy_poll = false;     // soft: the NIC threads spin
  // Raw probe QPs from replica 0 to every other replica, on the same devices (same NIC threads)
  // but outside the engine: a writable 64 KiB probe region per follower and a CQ of their own.
  // The replication benchmark times bare WRITEs over them (the fan-out floor).
  bool probe_qps = false;
};

// Replica 0's raw path to one follower (see ClusterOptions::probe_qps).
struct ProbeLink {
  uint32_t peer = 0;
  fabric::QueuePair* qp = nullptr;
  fabric::RemoteRegion region;  // the follower's probe region
};

class BenchCluster {
 public:
  // One replica's fabric objects and engine core. Declaration order is destruction order
  // reversed: the replica goes first, the device last.
  struct Node {
    struct Memory;  // page-aligned registered buffers
    std::unique_ptr<fabric::Device> device;
    std::unique_ptr<Memory> log, background, scratch;
    std::unique_ptr<fabric::MemoryRegion> log_mr, background_mr, scratch_mr;
    std::unique_ptr<fabric::CompletionQueue> log_cq, bg_cq;
    std::map<uint32_t, std::unique_ptr<fabric::QueuePair>> log_qps, bg_qps;  // by peer id
    TicketMachine machine;
    std::unique_ptr<core::Replica> replica;
    bool crashed = false;
    bool paused = false;
    // Probe path (probe_qps): replica 0 owns source memory, a CQ and one QP per follower; every
    // follower owns a probe region and the other side of its QP.
    std::unique_ptr<Memory> probe;
    std::unique_ptr<fabric::MemoryRegion> probe_mr;
    std::unique_ptr<fabric::CompletionQueue> probe_cq;
    std::map<uint32_t, std::unique_ptr<fabric::QueuePair>> probe_qps;
    ~Node();
  };

  static fabric::Result<std::unique_ptr<BenchCluster>> create(const ClusterOptions& options);
  ~BenchCluster();
  BenchCluster(const BenchCluster&) = delete;
  BenchCluster& operator=(const BenchCluster&) = delete;

  uint32_t size() const { return static_cast<uint32_t>(nodes_.size()); }
  core::Replica& replica(uint32_t i) { return *nodes_[i]->replica; }
  core::ReplicationPlane& plane(uint32_t i) { return nodes_[i]->replica->plane(); }
  TicketMachine& machine(uint32_t i) { return nodes_[i]->machine; }
  fabric::Device& device(uint32_t i) { return *nodes_[i]->device; }
  // sim only (nullptr on soft).
  fabric::SimWorld* world() { return world_.get(); }
  const ClusterOptions& options() const { return options_; }
  // probe_qps: replica 0's raw QPs (one per follower), its CQ and its source buffer.
  const std::vector<ProbeLink>& probe_links() const { return probe_links_; }
  fabric::CompletionQueue* probe_cq() { return nodes_[0]->probe_cq.get(); }
  uint8_t* probe_source() { return nodes_[0]->probe ? probe_source_ : nullptr; }
  uint32_t probe_lkey() { return nodes_[0]->probe_mr ? nodes_[0]->probe_mr->lkey() : 0; }

  // sim: the replica's host is gone (its NIC stops, peers' operations fail); it is never polled
  // again. pause/resume: its NIC and its polling freeze (SIGSTOP of the whole host).
  void crash(uint32_t i);
  void pause(uint32_t i);
  void resume(uint32_t i);
  bool crashed(uint32_t i) const { return nodes_[i]->crashed; }
  bool paused(uint32_t i) const { return nodes_[i]->paused; }

  // Polls every live, unpaused replica once; returns whether anything progressed.
  bool poll_all();
  // sim: one seeded scheduler step — a fabric event or one poll of a random live replica.
  void sim_step();
  // The replica that believes it leads with the fast path ready, if exactly one does.
  std::optional<uint32_t> leader();

 private:
  explicit BenchCluster(const ClusterOptions& options);

  ClusterOptions options_;
  std::unique_ptr<fabric::SimWorld> world_;  // declared first: outlives the devices
  std::vector<std::unique_ptr<Node>> nodes_;
  std::vector<ProbeLink> probe_links_;
  uint8_t* probe_source_ = nullptr;
  uint64_t rng_state_ = 0;
};

}  // namespace mu::tools
