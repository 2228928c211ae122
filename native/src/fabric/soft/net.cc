// Socket and network-namespace helpers (see net.h).
#include "fabric/soft/net.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "fabric/auth.h"

namespace mu::fabric::net {
namespace {

std::string errno_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

}  // namespace

ScopedNetns::~ScopedNetns() {
  if (saved_fd_ < 0) return;
  if (setns(saved_fd_, CLONE_NEWNET) != 0) {
    std::fprintf(stderr, "mu: cannot return to the original network namespace: %s\n",
                 std::strerror(errno));
    std::abort();
  }
  ::close(saved_fd_);
}

Status ScopedNetns::enter(const std::string& name) {
  if (name.empty()) return Status::Ok();
  if (saved_fd_ >= 0) return Status::Error(ErrorCode::kInvalidState, "already in a namespace");
  if (name.find('/') != std::string::npos || name == "." || name == "..") {
    return Status::Error(ErrorCode::kInvalidArgument, "bad network namespace name '" + name + "'");
  }
  const int saved = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (saved < 0) return Status::Error(ErrorCode::kInternal, errno_text("open own netns"));
  const std::string path = "/run/netns/" + name;
  const int target = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (target < 0) {
    Status s = Status::Error(ErrorCode::kInvalidArgument, errno_text(("open " + path).c_str()));
    ::close(saved);
    return s;
  }
  if (setns(target, CLONE_NEWNET) != 0) {
    Status s = Status::Error(ErrorCode::kInternal, errno_text(("setns " + path).c_str()));
    ::close(target);
    ::close(saved);
    return s;
  }
  ::close(target);
  saved_fd_ = saved;
  return Status::Ok();
}

Result<uint32_t> resolve_ipv4(const std::string& host) {
  in_addr addr{};
  if (inet_pton(AF_INET, host.c_str(), &addr) == 1) return static_cast<uint32_t>(addr.s_addr);
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const int rc = getaddrinfo(host.c_str(), nullptr, &hints, &found);
  if (rc != 0 || found == nullptr) {
    return Status::Error(ErrorCode::kInvalidArgument,
                         "cannot resolve '" + host + "' to an IPv4 address: " + gai_strerror(rc));
  }
  const uint32_t ip = reinterpret_cast<sockaddr_in*>(found->ai_addr)->sin_addr.s_addr;
  freeaddrinfo(found);
  return ip;
}

std::string format_endpoint(uint32_t ip_network_order, uint16_t port) {
  in_addr addr{};
  addr.s_addr = ip_network_order;
  char text[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &addr, text, sizeof(text));
  return std::string(text) + ":" + std::to_string(port);
}

Status set_nonblocking(int fd) {
  const int flags = fcntl(fd, F_GETFL, 0);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) {
    return Status::Error(ErrorCode::kInternal, errno_text("fcntl O_NONBLOCK"));
  }
  return Status::Ok();
}

void set_nodelay(int fd) {
  const int one = 1;
  // Best effort: a socket without TCP_NODELAY is slower, not wrong.
  (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

Result<int> listen_tcp(uint32_t ip_network_order, uint16_t port, bool nonblocking) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), 0);
  if (fd < 0) return Status::Error(ErrorCode::kResourceExhausted, errno_text("socket"));
  const int one = 1;
  (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = ip_network_order;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    Status s = Status::Error(ErrorCode::kInvalidArgument,
                             errno_text(("bind " + format_endpoint(ip_network_order, port)).c_str()));
    ::close(fd);
    return s;
  }
  if (::listen(fd, 128) != 0) {
    Status s = Status::Error(ErrorCode::kInternal, errno_text("listen"));
    ::close(fd);
    return s;
  }
  return fd;
}

uint16_t local_port(int fd) {
  sockaddr_in addr{};
  socklen_t len = sizeof(addr);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return 0;
  return ntohs(addr.sin_port);
}

Result<int> connect_tcp(uint32_t ip_network_order, uint16_t port, uint64_t deadline_ns) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return Status::Error(ErrorCode::kResourceExhausted, errno_text("socket"));
  const std::string endpoint = format_endpoint(ip_network_order, port);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = ip_network_order;
  auto fail = [&](std::string why) -> Result<int> {
    ::close(fd);
    return Status::Error(ErrorCode::kUnreachable, "connect " + endpoint + ": " + why);
  };
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    if (errno != EINPROGRESS) return fail(std::strerror(errno));
    for (;;) {
      const uint64_t now = auth::monotonic_ns();
      if (now >= deadline_ns) return fail("timed out");
      pollfd pfd{fd, POLLOUT, 0};
      const int ready = ::poll(&pfd, 1, static_cast<int>((deadline_ns - now + 999'999) / 1'000'000));
      if (ready < 0 && errno == EINTR) continue;
      if (ready > 0) break;
    }
    int error = 0;
    socklen_t len = sizeof(error);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0) error = errno;
    if (error != 0) return fail(std::strerror(error));
  }
  const int flags = fcntl(fd, F_GETFL, 0);
  (void)fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  set_nodelay(fd);
  return fd;
}

}  // namespace mu::fabric::net
