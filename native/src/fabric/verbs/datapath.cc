// The datapath of the verbs backend: post() and poll(). Neither allocates nor blocks on success;
// error returns build a Status (short messages, within the string's small buffer where hot).
#include <algorithm>

#include "fabric/verbs/verbs_internal.h"

namespace mu::fabric::verbs {

namespace {
constexpr int kPollBatch = 16;

ibv_wr_opcode to_ibv_opcode(Opcode op) {
  switch (op) {
    case Opcode::kWrite: return IBV_WR_RDMA_WRITE;
    case Opcode::kRead: return IBV_WR_RDMA_READ;
    case Opcode::kCompareSwap: return IBV_WR_ATOMIC_CMP_AND_SWP;
  }
  return IBV_WR_RDMA_WRITE;
}
}  // namespace

Status VerbsQp::post(const WorkRequest& wr) {
  // Verbs itself accepts posts in some pre-RTS states; the fabric refuses them up front.
  if (state_ != QpState::kRts) {
    return Status::Error(ErrorCode::kInvalidState,
                         std::string("post: QP is in ") + to_string(state_) + ", needs RTS");
  }
  if (wr.length > 0 && wr.local_addr == nullptr) {
    return Status::Error(ErrorCode::kInvalidArgument, "post: null local buffer");
  }
  if (wr.opcode == Opcode::kCompareSwap && (wr.length != 8 || wr.remote_addr % 8 != 0)) {
    // rdma_rxe's provider refuses both at post (EINVAL); other NICs fail them remotely. Refuse
    // them here so that every device behaves alike.
    return Status::Error(ErrorCode::kInvalidArgument,
                         "post: compare-and-swap needs length 8 and an 8-byte aligned remote address");
  }
  if (wr.inline_data && (wr.opcode != Opcode::kWrite || wr.length > max_inline_)) {
    return Status::Error(ErrorCode::kInvalidArgument,
                         "post: inline needs a WRITE of at most " + std::to_string(max_inline_) +
                             " bytes, got " + std::to_string(wr.length));
  }
  const uint32_t seq = posted_.load(std::memory_order_relaxed);
  if (seq - completed_.load(std::memory_order_acquire) >= max_send_wr_) {
    return Status::Error(ErrorCode::kQueueFull, "send queue full");
  }
  SendSlot& slot = slots_[seq & (slots_.size() - 1)];
  slot.wr_id = wr.wr_id;
  slot.length = wr.length;
  slot.opcode = wr.opcode;

  ibv_sge sge{};
  sge.addr = reinterpret_cast<uint64_t>(wr.local_addr);
  sge.length = wr.length;
  sge.lkey = wr.lkey;
  ibv_send_wr send{};
  send.wr_id = verbs_wr_id(epoch_.load(std::memory_order_relaxed), seq);
  send.sg_list = &sge;
  send.num_sge = wr.length > 0 ? 1 : 0;
  send.opcode = to_ibv_opcode(wr.opcode);
  unsigned flags = 0;
  if (wr.signaled) flags |= IBV_SEND_SIGNALED;
  if (wr.inline_data) flags |= IBV_SEND_INLINE;
  send.send_flags = flags;
  if (wr.opcode == Opcode::kCompareSwap) {
    send.wr.atomic.remote_addr = wr.remote_addr;
    send.wr.atomic.rkey = wr.rkey;
    send.wr.atomic.compare_add = wr.compare;
    send.wr.atomic.swap = wr.swap;
  } else {
    send.wr.rdma.remote_addr = wr.remote_addr;
    send.wr.rdma.rkey = wr.rkey;
  }
  ibv_send_wr* bad = nullptr;
  const int rc = ibv_post_send(qp_, &send, &bad);
  if (rc != 0) {
    if (rc == ENOMEM) return Status::Error(ErrorCode::kQueueFull, "send queue full");
    return call_error("ibv_post_send", rc);
  }
  posted_.store(seq + 1, std::memory_order_release);
  MU_VERBS_INVARIANT(seq + 1 - completed_.load(std::memory_order_relaxed) <= max_send_wr_);
  return Status::Ok();
}

bool VerbsQp::complete(const ibv_wc& wc, Completion& out) {
  const auto epoch = static_cast<uint32_t>(wc.wr_id >> 32);
  const auto seq = static_cast<uint32_t>(wc.wr_id);
  if (epoch != epoch_.load(std::memory_order_acquire)) return false;  // posted before a reset
  // Completions of one QP arrive in order, each for a request inside the send window; outside
  // it only if a to_reset() ran between the epoch check and here (another thread): stale.
  if (seq - completed_.load(std::memory_order_acquire) >= max_send_wr_) return false;
  const SendSlot& slot = slots_[seq & (slots_.size() - 1)];
  out.wr_id = slot.wr_id;
  out.status = static_cast<WcStatus>(wc.status);  // 1:1 (static_asserts in verbs_internal.h)
  out.opcode = slot.opcode;                       // wc.opcode is undefined on errors
  out.byte_len = wc.status == IBV_WC_SUCCESS ? slot.length : 0;
  out.qp_num = wc.qp_num;
  // Completions of one QP arrive in posting order: this one retires every request up to it,
  // including unsignaled ones (as verbs frees their send-queue slots).
  completed_.store(seq + 1, std::memory_order_release);
  return true;
}

int VerbsCq::poll(Completion* out, int max) {
  int n = 0;
  ibv_wc wcs[kPollBatch];
  while (n < max) {
    const int want = std::min(kPollBatch, max - n);
    const int got = ibv_poll_cq(cq_, want, wcs);
    if (got <= 0) break;
    for (int i = 0; i < got; ++i) {
      auto it = qps_.find(wcs[i].qp_num);
      if (it == qps_.end()) continue;  // the QP was destroyed
      // More completions than `want` cannot arrive, so out[n] stays in bounds.
      if (it->second->complete(wcs[i], out[n])) ++n;
    }
    if (got < want) break;
  }
  return n;
}

}  // namespace mu::fabric::verbs
