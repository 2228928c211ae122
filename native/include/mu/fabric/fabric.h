// The fabric: an RDMA-shaped interface (DESIGN.md §3.2).
//
// It mirrors libibverbs so that the `verbs` backend is a thin mapping, and the `soft` and `sim`
// backends emulate exactly the behaviour observed on real NICs (rdma_rxe in particular):
//
//   Device (= protection domain) → MemoryRegion (registered, access flags, lkey/rkey)
//                                → CompletionQueue (polled, never blocks)
//                                → QueuePair (reliable connected; RESET/INIT/RTR/RTS/ERR;
//                                             per-QP remote access flags)
//
// Contracts every backend honours (checked by native/test/fabric/conformance_test.cc):
//  1. Work requests on one QP execute and complete in posting order.
//  2. An operation the target QP does not allow (its access flags) completes with
//     kRemoteInvalidRequest; an operation on a region that does not allow it, with an unknown
//     rkey, or out of the region's bounds completes with kRemoteAccessError. Either moves the
//     requester QP (and, for the QP-flag case, the responder QP) to ERR. Later work requests on an
//     ERR QP complete with kWorkRequestFlushed. Recovery: cycle both QPs through RESET.
//  3. Permission changes: set_access() in RTS (fast path), the RESET→INIT→RTR→RTS cycle
//     (slow path) and region re-registration (third mechanism). Helpers in permission.h time them.
//  4. Once a permission change on the responder returns, no WRITE through the revoked QP lands,
//     whatever the requester does (paused mid-post, or posting on). The requester need not cooperate.
//  5. Nothing blocks: post() and poll() return at once.
//
// Ownership: a Device outlives every region, CQ and QP created from it. A QP's CQ outlives the QP.
// Buffers named in a WorkRequest must stay valid until its completion is polled (as in verbs),
// except inline WRITE payloads, which are copied at post().
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <variant>

namespace mu::fabric {

// Remote/local access flags (values are our own; backends translate).
enum Access : uint32_t {
  kAccessNone = 0,
  kLocalWrite = 1u << 0,
  kRemoteWrite = 1u << 1,
  kRemoteRead = 1u << 2,
  kRemoteAtomic = 1u << 3,
};
constexpr uint32_t kAccessAll = kLocalWrite | kRemoteWrite | kRemoteRead | kRemoteAtomic;

enum class QpState : uint8_t { kReset, kInit, kRtr, kRts, kErr };
const char* to_string(QpState s);

enum class Opcode : uint8_t { kWrite, kRead, kCompareSwap };
const char* to_string(Opcode op);

// Completion status. Numeric values equal enum ibv_wc_status so the verbs backend maps 1:1.
enum class WcStatus : uint8_t {
  kSuccess = 0,
  kLocalLengthError = 1,
  kLocalQpOperationError = 2,
  kLocalProtectionError = 4,
  kWorkRequestFlushed = 5,
  kBadResponse = 7,
  kLocalAccessError = 8,
  kRemoteInvalidRequest = 9,
  kRemoteAccessError = 10,
  kRemoteOperationError = 11,
  kRetryExceeded = 12,
  kFatal = 19,
  kGeneral = 21,
};
const char* to_string(WcStatus s);

// Errors returned by calls (as opposed to completions). Stable codes, human message.
enum class ErrorCode : uint8_t {
  kOk = 0,
  kInvalidArgument,
  kInvalidState,       // e.g. post() on a QP in RESET, set_access() outside RTS
  kQueueFull,          // send queue has max_send_wr outstanding work requests
  kNotSupported,
  kResourceExhausted,  // e.g. memlock limit, too many QPs
  kUnreachable,        // peer cannot be connected
  kAuthenticationFailed,
  kInternal,
};
const char* to_string(ErrorCode c);

struct Status {
  ErrorCode code = ErrorCode::kOk;
  std::string message;

  static Status Ok() { return {}; }
  static Status Error(ErrorCode c, std::string m) { return {c, std::move(m)}; }
  bool ok() const { return code == ErrorCode::kOk; }
  std::string to_string() const;
};

// A value or the Status explaining why there is none.
template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Status error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)
  bool ok() const { return std::holds_alternative<T>(v_); }
  T& value() { return std::get<T>(v_); }
  const T& value() const { return std::get<T>(v_); }
  T& operator*() { return value(); }
  T* operator->() { return &value(); }
  const Status& status() const {
    static const Status kOk{};
    return ok() ? kOk : std::get<Status>(v_);
  }

 private:
  std::variant<T, Status> v_;
};

// What a peer needs to target a registered region: [addr, addr + length) under rkey.
struct RemoteRegion {
  uint64_t addr = 0;
  uint32_t rkey = 0;
  uint64_t length = 0;
};

// Fixed-size opaque routing block for one QP (eRPC style). Each backend defines its layout;
// it travels over the bootstrap channel and is handed to the peer QP's to_rtr().
struct QpAddress {
  static constexpr size_t kSize = 64;
  uint8_t bytes[kSize] = {};
};

struct WorkRequest {
  uint64_t wr_id = 0;
  Opcode opcode = Opcode::kWrite;
  // Local buffer: source of a WRITE, destination of a READ, 8-byte destination of a CAS (old value).
  void* local_addr = nullptr;
  uint32_t length = 0;
  uint32_t lkey = 0;  // ignored for inline WRITEs
  uint64_t remote_addr = 0;
  uint32_t rkey = 0;
  uint64_t compare = 0;  // CAS only
  uint64_t swap = 0;     // CAS only
  bool signaled = true;  // unsignaled successes produce no completion; errors always do
  bool inline_data = false;  // WRITE only; length <= QueuePair::max_inline()
};

struct Completion {
  uint64_t wr_id = 0;
  WcStatus status = WcStatus::kSuccess;
  Opcode opcode = Opcode::kWrite;
  uint32_t byte_len = 0;
  uint32_t qp_num = 0;
};

class MemoryRegion {
 public:
  virtual ~MemoryRegion() = default;
  virtual void* addr() const = 0;
  virtual size_t length() const = 0;
  virtual uint32_t lkey() const = 0;
  virtual uint32_t rkey() const = 0;
  virtual uint32_t access() const = 0;
  RemoteRegion remote() const {
    return {reinterpret_cast<uint64_t>(addr()), rkey(), static_cast<uint64_t>(length())};
  }
};

class CompletionQueue {
 public:
  virtual ~CompletionQueue() = default;
  // Moves up to max completions into out; returns how many (0 when none). Never blocks.
  virtual int poll(Completion* out, int max) = 0;
};

struct QpCaps {
  uint32_t max_send_wr = 256;
  uint32_t max_inline = 256;  // the backend may lower it to what the device supports
};

class QueuePair {
 public:
  virtual ~QueuePair() = default;
  virtual uint32_t qp_num() const = 0;
  virtual QpState state() const = 0;
  virtual uint32_t access() const = 0;
  virtual uint32_t max_inline() const = 0;
  // This QP's routing block, to be handed to the peer QP's to_rtr().
  virtual QpAddress address() const = 0;

  // State transitions, as ibv_modify_qp. Illegal transitions return kInvalidState.
  // to_init sets the remote access flags; to_rtr binds the QP to its one peer.
  virtual Status to_init(uint32_t access) = 0;
  virtual Status to_rtr(const QpAddress& remote) = 0;
  virtual Status to_rts() = 0;
  virtual Status to_reset() = 0;  // from any state; pending work is dropped without completions
  // Fast-path permission change: modify access flags in RTS (RTS→RTS). Returns when enforced.
  virtual Status set_access(uint32_t access) = 0;

  // Posts one work request. Never blocks. Returns kInvalidState in RESET/INIT/RTR and kQueueFull
  // when max_send_wr requests are outstanding; in ERR it is accepted and completes flushed.
  virtual Status post(const WorkRequest& wr) = 0;
};

class Device {
 public:
  virtual ~Device() = default;
  virtual std::string name() const = 0;
  // Monotonic time of this device's world, in ns (virtual time on sim). Used to time changes.
  virtual uint64_t now_ns() const = 0;
  // How many connections to peers this device has seen lost so far (a peer's NIC closed or reset
  // it). A hint, cheap enough to read on every poll: when it moves, a QP's next work request fails
  // at once, so a failure detector can probe now instead of at its next scheduled read. 0 when
  // the fabric cannot tell (an RDMA NIC learns of a dead peer only when its retries run out).
  virtual uint64_t lost_connections() const { return 0; }

  virtual Result<std::unique_ptr<MemoryRegion>> register_region(void* addr, size_t length,
                                                                uint32_t access) = 0;
  // Third permission mechanism: re-register the region with new access flags. Afterwards the
  // region has a new rkey (the old one is invalid, so no write through it lands) and lkey.
  virtual Status reregister_region(MemoryRegion& region, uint32_t access) = 0;
  virtual Result<std::unique_ptr<CompletionQueue>> create_cq(uint32_t depth) = 0;
  virtual Result<std::unique_ptr<QueuePair>> create_qp(CompletionQueue& cq, const QpCaps& caps) = 0;
};

}  // namespace mu::fabric
