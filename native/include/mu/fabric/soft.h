// The `soft` fabric: software RDMA for machines without RDMA NICs (DESIGN.md §3.2).
//
// Each SoftDevice runs a soft NIC (one thread) that serves one-sided operations arriving over TCP
// (AF_UNIX between peers on loopback addresses, see SoftConfig::local_transport)
// against the device's registered regions, enforcing region access, rkeys, bounds, QP states and
// QP access flags exactly as fabric.h states (behaviour modelled on rdma_rxe). Peers authenticate
// with the cluster secret when a connection opens; a peer without it is refused before it can
// read or write anything.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "mu/fabric/fabric.h"

namespace mu::fabric {

struct SoftConfig {
  std::string name = "soft0";
  std::string listen_host = "127.0.0.1";  // address the soft NIC accepts connections on
  uint16_t listen_port = 0;               // 0: an ephemeral port (see SoftDevice::listen_port)
  std::string secret;                     // cluster secret; must be non-empty
  // Network namespace (a name under /run/netns) in which the NIC's sockets are created; empty:
  // the caller's namespace. Lets one process stand for hosts in different namespaces.
  std::string netns;
  bool busy_poll = false;  // NIC thread spins on its sockets instead of blocking in epoll
  // Connect a QP to its peer as soon as it is in RTS, as an RC QP is (false: at its first work
  // request, so that a failover's first READ waits for a TCP and authentication handshake).
  bool connect_at_rts = true;
  // A CQ poll that finds the queue empty completes the responses already received for its QPs
  // itself, unless the NIC thread is busy doing so (false: only the NIC thread completes, so
  // every completion waits for that thread to be scheduled — on a small machine behind the very
  // peers whose responses it carries). While a CQ is being polled like this, the NIC thread
  // stops watching its QPs' connections for responses (no wake-up per response, no NIC pass
  // holding the lock the poll needs); it watches them again once a 10 ms check finds the CQ
  // was not polled, so responses are completed whether or not anyone polls. Such a poll reads
  // one connection once and returns what that completed (the caller wants its first completion
  // now); the next poll starts with the next connection.
  bool complete_in_poll = true;
  // post() sends the work request from the posting thread when its QP is connected and idle of
  // faults (false: the NIC thread sends it after a wakeup).
  bool send_in_post = true;
  // After a pass that had work, the NIC thread keeps polling its sockets (yielding the CPU
  // between polls) for this long before it sleeps: a request arriving meanwhile is served
  // without waking a sleeping thread — on a virtual machine, waking an idle CPU costs tens of
  // microseconds. 0: sleep at once. A NIC thread confined to one CPU whose yield kept it off
  // that CPU for a millisecond (a thread there never yields) stops lingering for a while.
  uint32_t linger_us = 20;
  // When listening on a loopback address (127.0.0.0/8), also accept on an AF_UNIX stream socket
  // of the same network namespace, and reach loopback peers that way when they do too (TCP
  // otherwise). Same frames, same authentication; a local send costs about a third of a
  // loopback TCP send, which runs the whole network stack on the sender's CPU.
  bool local_transport = true;
};

class SoftDevice : public Device {
 public:
  virtual uint16_t listen_port() const = 0;
  // Fault hooks (tests, chaos): hold every outgoing operation until released; add a delay to
  // each outgoing operation; drop the connection of a QP as if the network failed.
  virtual void hold_outgoing(bool hold) = 0;
  virtual void set_outgoing_delay_us(uint32_t delay_us) = 0;
  // Packet loss as a reliable-connected transport sees it: each transmission of an outgoing
  // operation is lost with probability per_million / 10^6; a lost operation is retransmitted
  // after retransmit_us, and the operations behind it on the same QP wait (RC delivers in
  // order). After 7 retransmissions (an RC retry_cnt of 7) the QP fails with kRetryExceeded,
  // as a real NIC's would. 0 turns loss off.
  virtual void set_outgoing_loss(uint32_t per_million, uint32_t retransmit_us) = 0;
  // The NIC dies now, as when its process is killed: the NIC thread stops and every connection
  // and the listener close, so peers see their connections drop at once; nothing more is sent
  // or served. Benchmarks use it to crash a replica without timing the teardown of its memory.
  // Idempotent; the device stays valid to destroy (its QPs and regions too).
  virtual void crash() = 0;
};

Result<std::unique_ptr<SoftDevice>> open_soft_device(const SoftConfig& config);

}  // namespace mu::fabric
