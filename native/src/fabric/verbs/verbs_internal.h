// Private classes of the verbs backend. Setup and control (may allocate, may make system calls
// that sleep) live in device.cc; the datapath — post() and poll(), which never allocate — lives
// in datapath.cc.
#pragma once

#include <infiniband/verbs.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "mu/fabric/fabric.h"
#include "mu/fabric/verbs.h"

namespace mu::fabric::verbs {

// Completion statuses are the verbs values (fabric.h promises a 1:1 mapping).
static_assert(static_cast<int>(WcStatus::kSuccess) == IBV_WC_SUCCESS);
static_assert(static_cast<int>(WcStatus::kLocalLengthError) == IBV_WC_LOC_LEN_ERR);
static_assert(static_cast<int>(WcStatus::kLocalQpOperationError) == IBV_WC_LOC_QP_OP_ERR);
static_assert(static_cast<int>(WcStatus::kLocalProtectionError) == IBV_WC_LOC_PROT_ERR);
static_assert(static_cast<int>(WcStatus::kWorkRequestFlushed) == IBV_WC_WR_FLUSH_ERR);
static_assert(static_cast<int>(WcStatus::kBadResponse) == IBV_WC_BAD_RESP_ERR);
static_assert(static_cast<int>(WcStatus::kLocalAccessError) == IBV_WC_LOC_ACCESS_ERR);
static_assert(static_cast<int>(WcStatus::kRemoteInvalidRequest) == IBV_WC_REM_INV_REQ_ERR);
static_assert(static_cast<int>(WcStatus::kRemoteAccessError) == IBV_WC_REM_ACCESS_ERR);
static_assert(static_cast<int>(WcStatus::kRemoteOperationError) == IBV_WC_REM_OP_ERR);
static_assert(static_cast<int>(WcStatus::kRetryExceeded) == IBV_WC_RETRY_EXC_ERR);
static_assert(static_cast<int>(WcStatus::kFatal) == IBV_WC_FATAL_ERR);
static_assert(static_cast<int>(WcStatus::kGeneral) == IBV_WC_GENERAL_ERR);

// Our own invariants (never bad input, which returns a Status): a broken one aborts, in every
// build type.
#define MU_VERBS_INVARIANT(cond)                                                       \
  do {                                                                                 \
    if (!(cond)) ::mu::fabric::verbs::invariant_failed(#cond, __FILE__, __LINE__);     \
  } while (0)
[[noreturn]] void invariant_failed(const char* what, const char* file, int line);

// A fresh work-request epoch (see VerbsQp::epoch_).
uint32_t next_epoch();

// fabric.h access bits → IBV_ACCESS_* (for QPs, only the remote bits mean anything).
int to_ibv_access(uint32_t access);

// A Status naming the failed call and the errno it returned (`err` = errno value).
Status call_error(const std::string& call, int err);

class VerbsQp;

// Everything open_verbs_device() found out before creating the device.
struct DeviceSetup {
  ibv_context* context = nullptr;
  ibv_pd* pd = nullptr;
  ibv_device_attr device_attr{};
  ibv_port_attr port_attr{};
  uint8_t port = 1;
  int gid_index = 0;
  ibv_gid gid{};
  uint8_t ack_timeout = 14;
  uint8_t retry_count = 6;
};

// "ACTIVE", "DOWN", ... (the sysfs spelling; ibv_port_state_str spells them differently).
const char* port_state_name(ibv_port_state state);

class VerbsDevice final : public Device {
 public:
  explicit VerbsDevice(const DeviceSetup& setup);  // takes ownership of context and pd
  ~VerbsDevice() override;

  std::string name() const override;
  uint64_t now_ns() const override;
  Result<std::unique_ptr<MemoryRegion>> register_region(void* addr, size_t length,
                                                        uint32_t access) override;
  Status reregister_region(MemoryRegion& region, uint32_t access) override;
  Result<std::unique_ptr<CompletionQueue>> create_cq(uint32_t depth) override;
  Result<std::unique_ptr<QueuePair>> create_qp(CompletionQueue& cq, const QpCaps& caps) override;

  ibv_context* context() const { return setup_.context; }
  ibv_pd* pd() const { return setup_.pd; }
  const DeviceSetup& setup() const { return setup_; }
  bool ethernet() const { return setup_.port_attr.link_layer == IBV_LINK_LAYER_ETHERNET; }

 private:
  const DeviceSetup setup_;
  // ibv_rereg_mr failed (unsupported: rdma_rxe) or kept the rkey: skip it from then on and
  // register anew at once.
  bool rereg_useless_ = false;
  // Largest inline size a QP creation has been seen to accept (-1: not yet known). Requests
  // above it are lowered before ibv_create_qp is tried.
  int max_inline_seen_ = -1;
  uint32_t max_inline_refused_ = 0;  // smallest size refused so far (0: none)
};

class VerbsRegion final : public MemoryRegion {
 public:
  VerbsRegion(ibv_mr* mr, uint32_t access) : mr_(mr), access_(access) {}
  ~VerbsRegion() override;
  void* addr() const override { return mr_->addr; }
  size_t length() const override { return mr_->length; }
  uint32_t lkey() const override { return mr_->lkey; }
  uint32_t rkey() const override { return mr_->rkey; }
  uint32_t access() const override { return access_; }

  ibv_mr* mr() const { return mr_; }
  void replace(ibv_mr* mr, uint32_t access) {
    mr_ = mr;
    access_ = access;
  }

 private:
  ibv_mr* mr_;
  uint32_t access_;
};

class VerbsCq final : public CompletionQueue {
 public:
  explicit VerbsCq(ibv_cq* cq) : cq_(cq) {}
  ~VerbsCq() override;
  int poll(Completion* out, int max) override;  // datapath.cc

  ibv_cq* cq() const { return cq_; }
  void attach(uint32_t qp_num, VerbsQp* qp) { qps_[qp_num] = qp; }
  void detach(uint32_t qp_num) { qps_.erase(qp_num); }

 private:
  ibv_cq* const cq_;
  std::unordered_map<uint32_t, VerbsQp*> qps_;  // QPs whose completions land here
};

// One slot per outstanding work request: what the completion needs that verbs may not report.
struct SendSlot {
  uint64_t wr_id = 0;  // the caller's
  uint32_t length = 0;
  Opcode opcode = Opcode::kWrite;
};

class VerbsQp final : public QueuePair {
 public:
  VerbsQp(VerbsDevice& device, VerbsCq& cq, ibv_qp* qp, uint32_t max_send_wr, uint32_t max_inline,
          uint32_t psn);
  ~VerbsQp() override;

  uint32_t qp_num() const override { return qp_->qp_num; }
  QpState state() const override;
  uint32_t access() const override { return access_; }
  uint32_t max_inline() const override { return max_inline_; }
  QpAddress address() const override;

  Status to_init(uint32_t access) override;
  Status to_rtr(const QpAddress& remote) override;
  Status to_rts() override;
  Status to_reset() override;
  Status set_access(uint32_t access) override;
  Status post(const WorkRequest& wr) override;  // datapath.cc

  // Called by the CQ for each of this QP's completions (datapath.cc). False: the completion
  // belongs to work dropped by a to_reset() and must not be reported.
  bool complete(const ibv_wc& wc, Completion& out);

 private:
  Status modify(ibv_qp_attr& attr, int mask, const char* what);
  QpState query_state() const;

  // Work-request ids handed to verbs: epoch in the high 32 bits, sequence number in the low 32.
  // The sequence number of a request is its index in posting order within the epoch; its slot
  // is sequence % slots_.size(). Invariant: completed_ <= posted_ <= completed_ + max_send_wr_.
  static uint64_t verbs_wr_id(uint32_t epoch, uint32_t seq) {
    return (static_cast<uint64_t>(epoch) << 32) | seq;
  }

  VerbsDevice& device_;
  VerbsCq& cq_;
  ibv_qp* const qp_;
  const uint32_t max_send_wr_;
  const uint32_t max_inline_;
  const uint32_t psn_;  // our starting send PSN; the peer's rq_psn (stable across cycles)
  uint32_t access_ = 0;
  // State as our own transitions left it; the device may have moved an RTR/RTS QP to ERR since
  // (state() asks the device then).
  QpState state_ = QpState::kReset;
  uint8_t path_mtu_ = 0;  // enum ibv_mtu agreed in to_rtr
  std::vector<SendSlot> slots_;
  // Unique among all QPs of the process (next_epoch()), renewed by to_reset(): a completion left
  // in a CQ by a destroyed QP cannot be mistaken for one of a new QP that reuses its number.
  std::atomic<uint32_t> epoch_;
  std::atomic<uint32_t> posted_{0};     // requests posted in this epoch
  std::atomic<uint32_t> completed_{0};  // requests known complete in this epoch
};

}  // namespace mu::fabric::verbs
