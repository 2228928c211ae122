// Timed permission changes on a responder (DESIGN.md §3.2, §3.5): how a replica revokes write
// access from an old leader and grants it to a new one. Each call returns when the change is
// enforced by the fabric, so that contract 4 of fabric.h holds from that moment on.
#pragma once

#include <cstdint>

#include "mu/fabric/fabric.h"

namespace mu::fabric {

enum class PermissionMechanism : uint8_t {
  kQpAccessFlags,         // fast path: RTS→RTS modify of the QP's access flags
  kQpStateCycle,          // slow path: RESET→INIT(access)→RTR→RTS
  kRegionReregistration,  // third mechanism: re-register the region (new rkey)
};
const char* to_string(PermissionMechanism m);

struct PermissionChange {
  PermissionMechanism mechanism = PermissionMechanism::kQpAccessFlags;
  uint64_t duration_ns = 0;
  Status status;
};

// Fast path. Fails (status not ok) when the QP is not in RTS or the device refuses.
PermissionChange change_qp_access(Device& device, QueuePair& qp, uint32_t access);
// Slow path: cycles the QP through RESET and reconnects it to `remote`. The peer QP must be
// cycled too before traffic flows again (contract 2 of fabric.h).
PermissionChange cycle_qp(Device& device, QueuePair& qp, uint32_t access, const QpAddress& remote);
// Third mechanism: re-registers `region` with `access`; peers must learn the new rkey.
PermissionChange reregister(Device& device, MemoryRegion& region, uint32_t access);
// The fast path, falling back to the slow path when the fast path fails (DESIGN.md §3.2).
PermissionChange change_permission(Device& device, QueuePair& qp, uint32_t access,
                                   const QpAddress& remote);

}  // namespace mu::fabric
