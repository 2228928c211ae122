// The bootstrap channel (see mu/fabric/bootstrap.h).
//
// One short-lived connection per fetch, after the authentication handshake (auth.h):
//   fetcher → server  REQUEST  magic "MUBR" | fetcher id (u32) | server id as the fetcher expects
//   server  → fetcher REPLY    magic "MUBP" | status (u8) | server id (u32) | length (u32) | blob
// little-endian. A state request (magic "MUBS") gets the same reply with the provider's bytes,
// or status kStateUnavailable and the reason as text. The server thread serves one connection
// at a time with a short deadline: a slow or hostile client delays others by at most
// kServeDeadlineNs (a state reply, being large, gets kStateServeDeadlineNs).
#include "mu/fabric/bootstrap.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>

#include "fabric/auth.h"
#include "fabric/soft/net.h"

namespace mu::fabric {
namespace {

constexpr char kContext[] = "mu-bootstrap-v1";
constexpr uint8_t kRequestMagic[4] = {'M', 'U', 'B', 'R'};
constexpr uint8_t kStateRequestMagic[4] = {'M', 'U', 'B', 'S'};
constexpr uint8_t kReplyMagic[4] = {'M', 'U', 'B', 'P'};
constexpr size_t kRequestBytes = 12;
constexpr size_t kReplyHeaderBytes = 13;
constexpr uint64_t kServeDeadlineNs = 500'000'000;
constexpr uint64_t kAttemptDeadlineNs = 500'000'000;
constexpr uint64_t kStateServeDeadlineNs = 60'000'000'000;  // sending a state of many MiB
constexpr auto kRetryPause = std::chrono::milliseconds(20);

enum class ReplyStatus : uint8_t { kOk = 0, kNotPublished = 1, kWrongServer = 2, kStateUnavailable = 3 };

void put32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
uint32_t get32(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(p[i]) << (8 * i);
  return v;
}

// Blocking I/O on a socket with a CLOCK_MONOTONIC deadline.
Status io_exact(int fd, uint8_t* data, size_t n, uint64_t deadline_ns, bool write) {
  size_t done = 0;
  while (done < n) {
    const uint64_t now = auth::monotonic_ns();
    if (now >= deadline_ns) return Status::Error(ErrorCode::kUnreachable, "bootstrap I/O timed out");
    pollfd pfd{fd, static_cast<short>(write ? POLLOUT : POLLIN), 0};
    const int ready = ::poll(&pfd, 1, static_cast<int>((deadline_ns - now + 999'999) / 1'000'000));
    if (ready <= 0) continue;  // EINTR or timeout: the deadline is re-checked above
    const ssize_t k = write ? ::send(fd, data + done, n - done, MSG_NOSIGNAL)
                            : ::recv(fd, data + done, n - done, 0);
    if (k > 0) {
      done += static_cast<size_t>(k);
    } else if (k == 0) {
      return Status::Error(ErrorCode::kUnreachable, "bootstrap peer closed the connection");
    } else if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
      return Status::Error(ErrorCode::kUnreachable, std::string("bootstrap I/O: ") + std::strerror(errno));
    }
  }
  return Status::Ok();
}

class BootstrapImpl final : public Bootstrap {
 public:
  BootstrapImpl(const BootstrapConfig& config, int listen_fd, int stop_fd)
      : config_(config), listen_fd_(listen_fd), stop_fd_(stop_fd), port_(net::local_port(listen_fd)) {
    server_ = std::thread([this] { serve(); });
  }

  ~BootstrapImpl() override {
    const uint64_t one = 1;
    ssize_t n = ::write(stop_fd_, &one, sizeof(one));
    (void)n;
    server_.join();
    ::close(listen_fd_);
    ::close(stop_fd_);
  }

  uint32_t id() const override { return config_.id; }
  uint16_t port() const override { return port_; }

  Status publish(uint32_t peer_id, std::span<const uint8_t> blob) override {
    if (blob.size() > kMaxBlobBytes) {
      return Status::Error(ErrorCode::kInvalidArgument, "bootstrap blob larger than kMaxBlobBytes");
    }
    std::lock_guard<std::mutex> lock(mu_);
    published_[peer_id].assign(blob.begin(), blob.end());
    return Status::Ok();
  }

  void serve_state(StateProvider provider) override {
    std::lock_guard<std::mutex> lock(provider_mu_);  // waits for a call in progress
    provider_ = std::move(provider);
  }

  Result<std::vector<uint8_t>> fetch_state(const BootstrapPeer& peer, int timeout_ms) override {
    Result<uint32_t> ip = net::resolve_ipv4(peer.host);
    if (!ip.ok()) return ip.status();
    const uint64_t deadline = auth::monotonic_ns() + static_cast<uint64_t>(std::max(timeout_ms, 0)) * 1'000'000;
    bool retry = false;
    return fetch_once(peer, *ip, deadline, &retry, kStateRequestMagic, kMaxStateBytes);
  }

  Result<std::vector<uint8_t>> fetch(const BootstrapPeer& peer, int timeout_ms) override {
    Result<uint32_t> ip = net::resolve_ipv4(peer.host);
    if (!ip.ok()) return ip.status();
    const uint64_t deadline = auth::monotonic_ns() + static_cast<uint64_t>(std::max(timeout_ms, 0)) * 1'000'000;
    Status last = Status::Error(ErrorCode::kUnreachable, "timed out");
    do {
      bool retry = false;
      Result<std::vector<uint8_t>> got =
          fetch_once(peer, *ip, std::min(deadline, auth::monotonic_ns() + kAttemptDeadlineNs), &retry,
                     kRequestMagic, kMaxBlobBytes);
      if (got.ok() || !retry) return got;
      last = got.status();
      std::this_thread::sleep_for(kRetryPause);
    } while (auth::monotonic_ns() < deadline);
    return Status::Error(ErrorCode::kUnreachable,
                         "bootstrap fetch from peer " + std::to_string(peer.id) + " at " +
                             net::format_endpoint(*ip, peer.port) + " timed out; last: " + last.to_string());
  }

 private:
  // One attempt. *retry tells whether trying again may help.
  Result<std::vector<uint8_t>> fetch_once(const BootstrapPeer& peer, uint32_t ip, uint64_t deadline,
                                          bool* retry, const uint8_t* request_magic,
                                          uint64_t max_bytes) {
    *retry = true;
    Result<int> fd = [&]() -> Result<int> {
      net::ScopedNetns netns;  // the outgoing socket lives in our namespace, like the listener
      Status entered = netns.enter(config_.netns);
      if (!entered.ok()) return entered;
      return net::connect_tcp(ip, peer.port, deadline);
    }();
    if (!fd.ok()) return fd.status();
    struct Closer {
      int fd;
      ~Closer() { ::close(fd); }
    } closer{*fd};

    auth::Handshake handshake(auth::Handshake::Role::kInitiator, config_.secret, kContext);
    Status authenticated = auth::run_handshake_blocking(*fd, handshake, deadline);
    if (!authenticated.ok()) {
      if (authenticated.code == ErrorCode::kAuthenticationFailed) {
        *retry = false;  // a wrong secret does not get better with time
        return Status::Error(ErrorCode::kAuthenticationFailed,
                             "bootstrap peer " + std::to_string(peer.id) + ": " + authenticated.message);
      }
      return authenticated;
    }
    std::array<uint8_t, kRequestBytes> request{};
    std::memcpy(request.data(), request_magic, 4);
    put32(request.data() + 4, config_.id);
    put32(request.data() + 8, peer.id);
    Status s = io_exact(*fd, request.data(), request.size(), deadline, /*write=*/true);
    if (!s.ok()) return s;
    std::array<uint8_t, kReplyHeaderBytes> header{};
    s = io_exact(*fd, header.data(), header.size(), deadline, /*write=*/false);
    if (!s.ok()) return s;
    const auto status = static_cast<ReplyStatus>(header[4]);
    const uint32_t server_id = get32(header.data() + 5);
    const uint32_t length = get32(header.data() + 9);
    if (std::memcmp(header.data(), kReplyMagic, 4) != 0 || length > max_bytes) {
      *retry = false;
      return Status::Error(ErrorCode::kInvalidArgument, "malformed bootstrap reply");
    }
    if (status == ReplyStatus::kWrongServer || server_id != peer.id) {
      *retry = false;
      return Status::Error(ErrorCode::kInvalidArgument,
                           "bootstrap endpoint " + peer.host + ":" + std::to_string(peer.port) +
                               " is replica " + std::to_string(server_id) + ", not " +
                               std::to_string(peer.id));
    }
    if (status == ReplyStatus::kNotPublished) {
      return Status::Error(ErrorCode::kUnreachable,
                           "peer " + std::to_string(peer.id) + " has not published for us yet");
    }
    if (status == ReplyStatus::kStateUnavailable) {
      std::string why(std::min<uint32_t>(length, 4096), '\0');
      s = io_exact(*fd, reinterpret_cast<uint8_t*>(why.data()), why.size(), deadline, false);
      if (!s.ok()) return s;
      return Status::Error(ErrorCode::kInvalidState,
                           "replica " + std::to_string(peer.id) + " has no state for us: " + why);
    }
    if (status != ReplyStatus::kOk) {
      *retry = false;
      return Status::Error(ErrorCode::kInvalidArgument, "malformed bootstrap reply");
    }
    std::vector<uint8_t> blob(length);
    s = io_exact(*fd, blob.data(), blob.size(), deadline, /*write=*/false);
    if (!s.ok()) return s;
    return blob;
  }

  void serve() {
    for (;;) {
      pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0) continue;
      if (fds[1].revents != 0) return;
      if (fds[0].revents == 0) continue;
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      serve_one(fd);
      ::close(fd);
    }
  }

  void serve_one(int fd) {
    const uint64_t deadline = auth::monotonic_ns() + kServeDeadlineNs;
    auth::Handshake handshake(auth::Handshake::Role::kAcceptor, config_.secret, kContext);
    if (!auth::run_handshake_blocking(fd, handshake, deadline).ok()) return;  // nothing revealed
    std::array<uint8_t, kRequestBytes> request{};
    if (!io_exact(fd, request.data(), request.size(), deadline, /*write=*/false).ok()) return;
    const bool state = std::memcmp(request.data(), kStateRequestMagic, 4) == 0;
    if (!state && std::memcmp(request.data(), kRequestMagic, 4) != 0) return;
    const uint32_t requester = get32(request.data() + 4);
    const uint32_t expected_server = get32(request.data() + 8);
    if (state && expected_server == config_.id) return serve_state_to(fd, requester);
    std::vector<uint8_t> reply(kReplyHeaderBytes);
    ReplyStatus status = ReplyStatus::kNotPublished;
    if (expected_server != config_.id) {
      status = ReplyStatus::kWrongServer;
    } else {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = published_.find(requester);
      if (it != published_.end()) {
        status = ReplyStatus::kOk;
        reply.insert(reply.end(), it->second.begin(), it->second.end());
      }
    }
    put_reply_header(reply.data(), status, reply.size() - kReplyHeaderBytes);
    (void)io_exact(fd, reply.data(), reply.size(), deadline, /*write=*/true);
  }

  void put_reply_header(uint8_t* header, ReplyStatus status, size_t length) const {
    std::memcpy(header, kReplyMagic, 4);
    header[4] = static_cast<uint8_t>(status);
    put32(header + 5, config_.id);
    put32(header + 9, static_cast<uint32_t>(length));
  }

  void serve_state_to(int fd, uint32_t requester) {
    Result<std::vector<uint8_t>> state = Status::Error(ErrorCode::kInvalidState, "it serves no state");
    {
      std::lock_guard<std::mutex> lock(provider_mu_);
      if (provider_) state = provider_(requester);
    }
    if (state.ok() && state.value().size() > kMaxStateBytes) {
      state = Status::Error(ErrorCode::kResourceExhausted, "its state exceeds 4 GiB");
    }
    const uint64_t deadline = auth::monotonic_ns() + kStateServeDeadlineNs;
    const std::string why = state.ok() ? "" : state.status().message;
    const size_t length = state.ok() ? state.value().size() : why.size();
    uint8_t header[kReplyHeaderBytes];
    put_reply_header(header, state.ok() ? ReplyStatus::kOk : ReplyStatus::kStateUnavailable, length);
    if (!io_exact(fd, header, sizeof header, deadline, /*write=*/true).ok()) return;
    uint8_t* body = state.ok() ? state.value().data()
                               : reinterpret_cast<uint8_t*>(const_cast<char*>(why.data()));
    (void)io_exact(fd, body, length, deadline, /*write=*/true);
  }

  const BootstrapConfig config_;
  const int listen_fd_;
  const int stop_fd_;
  const uint16_t port_;
  std::mutex mu_;
  std::map<uint32_t, std::vector<uint8_t>> published_;  // peer id → blob for that peer
  std::mutex provider_mu_;  // held while the provider runs
  StateProvider provider_;
  std::thread server_;
};

}  // namespace

Result<std::unique_ptr<Bootstrap>> Bootstrap::listen(const BootstrapConfig& config) {
  if (config.secret.empty()) {
    return Status::Error(ErrorCode::kInvalidArgument, "bootstrap needs a non-empty cluster secret");
  }
  Result<uint32_t> ip = net::resolve_ipv4(config.host);
  if (!ip.ok()) return ip.status();
  int listen_fd = -1;
  {
    net::ScopedNetns netns;
    Status entered = netns.enter(config.netns);
    if (!entered.ok()) return entered;
    Result<int> fd = net::listen_tcp(*ip, config.port, /*nonblocking=*/true);  // accept never blocks
    if (!fd.ok()) return fd.status();
    listen_fd = *fd;
  }
  const int stop_fd = eventfd(0, EFD_CLOEXEC);
  if (stop_fd < 0) {
    ::close(listen_fd);
    return Status::Error(ErrorCode::kResourceExhausted, std::string("eventfd: ") + std::strerror(errno));
  }
  return std::unique_ptr<Bootstrap>(new BootstrapImpl(config, listen_fd, stop_fd));
}

}  // namespace mu::fabric
