// The engine driver: one replica of a Mu group in a process. Setup (may block, may allocate):
// open the fabric device, register the replica's regions, create one QP per peer per plane,
// exchange addresses over the bootstrap channel, connect. Then one native thread polls every
// component — replication plane, application front end — in a loop (busy-polling, or yielding
// when idle). The data path never leaves this thread; other threads read snapshots.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/replica.h"
#include "mu/fabric/fabric.h"

namespace mu::fabric {
class SoftDevice;
}

namespace mu::engine {

struct Member {
  uint32_t id = 0;
  std::string host;             // address peers reach this replica on (IPv4)
  uint16_t bootstrap_port = 0;  // TCP: connection setup
  uint16_t fabric_port = 0;     // TCP: the soft NIC (soft fabric only)
  uint16_t resp_port = 0;       // clients
};

struct EngineConfig {
  uint32_t id = 0;
  std::vector<Member> members;  // every replica, this one included; ids 0..n-1
  std::string fabric = "soft";  // soft | verbs | sim (sim: not from a process)
  std::string secret;           // cluster secret: soft NIC and bootstrap authentication
  std::string netns;            // network namespace for the soft NIC / bootstrap sockets
  std::string verbs_device;     // "" = first active
  uint8_t verbs_port = 1;
  int verbs_gid_index = -1;     // -1 = auto (RoCE v2, IPv4-mapped)
  size_t log_bytes = 64u << 20;  // ring bytes of the replicated log
  core::ReplicationConfig replication;
  core::DetectorConfig detector;
  std::optional<uint32_t> static_leader;  // tests/experiments: fix the leader (no detector)
  bool busy_poll = true;        // the engine thread spins; false: it yields, then naps, when idle
  uint32_t idle_nap_us = 100;   // the nap of an idle, non-spinning engine thread
  int bootstrap_timeout_ms = 30000;
  // A brand-new cluster (set once, by whoever creates it): this replica's empty log is the
  // history. Otherwise it starts as a learner and must be caught up before it counts.
  bool bootstrap = false;
};

// Validates a configuration; returns "" or a message naming the setting that is wrong.
std::string validate(const EngineConfig& config);

struct PeerView {
  uint32_t id = 0;
  bool alive = false;
  uint32_t score = 0;
};

struct EngineStats {
  core::ReplicationStats replication;
  core::LeaderMilestones milestones;
  uint32_t leader_view = core::kNoReplica;
  uint32_t preferred_leader = core::kNoReplica;  // set by a switchover (kNoReplica: none)
  std::vector<PeerView> peers;
  bool heartbeat_stopped = false;
  uint64_t heartbeat = 0;
  uint64_t polls = 0;
  uint64_t uptime_ns = 0;
  uint64_t failovers = 0;
  std::vector<core::FailoverTimeline> timelines;        // newest last, bounded
  std::vector<core::PermissionSwitch> recent_switches;  // newest last, bounded
  std::string fabric;
  // State transfers this replica fetched (core/state_transfer.h): installed, and the last one.
  uint64_t state_transfers = 0;
  uint64_t last_transfer_bytes = 0;
  uint64_t last_transfer_us = 0;      // fetch + decode + install
  std::string last_transfer_error;    // "" when the last attempt succeeded
};

class Engine {
 public:
  // Builds the replica and starts its thread. `state_machine` must outlive the engine; it is
  // called on the engine thread only.
  static fabric::Result<std::unique_ptr<Engine>> start(const EngineConfig& config,
                                                       core::StateMachine* state_machine);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Runs `work` on the engine thread at its next iteration (e.g. a proposal from JavaScript).
  void post(std::function<void(core::ReplicationPlane&)> work);
  // Events since the last call (leader changes, failovers, permission switches, peers failed or
  // recovered, log full), oldest first. Bounded: the oldest are dropped if nobody takes them.
  std::vector<core::Event> take_events();
  // Adds a component polled on the engine thread every iteration (e.g. the RESP front end).
  void add_pollable(std::function<bool()> poll);
  EngineStats stats() const;
  // Graceful hand-over (see core::Replica::leave); returns at once.
  void leave();
  // Targeted switchover (see core::Replica::set_preferred_leader): runs on the engine thread at
  // its next iteration; `done` gets "" when accepted, otherwise why not — on the engine thread.
  // Not called if the engine stops first.
  void switchover(uint32_t to, std::function<void(std::string)> done);
  void stop();
  // The replication plane, for components that run ON the engine thread (pollables, state
  // machine callbacks). Never touch it from another thread: use post().
  core::ReplicationPlane& plane_on_engine_thread();
  const EngineConfig& config() const { return config_; }
  // The soft fabric's device, for its fault hooks (delay, hold, loss; chaos tests); nullptr on
  // other fabrics. The hooks are thread-safe.
  fabric::SoftDevice* soft_device();

 private:
  struct Resources;
  Engine(const EngineConfig& config, std::unique_ptr<Resources> resources);
  void run();
  void watch_links();
  // State transfer: serving our applied state to a peer (bootstrap thread; the snapshot itself
  // is taken on the engine thread), and fetching one when a leader asks us to (engine thread
  // starts it, a helper thread fetches, the engine thread installs).
  fabric::Result<std::vector<uint8_t>> provide_state(uint32_t requester);
  void maybe_fetch_state(core::ReplicationPlane& plane);

  EngineConfig config_;
  std::unique_ptr<Resources> resources_;
  std::atomic<bool> stopping_{false};
  std::mutex stop_mutex_;  // with stop_cv_: wakes the link watcher at once on stop()
  std::condition_variable stop_cv_;
  mutable std::mutex mutex_;  // guards the inbox, pollables_ additions and the stats snapshot
  std::vector<std::function<void(core::ReplicationPlane&)>> inbox_;
  std::vector<std::function<void(core::Replica&)>> replica_inbox_;
  std::vector<std::function<bool()>> new_pollables_;
  std::vector<core::Event> events_;
  bool leave_requested_ = false;
  EngineStats snapshot_;
  std::thread thread_;
  std::thread link_thread_;
  std::thread transfer_thread_;             // the current (or last) state fetch
  std::atomic<bool> transfer_busy_{false};  // a fetch or its install is under way
  uint64_t transfer_retry_ns_ = 0;          // engine thread: no new fetch before this
};

}  // namespace mu::engine
