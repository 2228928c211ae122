#include "engine/engine.h"

#include <sched.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <set>

#include "core/background_layout.h"
#include "core/state_transfer.h"
#include "mu/fabric/bootstrap.h"
#include "mu/fabric/soft.h"
#if defined(MU_WITH_VERBS)
#include "mu/fabric/verbs.h"
#endif

namespace mu::engine {

using fabric::Result;
using fabric::Status;
using fabric::ErrorCode;

namespace {

constexpr uint32_t kBlobVersion = 1;
constexpr uint8_t kReadyMarker = 0x52;  // appended to the blob once our QPs are connected

// What one replica tells one peer over the bootstrap channel.
struct PeerBlob {
  uint32_t version;
  uint32_t from_id;
  uint32_t to_id;
  uint32_t reserved;
  uint64_t incarnation;      // random per process start: tells a restarted peer apart
  uint64_t log_bytes;        // must agree across the group
  uint64_t max_entry_bytes;  // must agree: it decides where entries wrap
  fabric::QpAddress log_qp;
  fabric::QpAddress bg_qp;
  fabric::RemoteRegion log;
  fabric::RemoteRegion background;
};

struct AlignedBuffer {
  uint8_t* data = nullptr;
  size_t bytes = 0;
  explicit AlignedBuffer(size_t n) : bytes((n + 4095) / 4096 * 4096) {
    data = static_cast<uint8_t*>(std::aligned_alloc(4096, bytes));
    if (data != nullptr) std::memset(data, 0, bytes);
  }
  ~AlignedBuffer() { std::free(data); }
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
};

template <typename T>
Status take(Result<T> r, T* out, const std::string& what) {
  if (!r.ok()) return Status::Error(r.status().code, what + ": " + r.status().message);
  *out = std::move(r.value());
  return Status::Ok();
}

}  // namespace

std::string validate(const EngineConfig& c) {
  if (c.members.empty()) return "members: at least one member is required";
  if (c.members.size() > core::kMaxReplicas) {
    return "members: at most " + std::to_string(core::kMaxReplicas) + " replicas are supported";
  }
  std::set<uint32_t> ids;
  for (const Member& m : c.members) {
    if (m.id >= c.members.size()) {
      return "members: ids must be 0.." + std::to_string(c.members.size() - 1) + ", got " +
             std::to_string(m.id);
    }
    if (!ids.insert(m.id).second) return "members: id " + std::to_string(m.id) + " appears twice";
    if (m.host.empty()) return "members[" + std::to_string(m.id) + "].host: empty";
    if (m.bootstrap_port == 0 && c.members.size() > 1) {
      return "members[" + std::to_string(m.id) + "].bootstrapPort: must be set";
    }
    if (c.fabric == "soft" && m.fabric_port == 0 && c.members.size() > 1) {
      return "members[" + std::to_string(m.id) + "].fabricPort: must be set for the soft fabric";
    }
  }
  if (!ids.count(c.id)) return "id: " + std::to_string(c.id) + " is not in members";
  if (c.fabric != "soft" && c.fabric != "verbs") return "fabric: must be soft or verbs";
#if !defined(MU_WITH_VERBS)
  if (c.fabric == "verbs") return "fabric: this build has no verbs backend (libibverbs missing)";
#endif
  if (c.secret.empty()) return "secret: the cluster secret must not be empty";
  if (c.log_bytes % 4096 != 0 || c.log_bytes < 4 * c.replication.max_entry_bytes()) {
    return "logSizeBytes: must be a multiple of 4096 and at least 4 maximal entries (" +
           std::to_string(4 * c.replication.max_entry_bytes()) + " bytes)";
  }
  if (c.static_leader && *c.static_leader >= c.members.size()) return "leader: not a member id";
  return core::validate(c.detector);
}

struct Engine::Resources {
  std::unique_ptr<fabric::Device> device;
  fabric::SoftDevice* soft = nullptr;  // device, when it is the soft fabric (fault hooks)
  std::unique_ptr<fabric::Bootstrap> bootstrap;
  std::unique_ptr<AlignedBuffer> log, background, scratch;
  std::unique_ptr<fabric::MemoryRegion> log_mr, background_mr, scratch_mr;
  std::unique_ptr<fabric::CompletionQueue> log_cq, bg_cq;
  std::map<uint32_t, std::unique_ptr<fabric::QueuePair>> log_qps, bg_qps;
  std::unique_ptr<core::Replica> replica;
  uint64_t started_ns = 0;
  uint64_t incarnation = 0;
  std::map<uint32_t, uint64_t> peer_incarnations;  // link thread only (after start)
  std::map<uint32_t, Member> members;
};

Result<std::unique_ptr<Engine>> Engine::start(const EngineConfig& config,
                                              core::StateMachine* state_machine) {
  if (std::string problem = validate(config); !problem.empty()) {
    return Status::Error(ErrorCode::kInvalidArgument, problem);
  }
  auto res = std::make_unique<Resources>();
  {
    std::random_device entropy;
    res->incarnation = (uint64_t{entropy()} << 32) | entropy();
  }
  for (const Member& m : config.members) res->members[m.id] = m;
  const Member* self = nullptr;
  for (const Member& m : config.members) {
    if (m.id == config.id) self = &m;
  }

  // 1. The fabric device.
  if (config.fabric == "soft") {
    fabric::SoftConfig sc;
    sc.name = "soft-" + std::to_string(config.id);
    sc.listen_host = self->host;
    sc.listen_port = self->fabric_port;
    sc.secret = config.secret;
    sc.netns = config.netns;
    sc.busy_poll = config.busy_poll;
    std::unique_ptr<fabric::SoftDevice> soft;
    if (Status s = take(fabric::open_soft_device(sc), &soft, "soft fabric"); !s.ok()) return s;
    res->soft = soft.get();
    res->device = std::move(soft);
  } else {
#if defined(MU_WITH_VERBS)
    fabric::VerbsConfig vc;
    vc.device = config.verbs_device;
    vc.port = config.verbs_port;
    vc.gid_index = config.verbs_gid_index;
    if (Status s = take(fabric::open_verbs_device(vc), &res->device, "verbs fabric"); !s.ok()) {
      return s;
    }
#endif
  }

  // 2. Registered memory and completion queues.
  core::ReplicationConfig rc = config.replication;
  rc.start_as_voter = config.bootstrap;
  rc.self_id = config.id;
  rc.replica_count = static_cast<uint32_t>(config.members.size());
  res->log = std::make_unique<AlignedBuffer>(core::kHeaderBytes + config.log_bytes);
  res->background = std::make_unique<AlignedBuffer>(core::kBackgroundBytes);
  const size_t scratch_bytes = core::ScratchLayout{rc.max_entry_bytes()}.total_bytes();
  res->scratch = std::make_unique<AlignedBuffer>(scratch_bytes);
  if (!res->log->data || !res->background->data || !res->scratch->data) {
    return Status::Error(ErrorCode::kResourceExhausted, "cannot allocate the log memory");
  }
  using fabric::kAccessAll;
  if (Status s = take(res->device->register_region(res->log->data,
                                                   core::kHeaderBytes + config.log_bytes,
                                                   kAccessAll),
                      &res->log_mr, "register the log");
      !s.ok()) {
    return s;
  }
  if (Status s = take(res->device->register_region(res->background->data, core::kBackgroundBytes,
                                                   kAccessAll),
                      &res->background_mr, "register the background region");
      !s.ok()) {
    return s;
  }
  if (Status s = take(res->device->register_region(res->scratch->data, scratch_bytes,
                                                   fabric::kLocalWrite),
                      &res->scratch_mr, "register scratch memory");
      !s.ok()) {
    return s;
  }
  if (Status s = take(res->device->create_cq(1 << 14), &res->log_cq, "log CQ"); !s.ok()) return s;
  if (Status s = take(res->device->create_cq(1 << 12), &res->bg_cq, "background CQ"); !s.ok()) {
    return s;
  }

  // 3. One QP per peer per plane, and the bootstrap exchange of addresses.
  std::vector<fabric::BootstrapOffer> offers;
  for (const Member& m : config.members) {
    if (m.id == config.id) continue;
    fabric::QpCaps log_caps{2048, 256}, bg_caps{256, 256};
    if (Status s = take(res->device->create_qp(*res->log_cq, log_caps), &res->log_qps[m.id],
                        "log QP");
        !s.ok()) {
      return s;
    }
    if (Status s = take(res->device->create_qp(*res->bg_cq, bg_caps), &res->bg_qps[m.id],
                        "background QP");
        !s.ok()) {
      return s;
    }
    PeerBlob blob{};
    blob.version = kBlobVersion;
    blob.from_id = config.id;
    blob.to_id = m.id;
    blob.incarnation = res->incarnation;
    blob.log_bytes = config.log_bytes;
    blob.max_entry_bytes = rc.max_entry_bytes();
    blob.log_qp = res->log_qps[m.id]->address();
    blob.bg_qp = res->bg_qps[m.id]->address();
    blob.log = res->log_mr->remote();
    blob.background = res->background_mr->remote();
    fabric::BootstrapOffer offer;
    offer.peer = {m.id, m.host, m.bootstrap_port};
    offer.blob.resize(sizeof blob);
    std::memcpy(offer.blob.data(), &blob, sizeof blob);
    offers.push_back(std::move(offer));
  }
  std::vector<core::PeerLink> links;
  if (!offers.empty()) {
    fabric::BootstrapConfig bc;
    bc.id = config.id;
    bc.host = self->host;
    bc.port = self->bootstrap_port;
    bc.secret = config.secret;
    bc.netns = config.netns;
    if (Status s = take(fabric::Bootstrap::listen(bc), &res->bootstrap, "bootstrap"); !s.ok()) {
      return s;
    }
    auto blobs = res->bootstrap->exchange_all(offers, config.bootstrap_timeout_ms);
    if (!blobs.ok()) {
      return Status::Error(blobs.status().code, "bootstrap exchange: " + blobs.status().message);
    }
    for (size_t i = 0; i < offers.size(); ++i) {
      auto bytes = blobs.value()[i];
      if (bytes.size() == sizeof(PeerBlob) + 1) bytes.pop_back();  // already past its barrier
      const uint32_t peer_id = offers[i].peer.id;
      PeerBlob theirs{};
      if (bytes.size() != sizeof theirs) {
        return Status::Error(ErrorCode::kInvalidArgument,
                             "bootstrap: replica " + std::to_string(peer_id) +
                                 " sent a malformed address block (another version?)");
      }
      std::memcpy(&theirs, bytes.data(), sizeof theirs);
      if (theirs.version != kBlobVersion || theirs.from_id != peer_id ||
          theirs.to_id != config.id) {
        return Status::Error(ErrorCode::kInvalidArgument,
                             "bootstrap: replica " + std::to_string(peer_id) +
                                 " is not who the member list says");
      }
      if (theirs.log_bytes != config.log_bytes || theirs.max_entry_bytes != rc.max_entry_bytes()) {
        return Status::Error(ErrorCode::kInvalidArgument,
                             "logSizeBytes/maxRequestBytes differ between replica " +
                                 std::to_string(config.id) + " and replica " +
                                 std::to_string(peer_id) + ": every replica must use the same");
      }
      // Log QPs start read-only: write access is granted only by a permission manager.
      fabric::QueuePair& lq = *res->log_qps[peer_id];
      fabric::QueuePair& bq = *res->bg_qps[peer_id];
      Status s = lq.to_init(fabric::kRemoteRead);
      if (s.ok()) s = lq.to_rtr(theirs.log_qp);
      if (s.ok()) s = lq.to_rts();
      if (s.ok()) s = bq.to_init(fabric::kRemoteRead | fabric::kRemoteWrite);
      if (s.ok()) s = bq.to_rtr(theirs.bg_qp);
      if (s.ok()) s = bq.to_rts();
      if (!s.ok()) {
        return Status::Error(s.code, "connecting to replica " + std::to_string(peer_id) + ": " +
                                         s.message);
      }
      res->peer_incarnations[peer_id] = theirs.incarnation;
      core::PeerLink link;
      link.id = peer_id;
      link.log_qp = &lq;
      link.log_qp_peer = theirs.log_qp;
      link.log = theirs.log;
      link.bg_qp = &bq;
      link.bg_qp_peer = theirs.bg_qp;
      link.background = theirs.background;
      links.push_back(link);
    }
  }

  // 4. A barrier: nobody starts posting before every peer's QPs are ready to receive (a WRITE
  // or READ reaching a QP still in RESET/INIT fails the connection, as on real NICs).
  if (!offers.empty()) {
    for (fabric::BootstrapOffer& offer : offers) {
      offer.blob.push_back(kReadyMarker);
      if (Status s = res->bootstrap->publish(offer.peer.id, offer.blob); !s.ok()) return s;
    }
    const uint64_t deadline = res->device->now_ns() + uint64_t(config.bootstrap_timeout_ms) * 1'000'000;
    for (const fabric::BootstrapOffer& offer : offers) {
      for (;;) {
        auto blob = res->bootstrap->fetch(offer.peer, config.bootstrap_timeout_ms);
        if (!blob.ok()) {
          return Status::Error(blob.status().code, "bootstrap barrier: " + blob.status().message);
        }
        if (blob.value().size() == sizeof(PeerBlob) + 1 && blob.value().back() == kReadyMarker) break;
        if (res->device->now_ns() > deadline) {
          return Status::Error(ErrorCode::kUnreachable,
                               "bootstrap barrier: replica " + std::to_string(offer.peer.id) +
                                   " did not become ready in time");
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(2));  // setup code, not the core
      }
    }
  }

  // 5. The replication plane.
  core::ReplicaMemory memory;
  memory.device = res->device.get();
  memory.log = res->log->data;
  memory.log_bytes = core::kHeaderBytes + config.log_bytes;
  memory.log_mr = res->log_mr.get();
  memory.background = res->background->data;
  memory.background_mr = res->background_mr.get();
  memory.scratch = res->scratch->data;
  memory.scratch_bytes = scratch_bytes;
  memory.scratch_mr = res->scratch_mr.get();
  memory.log_cq = res->log_cq.get();
  memory.bg_cq = res->bg_cq.get();
  core::ReplicaConfig replica_config;
  replica_config.replication = rc;
  replica_config.detector = config.detector;
  replica_config.detector.self_id = config.id;
  replica_config.detector.replica_count = rc.replica_count;
  replica_config.static_leader = config.static_leader;
  res->replica = std::make_unique<core::Replica>(replica_config, memory, std::move(links),
                                                 state_machine);
  res->started_ns = res->device->now_ns();
  std::unique_ptr<Engine> engine(new Engine(config, std::move(res)));
  engine->snapshot_.fabric = config.fabric;
  engine->snapshot_.replication.voter = config.bootstrap;  // until the first snapshot
  if (engine->resources_->bootstrap) {
    engine->resources_->bootstrap->serve_state(
        [e = engine.get()](uint32_t requester) { return e->provide_state(requester); });
  }
  engine->thread_ = std::thread([e = engine.get()] { e->run(); });
  if (engine->resources_->bootstrap) {
    engine->link_thread_ = std::thread([e = engine.get()] { e->watch_links(); });
  }
  return engine;
}

Engine::Engine(const EngineConfig& config, std::unique_ptr<Resources> resources)
    : config_(config), resources_(std::move(resources)) {}

Engine::~Engine() { stop(); }

void Engine::stop() {
  {
    std::lock_guard<std::mutex> lock(stop_mutex_);
    stopping_.store(true);
  }
  stop_cv_.notify_all();
  // The engine thread first: a stopped replica stops beating and touching the fabric at once,
  // whatever the link watcher is waiting for.
  if (thread_.joinable()) thread_.join();
  if (link_thread_.joinable()) link_thread_.join();
  if (transfer_thread_.joinable()) transfer_thread_.join();
  // A state request in progress returns (provide_state sees stopping_) before this does.
  if (resources_ && resources_->bootstrap) resources_->bootstrap->serve_state(nullptr);
}

Result<std::vector<uint8_t>> Engine::provide_state(uint32_t /*requester: any member may ask*/) {
  // Taken between two polls of the engine thread; this thread waits for it.
  struct Pending {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    std::optional<core::StateSnapshot> snapshot;
  };
  auto pending = std::make_shared<Pending>();
  post([pending](core::ReplicationPlane& plane) {
    std::optional<core::StateSnapshot> s = plane.take_snapshot();
    std::lock_guard<std::mutex> lock(pending->mu);
    pending->snapshot = std::move(s);
    pending->done = true;
    pending->cv.notify_all();
  });
  std::unique_lock<std::mutex> lock(pending->mu);
  for (int waited_ms = 0; !pending->done; waited_ms += 20) {
    if (stopping_.load() || waited_ms > 10'000) {
      return Status::Error(ErrorCode::kInvalidState,
                           "replica " + std::to_string(config_.id) + " is stopping or too busy");
    }
    pending->cv.wait_for(lock, std::chrono::milliseconds(20));
  }
  if (!pending->snapshot) {
    return Status::Error(ErrorCode::kNotSupported, "its state machine cannot take snapshots");
  }
  return core::encode_snapshot(*pending->snapshot);
}

// Engine thread: a leader asked us (in our log header) to fetch the applied state of a replica.
void Engine::maybe_fetch_state(core::ReplicationPlane& plane) {
  if (!resources_->bootstrap || transfer_busy_.load()) return;
  const std::optional<uint32_t> from = plane.transfer_wanted();
  const uint64_t now = resources_->device->now_ns();
  if (!from || now < transfer_retry_ns_ || !resources_->members.count(*from)) return;
  if (transfer_thread_.joinable()) transfer_thread_.join();  // finished: transfer_busy_ is false
  transfer_busy_.store(true);
  transfer_retry_ns_ = now + 200'000'000;  // a failed attempt is retried after 200 ms
  const Member& m = resources_->members.at(*from);
  transfer_thread_ = std::thread([this, peer = fabric::BootstrapPeer{m.id, m.host, m.bootstrap_port}] {
    const auto started = std::chrono::steady_clock::now();
    auto fail = [&](const std::string& why) {
      std::lock_guard<std::mutex> lock(mutex_);
      snapshot_.last_transfer_error = why;
      transfer_busy_.store(false);
    };
    Result<std::vector<uint8_t>> bytes = resources_->bootstrap->fetch_state(peer, 30'000);
    if (!bytes.ok()) return fail("fetching the state of replica " + std::to_string(peer.id) + ": " +
                                 bytes.status().message);
    auto snapshot = std::make_shared<core::StateSnapshot>();
    if (std::string why = core::decode_snapshot(bytes.value().data(), bytes.value().size(),
                                                snapshot.get());
        !why.empty()) {
      return fail("state from replica " + std::to_string(peer.id) + ": " + why);
    }
    const uint64_t size = bytes.value().size();
    post([this, snapshot, size, started](core::ReplicationPlane& plane) {
      const std::string why = plane.install_snapshot(*snapshot);
      const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
          std::chrono::steady_clock::now() - started);
      std::lock_guard<std::mutex> lock(mutex_);
      snapshot_.last_transfer_error = why;
      if (why.empty()) {
        ++snapshot_.state_transfers;
        snapshot_.last_transfer_bytes = size;
        snapshot_.last_transfer_us = static_cast<uint64_t>(us.count());
        transfer_retry_ns_ = 0;
      }
      transfer_busy_.store(false);
    });
  });
}

// Setup-side (may block): a peer that looks failed may have been restarted with new QPs and
// regions (a replaced pod). Ask its bootstrap endpoint; a new incarnation means re-linking: the
// engine thread adopts the new addresses and reconnects our side of both planes.
void Engine::watch_links() {
  Resources& res = *resources_;
  uint64_t round = 0;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(stop_mutex_);
      if (stop_cv_.wait_for(lock, std::chrono::milliseconds(20), [this] { return stopping_.load(); })) break;
    }
    if (++round % 5 != 0) continue;  // every ~100 ms
    const EngineStats s = stats();
    for (const PeerView& view : s.peers) {
      if (view.alive || stopping_.load()) continue;
      const Member& m = res.members.at(view.id);
      auto blob = res.bootstrap->fetch({m.id, m.host, m.bootstrap_port}, 200);
      if (!blob.ok() || blob.value().size() < sizeof(PeerBlob)) continue;
      PeerBlob theirs{};
      std::memcpy(&theirs, blob.value().data(), sizeof theirs);
      if (theirs.version != kBlobVersion || theirs.from_id != m.id || theirs.to_id != config_.id ||
          theirs.incarnation == res.peer_incarnations[m.id] ||
          theirs.log_bytes != config_.log_bytes) {
        continue;
      }
      res.peer_incarnations[m.id] = theirs.incarnation;
      core::PeerLink link;
      link.id = m.id;
      link.log_qp = res.log_qps.at(m.id).get();
      link.log_qp_peer = theirs.log_qp;
      link.log = theirs.log;
      link.bg_qp = res.bg_qps.at(m.id).get();
      link.bg_qp_peer = theirs.bg_qp;
      link.background = theirs.background;
      post([link](core::ReplicationPlane& plane) { plane.update_peer(link); });
    }
  }
}

core::ReplicationPlane& Engine::plane_on_engine_thread() { return resources_->replica->plane(); }

fabric::SoftDevice* Engine::soft_device() { return resources_->soft; }

void Engine::leave() {
  std::lock_guard<std::mutex> lock(mutex_);
  leave_requested_ = true;
}

void Engine::post(std::function<void(core::ReplicationPlane&)> work) {
  std::lock_guard<std::mutex> lock(mutex_);
  inbox_.push_back(std::move(work));
}

void Engine::switchover(uint32_t to, std::function<void(std::string)> done) {
  std::lock_guard<std::mutex> lock(mutex_);
  replica_inbox_.push_back([to, done = std::move(done)](core::Replica& replica) {
    done(replica.set_preferred_leader(to));
  });
}

void Engine::add_pollable(std::function<bool()> poll) {
  std::lock_guard<std::mutex> lock(mutex_);
  new_pollables_.push_back(std::move(poll));
}

EngineStats Engine::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return snapshot_;
}

std::vector<core::Event> Engine::take_events() {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<core::Event> out;
  out.swap(events_);
  return out;
}

void Engine::run() {
  core::Replica& replica = *resources_->replica;
  core::ReplicationPlane& plane = replica.plane();
  std::vector<std::function<void(core::ReplicationPlane&)>> work;
  std::vector<std::function<void(core::Replica&)>> replica_work;
  std::vector<std::function<bool()>> pollables;
  uint64_t polls = 0;
  uint64_t idle_polls = 0;
  while (!stopping_.load(std::memory_order_relaxed)) {
    bool progress = replica.poll();
    for (auto& p : pollables) progress |= p();
    ++polls;
    // Every 256 iterations: take posted work and new pollables, publish a stats snapshot.
    if ((polls & 255) == 0) {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        work.swap(inbox_);
        replica_work.swap(replica_inbox_);
        if (leave_requested_) {
          leave_requested_ = false;
          replica.leave();
        }
        for (auto& p : new_pollables_) pollables.push_back(std::move(p));
        new_pollables_.clear();
        EngineStats& s = snapshot_;
        s.replication = plane.stats();
        s.milestones = plane.milestones();
        s.leader_view = replica.leader_view();
        s.preferred_leader = replica.detector().preferred();
        s.peers.clear();
        for (const core::PeerLink& p : plane.peers()) {
          s.peers.push_back({p.id, replica.detector().alive(p.id), replica.detector().score(p.id)});
        }
        s.heartbeat = replica.detector().heartbeat();
        s.heartbeat_stopped = replica.detector().heartbeat_stopped();
        s.failovers = replica.failovers();
        s.timelines.assign(replica.timelines().begin(), replica.timelines().end());
        s.recent_switches.assign(replica.switches().begin(), replica.switches().end());
        for (core::Event& e : replica.take_events()) events_.push_back(std::move(e));
        if (events_.size() > 4096) events_.erase(events_.begin(), events_.end() - 4096);
        s.polls = polls;
        s.uptime_ns = resources_->device->now_ns() - resources_->started_ns;
      }
      for (auto& w : work) w(plane);
      for (auto& w : replica_work) w(replica);
      maybe_fetch_state(plane);
      progress |= !work.empty() || !replica_work.empty();
      work.clear();
      replica_work.clear();
    }
    idle_polls = progress ? 0 : idle_polls + 1;
    // Busy-polling is Mu's speed. A replica not asked to spin backs off when idle: it yields,
    // then naps briefly, so idle replicas do not starve each other on a small machine; the
    // heartbeat still moves every nap, far more often than peers read it.
    if (!config_.busy_poll && idle_polls > 64) {
      if (idle_polls > 4096) {
        std::this_thread::sleep_for(std::chrono::microseconds(config_.idle_nap_us));
      } else {
        sched_yield();
      }
    }
  }
}

}  // namespace mu::engine
