// The soft fabric: a software RDMA NIC over TCP (see mu/fabric/soft.h, DESIGN.md §3.2).
//
// Threads. The application thread calls post()/poll() and the control calls (to_*, set_access,
// register/reregister). One NIC thread per device does all socket I/O: it sends the work requests
// of its requester QPs, executes the requests arriving for its responder QPs against registered
// memory, and turns responses into completions. A CQ poll that finds its queue empty may do that
// last step itself (see SoftDeviceImpl::complete_from_poll): the response is already in the
// socket, and waiting for the NIC thread to be scheduled — on a busy machine it shares a core
// with the very peers it waits for — would put a scheduler delay into every completion.
//
// Locks (order: NIC lock, then device lock `mu_`, then any `QpCore::mu`; never the other way):
//  - the NIC lock guards the NIC's own state (connections and their buffers, QpCore::nic, the
//    epoll set). The NIC thread holds it for each pass and drops it only to sleep in epoll; an
//    application thread polling a CQ takes it only with try_lock, never waiting for it.
//  - the device lock guards the region tables and the QP table, and every responder-side check:
//    the NIC takes it around "check QP state/access flags, look up rkey, check bounds, memcpy".
//    set_access(), to_reset(), to_rtr() and reregister_region() take it too, so when they return
//    no request checked against the old permissions is still copying, and every later request is
//    checked against the new ones (contract 4 of fabric.h) — the requester plays no part in it.
//  - QpCore::mu guards one QP's send queue; post() takes only this one (short, never waits on
//    the network). Fields that both sides read (state, access, epoch, peer) are written with
//    both locks held, so a reader may hold either.
//
// Wire: one TCP connection (TCP_NODELAY) per requester QP → responder QP, opened by the
// requester's NIC as soon as the QP is in RTS (an RC QP is connected once it is ready to send: the
// first operation after a failover must not wait for a TCP and authentication handshake),
// authenticated with the cluster secret (auth.h), then bound to the responder QP by a CONNECT
// frame (wire.h). While no work waits, a connection that fails before it is bound (peer not up,
// responder QP not in RTR yet, refused) is retried quietly after 1, 2, 4 ... 100 ms; with work
// waiting, or once bound, a failure is a lost connection as described below. A newer binding of
// the same requester QP may replace a bound connection that never carried a request (it was
// opened ahead of work just before the responder was cycled); one that carried work stays the
// only one until the responder QP is cycled too. A responder QP accepts one
// connection per binding (per to_rtr), and each accepted connection remembers the binding's
// epoch: after to_reset()/to_rtr() bump the epoch, frames still arriving on an old connection are
// answered "unreachable" without touching memory, and the connection is closed. A requester QP
// opens one connection per binding too and never reconnects: a lost connection is an error, so
// recovery needs both QPs cycled through RESET (contract 2), as on rdma_rxe.
//
// Error semantics (modelled on rdma_rxe's responder, drivers/infiniband/sw/rxe/rxe_resp.c):
//  - responder QP missing, not in RTR/RTS, or not bound to this requester: the request is dropped
//    (rxe drops the packet and the requester retries until its retry count runs out); we answer
//    at once instead of waiting out the timers: requester completes kRetryExceeded, goes to ERR.
//    A lost or refused connection, a failed authentication or no response within
//    kResponseTimeoutNs give the same.
//  - QP access flags forbid the op (rxe: "unsupported opcode", class C NAK): requester completes
//    kRemoteInvalidRequest; BOTH QPs go to ERR.
//  - unknown rkey, region access forbids the op, [addr, addr+len) outside the region (rxe:
//    "rkey violation", also class C): kRemoteAccessError; BOTH QPs go to ERR (rxe moves the
//    responder to ERR for every class C error, so we do too).
//  - CAS at an address that is not 8-byte aligned (checked after the rkey/bounds checks, as rxe
//    does): kRemoteInvalidRequest; both QPs to ERR.
//  - zero-length READ/WRITE: no rkey or bounds check, nothing copied (as rxe).
//  - later work requests on an ERR QP complete kWorkRequestFlushed.
// Bad input (wrong magic, unknown frame type, oversized length, out-of-order sequence number,
// truncated frame then EOF) closes the connection before any memory is touched.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cassert>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <future>
#include <mutex>
#include <sched.h>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "fabric/auth.h"
#include "fabric/soft/net.h"
#include "fabric/soft/soft_stats.h"
#include "fabric/soft/wire.h"
#include "mu/fabric/soft.h"

namespace mu::fabric {
namespace {

using soft::DecodeResult;
using soft::FrameHeader;
using soft::FrameType;
using soft::kHeaderBytes;
using soft::kMaxMessageBytes;
using soft::ResponseStatus;

constexpr uint32_t kMaxInlineBytes = 1024;
constexpr uint32_t kMaxSendWr = 1u << 14;
constexpr uint32_t kMaxCqDepth = 1u << 20;
// Connect + authenticate + CONNECT must finish within this, else the QP's ops fail. Long enough
// for one lost SYN (TCP retransmits it after 1 s), short enough to fail a dead peer promptly.
constexpr uint64_t kConnectTimeoutNs = 3'000'000'000;
// A connection opened ahead of work that failed before it was bound is tried again after
// 1, 2, 4 ... 100 ms (peers come up, and cycle their QPs, in any order).
constexpr uint64_t kEagerRetryMinNs = 1'000'000;
constexpr uint64_t kEagerRetryMaxNs = 100'000'000;
constexpr uint64_t kEagerAfterCycleNs = 2'000'000;  // see adopt_new_binding
// An accepted connection must authenticate and bind within this, else it is closed.
constexpr uint64_t kAcceptTimeoutNs = 2'000'000'000;
// An operation on the wire without a response for this long fails with kRetryExceeded
// (rdma_rxe: ack timeout × retry count; catches a frozen peer whose kernel still ACKs TCP).
constexpr uint64_t kResponseTimeoutNs = 2'000'000'000;
constexpr uint64_t kIdlePassNs = 100'000'000;  // an idle NIC still passes over its QPs this often
// A lingering NIC thread whose yield took this long shares its CPU with a thread that does not
// yield: it stops lingering for kLingerBanMinNs, doubling up to kLingerBanMaxNs while it recurs.
constexpr uint64_t kLingerStallNs = 1'000'000;
constexpr uint64_t kLingerBanMinNs = 100'000'000;
constexpr uint64_t kLingerBanMaxNs = 10'000'000'000;
// How often the NIC looks whether the pollers it left responses to still poll (see park_responses).
constexpr uint64_t kParkCheckNs = 10'000'000;
// Loss hook: retransmissions of one operation before the QP fails (an RC QP's retry_cnt).
constexpr uint32_t kLossRetryCount = 7;
constexpr size_t kInitialBufferBytes = 64 * 1024;
constexpr size_t kMaxFrameBytes = kHeaderBytes + kMaxMessageBytes;
constexpr int kMaxEvents = 64;
constexpr int kMaxReadsPerEvent = 16;  // bounds one connection's turn so others are served
constexpr char kNicContext[] = "mu-soft-nic-v1";
static_assert(kMaxInlineBytes <= kMaxMessageBytes);
static_assert(kInitialBufferBytes >= kHeaderBytes + kMaxInlineBytes);

// --- QpAddress layout (64 bytes, little-endian) -------------------------------------------------
//   [0,4) magic "MUSQ"  [4,8) IPv4 (network order as stored by inet_pton)  [8,10) port
//   [12,16) qp_num  [16,24) device id (random per device: a restarted device on the same port
//   does not accept connections meant for its previous life)
constexpr uint8_t kAddressMagic[4] = {'M', 'U', 'S', 'Q'};

struct PeerAddress {
  uint32_t ip = 0;  // network byte order
  uint16_t port = 0;
  uint32_t qp_num = 0;
  uint64_t device_id = 0;
};

QpAddress encode_address(const PeerAddress& a) {
  QpAddress out;
  std::memcpy(out.bytes, kAddressMagic, 4);
  std::memcpy(out.bytes + 4, &a.ip, 4);
  for (int i = 0; i < 2; ++i) out.bytes[8 + i] = static_cast<uint8_t>(a.port >> (8 * i));
  for (int i = 0; i < 4; ++i) out.bytes[12 + i] = static_cast<uint8_t>(a.qp_num >> (8 * i));
  for (int i = 0; i < 8; ++i) out.bytes[16 + i] = static_cast<uint8_t>(a.device_id >> (8 * i));
  return out;
}

bool decode_address(const QpAddress& in, PeerAddress* a) {
  if (std::memcmp(in.bytes, kAddressMagic, 4) != 0) return false;
  std::memcpy(&a->ip, in.bytes + 4, 4);
  a->port = static_cast<uint16_t>(in.bytes[8] | (in.bytes[9] << 8));
  a->qp_num = 0;
  for (int i = 0; i < 4; ++i) a->qp_num |= static_cast<uint32_t>(in.bytes[12 + i]) << (8 * i);
  a->device_id = 0;
  for (int i = 0; i < 8; ++i) a->device_id |= static_cast<uint64_t>(in.bytes[16 + i]) << (8 * i);
  return a->port != 0 && a->qp_num != 0;
}

void put_le64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
uint64_t get_le64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}

WcStatus to_wc_status(ResponseStatus s) {
  switch (s) {
    case ResponseStatus::kOk: return WcStatus::kSuccess;
    case ResponseStatus::kUnreachable: return WcStatus::kRetryExceeded;
    case ResponseStatus::kInvalidRequest: return WcStatus::kRemoteInvalidRequest;
    case ResponseStatus::kAccessError: return WcStatus::kRemoteAccessError;
  }
  return WcStatus::kGeneral;
}

FrameType to_frame_type(Opcode op) {
  switch (op) {
    case Opcode::kWrite: return FrameType::kWrite;
    case Opcode::kRead: return FrameType::kRead;
    case Opcode::kCompareSwap: return FrameType::kCompareSwap;
  }
  return FrameType::kWrite;
}

// [addr, addr + length) inside [base, base + size), without overflow.
bool range_inside(uint64_t base, uint64_t size, uint64_t addr, uint64_t length) {
  return addr >= base && length <= size && addr - base <= size - length;
}

// --- regions ------------------------------------------------------------------------------------

struct RegionEntry {
  uint8_t* base = nullptr;
  size_t length = 0;
  uint32_t access = 0;  // device lock
  uint32_t lkey = 0;    // device lock
  uint32_t rkey = 0;    // device lock
};

// --- completion queue ---------------------------------------------------------------------------

struct CqCore {
  explicit CqCore(uint32_t depth) : ring(depth) {}

  // False when full: the completion is lost (a verbs CQ overflow is fatal too).
  bool push(const Completion& c) {
    std::lock_guard<std::mutex> lock(mu);
    if (count == ring.size()) return false;
    ring[(head + count) % ring.size()] = c;
    ++count;
    return true;
  }

  int poll(Completion* out, int max) {
    std::lock_guard<std::mutex> lock(mu);
    int n = 0;
    while (n < max && count > 0) {
      out[n++] = ring[head];
      head = (head + 1) % ring.size();
      --count;
    }
    return n;
  }

  std::mutex mu;
  std::vector<Completion> ring;  // entry i (0 <= i < count) at ring[(head + i) % ring.size()]
  size_t head = 0;
  size_t count = 0;
  // Empty polls that looked for responses themselves (complete_in_poll): while this moves, the
  // NIC thread leaves the CQ's responses to the poller (see park_responses).
  std::atomic<uint64_t> reading_polls{0};
  uint64_t nic_reading_polls_seen = 0;  // NIC thread only
  size_t next_reading_qp = 0;  // where complete_from_poll starts (under the NIC lock)
};

// --- queue pairs --------------------------------------------------------------------------------

struct Wqe {
  WorkRequest wr;
  uint64_t posted_ns = 0;  // for the outgoing-delay fault hook
  uint64_t sent_ns = 0;    // when it went on the wire, for kResponseTimeoutNs
  uint64_t retry_at_ns = 0;  // loss hook: a lost transmission is retransmitted at this time
  uint32_t losses = 0;       // loss hook: transmissions of this operation lost so far
};

struct Connection;

struct QpCore {
  QpCore(uint32_t num, std::shared_ptr<CqCore> completion_queue, uint32_t send_wr, uint32_t inline_max)
      : qp_num(num),
        cq(std::move(completion_queue)),
        max_send_wr(send_wr),
        max_inline(inline_max),
        ring(send_wr),
        inline_bytes(static_cast<size_t>(send_wr) * inline_max) {}

  Wqe& slot(uint64_t index) { return ring[index % ring.size()]; }
  uint8_t* inline_slot(uint64_t index) {
    return inline_bytes.data() + (index % ring.size()) * max_inline;
  }

  const uint32_t qp_num;
  const std::shared_ptr<CqCore> cq;
  const uint32_t max_send_wr;
  const uint32_t max_inline;

  std::mutex mu;
  // Written with the device lock and `mu` held; read with either.
  QpState state = QpState::kReset;
  uint32_t access = 0;
  uint64_t epoch = 0;  // bumped by to_reset() and to_rtr(): names one binding to a peer
  PeerAddress peer;    // meaningful from RTR until RESET
  bool destroyed = false;
  // Device lock only: a requester connection was accepted for the current binding, from the
  // requester's binding `inbound_requester_epoch` (low 32 bits of its epoch).
  bool inbound_bound = false;
  uint32_t inbound_requester_epoch = 0;
  bool inbound_carried_work = false;  // a request arrived on that connection

  // `mu`: the send queue. Slots [head, tail) are posted and not completed yet;
  // invariant head <= nic.sent <= tail and tail - head <= max_send_wr.
  std::vector<Wqe> ring;
  std::vector<uint8_t> inline_bytes;  // max_inline bytes per slot, same index as ring
  uint64_t head = 0;
  uint64_t tail = 0;

  // Bumped after every change the NIC must look at (post, state change); lets it skip idle QPs.
  std::atomic<uint64_t> doorbell{0};

  // NIC lock only (the NIC thread, or a CQ poll completing responses).
  struct NicState {
    uint64_t epoch = 0;         // binding this state belongs to
    uint64_t sent = 0;          // slots [head, sent) are on the wire, [sent, tail) wait
    Connection* conn = nullptr;
    bool opened = false;        // a connection was opened for this binding (never a second one)
    bool broken = false;        // connection lost while idle: the next op fails
    std::string broken_reason;
    std::optional<std::pair<uint64_t, WcStatus>> local_error;  // slot that failed a local check
    uint64_t doorbell_seen = ~0ull;
    bool busy = false;          // needs a look every pass (see service_requester)
    // The connection was opened in RTS with no work waiting: if it fails before its CONNECT is
    // accepted and still nothing waits, it is dropped and tried again at eager_retry_ns.
    bool eager = false;
    uint32_t eager_failures = 0;
    uint64_t eager_retry_ns = 0;
  } nic;
};

// --- connections --------------------------------------------------------------------------------

struct Connection {
  enum class Phase : uint8_t {
    kConnecting,    // outgoing: TCP connect in progress
    kHandshake,     // authenticating
    kAwaitConnect,  // incoming: authenticated, waiting for the CONNECT frame
    kReady,         // frames flow
    kClosing,       // incoming: flushing a last response/rejection, then close; input ignored
  };

  int fd = -1;
  bool outgoing = false;
  bool closed = false;
  bool want_write = false;  // EPOLLOUT registered
  Phase phase = Phase::kHandshake;
  uint64_t deadline_ns = 0;  // until kReady
  std::string peer;          // "ip:port" for messages
  std::optional<auth::Handshake> handshake;

  // Outgoing: the CQ of its requester QP. Set before the connection is registered and never
  // changed: the NIC thread reads it without the NIC lock (defer_to_pollers).
  std::shared_ptr<CqCore> response_cq;
  // NIC lock: EPOLLIN is off because a spinning poller reads the responses (park_responses);
  // the poll count when it was parked or last found still moving.
  bool rx_parked = false;
  uint64_t parked_polls = 0;
  // Outgoing: the requester QP, the binding it serves, sequence numbers.
  std::shared_ptr<QpCore> requester;
  uint64_t requester_epoch = 0;
  uint64_t next_request_seq = 1;
  uint64_t next_response_seq = 1;
  // Incoming: the responder QP this connection is bound to and its binding's epoch.
  std::shared_ptr<QpCore> target;
  uint64_t target_epoch = 0;
  uint64_t expected_seq = 1;

  // Received bytes [rx_begin, rx_end) of rx; bytes to send [tx_begin, tx_end) of tx.
  std::vector<uint8_t> rx;
  size_t rx_begin = 0;
  size_t rx_end = 0;
  std::vector<uint8_t> tx;
  size_t tx_begin = 0;
  size_t tx_end = 0;

  Connection() : rx(kInitialBufferBytes), tx(kInitialBufferBytes) {}

  // Room for `n` more bytes at the end of tx; returns where to write them.
  uint8_t* reserve_tx(size_t n) {
    if (tx_begin == tx_end) tx_begin = tx_end = 0;
    if (tx.size() - tx_end < n) {
      if (tx_begin > 0) {
        std::memmove(tx.data(), tx.data() + tx_begin, tx_end - tx_begin);
        tx_end -= tx_begin;
        tx_begin = 0;
      }
      if (tx.size() - tx_end < n) tx.resize(std::max(tx.size() * 2, tx_end + n));
    }
    uint8_t* p = tx.data() + tx_end;
    tx_end += n;
    return p;
  }
  void append_tx(std::span<const uint8_t> bytes) {
    std::memcpy(reserve_tx(bytes.size()), bytes.data(), bytes.size());
  }
};

class SoftDeviceImpl;

class SoftMemoryRegion final : public MemoryRegion {
 public:
  SoftMemoryRegion(SoftDeviceImpl* device, std::unique_ptr<RegionEntry> entry)
      : device_(device), entry_(std::move(entry)) {}
  ~SoftMemoryRegion() override;
  void* addr() const override { return entry_->base; }
  size_t length() const override { return entry_->length; }
  uint32_t lkey() const override;
  uint32_t rkey() const override;
  uint32_t access() const override;

  SoftDeviceImpl* device() const { return device_; }
  RegionEntry* entry() const { return entry_.get(); }

 private:
  SoftDeviceImpl* device_;
  std::unique_ptr<RegionEntry> entry_;
};

class SoftCompletionQueue final : public CompletionQueue {
 public:
  SoftCompletionQueue(SoftDeviceImpl* device, uint32_t depth)
      : device_(device), core_(std::make_shared<CqCore>(depth)) {}
  int poll(Completion* out, int max) override;
  SoftDeviceImpl* device() const { return device_; }
  const std::shared_ptr<CqCore>& core() const { return core_; }

 private:
  SoftDeviceImpl* device_;
  std::shared_ptr<CqCore> core_;
};

class SoftQueuePair final : public QueuePair {
 public:
  SoftQueuePair(SoftDeviceImpl* device, std::shared_ptr<QpCore> core)
      : device_(device), core_(std::move(core)) {}
  ~SoftQueuePair() override;
  uint32_t qp_num() const override { return core_->qp_num; }
  QpState state() const override {
    std::lock_guard<std::mutex> lock(core_->mu);
    return core_->state;
  }
  uint32_t access() const override {
    std::lock_guard<std::mutex> lock(core_->mu);
    return core_->access;
  }
  uint32_t max_inline() const override { return core_->max_inline; }
  QpAddress address() const override;
  Status to_init(uint32_t access) override;
  Status to_rtr(const QpAddress& remote) override;
  Status to_rts() override;
  Status to_reset() override;
  Status set_access(uint32_t access) override;
  Status post(const WorkRequest& wr) override;

 private:
  SoftDeviceImpl* device_;
  std::shared_ptr<QpCore> core_;
};

// --- the NIC lock ---------------------------------------------------------------------------------

// Held by the NIC thread for a whole pass and, briefly, by a CQ poll that completes responses
// itself. The poll side only try-locks; the NIC thread, the one that waits, spins (its wait is a
// poll's few microseconds) instead of sleeping in a futex that the poll would then have to wake.
class NicLock {
 public:
  // Fails while the NIC thread waits: a poll loop retrying at once would otherwise keep it out.
  bool try_lock() {
    if (wanted_.load(std::memory_order_relaxed)) return false;
    return acquire();
  }
  void lock() {
    if (acquire()) return;
    wanted_.store(true, std::memory_order_relaxed);
    for (uint32_t spins = 1; !acquire(); ++spins) {
      if (spins % 64 == 0) sched_yield();  // the holder may have been descheduled
    }
    wanted_.store(false, std::memory_order_relaxed);
  }
  void unlock() { held_.store(false, std::memory_order_release); }

 private:
  bool acquire() {
    return !held_.load(std::memory_order_relaxed) && !held_.exchange(true, std::memory_order_acquire);
  }
  std::atomic<bool> held_{false};
  std::atomic<bool> wanted_{false};
};

// --- the device and its NIC thread --------------------------------------------------------------

bool is_loopback(uint32_t ip_network_order) { return (ntohl(ip_network_order) >> 24) == 127; }

// The abstract AF_UNIX name of the local listener of the soft NIC listening on ip:port. Abstract
// names belong to a network namespace, as the loopback address does, and vanish with the socket.
socklen_t local_address(uint32_t ip_network_order, uint16_t port, sockaddr_un* addr) {
  addr->sun_family = AF_UNIX;
  const std::string name = "mu-soft-nic/" + net::format_endpoint(ip_network_order, port);
  addr->sun_path[0] = '\0';
  std::memcpy(addr->sun_path + 1, name.data(), name.size());
  return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
}

class SoftDeviceImpl final : public SoftDevice {
 public:
  SoftDeviceImpl(SoftConfig config, uint32_t listen_ip, int listen_fd, int local_listen_fd)
      : config_(std::move(config)),
        listen_ip_(listen_ip),
        listen_fd_(listen_fd),
        local_listen_fd_(local_listen_fd),
        listen_port_(net::local_port(listen_fd)),
        device_id_(auth::random_u64() | 1),
        key_mask_(static_cast<uint32_t>(auth::random_u64())) {}

  ~SoftDeviceImpl() override {
    crash();
    if (epoll_fd_ >= 0) ::close(epoll_fd_);
    if (wake_fd_ >= 0) ::close(wake_fd_);
  }

  void crash() override {
    stop_.store(true);
    {
      // Peers first: FIN on every connection now, before waiting for the NIC thread to wind down
      // and for the closes (each can take tens of µs) — a dead process's NIC answers nothing.
      std::lock_guard<std::mutex> lock(connections_mu_);
      for (auto& [ptr, conn] : connections_) {
        if (conn->fd >= 0) ::shutdown(conn->fd, SHUT_RDWR);
      }
    }
    if (nic_thread_.joinable()) {
      stop_.store(true);
      wake();
      nic_thread_.join();
    }
    // The NIC thread is gone: its connections are ours to close (close_connection also forgets
    // each one in the QP that used it) once no CQ poll is completing responses on them.
    std::lock_guard<NicLock> nic(nic_lock_);
    std::vector<Connection*> open;
    for (auto& [ptr, conn] : connections_) open.push_back(ptr);
    for (Connection* c : open) close_connection(c);
    graveyard_.clear();
    if (listen_fd_ >= 0) ::close(listen_fd_);
    listen_fd_ = -1;
    if (local_listen_fd_ >= 0) ::close(local_listen_fd_);
    local_listen_fd_ = -1;
  }

  Status start() {
    epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
    wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (epoll_fd_ < 0 || wake_fd_ < 0) {
      return Status::Error(ErrorCode::kResourceExhausted,
                           std::string("epoll/eventfd: ") + std::strerror(errno));
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = &listen_tag_;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &ev) != 0) {
      return Status::Error(ErrorCode::kInternal, std::string("epoll_ctl: ") + std::strerror(errno));
    }
    ev.data.ptr = &local_listen_tag_;
    if (local_listen_fd_ >= 0 && epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, local_listen_fd_, &ev) != 0) {
      return Status::Error(ErrorCode::kInternal, std::string("epoll_ctl: ") + std::strerror(errno));
    }
    ev.data.ptr = &wake_tag_;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev) != 0) {
      return Status::Error(ErrorCode::kInternal, std::string("epoll_ctl: ") + std::strerror(errno));
    }
    std::promise<Status> started;
    std::future<Status> started_result = started.get_future();
    nic_thread_ = std::thread([this, &started] { nic_main(started); });
    Status s = started_result.get();
    if (!s.ok()) nic_thread_.join();
    return s;
  }

  // --- Device -------------------------------------------------------------------------------
  std::string name() const override { return config_.name; }
  uint64_t now_ns() const override { return auth::monotonic_ns(); }
  uint64_t lost_connections() const override {
    return lost_connections_.load(std::memory_order_relaxed);
  }

  Result<std::unique_ptr<MemoryRegion>> register_region(void* addr, size_t length,
                                                        uint32_t access) override {
    if (addr == nullptr || length == 0) {
      return Status::Error(ErrorCode::kInvalidArgument, "region needs a non-null address and length > 0");
    }
    if ((access & ~kAccessAll) != 0) {
      return Status::Error(ErrorCode::kInvalidArgument, "unknown access flags");
    }
    if ((access & (kRemoteWrite | kRemoteAtomic)) != 0 && (access & kLocalWrite) == 0) {
      // As ibv_reg_mr: remote write/atomic access requires local write access.
      return Status::Error(ErrorCode::kInvalidArgument,
                           "remote write/atomic access requires kLocalWrite (as in verbs)");
    }
    auto entry = std::make_unique<RegionEntry>();
    entry->base = static_cast<uint8_t*>(addr);
    entry->length = length;
    entry->access = access;
    std::lock_guard<std::mutex> lock(mu_);
    entry->lkey = next_key_locked();
    entry->rkey = next_key_locked();
    regions_by_lkey_[entry->lkey] = entry.get();
    regions_by_rkey_[entry->rkey] = entry.get();
    return std::unique_ptr<MemoryRegion>(new SoftMemoryRegion(this, std::move(entry)));
  }

  Status reregister_region(MemoryRegion& region, uint32_t access) override {
    auto* soft_region = dynamic_cast<SoftMemoryRegion*>(&region);
    if (soft_region == nullptr || soft_region->device() != this) {
      return Status::Error(ErrorCode::kInvalidArgument, "region does not belong to this device");
    }
    if ((access & ~kAccessAll) != 0 ||
        ((access & (kRemoteWrite | kRemoteAtomic)) != 0 && (access & kLocalWrite) == 0)) {
      return Status::Error(ErrorCode::kInvalidArgument, "invalid access flags");
    }
    RegionEntry* entry = soft_region->entry();
    // Under the device lock: no request is between its rkey check and its memcpy now, and every
    // later one looks up the new table, where the old rkey no longer exists.
    std::lock_guard<std::mutex> lock(mu_);
    regions_by_lkey_.erase(entry->lkey);
    regions_by_rkey_.erase(entry->rkey);
    entry->access = access;
    entry->lkey = next_key_locked();
    entry->rkey = next_key_locked();
    regions_by_lkey_[entry->lkey] = entry;
    regions_by_rkey_[entry->rkey] = entry;
    return Status::Ok();
  }

  Result<std::unique_ptr<CompletionQueue>> create_cq(uint32_t depth) override {
    if (depth == 0 || depth > kMaxCqDepth) {
      return Status::Error(ErrorCode::kInvalidArgument,
                           "CQ depth must be in [1, " + std::to_string(kMaxCqDepth) + "]");
    }
    return std::unique_ptr<CompletionQueue>(new SoftCompletionQueue(this, depth));
  }

  Result<std::unique_ptr<QueuePair>> create_qp(CompletionQueue& cq, const QpCaps& caps) override {
    auto* soft_cq = dynamic_cast<SoftCompletionQueue*>(&cq);
    if (soft_cq == nullptr || soft_cq->device() != this) {
      return Status::Error(ErrorCode::kInvalidArgument, "CQ does not belong to this device");
    }
    if (caps.max_send_wr == 0 || caps.max_send_wr > kMaxSendWr) {
      return Status::Error(ErrorCode::kInvalidArgument,
                           "max_send_wr must be in [1, " + std::to_string(kMaxSendWr) + "]");
    }
    const uint32_t inline_max = std::min(caps.max_inline, kMaxInlineBytes);
    std::lock_guard<std::mutex> lock(mu_);
    auto core = std::make_shared<QpCore>(next_qp_num_++, soft_cq->core(), caps.max_send_wr, inline_max);
    qps_[core->qp_num] = core;
    qp_list_.push_back(core);
    qp_list_version_.fetch_add(1);
    return std::unique_ptr<QueuePair>(new SoftQueuePair(this, std::move(core)));
  }

  // --- SoftDevice -----------------------------------------------------------------------------
  uint16_t listen_port() const override { return listen_port_; }
  void hold_outgoing(bool hold) override {
    hold_outgoing_.store(hold);
    config_version_.fetch_add(1);
    ring_doorbell();
  }
  void set_outgoing_delay_us(uint32_t delay_us) override {
    outgoing_delay_ns_.store(static_cast<uint64_t>(delay_us) * 1000);
    config_version_.fetch_add(1);
    ring_doorbell();
  }
  void set_outgoing_loss(uint32_t per_million, uint32_t retransmit_us) override {
    loss_per_million_.store(std::min<uint32_t>(per_million, 1'000'000));
    loss_retransmit_ns_.store(static_cast<uint64_t>(retransmit_us) * 1000);
    config_version_.fetch_add(1);
    ring_doorbell();
  }

  SoftStats stats() const {
    SoftStats s;
    s.auth_failures = auth_failures_.load();
    s.malformed_frames = malformed_frames_.load();
    s.refused_connections = refused_connections_.load();
    s.eager_connection_retries = eager_retries_.load();
    s.unreachable_requests = unreachable_requests_.load();
    s.cq_overflows = cq_overflows_.load();
    s.sent_in_post = sent_in_post_.load();
    s.completed_in_poll = completed_in_poll_.load();
    s.completed_by_nic = completed_by_nic_.load();
    s.responses_parked = parks_.load();
    s.local_connections = local_connections_.load();
    s.lingers = lingers_.load();
    s.linger_stalls = linger_stalls_.load();
    s.responses_unparked = unparks_.load();
    std::lock_guard<std::mutex> lock(error_mu_);
    s.last_error = last_error_;
    return s;
  }

  // --- used by the region, CQ and QP handles --------------------------------------------------
  std::mutex& mu() { return mu_; }
  uint32_t listen_ip() const { return listen_ip_; }
  uint64_t device_id() const { return device_id_; }
  bool busy_poll() const { return config_.busy_poll; }
  uint64_t outgoing_delay_ns() const { return outgoing_delay_ns_.load(std::memory_order_relaxed); }

  void unregister_region(RegionEntry* entry) {
    std::lock_guard<std::mutex> lock(mu_);
    regions_by_lkey_.erase(entry->lkey);
    regions_by_rkey_.erase(entry->rkey);
  }

  void destroy_qp(const std::shared_ptr<QpCore>& core) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      std::lock_guard<std::mutex> qp_lock(core->mu);
      core->destroyed = true;
      core->state = QpState::kReset;
      core->epoch++;
      core->head = core->tail;
      qps_.erase(core->qp_num);
      qp_list_.erase(std::remove(qp_list_.begin(), qp_list_.end(), core), qp_list_.end());
      qp_list_version_.fetch_add(1);
    }
    core->doorbell.fetch_add(1);
    ring_doorbell();
  }

  // Tells the NIC there is work; wakes it if it may be asleep. The seq_cst pair
  // (doorbell_ here, sleeping_ in the NIC) guarantees one of the two sees the other.
  void ring_doorbell() {
    doorbell_.fetch_add(1);
    if (!config_.busy_poll && sleeping_.load()) wake();
  }

 private:
  void wake() {
    const uint64_t one = 1;
    ssize_t n = ::write(wake_fd_, &one, sizeof(one));
    (void)n;  // EAGAIN means the counter is already non-zero: the NIC wakes anyway
  }

  uint32_t next_key_locked() {
    // Odd multiplier: a bijection on 32 bits, so keys never repeat within 2^32 registrations;
    // the random mask makes them differ between devices (a stale rkey from another device or an
    // earlier process on the same port names nothing here).
    for (;;) {
      const uint32_t key = (++key_counter_ * 0x9E3779B1u) ^ key_mask_;
      if (key != 0) return key;
    }
  }

  void record_error(const std::string& message, bool log) {
    {
      std::lock_guard<std::mutex> lock(error_mu_);
      last_error_ = message;
    }
    if (log) std::fprintf(stderr, "mu soft fabric [%s]: %s\n", config_.name.c_str(), message.c_str());
  }

  void record_auth_failure(const std::string& message) {
    auth_failures_.fetch_add(1);
    // Logged once per device: a misconfigured or hostile peer must not flood the log.
    const bool first = !auth_failure_logged_.exchange(true);
    record_error(message, first);
  }

  // ================================ CQ poll side ================================================
 public:
  bool complete_in_poll() const { return config_.complete_in_poll; }

  // A poll of `cq` found it empty: complete the responses already waiting in the sockets of its
  // requester QPs, as the NIC thread would on its next pass — unless that thread is mid-pass (it
  // holds the NIC lock and is doing this very work). Never waits. Anything beyond a plain
  // response (a failure, a closed connection) leaves work for a NIC pass: the NIC is woken.
  void complete_from_poll(CqCore* cq) {
    cq->reading_polls.fetch_add(1, std::memory_order_relaxed);
    std::unique_lock<NicLock> nic(nic_lock_, std::try_to_lock);
    if (!nic.owns_lock() || stop_.load(std::memory_order_relaxed)) return;
    const bool pass_again_before = pass_again_;
    const size_t graveyard_before = graveyard_.size();
    pass_again_ = false;
    // It stops at the first connection that completed something (the poller wants it now; the
    // others are read by its next poll), starting after that one next time so none starves.
    const size_t count = nic_qps_.size();
    size_t i = cq->next_reading_qp < count ? cq->next_reading_qp : 0;
    for (size_t k = 0; k < count; ++k, i = i + 1 == count ? 0 : i + 1) {
      const auto& qp = nic_qps_[i];
      if (qp->cq.get() != cq) continue;
      Connection* c = qp->nic.conn;
      if (c == nullptr || c->closed || c->phase != Connection::Phase::kReady) continue;
      if (c->next_response_seq == c->next_request_seq) continue;  // nothing on the wire
      const uint64_t before = c->next_response_seq;
      read_from(c, /*once=*/true);
      if (c->next_response_seq != before) {
        completed_in_poll_.fetch_add(c->next_response_seq - before, std::memory_order_relaxed);
        cq->next_reading_qp = i + 1;
        break;
      }
    }
    const bool wake_nic = pass_again_ || graveyard_.size() != graveyard_before;
    pass_again_ = pass_again_ || pass_again_before;
    nic.unlock();
    if (wake_nic) ring_doorbell();
  }

  bool send_in_post() const { return config_.send_in_post; }

  // post() queued work on `qp_ptr`: put it on the wire from the posting thread, as a NIC starts
  // at its doorbell, when the QP is connected and nothing stands in the way (no fault hook, no
  // error to report, the NIC thread not mid-pass). Returns false to leave it to the NIC thread.
  bool send_from_post(const std::shared_ptr<QpCore>& qp_ptr) {
    if (hold_outgoing_.load(std::memory_order_relaxed) ||
        outgoing_delay_ns_.load(std::memory_order_relaxed) != 0 ||
        loss_per_million_.load(std::memory_order_relaxed) != 0) {
      return false;
    }
    std::unique_lock<NicLock> nic(nic_lock_, std::try_to_lock);
    if (!nic.owns_lock() || stop_.load(std::memory_order_relaxed)) return false;
    QpCore& qp = *qp_ptr;
    Connection* c = nullptr;
    {
      std::lock_guard<std::mutex> lock(mu_);
      std::lock_guard<std::mutex> qp_lock(qp.mu);
      auto& n = qp.nic;
      c = n.conn;
      if (n.epoch != qp.epoch || qp.destroyed || qp.state != QpState::kRts || c == nullptr ||
          c->closed || c->phase != Connection::Phase::kReady || n.broken || n.local_error ||
          n.sent == qp.tail) {
        return false;
      }
      const uint64_t next_deadline = next_deadline_ns_;  // the NIC's, for its pass only
      const uint64_t sent_before = n.sent;
      send_ready_locked(qp, auth::monotonic_ns(), 0);
      next_deadline_ns_ = next_deadline;
      sent_in_post_.fetch_add(n.sent - sent_before, std::memory_order_relaxed);
      n.busy = true;  // the NIC looks at it every pass (response timeout) until it is idle
      if (n.local_error) {
        pass_again_ = true;  // the NIC completes the error in order
        nic.unlock();
        ring_doorbell();
        return true;
      }
    }
    flush_tx(c);  // a failure here is dealt with as on the NIC thread (the QP fails)
    const bool wake_nic = c->want_write || c->closed;  // socket full: EPOLLOUT is the NIC's
    nic.unlock();
    if (wake_nic) ring_doorbell();
    return true;
  }

 private:

  // ================================ NIC thread ==================================================

  void nic_main(std::promise<Status>& started) {
    net::ScopedNetns netns;  // the NIC thread lives in the device's namespace for good
    Status entered = netns.enter(config_.netns);
    started.set_value(entered);
    if (!entered.ok()) return;
    epoll_event events[kMaxEvents];
    std::unique_lock<NicLock> nic(nic_lock_);
    const uint64_t linger_ns = uint64_t{config_.linger_us} * 1000;
    uint64_t last_active_ns = 0;  // the last pass that had something to do
    uint64_t prev_doorbell = 0;
    int prev_events = 0;
    // Lingering pays only while the NIC gets its CPU back promptly after each yield. Confined to
    // the CPU of a poller that never yields, a lingering (runnable) NIC thread waits a whole
    // scheduler slice — milliseconds — while a sleeping one is woken and preempts at once. There
    // a yield that took that long bans lingering, for 100 ms, doubling while it recurs (to 10 s).
    // Allowed several CPUs, the scheduler moves it away from the poller instead: no ban (one
    // after a passing encounter would cost every round trip a sleeping thread's wake-up).
    bool confined = false;
    uint64_t next_cpu_check_ns = 0;
    uint64_t linger_banned_until_ns = 0;
    uint64_t linger_ban_ns = kLingerBanMinNs;
    uint64_t last_stall_ns = 0;
    while (!stop_.load(std::memory_order_relaxed)) {
      const uint64_t doorbell_seen = doorbell_.load();
      graveyard_.clear();
      refresh_qp_list();
      next_deadline_ns_ = UINT64_MAX;
      const uint64_t now = auth::monotonic_ns();
      const uint64_t config_version = config_version_.load();
      const bool config_changed = config_version != config_version_seen_;
      config_version_seen_ = config_version;
      pass_again_ = false;
      if (!parked_.empty()) check_parked(now);
      check_connection_deadlines(now);  // before the QPs, which act on what it finds
      for (auto& qp : nic_qps_) service_requester(qp, now, config_changed);
      flush_all_tx();
      if (doorbell_seen != prev_doorbell || prev_events > 0) last_active_ns = now;
      prev_doorbell = doorbell_seen;
      if (now >= next_cpu_check_ns) {  // the affinity may be changed from outside (taskset)
        confined = allowed_cpus() == 1;
        next_cpu_check_ns = now + kIdlePassNs;
      }
      const bool linger = linger_ns > 0 && now - last_active_ns < linger_ns && now >= linger_banned_until_ns;
      if (linger) lingers_.fetch_add(1, std::memory_order_relaxed);

      timespec timeout{0, 0};
      timespec* timeout_ptr = &timeout;
      if (!config_.busy_poll && !linger) {
        sleeping_.store(true);
        if (doorbell_.load() != doorbell_seen || pass_again_) {
          // Something was posted since this pass started, or the pass itself left work for a
          // QP (a connection failed while flushing): never sleep on pending work.
          timeout = {0, 0};
        } else {
          // Never longer than kIdlePassNs: work sent by post() while the NIC slept has a response
          // deadline that only a pass can check (send_from_post does not wake the NIC).
          const uint64_t deadline = std::min(next_deadline_ns_, now + kIdlePassNs);
          const uint64_t wait_ns = deadline > now ? deadline - now : 0;
          timeout.tv_sec = static_cast<time_t>(wait_ns / 1'000'000'000);
          timeout.tv_nsec = static_cast<long>(wait_ns % 1'000'000'000);
        }
      }
      // Read under the lock: a post() sending work may write next_deadline_ns_ meanwhile.
      const uint64_t linger_until = std::min(last_active_ns + linger_ns, next_deadline_ns_);
      nic.unlock();  // waiting, the NIC leaves posts and completions to the application threads
      int n = 0;
      if (linger && !config_.busy_poll) {
        bool stalled = false;
        n = linger_wait(events, doorbell_seen, linger_until, &stalled);
        const uint64_t after = auth::monotonic_ns();
        if (stalled && confined) {
          if (after - last_stall_ns > kLingerBanMaxNs) linger_ban_ns = kLingerBanMinNs;
          linger_banned_until_ns = after + linger_ban_ns;
          linger_ban_ns = std::min(linger_ban_ns * 2, kLingerBanMaxNs);
          last_stall_ns = after;
          linger_stalls_.fetch_add(1, std::memory_order_relaxed);
        }
      } else {
        n = epoll_pwait2(epoll_fd_, events, kMaxEvents, timeout_ptr, nullptr);
      }
      sleeping_.store(false);
      const bool park = n > 0 && defer_to_pollers(events, n);
      prev_events = park ? 0 : n;
      nic.lock();
      if (park) {
        park_responses(events, n);
        continue;
      }
      if (n < 0) {
        if (errno == EINTR) continue;
        record_error(std::string("epoll_pwait2: ") + std::strerror(errno), true);
        continue;
      }
      for (int i = 0; i < n; ++i) {
        void* tag = events[i].data.ptr;
        if (tag == &listen_tag_) {
          accept_all(listen_fd_);
        } else if (tag == &local_listen_tag_) {
          accept_all(local_listen_fd_);
        } else if (tag == &wake_tag_) {
          uint64_t count = 0;
          ssize_t r = ::read(wake_fd_, &count, sizeof(count));
          (void)r;
        } else {
          on_connection_event(static_cast<Connection*>(tag), events[i].events);
        }
      }
    }
  }

  // Polls for events without the NIC lock until one arrives, the doorbell rings or `until_ns`,
  // yielding the CPU between polls (the peers it waits for may need this very core).
  // `*stalled`: a yield kept this thread off the CPU for kLingerStallNs or more.
  int linger_wait(epoll_event* events, uint64_t doorbell_seen, uint64_t until_ns, bool* stalled) {
    const timespec zero{0, 0};
    for (;;) {
      const int n = epoll_pwait2(epoll_fd_, events, kMaxEvents, &zero, nullptr);
      if (n != 0 || doorbell_.load() != doorbell_seen || stop_.load(std::memory_order_relaxed)) return n;
      const uint64_t before = auth::monotonic_ns();
      if (before >= until_ns) return 0;
      sched_yield();
      if (auth::monotonic_ns() - before >= kLingerStallNs) {
        *stalled = true;
        return 0;
      }
    }
  }

  // True when every event is readable data on an outgoing connection (responses) whose CQ was
  // polled with complete_in_poll since the NIC last looked: a spinning poller completes those
  // itself, and a NIC pass reading them would hold the NIC lock its try-lock (and the next
  // post's) needs. Called without the NIC lock: it reads only Connection::response_cq, which
  // never changes, of connections only this thread frees.
  bool defer_to_pollers(const epoll_event* events, int n) {
    if (!config_.complete_in_poll) return false;
    bool all = true;
    for (int i = 0; i < n && all; ++i) {
      void* tag = events[i].data.ptr;
      if (tag == &listen_tag_ || tag == &local_listen_tag_ || tag == &wake_tag_ ||
          events[i].events != EPOLLIN) {
        return false;
      }
      const CqCore* cq = static_cast<const Connection*>(tag)->response_cq.get();
      all = cq != nullptr && cq->reading_polls.load(std::memory_order_relaxed) != cq->nic_reading_polls_seen;
    }
    for (int i = 0; i < n; ++i) {  // after the test: several events may share one CQ
      void* tag = events[i].data.ptr;
      if (tag == &listen_tag_ || tag == &local_listen_tag_ || tag == &wake_tag_) continue;
      if (CqCore* cq = static_cast<const Connection*>(tag)->response_cq.get()) {
        cq->nic_reading_polls_seen = cq->reading_polls.load(std::memory_order_relaxed);
      }
    }
    return all;
  }

  // Stops watching these connections for input (defer_to_pollers said their pollers read it):
  // each response would otherwise wake this thread to find the data gone, or to race the poller
  // for the NIC lock, taking a CPU from the peers the poller waits for. check_parked watches
  // again once a poller stops polling, so a response is never left unread while nobody polls.
  void park_responses(const epoll_event* events, int n) {
    for (int i = 0; i < n; ++i) {
      auto* c = static_cast<Connection*>(events[i].data.ptr);
      if (c->closed || c->rx_parked || c->phase != Connection::Phase::kReady) continue;
      c->rx_parked = true;
      c->parked_polls = c->response_cq->reading_polls.load(std::memory_order_relaxed);
      update_interest(c);
      parked_.push_back(c);
      parks_.fetch_add(1, std::memory_order_relaxed);
    }
    if (next_park_check_ns_ == 0) next_park_check_ns_ = auth::monotonic_ns() + kParkCheckNs;
  }

  // Every kParkCheckNs while connections are parked: one whose CQ was not polled since the last
  // look is watched again (the NIC completes what arrived; the level-triggered event fires).
  void check_parked(uint64_t now) {
    if (now >= next_park_check_ns_) {
      size_t kept = 0;
      for (Connection* c : parked_) {
        const uint64_t polls = c->response_cq->reading_polls.load(std::memory_order_relaxed);
        if (polls != c->parked_polls) {
          c->parked_polls = polls;
          parked_[kept++] = c;
          continue;
        }
        c->rx_parked = false;
        c->response_cq->nic_reading_polls_seen = polls;  // quiet: its next response is the NIC's
        update_interest(c);
        unparks_.fetch_add(1, std::memory_order_relaxed);
      }
      parked_.resize(kept);
      next_park_check_ns_ = parked_.empty() ? 0 : now + kParkCheckNs;
    }
    if (!parked_.empty()) next_deadline_ns_ = std::min(next_deadline_ns_, next_park_check_ns_);
  }

  // A connected AF_UNIX stream socket to the peer's local listener (see SoftConfig::local_transport),
  // or -1 when it has none (it listens on TCP only, or is not up): the caller uses TCP then. The
  // connect of a local stream socket completes at once; the handshake follows as over TCP.
  static int connect_local(const PeerAddress& peer) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    sockaddr_un addr{};
    const socklen_t len = local_address(peer.ip, peer.port, &addr);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0) {
      ::close(fd);
      return -1;
    }
    return fd;
  }

  static int allowed_cpus() {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0) return 1;
    return CPU_COUNT(&set);
  }

  void refresh_qp_list() {
    const uint64_t version = qp_list_version_.load();
    if (version == qp_list_version_seen_) return;
    std::lock_guard<std::mutex> lock(mu_);
    // Destroyed QPs leave the list: release their connections first.
    for (auto& qp : nic_qps_) {
      if (qp->destroyed && qp->nic.conn != nullptr) close_connection(qp->nic.conn);
    }
    nic_qps_ = qp_list_;
    qp_list_version_seen_ = qp_list_version_.load();
  }

  // --- requester side ---------------------------------------------------------------------

  void service_requester(const std::shared_ptr<QpCore>& qp_ptr, uint64_t now, bool config_changed) {
    QpCore& qp = *qp_ptr;
    auto& nic = qp.nic;
    const uint64_t doorbell = qp.doorbell.load();
    if (doorbell == nic.doorbell_seen && !config_changed && !nic.busy) return;
    nic.doorbell_seen = doorbell;

    std::lock_guard<std::mutex> lock(mu_);
    std::lock_guard<std::mutex> qp_lock(qp.mu);
    service_requester_locked(qp_ptr, now);
    // Anything outstanding keeps the QP in every pass (responses, timeouts, held or delayed
    // work); an idle QP is skipped until its doorbell rings.
    nic.busy = !qp.destroyed && (qp.head < qp.tail || nic.broken || nic.local_error.has_value() ||
                                 wants_eager_connection(qp));
  }

  void service_requester_locked(const std::shared_ptr<QpCore>& qp_ptr, uint64_t now) {
    QpCore& qp = *qp_ptr;
    auto& nic = qp.nic;
    if (nic.epoch != qp.epoch) adopt_new_binding(qp);
    if (qp.destroyed) return;

    if (qp.state == QpState::kErr) {
      flush_locked(qp);
      if (nic.conn != nullptr) close_connection(nic.conn);
      return;
    }
    if (qp.state != QpState::kRts) return;

    // The oldest operation on the wire has waited too long for its response.
    if (qp.head < nic.sent) {
      const uint64_t deadline = qp.slot(qp.head).sent_ns + kResponseTimeoutNs;
      if (now >= deadline) {
        fail_locked(qp, WcStatus::kRetryExceeded,
                    "no response from " + net::format_endpoint(qp.peer.ip, qp.peer.port) +
                        " within " + std::to_string(kResponseTimeoutNs / 1'000'000) + " ms");
        return;
      }
      next_deadline_ns_ = std::min(next_deadline_ns_, deadline);
    }
    // A local protection error waits until everything posted before it has completed.
    if (nic.local_error && qp.head == nic.local_error->first) {
      fail_locked(qp, nic.local_error->second, "local buffer not covered by a registered region (lkey)");
      return;
    }
    if (wants_eager_connection(qp)) {
      if (now < nic.eager_retry_ns) {
        next_deadline_ns_ = std::min(next_deadline_ns_, nic.eager_retry_ns);
        return;
      }
      open_connection(qp_ptr, /*eager=*/true);
      return;
    }
    if (nic.sent == qp.tail || nic.local_error) return;
    if (nic.broken) {
      if (qp.head == nic.sent) fail_locked(qp, WcStatus::kRetryExceeded, nic.broken_reason);
      return;
    }
    if (hold_outgoing_.load()) return;

    const uint64_t delay_ns = outgoing_delay_ns();
    if (delay_ns > 0) {
      const uint64_t eligible_at = qp.slot(nic.sent).posted_ns + delay_ns;
      if (now < eligible_at) {
        next_deadline_ns_ = std::min(next_deadline_ns_, eligible_at);
        return;
      }
    }
    if (nic.conn == nullptr) {
      if (nic.opened) {
        // The binding's one connection is gone; a new one would let a stale requester back in.
        fail_locked(qp, WcStatus::kRetryExceeded, "connection to peer lost");
        return;
      }
      open_connection(qp_ptr);
      return;  // sends once authenticated and bound
    }
    if (nic.conn->phase != Connection::Phase::kReady) return;
    send_ready_locked(qp, now, delay_ns);
  }

  void adopt_new_binding(QpCore& qp) {
    auto& nic = qp.nic;
    // A QP cycled after its first binding connects ahead of work only after a pause: its peer is
    // usually cycling its side too (a permission switch's slow path), and connecting to the
    // binding it is about to drop would only add connection churn to the failover's critical
    // window. Work posted meanwhile connects at once, as it always did.
    const bool rebinding = nic.epoch != 0;
    if (nic.conn != nullptr) close_connection(nic.conn);
    // Connections bound to this QP as responder for an older binding go too — not one already
    // accepted for the current binding (to_rtr ran on another thread, and a peer's CONNECT was
    // bound by this thread before it got here): closing that one would leave the binding with
    // its one connection used up and the peer's work failing.
    std::vector<Connection*> stale;
    for (auto& [ptr, conn] : connections_) {
      if (!conn->closed && conn->target.get() == &qp && conn->target_epoch != qp.epoch) {
        stale.push_back(ptr);
      }
    }
    for (Connection* c : stale) close_connection(c);
    nic.epoch = qp.epoch;
    nic.sent = qp.head;  // to_reset() dropped everything before head without completions
    nic.opened = false;
    nic.broken = false;
    nic.broken_reason.clear();
    nic.local_error.reset();
    nic.eager = false;
    nic.eager_failures = 0;
    nic.eager_retry_ns = rebinding ? auth::monotonic_ns() + kEagerAfterCycleNs : 0;
  }

  // An RTS QP with no connection yet, nothing waiting and nothing lost: connect ahead of work.
  bool wants_eager_connection(const QpCore& qp) const {
    const auto& nic = qp.nic;
    // A connected QP (every work request's pass) fails the first test.
    return nic.conn == nullptr && !nic.opened && config_.connect_at_rts &&
           qp.state == QpState::kRts && !qp.destroyed && nic.epoch == qp.epoch && !nic.broken &&
           qp.head == qp.tail && !hold_outgoing_.load(std::memory_order_relaxed);
  }

  // An eager connection failed before its CONNECT was accepted. With no work waiting nothing was
  // lost: drop it and try again later (1 ms doubling to 100 ms; the peer may still be starting).
  // Returns false when work is waiting: then the failure is the work's, as for any connection.
  bool retry_eager_locked(QpCore& qp) {
    auto& nic = qp.nic;
    if (!nic.eager || qp.head != qp.tail || qp.state != QpState::kRts) return false;
    if (nic.conn != nullptr) close_connection(nic.conn);
    nic.opened = false;
    nic.eager = false;
    const uint32_t doublings = std::min<uint32_t>(nic.eager_failures++, 7);
    nic.eager_retry_ns =
        auth::monotonic_ns() + std::min(kEagerRetryMinNs << doublings, kEagerRetryMaxNs);
    nic.busy = true;
    eager_retries_.fetch_add(1, std::memory_order_relaxed);
    return true;
  }

  // Moves every slot of [head, tail) out with a flushed completion (QP in ERR).
  void flush_locked(QpCore& qp) {
    while (qp.head < qp.tail) {
      const Wqe& w = qp.slot(qp.head);
      complete_locked(qp, w.wr, WcStatus::kWorkRequestFlushed, 0);
      qp.head++;
    }
    qp.nic.sent = qp.tail;
    qp.nic.local_error.reset();
  }

  // The oldest work request fails with `status`; the QP goes to ERR and the rest flush.
  // Caller holds the device lock and qp.mu.
  void fail_locked(QpCore& qp, WcStatus status, const std::string& reason) {
    assert(qp.head < qp.tail);
    qp.state = QpState::kErr;
    const Wqe& w = qp.slot(qp.head);
    complete_locked(qp, w.wr, status, 0);
    qp.head++;
    if (qp.nic.sent < qp.head) qp.nic.sent = qp.head;
    flush_locked(qp);
    if (qp.nic.conn != nullptr) close_connection(qp.nic.conn);
    qp.nic.broken = false;
    record_error("QP " + std::to_string(qp.qp_num) + ": " + to_string(status) + ": " + reason, false);
  }

  // The connection of `qp` is gone. Operations on the wire fail now; if none is, the next one
  // will (rxe notices a dead peer only when it has something to send).
  void connection_lost_locked(QpCore& qp, const std::string& reason) {
    lost_connections_.fetch_add(1, std::memory_order_relaxed);
    if (qp.nic.conn != nullptr) close_connection(qp.nic.conn);
    qp.nic.busy = true;
    pass_again_ = true;
    if (qp.state != QpState::kRts) return;
    if (qp.head < qp.nic.sent || qp.nic.local_error) {
      fail_locked(qp, WcStatus::kRetryExceeded, reason);
    } else {
      qp.nic.broken = true;
      qp.nic.broken_reason = reason;
      record_error("QP " + std::to_string(qp.qp_num) + ": " + reason, false);
    }
  }

  void complete_locked(QpCore& qp, const WorkRequest& wr, WcStatus status, uint32_t byte_len) {
    if (status == WcStatus::kSuccess && !wr.signaled) return;
    Completion c;
    c.wr_id = wr.wr_id;
    c.status = status;
    c.opcode = wr.opcode;
    c.byte_len = byte_len;
    c.qp_num = qp.qp_num;
    if (!qp.cq->push(c)) {
      // Logged once per device, counted always: the application sized its CQ too small.
      const bool first = cq_overflows_.fetch_add(1) == 0;
      record_error("completion queue overflow: a completion of QP " + std::to_string(qp.qp_num) +
                       " was lost (CQ depth smaller than outstanding work)",
                   first);
    }
  }

  // `eager`: opened in RTS ahead of any work (see wants_eager_connection).
  void open_connection(const std::shared_ptr<QpCore>& qp_ptr, bool eager = false) {
    QpCore& qp = *qp_ptr;
    const std::string endpoint = net::format_endpoint(qp.peer.ip, qp.peer.port);
    qp.nic.opened = true;
    qp.nic.eager = eager;
    int fd = config_.local_transport && is_loopback(qp.peer.ip) ? connect_local(qp.peer) : -1;
    const bool local = fd >= 0;
    int rc = 0;
    if (!local) {
      fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) {
        if (retry_eager_locked(qp)) return;
        fail_locked(qp, WcStatus::kRetryExceeded, std::string("socket: ") + std::strerror(errno));
        return;
      }
      net::set_nodelay(fd);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_port = htons(qp.peer.port);
      addr.sin_addr.s_addr = qp.peer.ip;
      rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    } else {
      local_connections_.fetch_add(1, std::memory_order_relaxed);
    }
    if (rc != 0 && errno != EINPROGRESS) {
      const std::string why = std::strerror(errno);
      ::close(fd);
      if (retry_eager_locked(qp)) return;
      fail_locked(qp, WcStatus::kRetryExceeded, "connect to " + endpoint + ": " + why);
      return;
    }
    auto conn = std::make_unique<Connection>();
    conn->fd = fd;
    conn->outgoing = true;
    // Even when connect() finished at once (loopback), the handshake starts from the NIC loop's
    // EPOLLOUT event: here we hold the device lock, and a failing send would need it again.
    conn->phase = Connection::Phase::kConnecting;
    conn->deadline_ns = auth::monotonic_ns() + kConnectTimeoutNs;
    conn->peer = endpoint;
    conn->requester = qp_ptr;
    conn->response_cq = qp.cq;
    conn->requester_epoch = qp.epoch;
    Connection* c = conn.get();
    if (!add_connection(std::move(conn), EPOLLIN | EPOLLOUT)) {
      if (retry_eager_locked(qp)) return;
      fail_locked(qp, WcStatus::kRetryExceeded, "epoll_ctl failed");
      return;
    }
    qp.nic.conn = c;
  }

  void start_initiator_handshake(Connection* c) {
    c->phase = Connection::Phase::kHandshake;
    c->handshake.emplace(auth::Handshake::Role::kInitiator, config_.secret, kNicContext);
    move_handshake_output(c);
  }

  void move_handshake_output(Connection* c) {
    const auto out = c->handshake->output();
    c->append_tx(out);
    c->handshake->consume_output(out.size());
    flush_tx(c);
  }

  // Serializes the waiting work requests of an RTS QP with a ready connection.
  // Loss hook: uniform in [0, 10^6). Device lock held (NIC thread).
  uint32_t next_loss_draw() {
    loss_rng_ += 0x9e3779b97f4a7c15ull;  // splitmix64
    uint64_t z = loss_rng_;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return static_cast<uint32_t>(z % 1'000'000);
  }

  void send_ready_locked(QpCore& qp, uint64_t now, uint64_t delay_ns) {
    Connection* c = qp.nic.conn;
    const uint32_t loss_per_million = loss_per_million_.load(std::memory_order_relaxed);
    while (qp.nic.sent < qp.tail) {
      const uint64_t index = qp.nic.sent;
      Wqe& w = qp.slot(index);
      if (delay_ns > 0 && now < w.posted_ns + delay_ns) {
        next_deadline_ns_ = std::min(next_deadline_ns_, w.posted_ns + delay_ns);
        break;
      }
      if (loss_per_million > 0) {
        if (now < w.retry_at_ns) {  // a lost transmission, waiting for its retransmission
          next_deadline_ns_ = std::min(next_deadline_ns_, w.retry_at_ns);
          break;
        }
        if (next_loss_draw() < loss_per_million) {
          if (++w.losses > kLossRetryCount) {
            // The transport gives up: the QP fails once everything before it has completed.
            qp.nic.broken = true;
            qp.nic.broken_reason = "injected loss: retry count exceeded";
            pass_again_ = true;  // the next pass fails the QP
            break;
          }
          w.retry_at_ns = now + loss_retransmit_ns_.load(std::memory_order_relaxed);
          next_deadline_ns_ = std::min(next_deadline_ns_, w.retry_at_ns);
          break;
        }
      }
      const WorkRequest& wr = w.wr;
      const uint8_t* source = nullptr;
      if (wr.opcode == Opcode::kWrite && wr.length > 0) {
        if (wr.inline_data) {
          source = qp.inline_slot(index);
        } else if (!local_range_ok_locked(wr.lkey, wr.local_addr, wr.length, 0)) {
          qp.nic.local_error = {index, WcStatus::kLocalProtectionError};
          break;
        } else {
          source = static_cast<const uint8_t*>(wr.local_addr);
        }
      } else if ((wr.opcode == Opcode::kRead && wr.length > 0) || wr.opcode == Opcode::kCompareSwap) {
        const uint32_t length = wr.opcode == Opcode::kCompareSwap ? 8 : wr.length;
        if (!local_range_ok_locked(wr.lkey, wr.local_addr, length, kLocalWrite)) {
          qp.nic.local_error = {index, WcStatus::kLocalProtectionError};
          break;
        }
      }
      FrameHeader h;
      h.type = to_frame_type(wr.opcode);
      h.length = wr.opcode == Opcode::kCompareSwap ? 8 : wr.length;
      h.seq = c->next_request_seq++;
      h.remote_addr = wr.remote_addr;
      h.rkey = wr.rkey;
      h.compare = wr.compare;
      h.swap = wr.swap;
      const uint32_t payload = h.wire_payload_bytes();
      uint8_t* out = c->reserve_tx(kHeaderBytes + payload);
      soft::encode_header(h, std::span<uint8_t, kHeaderBytes>(out, kHeaderBytes));
      if (payload > 0) std::memcpy(out + kHeaderBytes, source, payload);
      w.sent_ns = now;
      qp.nic.sent++;
      if (qp.head + 1 == qp.nic.sent) {
        next_deadline_ns_ = std::min(next_deadline_ns_, now + kResponseTimeoutNs);
      }
    }
  }

  bool local_range_ok_locked(uint32_t lkey, const void* addr, uint64_t length, uint32_t need) {
    auto it = regions_by_lkey_.find(lkey);
    if (it == regions_by_lkey_.end() || addr == nullptr) return false;
    const RegionEntry& r = *it->second;
    if ((r.access & need) != need) return false;
    return range_inside(reinterpret_cast<uint64_t>(r.base), r.length,
                        reinterpret_cast<uint64_t>(addr), length);
  }

  // A RESPONSE arrived on an outgoing connection (header validated; payload complete).
  void on_response(Connection* c, const FrameHeader& h, const uint8_t* payload) {
    QpCore& qp = *c->requester;
    std::lock_guard<std::mutex> lock(mu_);
    std::lock_guard<std::mutex> qp_lock(qp.mu);
    if (qp.epoch != c->requester_epoch || qp.destroyed) {
      close_connection(c);  // the binding it served is gone; its responses mean nothing now
      return;
    }
    if (h.seq == 0 && h.status == ResponseStatus::kUnreachable) {
      // Refused: never bound, so an idle eager connection may try again (the responder may be
      // mid-cycle, or still bound to an older binding of ours that it will let us replace).
      if (retry_eager_locked(qp)) return;
      connection_lost_locked(qp, "peer " + c->peer + " refused the connection: its QP " +
                                     std::to_string(qp.peer.qp_num) +
                                     (h.aux == soft::kRefusedFinal
                                          ? " is bound to another QP or already connected"
                                          : " is not in RTR/RTS or not bound to this QP"));
      return;
    }
    if (qp.head >= qp.nic.sent || h.seq != c->next_response_seq) {
      malformed_frames_.fetch_add(1);
      if (qp.head < qp.tail) {
        fail_locked(qp, WcStatus::kBadResponse, "unexpected response from " + c->peer);
      } else {
        connection_lost_locked(qp, "unexpected response from " + c->peer);
      }
      return;
    }
    Wqe& w = qp.slot(qp.head);
    const WorkRequest& wr = w.wr;
    uint32_t expected_length = 0;
    if (h.status == ResponseStatus::kOk) {
      if (wr.opcode == Opcode::kRead) expected_length = wr.length;
      if (wr.opcode == Opcode::kCompareSwap) expected_length = 8;
    }
    if (h.length != expected_length) {
      malformed_frames_.fetch_add(1);
      fail_locked(qp, WcStatus::kBadResponse, "response of wrong length from " + c->peer);
      return;
    }
    c->next_response_seq++;
    if (h.status != ResponseStatus::kOk) {
      fail_locked(qp, to_wc_status(h.status),
                  std::string("peer ") + c->peer + " QP " + std::to_string(qp.peer.qp_num) +
                      " answered " + to_string(to_wc_status(h.status)));
      return;
    }
    uint32_t byte_len = wr.length;
    if (wr.opcode == Opcode::kRead && wr.length > 0) {
      std::memcpy(wr.local_addr, payload, wr.length);
    } else if (wr.opcode == Opcode::kCompareSwap) {
      const uint64_t old_value = get_le64(payload);
      std::memcpy(wr.local_addr, &old_value, 8);
      byte_len = 8;
    }
    complete_locked(qp, wr, WcStatus::kSuccess, byte_len);
    qp.head++;
  }

  // --- responder side ---------------------------------------------------------------------

  void accept_all(int listen_fd) {
    for (int i = 0; i < kMaxEvents; ++i) {
      sockaddr_in addr{};  // a local (AF_UNIX) peer's address is not an IP one: not used then
      socklen_t len = sizeof(addr);
      const int fd = accept4(listen_fd, reinterpret_cast<sockaddr*>(&addr), &len,
                             SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;  // EAGAIN, or a transient error: the listener stays registered
      if (listen_fd == listen_fd_) net::set_nodelay(fd);
      auto conn = std::make_unique<Connection>();
      conn->fd = fd;
      conn->outgoing = false;
      conn->phase = Connection::Phase::kHandshake;
      conn->deadline_ns = auth::monotonic_ns() + kAcceptTimeoutNs;
      conn->peer = listen_fd == listen_fd_ ? net::format_endpoint(addr.sin_addr.s_addr, ntohs(addr.sin_port))
                                           : std::string("a local peer");
      conn->handshake.emplace(auth::Handshake::Role::kAcceptor, config_.secret, kNicContext);
      if (!add_connection(std::move(conn), EPOLLIN)) ::close(fd);
    }
  }

  // A CONNECT arrived on an authenticated incoming connection.
  void on_connect(Connection* c, const FrameHeader& h) {
    const uint32_t responder_qp = h.aux;
    const uint32_t requester_qp = static_cast<uint32_t>(h.remote_addr);
    const uint64_t requester_device = h.compare;
    const uint64_t responder_device = h.swap;
    std::lock_guard<std::mutex> lock(mu_);
    auto it = qps_.find(responder_qp);
    bool ok = responder_device == device_id_ && it != qps_.end();
    // Why a refusal is sent, for the requester's error message: the QP is missing or not (yet)
    // in RTR/RTS, or it is bound to another peer or already connected.
    uint32_t reason = soft::kRefusedNotReady;
    if (ok) {
      QpCore& qp = *it->second;
      if (qp.state == QpState::kRtr || qp.state == QpState::kRts) reason = soft::kRefusedFinal;
      // One connection per binding on each side — except that a newer binding of the same
      // requester QP (it was cycled since) replaces a connection that never carried a request:
      // one its NIC opened ahead of work, accepted here only because it was still connecting
      // when this QP was cycled. Once a connection has carried work, it stays the only one until
      // this QP is cycled too, as on an RC QP. A requester that was not cycled never opens a
      // second connection.
      const uint32_t requester_epoch = h.rkey;
      const bool replaceable =
          qp.inbound_bound && !qp.inbound_carried_work &&
          static_cast<int32_t>(requester_epoch - qp.inbound_requester_epoch) > 0;
      ok = (qp.state == QpState::kRtr || qp.state == QpState::kRts) &&
           (!qp.inbound_bound || replaceable) && qp.peer.device_id == requester_device &&
           qp.peer.qp_num == requester_qp;
      if (ok && replaceable) {
        std::vector<Connection*> idle_older;  // closing unlists: collect first
        for (auto& [ptr, conn] : connections_) {
          if (!conn->closed && conn.get() != c && conn->target.get() == &qp) {
            idle_older.push_back(ptr);
          }
        }
        for (Connection* o : idle_older) close_connection(o);
      }
      if (ok) {
        qp.inbound_bound = true;
        qp.inbound_requester_epoch = requester_epoch;
        c->target = it->second;
        c->target_epoch = qp.epoch;
        c->phase = Connection::Phase::kReady;
        c->deadline_ns = 0;
        return;
      }
    }
    refused_connections_.fetch_add(1);
    FrameHeader refusal;
    refusal.type = FrameType::kResponse;
    refusal.status = ResponseStatus::kUnreachable;
    refusal.seq = 0;
    refusal.aux = reason;
    append_header(c, refusal);
    c->phase = Connection::Phase::kClosing;
  }

  void append_header(Connection* c, const FrameHeader& h) {
    uint8_t* out = c->reserve_tx(kHeaderBytes);
    soft::encode_header(h, std::span<uint8_t, kHeaderBytes>(out, kHeaderBytes));
  }

  // Moves a responder QP to ERR after a class C error (rxe: do_class_ac_error → goto_error).
  void responder_error_locked(QpCore& qp) {
    {
      std::lock_guard<std::mutex> qp_lock(qp.mu);
      qp.state = QpState::kErr;
    }
    qp.doorbell.fetch_add(1);  // its own send queue (if any) must flush
    pass_again_ = true;
  }

  // A READ, WRITE or CAS arrived on a bound incoming connection (header validated, payload
  // complete). Everything from the permission checks to the memcpy happens under the device
  // lock: that is what makes a permission change effective the moment it returns.
  void on_request(Connection* c, const FrameHeader& h, const uint8_t* payload) {
    FrameHeader response;
    response.type = FrameType::kResponse;
    response.seq = h.seq;
    std::lock_guard<std::mutex> lock(mu_);
    QpCore& qp = *c->target;
    if (qp.epoch == c->target_epoch) qp.inbound_carried_work = true;
    if (qp.destroyed || qp.epoch != c->target_epoch ||
        (qp.state != QpState::kRtr && qp.state != QpState::kRts)) {
      unreachable_requests_.fetch_add(1);
      response.status = ResponseStatus::kUnreachable;
      append_header(c, response);
      c->phase = Connection::Phase::kClosing;
      return;
    }
    uint32_t needed_access = kRemoteWrite;
    if (h.type == FrameType::kRead) needed_access = kRemoteRead;
    if (h.type == FrameType::kCompareSwap) needed_access = kRemoteAtomic;
    if ((qp.access & needed_access) == 0) {
      responder_error_locked(qp);
      response.status = ResponseStatus::kInvalidRequest;
      append_header(c, response);
      return;
    }
    const bool zero_length = h.type != FrameType::kCompareSwap && h.length == 0;
    RegionEntry* region = nullptr;
    if (!zero_length) {
      auto it = regions_by_rkey_.find(h.rkey);
      if (it != regions_by_rkey_.end()) region = it->second;
      if (region == nullptr || (region->access & needed_access) == 0 ||
          !range_inside(reinterpret_cast<uint64_t>(region->base), region->length, h.remote_addr,
                        h.length)) {
        responder_error_locked(qp);
        response.status = ResponseStatus::kAccessError;
        append_header(c, response);
        return;
      }
    }
    if (h.type == FrameType::kCompareSwap && (h.remote_addr & 7) != 0) {
      responder_error_locked(qp);
      response.status = ResponseStatus::kInvalidRequest;
      append_header(c, response);
      return;
    }
    uint8_t* target =
        zero_length ? nullptr : region->base + (h.remote_addr - reinterpret_cast<uint64_t>(region->base));
    response.status = ResponseStatus::kOk;
    switch (h.type) {
      case FrameType::kWrite:
        if (!zero_length) std::memcpy(target, payload, h.length);
        append_header(c, response);
        return;
      case FrameType::kRead: {
        response.length = h.length;
        uint8_t* out = c->reserve_tx(kHeaderBytes + h.length);
        soft::encode_header(response, std::span<uint8_t, kHeaderBytes>(out, kHeaderBytes));
        if (!zero_length) std::memcpy(out + kHeaderBytes, target, h.length);
        return;
      }
      case FrameType::kCompareSwap: {
        // Atomic against local atomics on the same word (the 8-byte alignment was checked).
        std::atomic_ref<uint64_t> word(*reinterpret_cast<uint64_t*>(target));
        uint64_t expected = h.compare;
        word.compare_exchange_strong(expected, h.swap);
        response.length = 8;
        uint8_t* out = c->reserve_tx(kHeaderBytes + 8);
        soft::encode_header(response, std::span<uint8_t, kHeaderBytes>(out, kHeaderBytes));
        put_le64(out + kHeaderBytes, expected);  // the old value, whether or not it swapped
        return;
      }
      case FrameType::kConnect:
      case FrameType::kResponse:
        break;
    }
    assert(false && "on_request called with a non-request frame");
  }

  // --- connection plumbing ----------------------------------------------------------------

  bool add_connection(std::unique_ptr<Connection> conn, uint32_t events) {
    epoll_event ev{};
    ev.events = events | EPOLLRDHUP;
    ev.data.ptr = conn.get();
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, conn->fd, &ev) != 0) return false;
    conn->want_write = (events & EPOLLOUT) != 0;
    Connection* key = conn.get();
    std::lock_guard<std::mutex> lock(connections_mu_);
    connections_[key] = std::move(conn);
    return true;
  }

  void close_connection(Connection* c) {
    if (c->closed) return;
    c->closed = true;
    if (c->rx_parked) {
      c->rx_parked = false;
      parked_.erase(std::find(parked_.begin(), parked_.end(), c));
    }
    epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c->fd, nullptr);
    std::lock_guard<std::mutex> lock(connections_mu_);  // crash() may be shutting fds down
    ::close(c->fd);
    c->fd = -1;
    if (c->requester && c->requester->nic.conn == c) c->requester->nic.conn = nullptr;
    c->requester.reset();
    c->target.reset();
    auto it = connections_.find(c);
    if (it != connections_.end()) {
      // Kept alive until the end of this loop iteration: epoll may still hand us its pointer.
      graveyard_.push_back(std::move(it->second));
      connections_.erase(it);
    }
  }

  void set_want_write(Connection* c, bool want) {
    if (c->closed || c->want_write == want) return;
    c->want_write = want;
    update_interest(c);
  }

  void update_interest(Connection* c) {
    if (c->closed) return;
    epoll_event ev{};
    ev.events = EPOLLRDHUP | (c->rx_parked ? 0u : static_cast<uint32_t>(EPOLLIN)) |
                (c->want_write ? static_cast<uint32_t>(EPOLLOUT) : 0u);
    ev.data.ptr = c;
    epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c->fd, &ev);
  }

  // Writes what the socket takes. Returns false if the connection died (and was dealt with).
  bool flush_tx(Connection* c) {
    if (c->closed || c->phase == Connection::Phase::kConnecting) return !c->closed;
    while (c->tx_begin < c->tx_end) {
      const ssize_t n = ::send(c->fd, c->tx.data() + c->tx_begin, c->tx_end - c->tx_begin,
                               MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        c->tx_begin += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        set_want_write(c, true);
        return true;
      }
      on_peer_gone(c, std::string("send: ") + std::strerror(errno));
      return false;
    }
    c->tx_begin = c->tx_end = 0;
    set_want_write(c, false);
    if (c->phase == Connection::Phase::kClosing) {
      close_connection(c);
      return false;
    }
    return true;
  }

  void flush_all_tx() {
    // flush_tx may close (and unlist) connections: collect first, then act.
    scratch_connections_.clear();
    for (auto& [ptr, conn] : connections_) {
      const bool pending = conn->tx_begin < conn->tx_end && !conn->want_write;
      const bool closing = conn->phase == Connection::Phase::kClosing;
      if (pending || closing) scratch_connections_.push_back(ptr);
    }
    for (Connection* c : scratch_connections_) {
      if (c->closed) continue;
      if (c->tx_begin < c->tx_end) {
        flush_tx(c);
      } else if (c->phase == Connection::Phase::kClosing) {
        close_connection(c);  // nothing left to send
      }
    }
  }

  void check_connection_deadlines(uint64_t now) {
    std::vector<Connection*> expired;
    for (auto& [ptr, conn] : connections_) {
      if (conn->closed || conn->deadline_ns == 0) continue;
      if (conn->phase == Connection::Phase::kReady || conn->phase == Connection::Phase::kClosing) {
        continue;
      }
      if (now >= conn->deadline_ns) {
        expired.push_back(ptr);
      } else {
        next_deadline_ns_ = std::min(next_deadline_ns_, conn->deadline_ns);
      }
    }
    for (Connection* c : expired) {
      on_peer_gone(c, c->outgoing ? "timed out connecting/authenticating to " + c->peer
                                  : "incoming connection from " + c->peer +
                                        " did not authenticate in time");
    }
  }

  // The peer closed, reset, failed or timed out.
  void on_peer_gone(Connection* c, const std::string& why) {
    if (c->closed) return;
    if (c->outgoing && c->requester) {
      std::shared_ptr<QpCore> qp = c->requester;
      std::lock_guard<std::mutex> lock(mu_);
      std::lock_guard<std::mutex> qp_lock(qp->mu);
      if (qp->epoch == c->requester_epoch && !qp->destroyed) {
        // Before its CONNECT was sent (connecting, authenticating) nothing was bound.
        if (c->phase != Connection::Phase::kReady && qp->nic.conn == c && retry_eager_locked(*qp)) return;
        connection_lost_locked(*qp, why.empty() ? "connection to " + c->peer + " lost" : why);
        return;
      }
    }
    close_connection(c);
  }

  void finish_connect(Connection* c) {
    int error = 0;
    socklen_t len = sizeof(error);
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0) error = errno;
    if (error != 0) {
      on_peer_gone(c, "connect to " + c->peer + ": " + std::strerror(error));
      return;
    }
    start_initiator_handshake(c);
  }

  void on_connection_event(Connection* c, uint32_t events) {
    if (c->closed) return;
    if (c->phase == Connection::Phase::kConnecting) {
      if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) != 0) finish_connect(c);
      return;
    }
    if ((events & EPOLLOUT) != 0 && !flush_tx(c)) return;
    if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP)) != 0) {
      const uint64_t responses_before = c->next_response_seq;
      read_from(c);
      completed_by_nic_.fetch_add(c->next_response_seq - responses_before, std::memory_order_relaxed);
    }
  }

  // Reads and processes until the socket is empty (or kMaxReadsPerEvent reads). `once`: stop
  // after the first read that brought data — a poller wants its completion now, not after one
  // more (empty) recv; what is left is read by its next poll.
  void read_from(Connection* c, bool once = false) {
    for (int i = 0; i < kMaxReadsPerEvent && !c->closed; ++i) {
      if (c->rx_begin == c->rx_end) c->rx_begin = c->rx_end = 0;
      if (c->rx_end == c->rx.size()) {
        // Make room: compact, then grow (process_input asked for the size of the pending frame).
        if (c->rx_begin > 0) {
          std::memmove(c->rx.data(), c->rx.data() + c->rx_begin, c->rx_end - c->rx_begin);
          c->rx_end -= c->rx_begin;
          c->rx_begin = 0;
        } else if (c->rx.size() < kMaxFrameBytes) {
          c->rx.resize(std::min(c->rx.size() * 2, kMaxFrameBytes));
        } else {
          protocol_violation(c, "receive buffer full");  // cannot happen: frames are bounded
          return;
        }
      }
      const ssize_t n = ::recv(c->fd, c->rx.data() + c->rx_end, c->rx.size() - c->rx_end, MSG_DONTWAIT);
      if (n > 0) {
        c->rx_end += static_cast<size_t>(n);
        if (c->phase == Connection::Phase::kClosing) {
          c->rx_begin = c->rx_end = 0;  // a closing connection ignores input
          continue;
        }
        process_input(c);
        // Responses leave now, not after another recv and the rest of the NIC pass: they are
        // the requester's round trip.
        if (!c->outgoing && c->phase == Connection::Phase::kReady && c->tx_begin < c->tx_end &&
            !c->want_write) {
          flush_tx(c);
        }
        if (once) return;
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      // EOF or error. A frame cut short by it was never executed: nothing touched.
      if (c->phase == Connection::Phase::kHandshake && !c->outgoing) {
        record_auth_failure("incoming connection from " + c->peer +
                            " closed before authenticating");
      }
      if (c->phase == Connection::Phase::kHandshake && c->outgoing) {
        record_auth_failure("authentication with " + c->peer +
                            " failed: peer closed the connection (does it have our secret?)");
      }
      on_peer_gone(c, n == 0 ? "connection closed by " + c->peer
                             : "connection to " + c->peer + ": " + std::strerror(errno));
      return;
    }
  }

  void protocol_violation(Connection* c, const std::string& what) {
    malformed_frames_.fetch_add(1);
    record_error("dropped connection " + c->peer + ": " + what, false);
    if (c->outgoing) {
      on_peer_gone(c, "malformed response from " + c->peer + ": " + what);
    } else {
      close_connection(c);
    }
  }

  void process_input(Connection* c) {
    if (c->phase == Connection::Phase::kHandshake) {
      auth::Handshake& hs = *c->handshake;
      const size_t consumed = hs.feed({c->rx.data() + c->rx_begin, c->rx_end - c->rx_begin});
      c->rx_begin += consumed;
      move_handshake_output(c);
      if (c->closed) return;
      if (hs.state() == auth::Handshake::State::kFailed) {
        const std::string reason = c->outgoing
                                       ? "authentication with " + c->peer + " failed: " + hs.error()
                                       : "refused connection from " + c->peer + ": " + hs.error();
        record_auth_failure(reason);
        if (c->outgoing) {
          on_peer_gone(c, reason);
        } else {
          c->phase = Connection::Phase::kClosing;  // flush the rejection, then close
          flush_tx(c);
        }
        return;
      }
      if (hs.state() != auth::Handshake::State::kDone) return;
      c->handshake.reset();
      if (c->outgoing) {
        send_connect(c);
        if (c->closed) return;
      } else {
        c->phase = Connection::Phase::kAwaitConnect;
      }
    }
    while (!c->closed && c->phase != Connection::Phase::kClosing &&
           c->rx_end - c->rx_begin >= kHeaderBytes) {
      FrameHeader h;
      const uint8_t* start = c->rx.data() + c->rx_begin;
      if (soft::decode_header(std::span<const uint8_t, kHeaderBytes>(start, kHeaderBytes), &h) !=
          DecodeResult::kOk) {
        protocol_violation(c, "malformed frame header");
        return;
      }
      const size_t frame_bytes = kHeaderBytes + h.wire_payload_bytes();
      if (c->rx_end - c->rx_begin < frame_bytes) {
        // Incomplete: make sure the buffer can hold the whole frame (bounded by decode_header).
        if (c->rx.size() - c->rx_begin < frame_bytes) {
          std::memmove(c->rx.data(), start, c->rx_end - c->rx_begin);
          c->rx_end -= c->rx_begin;
          c->rx_begin = 0;
          if (c->rx.size() < frame_bytes) c->rx.resize(frame_bytes);
        }
        return;
      }
      dispatch_frame(c, h, start + kHeaderBytes);
      if (c->closed) return;
      c->rx_begin += frame_bytes;
    }
  }

  void dispatch_frame(Connection* c, const FrameHeader& h, const uint8_t* payload) {
    if (c->outgoing) {
      if (h.type != FrameType::kResponse) return protocol_violation(c, "request on a requester connection");
      on_response(c, h, payload);
      return;
    }
    if (c->phase == Connection::Phase::kAwaitConnect) {
      if (h.type != FrameType::kConnect) return protocol_violation(c, "first frame is not CONNECT");
      on_connect(c, h);
      return;
    }
    if (h.type == FrameType::kConnect || h.type == FrameType::kResponse) {
      return protocol_violation(c, "unexpected frame type on a responder connection");
    }
    if (h.seq != c->expected_seq) return protocol_violation(c, "request out of sequence");
    c->expected_seq++;
    on_request(c, h, payload);
  }

  void send_connect(Connection* c) {
    std::shared_ptr<QpCore> qp = c->requester;
    {
      std::lock_guard<std::mutex> lock(mu_);
      std::lock_guard<std::mutex> qp_lock(qp->mu);
      if (qp->epoch != c->requester_epoch || qp->destroyed) {
        close_connection(c);
        return;
      }
      FrameHeader h;
      h.type = FrameType::kConnect;
      h.remote_addr = qp->qp_num;
      h.aux = qp->peer.qp_num;
      h.compare = device_id_;
      h.swap = qp->peer.device_id;
      h.rkey = static_cast<uint32_t>(qp->epoch);  // which binding of the requester QP this is
      append_header(c, h);
      c->phase = Connection::Phase::kReady;
      c->deadline_ns = 0;
      qp->nic.busy = true;  // the next pass sends the waiting work (honouring hold and delay)
      pass_again_ = true;
    }
    // Without the locks: a failing send reports the lost connection, which takes them again.
    flush_tx(c);
  }

  // --- state ----------------------------------------------------------------------------------

  const SoftConfig config_;
  const uint32_t listen_ip_;
  int listen_fd_;
  int local_listen_fd_;  // AF_UNIX, or -1 (SoftConfig::local_transport)
  const uint16_t listen_port_;
  const uint64_t device_id_;
  const uint32_t key_mask_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::thread nic_thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> sleeping_{false};
  std::atomic<uint64_t> doorbell_{0};
  std::atomic<bool> hold_outgoing_{false};
  std::atomic<uint64_t> outgoing_delay_ns_{0};
  std::atomic<uint32_t> loss_per_million_{0};
  std::atomic<uint64_t> loss_retransmit_ns_{1'000'000};
  uint64_t loss_rng_ = auth::random_u64();  // device lock
  std::atomic<uint64_t> config_version_{0};
  char listen_tag_ = 0;
  char local_listen_tag_ = 0;
  char wake_tag_ = 0;

  NicLock nic_lock_;  // the NIC's own state (see the top of this file)
  std::mutex mu_;     // the device lock (see the top of this file)
  std::unordered_map<uint32_t, RegionEntry*> regions_by_lkey_;
  std::unordered_map<uint32_t, RegionEntry*> regions_by_rkey_;
  std::unordered_map<uint32_t, std::shared_ptr<QpCore>> qps_;
  std::vector<std::shared_ptr<QpCore>> qp_list_;
  std::atomic<uint64_t> qp_list_version_{0};
  uint32_t key_counter_ = 0;
  uint32_t next_qp_num_ = 1;

  mutable std::mutex error_mu_;
  std::string last_error_;
  std::atomic<bool> auth_failure_logged_{false};
  std::atomic<uint64_t> auth_failures_{0};
  std::atomic<uint64_t> malformed_frames_{0};
  std::atomic<uint64_t> refused_connections_{0};
  std::atomic<uint64_t> eager_retries_{0};
  std::atomic<uint64_t> unreachable_requests_{0};
  std::atomic<uint64_t> cq_overflows_{0};
  std::atomic<uint64_t> sent_in_post_{0};
  std::atomic<uint64_t> completed_in_poll_{0};
  std::atomic<uint64_t> completed_by_nic_{0};
  std::atomic<uint64_t> parks_{0};
  std::atomic<uint64_t> local_connections_{0};
  std::atomic<uint64_t> lingers_{0};
  std::atomic<uint64_t> linger_stalls_{0};
  std::atomic<uint64_t> unparks_{0};
  std::atomic<uint64_t> lost_connections_{0};  // see Device::lost_connections
  // Guards inserting into and erasing from connections_ and closing their fds against crash(),
  // which shuts them down from another thread; only the NIC lock's holder reads it otherwise.
  std::mutex connections_mu_;

  // NIC lock (the NIC thread, or a CQ poll in complete_from_poll).
  std::vector<std::shared_ptr<QpCore>> nic_qps_;
  uint64_t qp_list_version_seen_ = ~0ull;
  uint64_t config_version_seen_ = 0;
  uint64_t next_deadline_ns_ = UINT64_MAX;
  bool pass_again_ = false;  // work was created after the QPs were serviced in this pass
  std::unordered_map<Connection*, std::unique_ptr<Connection>> connections_;
  std::vector<std::unique_ptr<Connection>> graveyard_;
  std::vector<Connection*> scratch_connections_;  // reused: no allocation per pass
  std::vector<Connection*> parked_;  // connections with rx_parked (see park_responses)
  uint64_t next_park_check_ns_ = 0;
};

// --- handles ------------------------------------------------------------------------------------

SoftMemoryRegion::~SoftMemoryRegion() { device_->unregister_region(entry_.get()); }

uint32_t SoftMemoryRegion::lkey() const {
  std::lock_guard<std::mutex> lock(device_->mu());
  return entry_->lkey;
}
uint32_t SoftMemoryRegion::rkey() const {
  std::lock_guard<std::mutex> lock(device_->mu());
  return entry_->rkey;
}
uint32_t SoftMemoryRegion::access() const {
  std::lock_guard<std::mutex> lock(device_->mu());
  return entry_->access;
}

int SoftCompletionQueue::poll(Completion* out, int max) {
  if (max <= 0) return 0;
  const int n = core_->poll(out, max);
  if (n > 0 || !device_->complete_in_poll()) return n;
  device_->complete_from_poll(core_.get());
  return core_->poll(out, max);
}

SoftQueuePair::~SoftQueuePair() { device_->destroy_qp(core_); }

QpAddress SoftQueuePair::address() const {
  PeerAddress a;
  a.ip = device_->listen_ip();
  a.port = device_->listen_port();
  a.qp_num = core_->qp_num;
  a.device_id = device_->device_id();
  return encode_address(a);
}

Status SoftQueuePair::to_init(uint32_t access) {
  if ((access & ~kAccessAll) != 0) return Status::Error(ErrorCode::kInvalidArgument, "unknown access flags");
  std::lock_guard<std::mutex> lock(device_->mu());
  std::lock_guard<std::mutex> qp_lock(core_->mu);
  if (core_->state != QpState::kReset) {
    return Status::Error(ErrorCode::kInvalidState,
                         std::string("to_init from ") + to_string(core_->state) + " (needs RESET)");
  }
  core_->state = QpState::kInit;
  core_->access = access;
  return Status::Ok();
}

Status SoftQueuePair::to_rtr(const QpAddress& remote) {
  PeerAddress peer;
  if (!decode_address(remote, &peer)) {
    return Status::Error(ErrorCode::kInvalidArgument, "not a soft fabric QP address");
  }
  {
    std::lock_guard<std::mutex> lock(device_->mu());
    std::lock_guard<std::mutex> qp_lock(core_->mu);
    if (core_->state != QpState::kInit) {
      return Status::Error(ErrorCode::kInvalidState,
                           std::string("to_rtr from ") + to_string(core_->state) + " (needs INIT)");
    }
    core_->peer = peer;
    core_->epoch++;  // a new binding: nothing from an earlier one is accepted any more
    core_->inbound_bound = false;
    core_->inbound_carried_work = false;
    core_->state = QpState::kRtr;
  }
  core_->doorbell.fetch_add(1);
  device_->ring_doorbell();
  return Status::Ok();
}

Status SoftQueuePair::to_rts() {
  {
    std::lock_guard<std::mutex> lock(device_->mu());
    std::lock_guard<std::mutex> qp_lock(core_->mu);
    if (core_->state != QpState::kRtr) {
      return Status::Error(ErrorCode::kInvalidState,
                           std::string("to_rts from ") + to_string(core_->state) + " (needs RTR)");
    }
    core_->state = QpState::kRts;
  }
  core_->doorbell.fetch_add(1);
  device_->ring_doorbell();
  return Status::Ok();
}

Status SoftQueuePair::to_reset() {
  {
    std::lock_guard<std::mutex> lock(device_->mu());
    std::lock_guard<std::mutex> qp_lock(core_->mu);
    core_->state = QpState::kReset;
    core_->access = 0;
    core_->epoch++;         // inbound connections of the old binding are dead from now on
    core_->inbound_bound = false;
    core_->inbound_carried_work = false;
    core_->head = core_->tail;  // pending work dropped without completions (as verbs)
  }
  core_->doorbell.fetch_add(1);
  device_->ring_doorbell();  // the NIC closes the old binding's connections
  return Status::Ok();
}

Status SoftQueuePair::set_access(uint32_t access) {
  if ((access & ~kAccessAll) != 0) return Status::Error(ErrorCode::kInvalidArgument, "unknown access flags");
  std::lock_guard<std::mutex> lock(device_->mu());
  std::lock_guard<std::mutex> qp_lock(core_->mu);
  if (core_->state != QpState::kRts) {
    return Status::Error(ErrorCode::kInvalidState,
                         std::string("set_access in ") + to_string(core_->state) + " (needs RTS)");
  }
  // Holding the device lock: the NIC is not between a check and a memcpy for any request, and
  // checks every later one against these flags.
  core_->access = access;
  return Status::Ok();
}

Status SoftQueuePair::post(const WorkRequest& wr) {
  const bool is_cas = wr.opcode == Opcode::kCompareSwap;
  if (is_cas && wr.length != 0 && wr.length != 8) {
    return Status::Error(ErrorCode::kInvalidArgument, "compare-and-swap length must be 8");
  }
  if (wr.length > kMaxMessageBytes) {
    return Status::Error(ErrorCode::kInvalidArgument,
                         "length " + std::to_string(wr.length) + " exceeds the soft fabric's limit of " +
                             std::to_string(kMaxMessageBytes));
  }
  if (wr.inline_data && (wr.opcode != Opcode::kWrite || wr.length > core_->max_inline)) {
    return Status::Error(ErrorCode::kInvalidArgument, "inline only for WRITEs up to max_inline bytes");
  }
  if ((wr.length > 0 || is_cas) && wr.local_addr == nullptr) {
    return Status::Error(ErrorCode::kInvalidArgument, "local_addr is null");
  }
  const uint64_t delay_ns = device_->outgoing_delay_ns();
  {
    std::lock_guard<std::mutex> qp_lock(core_->mu);
    const QpState state = core_->state;
    if (state != QpState::kRts && state != QpState::kErr) {
      return Status::Error(ErrorCode::kInvalidState, std::string("post in ") + to_string(state));
    }
    if (core_->tail - core_->head >= core_->max_send_wr) {
      return Status::Error(ErrorCode::kQueueFull, "send queue full");
    }
    const uint64_t index = core_->tail;
    Wqe& w = core_->slot(index);
    w.wr = wr;
    if (is_cas) w.wr.length = 8;
    w.posted_ns = delay_ns > 0 ? auth::monotonic_ns() : 0;
    w.sent_ns = 0;
    w.retry_at_ns = 0;
    w.losses = 0;
    if (wr.inline_data && wr.length > 0) std::memcpy(core_->inline_slot(index), wr.local_addr, wr.length);
    core_->tail = index + 1;
  }
  if (device_->send_in_post() && device_->send_from_post(core_)) return Status::Ok();
  core_->doorbell.fetch_add(1);
  device_->ring_doorbell();
  return Status::Ok();
}

}  // namespace

SoftStats soft_stats(const SoftDevice& device) {
  return static_cast<const SoftDeviceImpl&>(device).stats();
}

Result<std::unique_ptr<SoftDevice>> open_soft_device(const SoftConfig& config) {
  if (config.secret.empty()) {
    return Status::Error(ErrorCode::kInvalidArgument,
                         "soft fabric needs a non-empty cluster secret (SoftConfig::secret)");
  }
  Result<uint32_t> ip = net::resolve_ipv4(config.listen_host);
  if (!ip.ok()) return ip.status();
  if (*ip == htonl(INADDR_ANY)) {
    return Status::Error(ErrorCode::kInvalidArgument,
                         "listen_host must be an address peers can reach, not 0.0.0.0 (it is put "
                         "into every QP address)");
  }
  int listen_fd = -1;
  int local_listen_fd = -1;
  {
    net::ScopedNetns netns;  // the listening socket lives in the device's namespace
    Status entered = netns.enter(config.netns);
    if (!entered.ok()) return entered;
    Result<int> fd = net::listen_tcp(*ip, config.listen_port, /*nonblocking=*/true);
    if (!fd.ok()) return fd.status();
    listen_fd = *fd;
    // Beside it, for peers in this namespace that reach us over loopback, an AF_UNIX listener
    // named after the TCP endpoint. Without it (bind failed) they simply connect over TCP.
    if (config.local_transport && is_loopback(*ip)) {
      const int local = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      sockaddr_un addr{};
      const socklen_t len = local_address(*ip, net::local_port(listen_fd), &addr);
      if (local >= 0 && ::bind(local, reinterpret_cast<sockaddr*>(&addr), len) == 0 &&
          ::listen(local, 128) == 0) {
        local_listen_fd = local;
      } else if (local >= 0) {
        ::close(local);
      }
    }
  }
  auto device = std::make_unique<SoftDeviceImpl>(config, *ip, listen_fd, local_listen_fd);
  Status started = device->start();
  if (!started.ok()) return started;
  return std::unique_ptr<SoftDevice>(std::move(device));
}

}  // namespace mu::fabric
