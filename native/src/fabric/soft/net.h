// Socket and network-namespace helpers shared by the soft NIC and the bootstrap channel (setup
// code: may block briefly, may allocate).
#pragma once

#include <cstdint>
#include <string>

#include "mu/fabric/fabric.h"

namespace mu::fabric::net {

// Moves the calling thread into the network namespace /run/netns/<name> and back to the thread's
// original namespace on destruction, so that sockets created in between live in <name>. Only the
// calling thread moves (setns(CLONE_NEWNET) is per thread). An empty name does nothing.
// Failing to move back aborts: a thread silently left in the wrong namespace would be a bug
// far away from its cause.
class ScopedNetns {
 public:
  ScopedNetns() = default;
  ~ScopedNetns();
  ScopedNetns(const ScopedNetns&) = delete;
  ScopedNetns& operator=(const ScopedNetns&) = delete;

  Status enter(const std::string& name);

 private:
  int saved_fd_ = -1;  // the thread's original namespace while inside another one
};

// IPv4 address of `host` (dotted quad or resolvable name), in network byte order.
Result<uint32_t> resolve_ipv4(const std::string& host);
std::string format_endpoint(uint32_t ip_network_order, uint16_t port);

Status set_nonblocking(int fd);
void set_nodelay(int fd);

// A TCP socket listening on ip:port (port 0: ephemeral). Close-on-exec; nonblocking if asked.
Result<int> listen_tcp(uint32_t ip_network_order, uint16_t port, bool nonblocking);
uint16_t local_port(int fd);
// Connects with a deadline (CLOCK_MONOTONIC ns); the returned socket is blocking, with TCP_NODELAY.
Result<int> connect_tcp(uint32_t ip_network_order, uint16_t port, uint64_t deadline_ns);

}  // namespace mu::fabric::net
