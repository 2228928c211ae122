// The `sim` fabric (see mu/fabric/sim.h). Single-threaded and deterministic: all state lives in
// SimWorld::Impl; devices, regions, CQs and QPs are thin handles onto it.
//
// Life of a work request on a QP's send queue (ops execute at the responder in queue order, and
// complete at the requester in queue order):
//   posted ──(request event: one per piece of a torn WRITE)──► executed
//          ──(response event)──► completion on the requester's CQ (if signaled or failed)
// Each event becomes eligible a random number of steps after the previous one; step() picks one
// eligible event at random across all QPs, which is what reorders operations across QPs.
#include <algorithm>
#include <cassert>
#include <cstring>
#include <deque>
#include <map>
#include <random>
#include <vector>

#include "mu/fabric/sim.h"

namespace mu::fabric {
namespace {

// Modelled cost of control-path verbs in virtual time, so permission changes have a duration.
constexpr uint64_t kModifyQpNs = 2'000;
constexpr uint64_t kRegisterRegionNs = 20'000;
constexpr uint32_t kMaxInline = 256;

struct SimAddress {  // layout of QpAddress on this fabric
  uint32_t node;
  uint32_t qp_num;
};
static_assert(sizeof(SimAddress) <= QpAddress::kSize);

struct Op {
  WorkRequest wr;
  std::vector<uint8_t> inline_payload;  // copied at post() for inline WRITEs
  // Torn WRITE pieces not yet applied, as [offset, length) into the payload, in landing order.
  std::vector<std::pair<uint32_t, uint32_t>> pieces_left;
  bool started = false;   // at least one request event ran
  bool executed = false;  // the responder finished (successfully or not)
  WcStatus status = WcStatus::kSuccess;
  uint64_t eligible_step = 0;  // when the next event of this op may run

  // Ready for the next work request; the buffers keep their capacity.
  void reset() {
    wr = WorkRequest{};
    inline_payload.clear();
    pieces_left.clear();
    started = executed = false;
    status = WcStatus::kSuccess;
    eligible_step = 0;
  }
};

// A QP's send queue: a ring of Ops reused slot by slot, so that a post allocates nothing once the
// ring has grown to the QP's depth (the simulator's overhead stays out of the engine's measured
// cost; a std::deque allocated a chunk every third post).
class OpQueue {
 public:
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  Op& operator[](size_t i) { return slots_[(head_ + i) & (slots_.size() - 1)]; }
  Op& front() { return (*this)[0]; }
  // A fresh op at the back.
  Op& push_back() {
    if (size_ == slots_.size()) grow();
    Op& op = (*this)[size_++];
    op.reset();
    return op;
  }
  // The front op's slot is reused by a later push_back(), not before.
  void pop_front() {
    head_ = (head_ + 1) & (slots_.size() - 1);
    --size_;
  }
  void clear() { head_ = size_ = 0; }

 private:
  void grow() {
    std::vector<Op> bigger(std::max<size_t>(8, slots_.size() * 2));  // a power of two
    for (size_t i = 0; i < size_; ++i) bigger[i] = std::move((*this)[i]);
    slots_.swap(bigger);
    head_ = 0;
  }
  std::vector<Op> slots_;
  size_t head_ = 0;
  size_t size_ = 0;
};

}  // namespace

struct SimRegionState {
  uint32_t node;
  uint8_t* addr;
  size_t length;
  uint32_t lkey;
  uint32_t rkey;
  uint32_t access;
};

struct SimDeviceState;

struct SimQpState {
  uint32_t node;
  const SimDeviceState* device = nullptr;  // its host (map nodes are stable): no lookup per post
  uint32_t qp_num;
  struct SimCqState* cq;
  QpState state = QpState::kReset;
  uint32_t access = 0;
  uint32_t max_send_wr;
  bool bound = false;
  SimAddress remote{};
  OpQueue send_queue;         // posted, not yet completed; front is the oldest
  uint64_t delay_steps = 0;   // this QP's link is slow: its operations start this much later
  size_t executed_count = 0;  // ops at the front of send_queue that the responder finished
};

struct SimCqState {
  uint32_t depth;
  std::deque<Completion> entries;
};

struct SimDeviceState {
  uint32_t node;
  std::string name;
  bool paused = false;
  bool crashed = false;
  uint64_t outgoing_delay_steps = 0;  // a slow host: its operations start this much later
};

struct SimWorld::Impl {
  std::mt19937_64 rng;
  uint64_t seed;
  SimFaults faults;
  uint64_t steps = 0;
  uint64_t extra_ns = 0;  // virtual time spent in control-path verbs
  uint32_t next_node = 1;
  uint32_t next_qp_num = 0x100;
  uint32_t next_key = 0x1000;
  std::map<uint32_t, SimDeviceState> devices;
  std::map<uint64_t, SimQpState*> qps;         // (node << 32 | qp_num) → QP; ordered: deterministic
  std::map<uint64_t, SimRegionState*> rkeys;   // (node << 32 | rkey) → region
  std::map<uint64_t, SimRegionState*> lkeys;   // (node << 32 | lkey) → region

  Impl(uint64_t s, SimFaults f) : rng(s), seed(s), faults(f) {}

  static uint64_t key(uint32_t node, uint32_t id) { return (uint64_t{node} << 32) | id; }
  uint64_t now_ns() const { return steps * faults.step_ns + extra_ns; }

  uint64_t delay() {
    if (faults.max_delay_steps == 0) return 0;
    return std::uniform_int_distribution<uint64_t>(0, faults.max_delay_steps)(rng);
  }

  uint32_t new_key() {
    // Unique per world and never reused, with a few random bits so guessed keys miss.
    const uint32_t low = static_cast<uint32_t>(rng() & 0xff);
    return (next_key++ << 8) | low;
  }

  void push_completion(SimQpState& qp, const WorkRequest& wr, WcStatus status) {
    Completion c;
    c.wr_id = wr.wr_id;
    c.status = status;
    c.opcode = wr.opcode;
    c.byte_len = wr.opcode == Opcode::kCompareSwap ? 8 : wr.length;
    c.qp_num = qp.qp_num;
    qp.cq->entries.push_back(c);
  }

  // The requester QP enters ERR: every outstanding op completes flushed (the failed one already
  // completed with its own status).
  void fail_requester(SimQpState& qp) {
    qp.state = QpState::kErr;
    for (size_t i = 0; i < qp.send_queue.size(); ++i) {
      push_completion(qp, qp.send_queue[i].wr, WcStatus::kWorkRequestFlushed);
    }
    qp.send_queue.clear();
    qp.executed_count = 0;
  }

  SimQpState* responder_of(const SimQpState& requester) {
    auto it = qps.find(key(requester.remote.node, requester.remote.qp_num));
    if (it == qps.end()) return nullptr;
    SimQpState* r = it->second;
    const SimDeviceState& dev = devices.at(r->node);
    if (dev.crashed) return nullptr;
    if (r->state != QpState::kRtr && r->state != QpState::kRts) return nullptr;
    if (!r->bound || r->remote.node != requester.node || r->remote.qp_num != requester.qp_num) {
      return nullptr;
    }
    return r;
  }

  static uint32_t required_access(Opcode op) {
    switch (op) {
      case Opcode::kWrite: return kRemoteWrite;
      case Opcode::kRead: return kRemoteRead;
      case Opcode::kCompareSwap: return kRemoteAtomic;
    }
    return kAccessAll;
  }

  // Local buffer of a non-inline op, checked against the requester's regions (lkey + bounds).
  uint8_t* local_buffer(const SimQpState& qp, const Op& op) {
    auto it = lkeys.find(key(qp.node, op.wr.lkey));
    if (it == lkeys.end()) return nullptr;
    const SimRegionState& r = *it->second;
    const auto start = reinterpret_cast<uintptr_t>(op.wr.local_addr);
    const auto begin = reinterpret_cast<uintptr_t>(r.addr);
    const uint32_t len = op.wr.opcode == Opcode::kCompareSwap ? 8 : op.wr.length;
    if (start < begin || start + len > begin + r.length) return nullptr;
    if (op.wr.opcode != Opcode::kWrite && !(r.access & kLocalWrite)) return nullptr;
    return static_cast<uint8_t*>(op.wr.local_addr);
  }

  // Target bytes at the responder, or nullptr (remote access error): rkey, region access, bounds.
  uint8_t* remote_target(const SimQpState& responder, const Op& op, uint32_t len) {
    auto it = rkeys.find(key(responder.node, op.wr.rkey));
    if (it == rkeys.end()) return nullptr;
    const SimRegionState& r = *it->second;
    if (!(r.access & required_access(op.wr.opcode))) return nullptr;
    const auto begin = reinterpret_cast<uint64_t>(r.addr);
    if (op.wr.remote_addr < begin || op.wr.remote_addr - begin > r.length ||
        len > r.length - (op.wr.remote_addr - begin)) {
      return nullptr;
    }
    if (op.wr.opcode == Opcode::kCompareSwap && (op.wr.remote_addr % 8) != 0) return nullptr;
    return r.addr + (op.wr.remote_addr - begin);
  }

  void split_into_pieces(Op& op) {
    const uint32_t len = op.wr.length;
    std::uniform_real_distribution<double> coin(0.0, 1.0);
    if (op.wr.opcode != Opcode::kWrite || len < 2 || faults.max_tear_pieces < 2 ||
        coin(rng) >= faults.tear_probability) {
      op.pieces_left.push_back({0, len});
      return;
    }
    const uint32_t max_pieces = std::min<uint32_t>(faults.max_tear_pieces, len);
    const uint32_t n = std::uniform_int_distribution<uint32_t>(2, max_pieces)(rng);
    std::vector<uint32_t> cuts{0, len};
    while (cuts.size() < n + 1) {
      uint32_t c = std::uniform_int_distribution<uint32_t>(1, len - 1)(rng);
      if (std::find(cuts.begin(), cuts.end(), c) == cuts.end()) cuts.push_back(c);
    }
    std::sort(cuts.begin(), cuts.end());
    for (size_t i = 0; i + 1 < cuts.size(); ++i) {
      op.pieces_left.push_back({cuts[i], cuts[i + 1] - cuts[i]});
    }
    std::shuffle(op.pieces_left.begin(), op.pieces_left.end(), rng);  // visibility order is free
  }

  // Runs one request event (or one piece of a torn WRITE) of the op at position `index`.
  void execute(SimQpState& qp, size_t index) {
    Op& op = qp.send_queue[index];
    auto finish = [&](WcStatus status) {
      op.executed = true;
      op.status = status;
      op.eligible_step = steps + delay();
      ++qp.executed_count;
      // The next op in this QP may go once this one finished at the responder.
      if (index + 1 < qp.send_queue.size()) {
        Op& next = qp.send_queue[index + 1];
        next.eligible_step = std::max(next.eligible_step, steps + delay());
      }
    };
    const uint32_t len = op.wr.opcode == Opcode::kCompareSwap ? 8 : op.wr.length;
    const uint8_t* source = nullptr;
    uint8_t* local = nullptr;
    if (op.wr.opcode == Opcode::kWrite && op.wr.inline_data) {
      source = op.inline_payload.data();
    } else if (len > 0) {
      local = local_buffer(qp, op);
      if (local == nullptr) return finish(WcStatus::kLocalProtectionError);
      source = local;
    }
    SimQpState* responder = responder_of(qp);
    if (responder == nullptr) return finish(WcStatus::kRetryExceeded);
    // As rxe: both ends of the connection fail. The responder's QP enters ERR like any QP does:
    // its own outstanding requests complete flushed (left queued, they would never complete, and
    // a leader waiting for one — a joining follower's header read — waited forever).
    if (!(responder->access & required_access(op.wr.opcode))) {
      fail_requester(*responder);
      return finish(WcStatus::kRemoteInvalidRequest);
    }
    uint8_t* target = remote_target(*responder, op, len);
    if (target == nullptr) {
      fail_requester(*responder);
      return finish(WcStatus::kRemoteAccessError);
    }
    switch (op.wr.opcode) {
      case Opcode::kWrite: {
        if (!op.started) split_into_pieces(op);
        op.started = true;
        assert(!op.pieces_left.empty());
        auto [offset, piece_len] = op.pieces_left.back();
        op.pieces_left.pop_back();
        if (piece_len > 0) std::memcpy(target + offset, source + offset, piece_len);
        if (!op.pieces_left.empty()) {
          op.eligible_step = steps + delay();  // the rest of the WRITE lands later
          return;
        }
        return finish(WcStatus::kSuccess);
      }
      case Opcode::kRead:
        if (len > 0) std::memmove(local, target, len);
        return finish(WcStatus::kSuccess);
      case Opcode::kCompareSwap: {
        uint64_t current;
        std::memcpy(&current, target, 8);
        if (current == op.wr.compare) std::memcpy(target, &op.wr.swap, 8);
        std::memcpy(local, &current, 8);
        return finish(WcStatus::kSuccess);
      }
    }
  }

  // Delivers the response of the oldest op: its completion, and on error the QP's failure.
  void respond(SimQpState& qp) {
    const Op& op = qp.send_queue.front();  // its slot stays intact until the next post
    qp.send_queue.pop_front();
    --qp.executed_count;
    if (op.status != WcStatus::kSuccess) {
      push_completion(qp, op.wr, op.status);
      fail_requester(qp);
      return;
    }
    if (op.wr.signaled) push_completion(qp, op.wr, WcStatus::kSuccess);
    if (!qp.send_queue.empty()) {
      qp.send_queue.front().eligible_step =
          std::max(qp.send_queue.front().eligible_step, steps);
    }
  }

  struct Event {
    SimQpState* qp;
    bool is_response;
  };

  bool step() {
    ++steps;
    std::vector<Event> eligible;
    for (auto& [k, qp] : qps) {
      if (qp->state != QpState::kRts || qp->send_queue.empty()) continue;
      const SimDeviceState& dev = devices.at(qp->node);
      if (dev.crashed) continue;
      Op& front = qp->send_queue.front();
      if (front.executed && front.eligible_step <= steps) eligible.push_back({qp, true});
      // After a failed op nothing more executes: the requester stops at the error (as RC does).
      const bool stopped = qp->executed_count > 0 &&
                           qp->send_queue[qp->executed_count - 1].status != WcStatus::kSuccess;
      if (!dev.paused && !stopped && qp->executed_count < qp->send_queue.size()) {
        const Op& next = qp->send_queue[qp->executed_count];
        if (next.eligible_step <= steps) eligible.push_back({qp, false});
      }
    }
    if (eligible.empty()) return false;
    const Event e = eligible[std::uniform_int_distribution<size_t>(0, eligible.size() - 1)(rng)];
    if (e.is_response) {
      respond(*e.qp);
    } else {
      execute(*e.qp, e.qp->executed_count);
    }
    return true;
  }
};

namespace {

class SimRegion final : public MemoryRegion {
 public:
  SimRegion(SimWorld::Impl& w, SimRegionState s) : w_(w), s_(s) { index(); }
  ~SimRegion() override { unindex(); }
  void* addr() const override { return s_.addr; }
  size_t length() const override { return s_.length; }
  uint32_t lkey() const override { return s_.lkey; }
  uint32_t rkey() const override { return s_.rkey; }
  uint32_t access() const override { return s_.access; }

  void reregister(uint32_t access) {
    unindex();
    s_.access = access;
    s_.lkey = w_.new_key();
    s_.rkey = w_.new_key();
    index();
  }

 private:
  void index() {
    w_.rkeys[SimWorld::Impl::key(s_.node, s_.rkey)] = &s_;
    w_.lkeys[SimWorld::Impl::key(s_.node, s_.lkey)] = &s_;
  }
  void unindex() {
    w_.rkeys.erase(SimWorld::Impl::key(s_.node, s_.rkey));
    w_.lkeys.erase(SimWorld::Impl::key(s_.node, s_.lkey));
  }
  SimWorld::Impl& w_;
  SimRegionState s_;
};

class SimCq final : public CompletionQueue {
 public:
  explicit SimCq(uint32_t depth) { s_.depth = depth; }
  int poll(Completion* out, int max) override {
    int n = 0;
    while (n < max && !s_.entries.empty()) {
      out[n++] = s_.entries.front();
      s_.entries.pop_front();
    }
    return n;
  }
  SimCqState s_;
};

class SimQp final : public QueuePair {
 public:
  SimQp(SimWorld::Impl& w, uint32_t node, SimCq& cq, const QpCaps& caps) : w_(w) {
    s_.node = node;
    s_.device = &w.devices.at(node);
    s_.qp_num = w.next_qp_num++;
    s_.cq = &cq.s_;
    s_.max_send_wr = caps.max_send_wr;
    max_inline_ = std::min(caps.max_inline, kMaxInline);
    w_.qps[SimWorld::Impl::key(node, s_.qp_num)] = &s_;
  }
  ~SimQp() override { w_.qps.erase(SimWorld::Impl::key(s_.node, s_.qp_num)); }

  uint32_t qp_num() const override { return s_.qp_num; }
  QpState state() const override { return s_.state; }
  uint32_t access() const override { return s_.access; }
  uint32_t max_inline() const override { return max_inline_; }
  QpAddress address() const override {
    QpAddress a;
    SimAddress sa{s_.node, s_.qp_num};
    std::memcpy(a.bytes, &sa, sizeof sa);
    return a;
  }

  Status to_init(uint32_t access) override {
    if (s_.state != QpState::kReset && s_.state != QpState::kInit) return bad("INIT");
    w_.extra_ns += kModifyQpNs;
    s_.state = QpState::kInit;
    s_.access = access;
    return Status::Ok();
  }
  Status to_rtr(const QpAddress& remote) override {
    if (s_.state != QpState::kInit) return bad("RTR");
    w_.extra_ns += kModifyQpNs;
    std::memcpy(&s_.remote, remote.bytes, sizeof s_.remote);
    s_.bound = true;
    s_.state = QpState::kRtr;
    return Status::Ok();
  }
  Status to_rts() override {
    if (s_.state != QpState::kRtr) return bad("RTS");
    w_.extra_ns += kModifyQpNs;
    s_.state = QpState::kRts;
    return Status::Ok();
  }
  Status to_reset() override {
    w_.extra_ns += kModifyQpNs;
    s_.state = QpState::kReset;
    s_.access = 0;
    s_.bound = false;
    s_.send_queue.clear();  // dropped without completions, as ibv_modify_qp(RESET)
    s_.executed_count = 0;
    return Status::Ok();
  }
  Status set_access(uint32_t access) override {
    if (s_.state != QpState::kRts) {
      return Status::Error(ErrorCode::kInvalidState,
                           std::string("access flags can change only in RTS, QP is ") +
                               to_string(s_.state));
    }
    w_.extra_ns += kModifyQpNs;
    // Takes effect at once: every later request event checks the responder's flags.
    s_.access = access;
    return Status::Ok();
  }

  Status post(const WorkRequest& wr) override {
    if (s_.state != QpState::kRts && s_.state != QpState::kErr) {
      return Status::Error(ErrorCode::kInvalidState,
                           std::string("post on a QP in ") + to_string(s_.state));
    }
    if (wr.inline_data && (wr.opcode != Opcode::kWrite || wr.length > max_inline_)) {
      return Status::Error(ErrorCode::kInvalidArgument, "inline WRITE longer than max_inline");
    }
    if (wr.opcode == Opcode::kCompareSwap && (wr.length != 8 || wr.remote_addr % 8 != 0)) {
      // As libibverbs/rxe: an atomic must be 8 bytes at an 8-byte aligned address.
      return Status::Error(ErrorCode::kInvalidArgument, "compare-and-swap needs 8 aligned bytes");
    }
    if (s_.send_queue.size() >= s_.max_send_wr) {
      return Status::Error(ErrorCode::kQueueFull, "send queue full");
    }
    if (s_.state == QpState::kErr) {
      w_.push_completion(s_, wr, WcStatus::kWorkRequestFlushed);
      return Status::Ok();
    }
    Op& op = s_.send_queue.push_back();
    op.wr = wr;
    if (wr.inline_data) {
      const auto* p = static_cast<const uint8_t*>(wr.local_addr);
      op.inline_payload.assign(p, p + wr.length);
    }
    op.eligible_step = w_.steps + w_.delay() + s_.device->outgoing_delay_steps + s_.delay_steps;
    return Status::Ok();
  }

  SimQpState s_;

 private:
  Status bad(const char* target) const {
    return Status::Error(ErrorCode::kInvalidState, std::string("illegal QP transition ") +
                                                       to_string(s_.state) + " -> " + target);
  }
  SimWorld::Impl& w_;
  uint32_t max_inline_;
};

class SimDevice final : public Device {
 public:
  SimDevice(SimWorld::Impl& w, std::string name) : w_(w), node_(w.next_node++) {
    w_.devices[node_] = SimDeviceState{node_, std::move(name)};
  }
  ~SimDevice() override { w_.devices.at(node_).crashed = true; }

  std::string name() const override { return w_.devices.at(node_).name; }
  uint64_t now_ns() const override { return w_.now_ns(); }
  uint32_t node() const { return node_; }

  Result<std::unique_ptr<MemoryRegion>> register_region(void* addr, size_t length,
                                                        uint32_t access) override {
    if (addr == nullptr || length == 0) {
      return Status::Error(ErrorCode::kInvalidArgument, "region must be non-empty");
    }
    w_.extra_ns += kRegisterRegionNs;
    SimRegionState s{node_, static_cast<uint8_t*>(addr), length, w_.new_key(), w_.new_key(),
                     access};
    return std::unique_ptr<MemoryRegion>(new SimRegion(w_, s));
  }
  Status reregister_region(MemoryRegion& region, uint32_t access) override {
    w_.extra_ns += kRegisterRegionNs;
    static_cast<SimRegion&>(region).reregister(access);
    return Status::Ok();
  }
  Result<std::unique_ptr<CompletionQueue>> create_cq(uint32_t depth) override {
    return std::unique_ptr<CompletionQueue>(new SimCq(depth));
  }
  Result<std::unique_ptr<QueuePair>> create_qp(CompletionQueue& cq, const QpCaps& caps) override {
    return std::unique_ptr<QueuePair>(new SimQp(w_, node_, static_cast<SimCq&>(cq), caps));
  }

 private:
  SimWorld::Impl& w_;
  uint32_t node_;
};

}  // namespace

SimWorld::SimWorld(uint64_t seed, SimFaults faults) : impl_(new Impl(seed, faults)) {}
SimWorld::~SimWorld() = default;

std::unique_ptr<Device> SimWorld::create_device(const std::string& name) {
  return std::make_unique<SimDevice>(*impl_, name);
}

bool SimWorld::step() { return impl_->step(); }

size_t SimWorld::run_until_idle(size_t max_steps) {
  size_t events = 0;
  // Idle means no eligible event for longer than the maximum delay: then nothing is pending.
  size_t idle_streak = 0;
  for (size_t i = 0; i < max_steps && idle_streak <= impl_->faults.max_delay_steps + 1; ++i) {
    if (impl_->step()) {
      ++events;
      idle_streak = 0;
    } else {
      ++idle_streak;
    }
  }
  return events;
}

uint64_t SimWorld::now_ns() const { return impl_->now_ns(); }
uint64_t SimWorld::seed() const { return impl_->seed; }
SimFaults& SimWorld::faults() { return impl_->faults; }

void SimWorld::pause(Device& device) {
  impl_->devices.at(static_cast<SimDevice&>(device).node()).paused = true;
}
void SimWorld::resume(Device& device) {
  impl_->devices.at(static_cast<SimDevice&>(device).node()).paused = false;
}
void SimWorld::set_outgoing_delay(Device& device, uint64_t delay_ns) {
  const uint64_t step_ns = std::max<uint64_t>(impl_->faults.step_ns, 1);
  impl_->devices.at(static_cast<SimDevice&>(device).node()).outgoing_delay_steps =
      (delay_ns + step_ns - 1) / step_ns;
}
void SimWorld::set_qp_delay(QueuePair& qp, uint64_t delay_ns) {
  const uint64_t step_ns = std::max<uint64_t>(impl_->faults.step_ns, 1);
  static_cast<SimQp&>(qp).s_.delay_steps = (delay_ns + step_ns - 1) / step_ns;
}
void SimWorld::crash(Device& device) {
  const uint32_t node = static_cast<SimDevice&>(device).node();
  impl_->devices.at(node).crashed = true;
  for (auto& [k, qp] : impl_->qps) {
    if (qp->node == node) {
      qp->send_queue.clear();
      qp->executed_count = 0;
      qp->state = QpState::kErr;
    }
  }
}
void SimWorld::fail_qp(QueuePair& qp) {
  SimQpState& s = static_cast<SimQp&>(qp).s_;
  if (!s.send_queue.empty()) {
    impl_->push_completion(s, s.send_queue.front().wr, WcStatus::kRetryExceeded);
    s.send_queue.pop_front();
  }
  impl_->fail_requester(s);
}

}  // namespace mu::fabric
