// The `verbs` fabric: libibverbs reliable-connected QPs on real RDMA NICs — InfiniBand and
// RoCE v2 — and on Soft-RoCE (rdma_rxe) (DESIGN.md §3.2).
//
// A thin mapping of fabric.h onto libibverbs:
//   Device          = one ibv_context + one protection domain (ibv_alloc_pd) on one port;
//   MemoryRegion    = ibv_reg_mr (access translated; REMOTE_WRITE/ATOMIC imply LOCAL_WRITE, as
//                     verbs requires);
//   CompletionQueue = ibv_cq, drained with ibv_poll_cq; ibv_wc_status maps 1:1 onto WcStatus;
//   QueuePair       = IBV_QPT_RC; to_init/to_rtr/to_rts/to_reset/set_access are ibv_modify_qp.
//
// What the backend adds on top of verbs, and why:
//  - post() checks the QP's state locally and returns kInvalidState in RESET/INIT/RTR (verbs
//    would accept some of these and fail later), and counts outstanding work requests so that
//    kQueueFull appears at exactly QpCaps::max_send_wr whatever the device rounds the queue to.
//  - Completions carry the posted opcode even when the device leaves wc.opcode undefined (error
//    completions), and completions of work posted before a to_reset() are dropped, as a NIC that
//    cleans the CQ on RESET does (fabric.h: "pending work is dropped without completions").
//  - reregister_region() guarantees a new rkey: ibv_rereg_mr(IBV_REREG_MR_CHANGE_ACCESS) where the
//    device supports it and changes the key; otherwise register anew, then deregister the old MR.
//
// Threads: post() and the CQ's poll() may run on different threads. State transitions of a QP
// must not run concurrently with post() on it, and QPs must not be created or destroyed while
// their CQ is being polled.
//
// Addressing: a QP's QpAddress carries its QP number, starting PSN, LID, GID, path MTU and port.
// to_rtr() uses GID (GRH) addressing on Ethernet link layers (RoCE) and whenever a GID is needed;
// on InfiniBand within one subnet it addresses by LID.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "mu/fabric/fabric.h"

namespace mu::fabric {

struct VerbsConfig {
  std::string device;  // "" = the first device whose `port` is ACTIVE
  uint8_t port = 1;
  int gid_index = -1;  // -1 = automatic: prefer RoCE v2 with an IPv4-mapped GID (choose_gid_index)
  // RC transport: local ACK timeout (4.096 us * 2^ack_timeout) and retries before a WRITE to an
  // unresponsive peer completes with kRetryExceeded (defaults: ~67 ms, 6 retries, ~0.5 s).
  // Not 7: rdma_rxe treats retry_cnt 7 as "retry forever" (as the spec does only for RNR
  // retries), so a peer QP in RESET would never produce a completion.
  uint8_t ack_timeout = 14;
  uint8_t retry_count = 6;
  // Root of the sysfs InfiniBand class: GID types are read there when the device cannot report
  // them (ibv_query_gid_table is tried first), and by discovery.
  std::string sysfs_root = "/sys/class/infiniband";
};

Result<std::unique_ptr<Device>> open_verbs_device(const VerbsConfig& config);

// --- Discovery (node agent: which devices, ports and GIDs a replica can use) --------------------

struct VerbsGidInfo {
  int index = 0;
  std::array<uint8_t, 16> gid{};
  std::string type;    // sysfs gid_attrs/types/<i>: "RoCE v2", "IB/RoCE v1", or "" if unknown
  std::string netdev;  // sysfs gid_attrs/ndevs/<i> (RoCE only), "" if none
  bool roce_v2() const { return type == "RoCE v2"; }
  bool ipv4_mapped() const;  // ::ffff:a.b.c.d
  std::string to_string() const;  // "fe80:0000:...:3456" (the sysfs spelling)
};

struct VerbsPortInfo {
  uint8_t port = 0;
  std::string state;       // "ACTIVE", "DOWN", ... (sysfs "4: ACTIVE" without the number)
  std::string phys_state;  // "LinkUp", ...
  std::string link_layer;  // "Ethernet" (RoCE) or "InfiniBand"
  uint16_t lid = 0;
  uint32_t active_mtu_bytes = 0;  // from ibv_query_port; 0 when read from sysfs only
  std::vector<VerbsGidInfo> gids;  // valid (non-zero) entries only
  bool active() const { return state == "ACTIVE"; }
};

struct VerbsDeviceInfo {
  std::string name;
  std::string node_guid;
  std::vector<VerbsPortInfo> ports;
};

// Reads <sysfs_root>/<device>/{node_guid,ports/<p>/{state,phys_state,link_layer,lid,gids/<i>,
// gid_attrs/{types,ndevs}/<i>}}. Pure file parsing (usable against a fake tree in tests);
// a missing root yields an empty list, an unreadable device an error.
Result<std::vector<VerbsDeviceInfo>> read_verbs_sysfs(const std::string& sysfs_root);

// read_verbs_sysfs() completed from libibverbs (active MTU, port state as the driver reports it).
Result<std::vector<VerbsDeviceInfo>> discover_verbs_devices(
    const std::string& sysfs_root = "/sys/class/infiniband");

// The automatic GID choice: RoCE v2 with an IPv4-mapped address, else any RoCE v2, else an
// IPv4-mapped one of any type, else the lowest index (InfiniBand: the port GID). -1 if none.
int choose_gid_index(const VerbsPortInfo& port);

// One JSON array describing `devices` (for the node agent's status and logs).
std::string to_json(const std::vector<VerbsDeviceInfo>& devices);

// --- The QpAddress layout of this backend (64 bytes, little-endian) -----------------------------
//   0  u32 magic 'MUVB'    4  u8 version (1)   5  u8 port   6  u8 path MTU (enum ibv_mtu)
//   7  u8 flags (bit 0: Ethernet link layer / GRH required)
//   8  u32 qp_num          12 u32 psn (24 bits)            16 u16 lid   18 u8 gid_index  19 u8 0
//   20 u8[16] gid          36..63 zero
struct VerbsQpAddress {
  static constexpr uint32_t kMagic = 0x4256554d;  // "MUVB" read as little-endian bytes
  static constexpr uint8_t kVersion = 1;
  uint8_t port = 1;
  uint8_t mtu = 0;  // enum ibv_mtu (1 = 256 ... 5 = 4096)
  bool ethernet = false;
  uint32_t qp_num = 0;
  uint32_t psn = 0;
  uint16_t lid = 0;
  uint8_t gid_index = 0;
  std::array<uint8_t, 16> gid{};

  QpAddress encode() const;
  // kInvalidArgument if `address` is not a verbs address of this version.
  static Result<VerbsQpAddress> decode(const QpAddress& address);
};

}  // namespace mu::fabric
