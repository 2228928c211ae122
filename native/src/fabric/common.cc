// Names for the fabric's enums and the timed permission helpers shared by every backend.
#include "mu/fabric/fabric.h"
#include "mu/fabric/permission.h"

namespace mu::fabric {

const char* to_string(QpState s) {
  switch (s) {
    case QpState::kReset: return "RESET";
    case QpState::kInit: return "INIT";
    case QpState::kRtr: return "RTR";
    case QpState::kRts: return "RTS";
    case QpState::kErr: return "ERR";
  }
  return "?";
}

const char* to_string(Opcode op) {
  switch (op) {
    case Opcode::kWrite: return "WRITE";
    case Opcode::kRead: return "READ";
    case Opcode::kCompareSwap: return "CMP_SWAP";
  }
  return "?";
}

const char* to_string(WcStatus s) {
  switch (s) {
    case WcStatus::kSuccess: return "success";
    case WcStatus::kLocalLengthError: return "local length error";
    case WcStatus::kLocalQpOperationError: return "local QP operation error";
    case WcStatus::kLocalProtectionError: return "local protection error";
    case WcStatus::kWorkRequestFlushed: return "work request flushed";
    case WcStatus::kBadResponse: return "bad response";
    case WcStatus::kLocalAccessError: return "local access error";
    case WcStatus::kRemoteInvalidRequest: return "remote invalid request";
    case WcStatus::kRemoteAccessError: return "remote access error";
    case WcStatus::kRemoteOperationError: return "remote operation error";
    case WcStatus::kRetryExceeded: return "transport retry counter exceeded";
    case WcStatus::kFatal: return "fatal error";
    case WcStatus::kGeneral: return "general error";
  }
  return "unknown completion status";
}

const char* to_string(ErrorCode c) {
  switch (c) {
    case ErrorCode::kOk: return "ok";
    case ErrorCode::kInvalidArgument: return "invalid argument";
    case ErrorCode::kInvalidState: return "invalid state";
    case ErrorCode::kQueueFull: return "queue full";
    case ErrorCode::kNotSupported: return "not supported";
    case ErrorCode::kResourceExhausted: return "resource exhausted";
    case ErrorCode::kUnreachable: return "unreachable";
    case ErrorCode::kAuthenticationFailed: return "authentication failed";
    case ErrorCode::kInternal: return "internal error";
  }
  return "?";
}

std::string Status::to_string() const {
  if (ok()) return "ok";
  return std::string(fabric::to_string(code)) + ": " + message;
}

const char* to_string(PermissionMechanism m) {
  switch (m) {
    case PermissionMechanism::kQpAccessFlags: return "qp-access-flags";
    case PermissionMechanism::kQpStateCycle: return "qp-state-cycle";
    case PermissionMechanism::kRegionReregistration: return "region-reregistration";
  }
  return "?";
}

PermissionChange change_qp_access(Device& device, QueuePair& qp, uint32_t access) {
  const uint64_t start = device.now_ns();
  Status s = qp.set_access(access);
  return {PermissionMechanism::kQpAccessFlags, device.now_ns() - start, std::move(s)};
}

PermissionChange cycle_qp(Device& device, QueuePair& qp, uint32_t access, const QpAddress& remote) {
  const uint64_t start = device.now_ns();
  Status s;
  // Packets arriving mid-cycle can push the QP into ERR between two steps (seen on rxe); the
  // cycle then starts over from RESET, a bounded number of times.
  for (int attempt = 0; attempt < 4; ++attempt) {
    s = qp.to_reset();
    if (s.ok()) s = qp.to_init(access);
    if (s.ok()) s = qp.to_rtr(remote);
    if (s.ok()) s = qp.to_rts();
    if (s.ok() || qp.state() != QpState::kErr) break;
  }
  return {PermissionMechanism::kQpStateCycle, device.now_ns() - start, std::move(s)};
}

PermissionChange reregister(Device& device, MemoryRegion& region, uint32_t access) {
  const uint64_t start = device.now_ns();
  Status s = device.reregister_region(region, access);
  return {PermissionMechanism::kRegionReregistration, device.now_ns() - start, std::move(s)};
}

PermissionChange change_permission(Device& device, QueuePair& qp, uint32_t access,
                                   const QpAddress& remote) {
  PermissionChange fast = change_qp_access(device, qp, access);
  if (fast.status.ok()) return fast;
  PermissionChange slow = cycle_qp(device, qp, access, remote);
  slow.duration_ns += fast.duration_ns;  // the failed attempt is part of the switch's cost
  return slow;
}

}  // namespace mu::fabric
