// Setup and control of the verbs backend: opening the device, regions, CQs, QPs and their state
// transitions. These calls may allocate and may sleep in the kernel; the datapath is datapath.cc.
#include <net/if.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <random>
#include <vector>

#include "fabric/verbs/verbs_internal.h"

namespace mu::fabric {

using verbs::call_error;
using verbs::DeviceSetup;
using verbs::to_ibv_access;
using verbs::VerbsCq;
using verbs::VerbsDevice;
using verbs::VerbsQp;
using verbs::VerbsRegion;

namespace verbs {
namespace {

constexpr uint32_t kRemoteBits = kRemoteWrite | kRemoteRead | kRemoteAtomic;
constexpr uint8_t kMaxRdAtomic = 16;  // outstanding READ/atomic per QP we ask for, at most
constexpr uint8_t kMinRnrTimer = 12;  // unused by one-sided traffic; a conventional value
constexpr uint8_t kHopLimit = 64;

ErrorCode code_for_errno(int err) {
  switch (err) {
    case EINVAL: return ErrorCode::kInvalidArgument;
    case ENOMEM:
    case EAGAIN:
    case ENOSPC: return ErrorCode::kResourceExhausted;
    case EOPNOTSUPP:
    case ENOSYS:
    case ENODEV:
    case ENXIO: return ErrorCode::kNotSupported;
    case EPERM:
    case EACCES: return ErrorCode::kResourceExhausted;  // typically the memlock limit
    default: return ErrorCode::kInternal;
  }
}

ibv_mtu mtu_min(ibv_mtu a, ibv_mtu b) { return a < b ? a : b; }

uint32_t random_psn() {
  std::random_device rd;
  return rd() & 0xffffffu;
}

}  // namespace

void invariant_failed(const char* what, const char* file, int line) {
  std::fprintf(stderr, "mu verbs: invariant violated: %s (%s:%d)\n", what, file, line);
  std::abort();
}

uint32_t next_epoch() {
  static std::atomic<uint32_t> epochs{1};
  return epochs.fetch_add(1, std::memory_order_relaxed);
}

int to_ibv_access(uint32_t access) {
  int flags = 0;
  if (access & kLocalWrite) flags |= IBV_ACCESS_LOCAL_WRITE;
  if (access & kRemoteWrite) flags |= IBV_ACCESS_REMOTE_WRITE;
  if (access & kRemoteRead) flags |= IBV_ACCESS_REMOTE_READ;
  if (access & kRemoteAtomic) flags |= IBV_ACCESS_REMOTE_ATOMIC;
  return flags;
}

Status call_error(const std::string& call, int err) {
  return Status::Error(code_for_errno(err), call + " failed: " + std::strerror(err) + " (errno " +
                                                std::to_string(err) + ")");
}

// --- device ---------------------------------------------------------------------------------

VerbsDevice::VerbsDevice(const DeviceSetup& setup) : setup_(setup) {}

VerbsDevice::~VerbsDevice() {
  ibv_dealloc_pd(setup_.pd);
  ibv_close_device(setup_.context);
}

std::string VerbsDevice::name() const { return ibv_get_device_name(setup_.context->device); }

uint64_t VerbsDevice::now_ns() const {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
}

namespace {
// Verbs refuses REMOTE_WRITE or REMOTE_ATOMIC without LOCAL_WRITE; the fabric does not ask for it.
int region_flags(uint32_t access) {
  int flags = to_ibv_access(access);
  if (access & (kRemoteWrite | kRemoteAtomic)) flags |= IBV_ACCESS_LOCAL_WRITE;
  return flags;
}
}  // namespace

Result<std::unique_ptr<MemoryRegion>> VerbsDevice::register_region(void* addr, size_t length,
                                                                   uint32_t access) {
  if (addr == nullptr || length == 0) {
    return Status::Error(ErrorCode::kInvalidArgument, "register_region: empty region");
  }
  if (access & ~kAccessAll) {
    return Status::Error(ErrorCode::kInvalidArgument, "register_region: unknown access bits");
  }
  ibv_mr* mr = ibv_reg_mr(setup_.pd, addr, length, region_flags(access));
  if (mr == nullptr) {
    const int err = errno;
    Status s = call_error("ibv_reg_mr(" + std::to_string(length) + " bytes)", err);
    if (err == ENOMEM || err == EPERM) s.message += "; check the memlock limit (ulimit -l)";
    return s;
  }
  return std::unique_ptr<MemoryRegion>(new VerbsRegion(mr, access));
}

Status VerbsDevice::reregister_region(MemoryRegion& region, uint32_t access) {
  auto* r = dynamic_cast<VerbsRegion*>(&region);
  if (r == nullptr || r->mr()->pd != setup_.pd) {
    return Status::Error(ErrorCode::kInvalidArgument,
                         "reregister_region: region was not registered on this verbs device");
  }
  if (access & ~kAccessAll) {
    return Status::Error(ErrorCode::kInvalidArgument, "reregister_region: unknown access bits");
  }
  ibv_mr* old = r->mr();
  const uint32_t old_rkey = old->rkey;
  if (!rereg_useless_) {
    const int rc = ibv_rereg_mr(old, IBV_REREG_MR_CHANGE_ACCESS, nullptr, nullptr, 0,
                                region_flags(access));
    if (rc == 0 && old->rkey != old_rkey) {
      r->replace(old, access);
      return Status::Ok();
    }
    // rc != 0: not supported or refused; rc == 0 with the same rkey: access changed in place,
    // but the fabric promises that the old rkey dies. Either way, and from now on:
    rereg_useless_ = true;
  }
  // Register anew while the old MR still holds its key (so the new key differs), then drop the
  // old one: from then on the old rkey matches no MR and every access through it fails.
  ibv_mr* fresh = ibv_reg_mr(setup_.pd, old->addr, old->length, region_flags(access));
  if (fresh == nullptr) return call_error("ibv_reg_mr (re-registration)", errno);
  const int rc = ibv_dereg_mr(old);
  r->replace(fresh, access);
  if (rc != 0) return call_error("ibv_dereg_mr (re-registration, old rkey may stay valid)", rc);
  return Status::Ok();
}

Result<std::unique_ptr<CompletionQueue>> VerbsDevice::create_cq(uint32_t depth) {
  if (depth == 0 || depth > static_cast<uint32_t>(setup_.device_attr.max_cqe)) {
    return Status::Error(ErrorCode::kInvalidArgument,
                         "create_cq: depth " + std::to_string(depth) + " outside [1, " +
                             std::to_string(setup_.device_attr.max_cqe) + "]");
  }
  ibv_cq* cq = ibv_create_cq(setup_.context, static_cast<int>(depth), nullptr, nullptr, 0);
  if (cq == nullptr) return call_error("ibv_create_cq", errno);
  return std::unique_ptr<CompletionQueue>(new VerbsCq(cq));
}

Result<std::unique_ptr<QueuePair>> VerbsDevice::create_qp(CompletionQueue& cq, const QpCaps& caps) {
  auto* vcq = dynamic_cast<VerbsCq*>(&cq);
  if (vcq == nullptr || vcq->cq()->context != setup_.context) {
    return Status::Error(ErrorCode::kInvalidArgument,
                         "create_qp: the CQ was not created on this verbs device");
  }
  const auto max_wr = static_cast<uint32_t>(setup_.device_attr.max_qp_wr);
  if (caps.max_send_wr == 0 || caps.max_send_wr > max_wr) {
    return Status::Error(ErrorCode::kInvalidArgument,
                         "create_qp: max_send_wr " + std::to_string(caps.max_send_wr) +
                             " outside [1, " + std::to_string(max_wr) + "]");
  }
  // The device's inline limit is only learnt by trying: start from the request (lowered to the
  // largest size seen to work) and halve on refusal. At most ~10 attempts, once per device.
  uint32_t inline_try = caps.max_inline;
  if (max_inline_seen_ >= 0 && inline_try > static_cast<uint32_t>(max_inline_seen_)) {
    inline_try = static_cast<uint32_t>(max_inline_seen_);
  }
  if (max_inline_refused_ != 0 && inline_try >= max_inline_refused_) {
    inline_try = max_inline_refused_ / 2;
  }
  for (int attempt = 0;; ++attempt) {
    ibv_qp_init_attr init{};
    init.send_cq = vcq->cq();
    init.recv_cq = vcq->cq();
    init.qp_type = IBV_QPT_RC;
    init.sq_sig_all = 0;
    init.cap.max_send_wr = caps.max_send_wr;
    init.cap.max_recv_wr = 1;  // one-sided traffic only; some providers refuse 0
    init.cap.max_send_sge = 1;
    init.cap.max_recv_sge = 1;
    init.cap.max_inline_data = inline_try;
    ibv_qp* qp = ibv_create_qp(setup_.pd, &init);
    if (qp != nullptr) {
      const uint32_t granted = std::min(inline_try, init.cap.max_inline_data);
      if (static_cast<int>(inline_try) > max_inline_seen_) max_inline_seen_ = inline_try;
      return std::unique_ptr<QueuePair>(
          new VerbsQp(*this, *vcq, qp, caps.max_send_wr, granted, random_psn()));
    }
    const int err = errno;
    if (err != EINVAL || inline_try == 0 || attempt >= 12) {
      return call_error("ibv_create_qp(max_send_wr=" + std::to_string(caps.max_send_wr) +
                            ", max_inline=" + std::to_string(inline_try) + ")",
                        err);
    }
    if (max_inline_refused_ == 0 || inline_try < max_inline_refused_) {
      max_inline_refused_ = inline_try;
    }
    inline_try /= 2;
  }
}

// --- region, CQ ------------------------------------------------------------------------------

VerbsRegion::~VerbsRegion() { ibv_dereg_mr(mr_); }

VerbsCq::~VerbsCq() { ibv_destroy_cq(cq_); }

// --- queue pair ------------------------------------------------------------------------------

namespace {
size_t slot_count(uint32_t max_send_wr) {
  size_t n = 1;
  while (n < max_send_wr) n <<= 1;  // a power of two keeps seq % n continuous across wrap-around
  return n;
}
}  // namespace

VerbsQp::VerbsQp(VerbsDevice& device, VerbsCq& cq, ibv_qp* qp, uint32_t max_send_wr,
                 uint32_t max_inline, uint32_t psn)
    : device_(device),
      cq_(cq),
      qp_(qp),
      max_send_wr_(max_send_wr),
      max_inline_(max_inline),
      psn_(psn),
      slots_(slot_count(max_send_wr)),
      epoch_(next_epoch()) {
  MU_VERBS_INVARIANT(slots_.size() >= max_send_wr_);
  MU_VERBS_INVARIANT((slots_.size() & (slots_.size() - 1)) == 0);
  MU_VERBS_INVARIANT(psn_ <= 0xffffffu);
  cq_.attach(qp_->qp_num, this);
}

VerbsQp::~VerbsQp() {
  cq_.detach(qp_->qp_num);
  ibv_destroy_qp(qp_);
}

QpState VerbsQp::query_state() const {
  ibv_qp_attr attr{};
  ibv_qp_init_attr init{};
  if (ibv_query_qp(qp_, &attr, IBV_QP_STATE, &init) != 0) return state_;
  switch (attr.qp_state) {
    case IBV_QPS_RESET: return QpState::kReset;
    case IBV_QPS_INIT: return QpState::kInit;
    case IBV_QPS_RTR: return QpState::kRtr;
    case IBV_QPS_RTS:
    case IBV_QPS_SQD: return QpState::kRts;
    case IBV_QPS_SQE:
    case IBV_QPS_ERR: return QpState::kErr;
    default: return state_;
  }
}

QpState VerbsQp::state() const {
  // Only the device moves a QP out of RTR/RTS on its own (to ERR).
  if (state_ == QpState::kRtr || state_ == QpState::kRts) return query_state();
  return state_;
}

QpAddress VerbsQp::address() const {
  const DeviceSetup& d = device_.setup();
  VerbsQpAddress a;
  a.port = d.port;
  a.mtu = static_cast<uint8_t>(d.port_attr.active_mtu);
  a.ethernet = device_.ethernet();
  a.qp_num = qp_->qp_num;
  a.psn = psn_;
  a.lid = d.port_attr.lid;
  a.gid_index = static_cast<uint8_t>(d.gid_index);
  std::memcpy(a.gid.data(), d.gid.raw, 16);
  return a.encode();
}

Status VerbsQp::modify(ibv_qp_attr& attr, int mask, const char* what) {
  const int rc = ibv_modify_qp(qp_, &attr, mask);
  if (rc == 0) return Status::Ok();
  Status s = call_error(std::string("ibv_modify_qp(") + what + ")", rc);
  if (rc == EINVAL && query_state() == QpState::kErr) {
    s.code = ErrorCode::kInvalidState;
    s.message += "; the QP is in ERR (cycle it through RESET)";
  }
  return s;
}

namespace {
Status wrong_state(const char* call, QpState have, const char* need) {
  return Status::Error(ErrorCode::kInvalidState, std::string(call) + ": QP is in " +
                                                     to_string(have) + ", needs " + need);
}
}  // namespace

Status VerbsQp::to_init(uint32_t access) {
  if (state_ != QpState::kReset) return wrong_state("to_init", state(), "RESET");
  if (access & ~kAccessAll) {
    return Status::Error(ErrorCode::kInvalidArgument, "to_init: unknown access bits");
  }
  ibv_qp_attr attr{};
  attr.qp_state = IBV_QPS_INIT;
  attr.pkey_index = 0;
  attr.port_num = device_.setup().port;
  attr.qp_access_flags = static_cast<unsigned>(to_ibv_access(access & kRemoteBits));
  Status s = modify(attr, IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT | IBV_QP_ACCESS_FLAGS,
                    "RESET->INIT");
  if (!s.ok()) return s;
  state_ = QpState::kInit;
  access_ = access;
  return s;
}

Status VerbsQp::to_rtr(const QpAddress& remote) {
  if (state_ != QpState::kInit) return wrong_state("to_rtr", state(), "INIT");
  Result<VerbsQpAddress> peer = VerbsQpAddress::decode(remote);
  if (!peer.ok()) return peer.status();
  const DeviceSetup& d = device_.setup();
  if (peer->ethernet != device_.ethernet()) {
    return Status::Error(ErrorCode::kInvalidArgument,
                         "to_rtr: peer link layer differs (RoCE and InfiniBand do not mix)");
  }
  ibv_qp_attr attr{};
  attr.qp_state = IBV_QPS_RTR;
  attr.path_mtu = mtu_min(d.port_attr.active_mtu, static_cast<ibv_mtu>(peer->mtu));
  attr.dest_qp_num = peer->qp_num;
  attr.rq_psn = peer->psn;
  attr.max_dest_rd_atomic =
      static_cast<uint8_t>(std::clamp(d.device_attr.max_qp_rd_atom, 1, int{kMaxRdAtomic}));
  attr.min_rnr_timer = kMinRnrTimer;
  attr.ah_attr.port_num = d.port;
  attr.ah_attr.dlid = peer->lid;
  attr.ah_attr.sl = 0;
  attr.ah_attr.src_path_bits = 0;
  // RoCE has no LIDs: the GRH carries the address. InfiniBand routes by LID inside a subnet.
  if (device_.ethernet() || peer->lid == 0) {
    attr.ah_attr.is_global = 1;
    std::memcpy(attr.ah_attr.grh.dgid.raw, peer->gid.data(), 16);
    attr.ah_attr.grh.sgid_index = static_cast<uint8_t>(d.gid_index);
    attr.ah_attr.grh.hop_limit = kHopLimit;
    attr.ah_attr.grh.traffic_class = 0;
    attr.ah_attr.grh.flow_label = 0;
  }
  Status s = modify(attr,
                    IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU | IBV_QP_DEST_QPN | IBV_QP_RQ_PSN |
                        IBV_QP_MAX_DEST_RD_ATOMIC | IBV_QP_MIN_RNR_TIMER,
                    "INIT->RTR");
  if (!s.ok()) return s;
  state_ = QpState::kRtr;
  path_mtu_ = static_cast<uint8_t>(attr.path_mtu);
  return s;
}

Status VerbsQp::to_rts() {
  if (state_ != QpState::kRtr) return wrong_state("to_rts", state(), "RTR");
  const DeviceSetup& d = device_.setup();
  ibv_qp_attr attr{};
  attr.qp_state = IBV_QPS_RTS;
  attr.timeout = d.ack_timeout;
  attr.retry_cnt = d.retry_count;
  attr.rnr_retry = 7;
  attr.sq_psn = psn_;
  attr.max_rd_atomic =
      static_cast<uint8_t>(std::clamp(d.device_attr.max_qp_init_rd_atom, 1, int{kMaxRdAtomic}));
  Status s = modify(attr,
                    IBV_QP_STATE | IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT | IBV_QP_RNR_RETRY |
                        IBV_QP_SQ_PSN | IBV_QP_MAX_QP_RD_ATOMIC,
                    "RTR->RTS");
  if (!s.ok()) return s;
  state_ = QpState::kRts;
  return s;
}

Status VerbsQp::to_reset() {
  ibv_qp_attr attr{};
  attr.qp_state = IBV_QPS_RESET;
  Status s = modify(attr, IBV_QP_STATE, "->RESET");
  if (!s.ok()) return s;
  state_ = QpState::kReset;
  // Work posted before the reset is gone: its completions (if any still sit in the CQ) are
  // dropped by epoch, and the send queue is empty again.
  epoch_.store(next_epoch(), std::memory_order_release);
  posted_.store(0, std::memory_order_relaxed);
  completed_.store(0, std::memory_order_release);
  return s;
}

Status VerbsQp::set_access(uint32_t access) {
  if (state_ != QpState::kRts) return wrong_state("set_access", state(), "RTS");
  if (access & ~kAccessAll) {
    return Status::Error(ErrorCode::kInvalidArgument, "set_access: unknown access bits");
  }
  ibv_qp_attr attr{};
  attr.qp_access_flags = static_cast<unsigned>(to_ibv_access(access & kRemoteBits));
  Status s = modify(attr, IBV_QP_ACCESS_FLAGS, "RTS->RTS access flags");
  if (!s.ok()) return s;
  access_ = access;
  return s;
}

}  // namespace verbs

// --- opening ---------------------------------------------------------------------------------

namespace {

struct DeviceListGuard {
  ibv_device** list;
  ~DeviceListGuard() {
    if (list != nullptr) ibv_free_device_list(list);
  }
};

bool gid_is_zero(const ibv_gid& gid) {
  for (uint8_t b : gid.raw) {
    if (b != 0) return false;
  }
  return true;
}

// The GID table of `port` as the fabric sees it. ibv_query_gid_table reports every valid entry
// with its type in one call; without it (old kernels), sysfs has the types; failing both,
// ibv_query_gid gives the GIDs without types.
VerbsPortInfo port_gids(ibv_context* context, const ibv_device_attr& device_attr,
                        const ibv_port_attr& port_attr, uint8_t port, const std::string& sysfs_root) {
  VerbsPortInfo info;
  info.port = port;
  std::vector<ibv_gid_entry> table(static_cast<size_t>(port_attr.gid_tbl_len) *
                                   std::max<uint8_t>(device_attr.phys_port_cnt, 1));
  const ssize_t n = ibv_query_gid_table(context, table.data(), table.size(), 0);
  if (n >= 0) {
    for (ssize_t i = 0; i < n; ++i) {
      const ibv_gid_entry& e = table[static_cast<size_t>(i)];
      if (e.port_num != port || gid_is_zero(e.gid)) continue;
      VerbsGidInfo g;
      g.index = static_cast<int>(e.gid_index);
      std::memcpy(g.gid.data(), e.gid.raw, 16);
      g.type = e.gid_type == IBV_GID_TYPE_ROCE_V2 ? "RoCE v2" : "IB/RoCE v1";  // sysfs spelling
      char ifname[IF_NAMESIZE] = {};
      if (e.ndev_ifindex != 0 && if_indextoname(e.ndev_ifindex, ifname) != nullptr) {
        g.netdev = ifname;
      }
      info.gids.push_back(g);
    }
    return info;
  }
  const std::string name = ibv_get_device_name(context->device);
  Result<std::vector<VerbsDeviceInfo>> sysfs = read_verbs_sysfs(sysfs_root);
  if (sysfs.ok()) {
    for (const VerbsDeviceInfo& dev : *sysfs) {
      if (dev.name != name) continue;
      for (const VerbsPortInfo& p : dev.ports) {
        if (p.port == port && !p.gids.empty()) return p;
      }
    }
  }
  for (int i = 0; i < port_attr.gid_tbl_len && i < 256; ++i) {
    ibv_gid gid{};
    if (ibv_query_gid(context, port, i, &gid) != 0 || gid_is_zero(gid)) continue;
    VerbsGidInfo g;
    g.index = i;
    std::memcpy(g.gid.data(), gid.raw, 16);
    info.gids.push_back(g);
  }
  return info;
}

Result<std::unique_ptr<Device>> open_on(ibv_device* dev, const VerbsConfig& config) {
  const std::string name = ibv_get_device_name(dev);
  DeviceSetup setup;
  setup.port = config.port;
  setup.ack_timeout = config.ack_timeout;
  setup.retry_count = config.retry_count;
  setup.context = ibv_open_device(dev);
  if (setup.context == nullptr) return verbs::call_error("ibv_open_device(" + name + ")", errno);
  auto fail = [&](Status s) -> Result<std::unique_ptr<Device>> {
    if (setup.pd != nullptr) ibv_dealloc_pd(setup.pd);
    ibv_close_device(setup.context);
    return s;
  };
  int rc = ibv_query_device(setup.context, &setup.device_attr);
  if (rc != 0) return fail(verbs::call_error("ibv_query_device(" + name + ")", rc));
  if (config.port == 0 || config.port > setup.device_attr.phys_port_cnt) {
    return fail(Status::Error(ErrorCode::kInvalidArgument,
                              name + " has no port " + std::to_string(config.port)));
  }
  rc = ibv_query_port(setup.context, config.port, &setup.port_attr);
  if (rc != 0) return fail(verbs::call_error("ibv_query_port(" + name + ")", rc));
  if (setup.port_attr.state != IBV_PORT_ACTIVE) {
    return fail(Status::Error(ErrorCode::kUnreachable,
                              name + " port " + std::to_string(config.port) + " is " +
                                  verbs::port_state_name(setup.port_attr.state) + ", not ACTIVE"));
  }
  if (config.gid_index >= 0) {
    if (config.gid_index >= setup.port_attr.gid_tbl_len) {
      return fail(Status::Error(ErrorCode::kInvalidArgument,
                                "gid_index " + std::to_string(config.gid_index) +
                                    " beyond the GID table of " + name + " (" +
                                    std::to_string(setup.port_attr.gid_tbl_len) + " entries)"));
    }
    setup.gid_index = config.gid_index;
  } else {
    const VerbsPortInfo gids = port_gids(setup.context, setup.device_attr, setup.port_attr,
                                         config.port, config.sysfs_root);
    setup.gid_index = choose_gid_index(gids);
    if (setup.gid_index < 0) {
      if (setup.port_attr.link_layer == IBV_LINK_LAYER_ETHERNET) {
        return fail(Status::Error(
            ErrorCode::kUnreachable,
            name + " port " + std::to_string(config.port) +
                " (RoCE) has no valid GID: give its netdev an IP address"));
      }
      setup.gid_index = 0;
    }
  }
  rc = ibv_query_gid(setup.context, config.port, setup.gid_index, &setup.gid);
  if (rc != 0) return fail(verbs::call_error("ibv_query_gid(" + name + ")", errno != 0 ? errno : EINVAL));
  setup.pd = ibv_alloc_pd(setup.context);
  if (setup.pd == nullptr) return fail(verbs::call_error("ibv_alloc_pd(" + name + ")", errno));
  return std::unique_ptr<Device>(new VerbsDevice(setup));
}

}  // namespace

Result<std::unique_ptr<Device>> open_verbs_device(const VerbsConfig& config) {
  int count = 0;
  errno = 0;
  DeviceListGuard guard{ibv_get_device_list(&count)};
  if (guard.list == nullptr) {
    Status s = verbs::call_error("ibv_get_device_list", errno);
    s.message += "; is the kernel's RDMA stack (ib_uverbs) loaded?";
    return s;
  }
  if (count == 0) {
    return Status::Error(ErrorCode::kNotSupported,
                         "no RDMA device found (ibv_get_device_list returned none; load a driver "
                         "or create a Soft-RoCE device: rdma link add rxe0 type rxe netdev IF)");
  }
  std::string tried;
  for (int i = 0; i < count; ++i) {
    const std::string name = ibv_get_device_name(guard.list[i]);
    if (!config.device.empty() && name != config.device) continue;
    Result<std::unique_ptr<Device>> dev = open_on(guard.list[i], config);
    if (dev.ok() || !config.device.empty()) return dev;
    tried += "; " + dev.status().message;
  }
  if (!config.device.empty()) {
    std::string names;
    for (int i = 0; i < count; ++i) names += std::string(" ") + ibv_get_device_name(guard.list[i]);
    return Status::Error(ErrorCode::kInvalidArgument,
                         "no RDMA device named '" + config.device + "' (found:" + names + ")");
  }
  return Status::Error(ErrorCode::kUnreachable, "no usable RDMA device" + tried);
}

}  // namespace mu::fabric
