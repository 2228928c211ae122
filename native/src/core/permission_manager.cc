#include "core/permission_manager.h"

#include <cassert>
#include <cstring>

namespace mu::core {

using fabric::kRemoteRead;
using fabric::kRemoteWrite;

namespace {
// Peers may always READ our log (prepare, catch-up); only WRITE is ever granted or revoked.
constexpr uint32_t kReadOnly = kRemoteRead;
constexpr uint32_t kReadWrite = kRemoteRead | kRemoteWrite;
}  // namespace

PermissionManager::PermissionManager(uint32_t self_id, ReplicaMemory& memory,
                                     std::vector<PeerLink>& peers, size_t scratch_slot_read_bytes,
                                     RevocationMechanism mechanism)
    : self_(self_id),
      memory_(memory),
      peers_(peers),
      scratch_slot_read_bytes_(scratch_slot_read_bytes),
      mechanism_(mechanism),
      holder_(self_id) {
  assert(self_id < kMaxReplicas);
  for (uint32_t& a : desired_access_) a = kReadOnly;
}

PeerLink* PermissionManager::peer(uint32_t id) {
  for (PeerLink& p : peers_) {
    if (p.id == id) return &p;
  }
  return nullptr;
}

uint8_t* PermissionManager::ack_source(uint32_t candidate) {
  ScratchLayout layout{scratch_slot_read_bytes_};
  return memory_.scratch + layout.base(candidate) + ScratchLayout::kAckSource;
}

int PermissionManager::poll() {
  auto* bg = reinterpret_cast<BackgroundLayout*>(memory_.background);
  int served = 0;
  // In id order: requests seen in the same pass are served lowest id first, so the highest id
  // ends holding permission — deterministic, and every candidate still gets its ack.
  for (uint32_t c = 0; c <= peers_.size(); ++c) {  // ids are 0..n-1
    // Nothing new (the common case, every poll): one load, no copy and checksum of the slot.
    if (__atomic_load_n(&bg->requests[c].seq, __ATOMIC_RELAXED) <= served_seq_[c]) continue;
    PermissionSlot request;
    if (!PermissionSlot::load(&bg->requests[c], &request)) continue;
    if (request.seq <= served_seq_[c]) continue;
    if (c != self_ && peer(c) == nullptr) continue;  // not a member: bad input, ignored
    if (c != leader_view_) continue;                 // not who we believe leads: later, maybe
    serve(c, request);
    ++served;
  }
  return served;
}

void PermissionManager::serve(uint32_t candidate, const PermissionSlot& request) {
  fabric::Device& device = *memory_.device;
  const uint64_t start = device.now_ns();
  PermissionSwitch record;
  record.candidate = candidate;
  record.request_seq = request.seq;
  uint64_t ack_flags = 0;
  uint64_t ack_rkey = 0;

  if (mechanism_ == RevocationMechanism::kRegionReregistration) {
    // One re-registration revokes every peer at once (the old rkey dies); the candidate learns
    // the new rkey from the ack. QP flags stay read-write for everyone.
    fabric::PermissionChange change = fabric::reregister(device, *memory_.log_mr, kReadWrite |
                                                         fabric::kLocalWrite);
    record.mechanism = change.mechanism;
    record.revoked = static_cast<uint32_t>(peers_.size());
    ack_flags |= kAckNewRkey;
    ack_rkey = memory_.log_mr->rkey();
  } else {
    // Revoke first, then grant: never two writers, even for an instant.
    for (PeerLink& p : peers_) {
      if (p.id == candidate || !(desired_access_[p.id] & kRemoteWrite)) continue;
      desired_access_[p.id] = kReadOnly;
      ++record.revoked;
      // Whatever it posted before now may still be on the wire: only a cycle of the QP discards
      // it, so a later grant to this peer must cycle unless this revocation did.
      stale_writes_possible_[p.id] = true;
      if (p.log_qp->state() != fabric::QpState::kRts) continue;  // nothing can land through it
      fabric::PermissionChange change =
          mechanism_ == RevocationMechanism::kQpStateCycle
              ? fabric::cycle_qp(device, *p.log_qp, kReadOnly, p.log_qp_peer)
              : fabric::change_permission(device, *p.log_qp, kReadOnly, p.log_qp_peer);
      record.mechanism = change.mechanism;
      if (change.status.ok() && change.mechanism == fabric::PermissionMechanism::kQpStateCycle) {
        stale_writes_possible_[p.id] = false;
      }
    }
    if (candidate != self_) {
      PeerLink& p = *peer(candidate);
      desired_access_[candidate] = kReadWrite;
      // Re-opening a QP whose access was revoked by flags would let WRITEs the candidate posted
      // in an earlier term, still held up on the wire, land after this grant — over slots a newer
      // leader may have decided meanwhile, and ahead of this term's prepare READs. Cycle instead.
      const bool must_cycle = mechanism_ == RevocationMechanism::kQpStateCycle ||
                              (request.flags & kRequestPleaseCycle) ||
                              stale_writes_possible_[candidate] ||
                              p.log_qp->state() != fabric::QpState::kRts;
      fabric::PermissionChange change;
      if (!must_cycle) change = fabric::change_qp_access(device, *p.log_qp, kReadWrite);
      if (must_cycle || !change.status.ok()) {
        change = fabric::cycle_qp(device, *p.log_qp, kReadWrite, p.log_qp_peer);
        ack_flags |= kAckCycled;
      }
      if (change.status.ok() && change.mechanism == fabric::PermissionMechanism::kQpStateCycle) {
        stale_writes_possible_[candidate] = false;
      }
      record.mechanism = change.mechanism;
    }
  }
  holder_ = candidate;
  served_seq_[candidate] = request.seq;
  record.at_ns = device.now_ns();
  record.duration_ns = record.at_ns - start;
  switches_.push_back(record);
  if (switches_.size() > 1024) switches_.erase(switches_.begin());  // nobody draining: bounded
  last_ = record;
  has_last_ = true;

  // Acknowledge: locally for ourselves, by a one-sided WRITE for a peer.
  const PermissionSlot ack = PermissionSlot::make(request.seq, ack_flags, ack_rkey,
                                                  record.duration_ns,
                                                  static_cast<uint64_t>(record.mechanism));
  auto* bg = reinterpret_cast<BackgroundLayout*>(memory_.background);
  if (candidate == self_) {
    std::memcpy(&bg->acks[self_], &ack, sizeof ack);
    return;
  }
  PeerLink& p = *peer(candidate);
  uint8_t* source = ack_source(candidate);
  std::memcpy(source, &ack, sizeof ack);
  fabric::WorkRequest wr;
  wr.wr_id = make_wr_id(WrKind::kAck, candidate, request.seq);
  wr.opcode = fabric::Opcode::kWrite;
  wr.local_addr = source;
  wr.length = sizeof ack;
  wr.lkey = memory_.scratch_mr->lkey();
  wr.remote_addr = p.background.addr + background_offset::ack(self_);
  wr.rkey = p.background.rkey;
  wr.inline_data = sizeof ack <= p.bg_qp->max_inline();
  if (!p.bg_qp->post(wr).ok()) ++ack_failures_;  // the candidate asks again
}

void PermissionManager::on_completion(const fabric::Completion& c) {
  if (c.status != fabric::WcStatus::kSuccess) ++ack_failures_;
}

void PermissionManager::forget(uint32_t peer) {
  assert(peer < kMaxReplicas);
  served_seq_[peer] = 0;
  auto* bg = reinterpret_cast<BackgroundLayout*>(memory_.background);
  std::memset(&bg->requests[peer], 0, sizeof bg->requests[peer]);
  // What it may write to our log is decided again when it asks (or when we grant it).
  desired_access_[peer] = kRemoteRead;
  stale_writes_possible_[peer] = false;  // its QP is cycled for the new incarnation
  if (holder_ == peer) holder_ = kMaxReplicas;
}

std::vector<PermissionSwitch> PermissionManager::take_switches() {
  std::vector<PermissionSwitch> out;
  out.swap(switches_);
  return out;
}

}  // namespace mu::core
