// The benchmarks' in-process group: see bench_cluster.h.
#include "bench_cluster.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>

#include "core/background_layout.h"
#include "mu/fabric/soft.h"

namespace mu::tools {

using fabric::ErrorCode;
using fabric::Result;
using fabric::Status;

namespace {

// Page-aligned, zeroed memory for registered regions (what Engine allocates too).
struct Aligned {
  uint8_t* data = nullptr;
  size_t bytes = 0;
  explicit Aligned(size_t n) : bytes((n + 4095) / 4096 * 4096) {
    data = static_cast<uint8_t*>(std::aligned_alloc(4096, bytes));
    if (data != nullptr) std::memset(data, 0, bytes);
  }
  ~Aligned() { std::free(data); }
  Aligned(const Aligned&) = delete;
  Aligned& operator=(const Aligned&) = delete;
};

template <typename T>
Status take(Result<T> r, T* out, const std::string& what) {
  if (!r.ok()) return Status::Error(r.status().code, what + ": " + r.status().message);
  *out = std::move(r.value());
  return Status::Ok();
}

Status connect(fabric::QueuePair& a, fabric::QueuePair& b, uint32_t access) {
  Status s = a.to_init(access);
  if (s.ok()) s = b.to_init(access);
  if (s.ok()) s = a.to_rtr(b.address());
  if (s.ok()) s = b.to_rtr(a.address());
  if (s.ok()) s = a.to_rts();
  if (s.ok()) s = b.to_rts();
  return s;
}

std::string random_secret() {
  std::random_device rd;
  std::string hex;
  for (int i = 0; i < 8; ++i) {
    char word[9];
    std::snprintf(word, sizeof word, "%08x", static_cast<unsigned>(rd()));
    hex += word;
  }
  return hex;
}

uint64_t splitmix64(uint64_t* state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

struct BenchCluster::Node::Memory : Aligned {
  using Aligned::Aligned;
};
BenchCluster::Node::~Node() {
  replica.reset();
  probe_qps.clear();
  probe_cq.reset();
}

BenchCluster::BenchCluster(const ClusterOptions& options)
    : options_(options), rng_state_(options.seed ^ 0x6d75'6265'6e63'68ULL) {}

BenchCluster::~BenchCluster() {
  // Replicas first (they reference QPs and memory), then each node's fabric objects, then the
  // devices; the sim world (if any) last.
  for (auto& n : nodes_) n->replica.reset();
  nodes_.clear();
}

Result<std::unique_ptr<BenchCluster>> BenchCluster::create(const ClusterOptions& options) {
  const uint32_t n = options.replicas;
  if (n == 0 || n > core::kMaxReplicas) {
    return Status::Error(ErrorCode::kInvalidArgument,
                         "replicas must be in [1, " + std::to_string(core::kMaxReplicas) + "]");
  }
  if (options.static_leader && *options.static_leader >= n) {
    return Status::Error(ErrorCode::kInvalidArgument, "static_leader is not a replica id");
  }
  core::ReplicationConfig rc = options.replication;
  rc.replica_count = n;
  rc.start_as_voter = true;  // a brand-new group
  if (options.ring_bytes % core::kCacheLineBytes != 0 ||
      options.ring_bytes < 4 * rc.max_entry_bytes()) {
    return Status::Error(ErrorCode::kInvalidArgument,
                         "ring_bytes must be a multiple of 64 and hold 4 maximal entries (" +
                             std::to_string(4 * rc.max_entry_bytes()) + " bytes)");
  }
  if (std::string problem = core::validate(options.detector); !problem.empty()) {
    return Status::Error(ErrorCode::kInvalidArgument, problem);
  }
  std::unique_ptr<BenchCluster> c(new BenchCluster(options));
  if (options.fabric == BenchFabric::kSim) {
    c->world_ = std::make_unique<fabric::SimWorld>(options.seed, options.sim_faults);
  }
  const std::string secret = random_secret();
  const size_t scratch_bytes = core::ScratchLayout{rc.max_entry_bytes()}.total_bytes();

  for (uint32_t i = 0; i < n; ++i) {
    auto node = std::make_unique<Node>();
    const std::string name = "bench-replica-" + std::to_string(i);
    if (c->world_) {
      node->device = c->world_->create_device(name);
    } else {
      fabric::SoftConfig sc;
      sc.name = name;
      sc.listen_host = "127.0.0.1";
      sc.listen_port = 0;
      sc.secret = secret;
      sc.busy_poll = options.soft_busy_poll;
      std::unique_ptr<fabric::SoftDevice> soft;
      if (Status s = take(fabric::open_soft_device(sc), &soft, "soft device " + name); !s.ok()) {
        return s;
      }
      node->device = std::move(soft);
    }
    node->log = std::make_unique<Node::Memory>(core::kHeaderBytes + options.ring_bytes);
    node->background = std::make_unique<Node::Memory>(core::kBackgroundBytes);
    node->scratch = std::make_unique<Node::Memory>(scratch_bytes);
    if (!node->log->data || !node->background->data || !node->scratch->data) {
      return Status::Error(ErrorCode::kResourceExhausted, "cannot allocate replica memory");
    }
    fabric::Device& d = *node->device;
    Status s = take(d.register_region(node->log->data, core::kHeaderBytes + options.ring_bytes,
                                      fabric::kAccessAll),
                    &node->log_mr, "register log");
    if (s.ok()) {
      s = take(d.register_region(node->background->data, core::kBackgroundBytes,
                                 fabric::kAccessAll),
               &node->background_mr, "register background");
    }
    if (s.ok()) {
      s = take(d.register_region(node->scratch->data, scratch_bytes, fabric::kLocalWrite),
               &node->scratch_mr, "register scratch");
    }
    if (s.ok()) s = take(d.create_cq(1 << 14), &node->log_cq, "log CQ");
    if (s.ok()) s = take(d.create_cq(1 << 12), &node->bg_cq, "background CQ");
    if (!s.ok()) return s;
    c->nodes_.push_back(std::move(node));
  }
  for (uint32_t i = 0; i < n; ++i) {
    Node& a = *c->nodes_[i];
    for (uint32_t j = 0; j < n; ++j) {
      if (i == j) continue;
      Status s = take(a.device->create_qp(*a.log_cq, fabric::QpCaps{2048, 256}), &a.log_qps[j],
                      "log QP");
      if (s.ok()) {
        s = take(a.device->create_qp(*a.bg_cq, fabric::QpCaps{256, 256}), &a.bg_qps[j], "bg QP");
      }
      if (!s.ok()) return s;
    }
  }
  if (options.probe_qps && n > 1) {
    constexpr size_t kProbeBytes = 64 * 1024;
    Node& leader = *c->nodes_[0];
    for (uint32_t i = 0; i < n; ++i) {
      Node& node = *c->nodes_[i];
      node.probe = std::make_unique<Node::Memory>(kProbeBytes);
      Status s = take(node.device->register_region(node.probe->data, kProbeBytes, fabric::kAccessAll),
                      &node.probe_mr, "register probe region");
      if (!s.ok()) return s;
    }
    Status s = take(leader.device->create_cq(4096), &leader.probe_cq, "probe CQ");
    if (!s.ok()) return s;
    for (uint32_t j = 1; j < n; ++j) {
      Node& f = *c->nodes_[j];
      s = take(leader.device->create_qp(*leader.probe_cq, fabric::QpCaps{256, 256}),
               &leader.probe_qps[j], "probe QP");
      // The follower's side completes nothing (it only responds): its log CQ is fine.
      if (s.ok()) s = take(f.device->create_qp(*f.log_cq, fabric::QpCaps{16, 256}), &f.probe_qps[0], "probe QP");
      if (s.ok()) s = connect(*leader.probe_qps[j], *f.probe_qps[0], fabric::kAccessAll);
      if (!s.ok()) return Status::Error(s.code, "probe QPs: " + s.message);
      c->probe_links_.push_back({j, leader.probe_qps[j].get(), f.probe_mr->remote()});
    }
    c->probe_source_ = leader.probe->data;
  }
  // Log QPs start read-only: write access is only ever granted by a permission manager.
  for (uint32_t i = 0; i < n; ++i) {
    for (uint32_t j = i + 1; j < n; ++j) {
      Node& a = *c->nodes_[i];
      Node& b = *c->nodes_[j];
      Status s = connect(*a.log_qps[j], *b.log_qps[i], fabric::kRemoteRead);
      if (s.ok()) {
        s = connect(*a.bg_qps[j], *b.bg_qps[i], fabric::kRemoteRead | fabric::kRemoteWrite);
      }
      if (!s.ok()) return Status::Error(s.code, "connecting QPs: " + s.message);
    }
  }
  for (uint32_t i = 0; i < n; ++i) {
    Node& r = *c->nodes_[i];
    core::ReplicaMemory memory;
    memory.device = r.device.get();
    memory.log = r.log->data;
    memory.log_bytes = core::kHeaderBytes + options.ring_bytes;
    memory.log_mr = r.log_mr.get();
    memory.background = r.background->data;
    memory.background_mr = r.background_mr.get();
    memory.scratch = r.scratch->data;
    memory.scratch_bytes = scratch_bytes;
    memory.scratch_mr = r.scratch_mr.get();
    memory.log_cq = r.log_cq.get();
    memory.bg_cq = r.bg_cq.get();
    std::vector<core::PeerLink> peers;
    for (uint32_t j = 0; j < n; ++j) {
      if (j == i) continue;
      Node& peer = *c->nodes_[j];
      core::PeerLink p;
      p.id = j;
      p.log_qp = r.log_qps[j].get();
      p.log_qp_peer = peer.log_qps[i]->address();
      p.log = peer.log_mr->remote();
      p.bg_qp = r.bg_qps[j].get();
      p.bg_qp_peer = peer.bg_qps[i]->address();
      p.background = peer.background_mr->remote();
      peers.push_back(p);
    }
    core::ReplicaConfig config;
    config.replication = rc;
    config.replication.self_id = i;
    config.detector = options.detector;
    config.detector.self_id = i;
    config.detector.replica_count = n;
    config.static_leader = options.static_leader;
    r.replica = std::make_unique<core::Replica>(config, memory, std::move(peers), &r.machine);
  }
  return c;
}

void BenchCluster::crash(uint32_t i) {
  Node& node = *nodes_[i];
  node.crashed = true;
  if (world_) world_->crash(*node.device);
}

void BenchCluster::pause(uint32_t i) {
  Node& node = *nodes_[i];
  node.paused = true;
  if (world_) world_->pause(*node.device);
}

void BenchCluster::resume(uint32_t i) {
  Node& node = *nodes_[i];
  node.paused = false;
  if (world_) world_->resume(*node.device);
}

bool BenchCluster::poll_all() {
  bool progress = false;
  for (auto& node : nodes_) {
    if (!node->crashed && !node->paused) progress |= node->replica->poll();
  }
  return progress;
}

void BenchCluster::sim_step() {
  const uint64_t r = splitmix64(&rng_state_);
  if ((r & 1) == 0) {
    world_->step();
    return;
  }
  Node& node = *nodes_[(r >> 1) % nodes_.size()];
  if (!node.crashed && !node.paused) node.replica->poll();
}

std::optional<uint32_t> BenchCluster::leader() {
  std::optional<uint32_t> found;
  for (uint32_t i = 0; i < nodes_.size(); ++i) {
    Node& node = *nodes_[i];
    if (node.crashed || node.paused) continue;
    const core::ReplicationStats& s = node.replica->plane().stats();
    if (s.role == core::Role::kLeader && std::strcmp(s.phase, "ready") == 0) {
      if (found) return std::nullopt;
      found = i;
    }
  }
  return found;
}

}  // namespace mu::tools
