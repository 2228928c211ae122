#include "apps/kv/resp_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <chrono>
#include <cstring>

namespace mu::kv {

namespace {

constexpr uint64_t kListenerTag = 0;  // epoll data of the listener; connection ids are >= 1
constexpr uint32_t kMaxEventsPerPoll = 256;
constexpr size_t kInitialInputBytes = 16 * 1024;
constexpr int kMaxSendsPerFlush = 4;

std::string address_string(const sockaddr_storage& a) {
  char host[INET6_ADDRSTRLEN] = "?";
  uint16_t port = 0;
  if (a.ss_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(&a);
    inet_ntop(AF_INET, &v4->sin_addr, host, sizeof(host));
    port = ntohs(v4->sin_port);
    return std::string(host) + ":" + std::to_string(port);
  }
  if (a.ss_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&a);
    inet_ntop(AF_INET6, &v6->sin6_addr, host, sizeof(host));
    port = ntohs(v6->sin6_port);
    return "[" + std::string(host) + "]:" + std::to_string(port);
  }
  return "?";
}

std::string errno_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

}  // namespace

// ---- input buffer --------------------------------------------------------------------------

void RespServer::InputBuffer::consume(size_t n) {
  assert(n <= size());
  begin_ += n;
  if (begin_ == end_) begin_ = end_ = 0;
}

char* RespServer::InputBuffer::prepare(size_t want, size_t limit, size_t* room) {
  const size_t used = size();
  if (used >= limit) {
    *room = 0;
    return nullptr;
  }
  want = std::min(want, limit - used);
  if (capacity_ - end_ < want) {
    if (begin_ > 0) {  // slide the unconsumed bytes to the front first
      std::memmove(data_.get(), data_.get() + begin_, used);
      begin_ = 0;
      end_ = used;
    }
    if (capacity_ - end_ < want) {
      size_t grown = std::max(capacity_ * 2, kInitialInputBytes);
      while (grown < used + want) grown *= 2;
      grown = std::min(grown, limit);
      std::unique_ptr<char[]> bigger(new char[grown]);
      if (used > 0) std::memcpy(bigger.get(), data_.get(), used);
      data_ = std::move(bigger);
      capacity_ = grown;
    }
  }
  *room = std::min(want, capacity_ - end_);
  return data_.get() + end_;
}

// ---- setup ---------------------------------------------------------------------------------

RespServer::RespServer(RespServerOptions options, CommandHandler* handler)
    : options_(std::move(options)), handler_(handler) {
  assert(handler_ != nullptr);
  if (!options_.clock_ms) {
    options_.clock_ms = [] {
      return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                       std::chrono::steady_clock::now().time_since_epoch())
                                       .count());
    };
  }
  options_.max_events_per_poll =
      std::clamp<uint32_t>(options_.max_events_per_poll, 1, kMaxEventsPerPoll);
  options_.max_pipeline = std::max<uint32_t>(options_.max_pipeline, 1);
  options_.read_chunk_bytes = std::max<size_t>(options_.read_chunk_bytes, 512);
  // One whole command (the parser never needs more buffered) plus one read.
  max_query_bytes_ = std::max<size_t>(options_.parser.max_command_bytes,
                                      options_.parser.max_inline_bytes) +
                     options_.read_chunk_bytes;
  started_ms_ = options_.clock_ms();
}

RespServer::~RespServer() {
  for (auto& [id, c] : connections_) ::close(c->fd);
  if (listen_fd_ >= 0) ::close(listen_fd_);
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
}

bool RespServer::listen(std::string* error) {
  assert(listen_fd_ < 0);
  sockaddr_storage addr{};
  socklen_t addr_len = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr);
  if (inet_pton(AF_INET, options_.bind_address.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(options_.port);
    addr_len = sizeof(sockaddr_in);
  } else if (inet_pton(AF_INET6, options_.bind_address.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(options_.port);
    addr_len = sizeof(sockaddr_in6);
  } else {
    *error = "bind address '" + options_.bind_address + "' is not an IPv4 or IPv6 literal";
    return false;
  }
  const std::string where = options_.bind_address + ":" + std::to_string(options_.port);
  int fd = ::socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *error = errno_text("socket");
    return false;
  }
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), addr_len) != 0) {
    *error = errno_text(("bind " + where).c_str());
    ::close(fd);
    return false;
  }
  if (::listen(fd, options_.backlog) != 0) {
    *error = errno_text(("listen " + where).c_str());
    ::close(fd);
    return false;
  }
  sockaddr_storage bound{};
  socklen_t bound_len = sizeof(bound);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &bound_len);
  port_ = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                            : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) {
    *error = errno_text("epoll_create1");
    ::close(fd);
    return false;
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kListenerTag;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    *error = errno_text("epoll_ctl");
    ::close(fd);
    return false;
  }
  listen_fd_ = fd;
  return true;
}

// ---- the poll loop -------------------------------------------------------------------------

int RespServer::poll() {
  if (epoll_fd_ < 0) return 0;
  int work = 0;
  epoll_event events[kMaxEventsPerPoll];
  const int n = ::epoll_wait(epoll_fd_, events, static_cast<int>(options_.max_events_per_poll), 0);
  for (int i = 0; i < n; ++i) {
    ++work;
    if (events[i].data.u64 == kListenerTag) {
      accept_some(&work);
      continue;
    }
    // The connection may have closed earlier in this batch.
    if (Connection* c = find(static_cast<ConnectionId>(events[i].data.u64))) {
      on_event(*c, events[i].events);
    }
  }
  // Deferred work: buffered input left over by the per-poll budget, replies completed since.
  work_now_.swap(work_);
  for (ConnectionId id : work_now_) {
    Connection* c = find(id);
    if (c == nullptr) continue;
    c->queued = false;
    ++work;
    process(*c);
  }
  work_now_.clear();
  return work;
}

void RespServer::accept_some(int* work) {
  for (uint32_t i = 0; i < options_.max_accepts_per_poll; ++i) {
    sockaddr_storage peer{};
    socklen_t peer_len = sizeof(peer);
    const int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&peer), &peer_len,
                             SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      // EAGAIN: no more. Anything else (EMFILE, ECONNABORTED, ...) is per-connection trouble:
      // count it, keep serving the others.
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) ++stats_.socket_errors;
      return;
    }
    ++*work;
    if (connections_.size() >= options_.max_clients) {
      static constexpr char kFull[] = "-ERR max number of clients reached\r\n";
      (void)!::send(fd, kFull, sizeof(kFull) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
      ::close(fd);
      ++stats_.connections_rejected;
      continue;
    }
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));  // replies are small
    auto c = std::make_unique<Connection>(options_.parser);
    c->fd = fd;
    c->client.id = next_connection_id();
    c->client.fd = fd;
    c->client.peer_address = address_string(peer);
    sockaddr_storage local{};
    socklen_t local_len = sizeof(local);
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_len) == 0) {
      c->client.local_address = address_string(local);
    }
    c->client.connected_ms = options_.clock_ms();
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = c->client.id;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
      ++stats_.socket_errors;
      ::close(fd);
      continue;
    }
    c->epoll_events = EPOLLIN;
    ++stats_.connections_accepted;
    const ConnectionId id = c->client.id;
    connections_.emplace(id, std::move(c));
  }
}

ConnectionId RespServer::next_connection_id() {
  // 2^32 - 1 ids before a wrap; after it, skip 0 and ids still in use.
  do {
    ++last_id_;
  } while (last_id_ == 0 || connections_.count(last_id_) != 0);
  return last_id_;
}

void RespServer::on_event(Connection& c, uint32_t events) {
  const ConnectionId id = c.client.id;
  if (events & EPOLLERR) {
    ++stats_.socket_errors;
    close_connection(c);
    return;
  }
  if (events & EPOLLOUT) {
    flush(c);
    if (find(id) == nullptr) return;
  }
  if (events & (EPOLLIN | EPOLLHUP)) {
    read_some(c);
    if (find(id) == nullptr) return;
    process(c);
  }
}

void RespServer::read_some(Connection& c) {
  // Read only once the parser has used up what is buffered: a client pipelining faster than
  // the per-poll command budget would otherwise grow the buffer until it hit the limit. Until
  // then the socket holds the rest (TCP back-pressure); level-triggered epoll brings us back.
  if (!c.wants_input && c.in.size() > 0) return;
  size_t budget = options_.read_budget_bytes;
  bool got = false;
  while (c.reading && !c.eof && !c.closing && budget > 0) {
    size_t room = 0;
    char* at = c.in.prepare(std::min(options_.read_chunk_bytes, budget), max_query_bytes_, &room);
    if (room == 0 && got) return;  // parse what this call read first
    if (room == 0) {
      // Cannot happen while the parser keeps its limits (max_query_bytes_ holds one whole
      // command plus a read); if it does, the client gets an error rather than a stuck server.
      ++stats_.query_limit_closes;
      immediate_error(c, "ERR Protocol error: query buffer limit exceeded");
      c.closing = true;
      c.in.clear();
      return;
    }
    const ssize_t n = ::recv(c.fd, at, room, 0);
    if (n > 0) {
      got = true;
      c.wants_input = false;
      c.in.commit(static_cast<size_t>(n));
      stats_.bytes_read += static_cast<uint64_t>(n);
      budget -= std::min(budget, static_cast<size_t>(n));
      if (static_cast<size_t>(n) < room) return;  // drained the socket
      continue;
    }
    if (n == 0) {
      c.eof = true;  // answer what we have, then close (process/flush)
      return;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return;
    ++stats_.socket_errors;  // ECONNRESET and friends: nobody to answer
    close_connection(c);
    return;
  }
}

bool RespServer::paused(const Connection& c) const {
  return c.slots.size() >= options_.max_pipeline || c.unsent() >= options_.pause_output_bytes;
}

void RespServer::process(Connection& c) {
  const ConnectionId id = c.client.id;
  process_input(c);
  if (find(id) == nullptr) return;
  flush(c);
}

void RespServer::process_input(Connection& c) {
  for (uint32_t budget = options_.max_commands_per_poll; budget > 0; --budget) {
    if (c.closing || paused(c)) break;
    const ParseResult r = c.parser.parse(c.in.view(), &argv_);
    switch (r.status) {
      case ParseStatus::kNeedMore:
        c.wants_input = true;
        c.in.consume(r.consumed);
        if (c.eof) c.in.clear();  // a partial command that can never complete
        return;
      case ParseStatus::kCommand:
        ++stats_.commands;
        dispatch(c, argv_);
        c.in.consume(r.consumed);  // after dispatch: argv_ points into the buffer
        break;
      case ParseStatus::kRejected:
        ++stats_.commands;
        ++stats_.rejected_commands;
        c.in.consume(r.consumed);
        immediate_error(c, r.error);
        break;
      case ParseStatus::kProtocolError:
        ++stats_.protocol_errors;
        immediate_error(c, r.error);
        c.closing = true;  // where the next command starts is unknown
        c.in.clear();
        return;
    }
  }
  // Out of budget, closing or paused: come back for the rest unless it must wait for replies.
  if (!c.closing && !paused(c) && c.in.size() > 0) schedule(c);
}

void RespServer::dispatch(Connection& c, Argv argv) {
  const uint32_t seq = c.next_seq++;
  // A reply may go straight to the output only if nothing before it is still unanswered.
  const bool direct = c.slots.empty();
  std::string* out = direct ? &c.out : &scratch_;
  const size_t mark = out->size();
  CommandClass command_class = CommandClass::kLocal;
  const CommandInfo* info = find_command(argv[0]);
  if (info == nullptr) {
    ++stats_.unknown_commands;
    ReplyWriter(out, c.client.resp_version).error(unknown_command_error(argv));
  } else if (!arity_ok(*info, argv.size())) {
    ReplyWriter(out, c.client.resp_version).error(wrong_arity_error(info->name));
  } else if (info->command_class == CommandClass::kLocal) {
    execute_local(*info, argv, c.client, *this, out);
  } else {
    command_class = info->command_class;
    ++stats_.handled;
    const Disposition d =
        handler_->handle(RequestId{c.client.id, seq}, *info, argv, c.client.resp_version, out);
    if (d == Disposition::kPending) {
      out->resize(mark);  // a pending handler must not have written (contract); keep framing
      ++stats_.pending;
      c.slots.push_back(Slot{seq, false, command_class, {}});
      return;
    }
  }
  if (!direct) {
    c.slots.push_back(Slot{seq, true, command_class, std::move(scratch_)});
    scratch_.clear();
  }
  if (c.client.close_after_reply) c.closing = true;  // QUIT
}

void RespServer::immediate_error(Connection& c, std::string_view message) {
  const uint32_t seq = c.next_seq++;
  if (c.slots.empty()) {
    ReplyWriter(&c.out, c.client.resp_version).error(message);
    return;
  }
  Slot s{seq, true, CommandClass::kLocal, {}};
  ReplyWriter(&s.reply, c.client.resp_version).error(message);
  c.slots.push_back(std::move(s));
}

RespServer::Connection* RespServer::find(ConnectionId id) {
  auto it = connections_.find(id);
  return it == connections_.end() ? nullptr : it->second.get();
}

RespServer::Slot* RespServer::find_slot(Connection& c, uint32_t seq) {
  if (c.slots.empty()) return nullptr;
  const uint32_t offset = seq - c.slots.front().seq;  // wraps like seq
  if (offset >= c.slots.size()) return nullptr;
  Slot& s = c.slots[offset];
  assert(s.seq == seq);  // slots are seq-contiguous
  return &s;
}

bool RespServer::complete(RequestId id, std::string reply) {
  Connection* c = find(id.connection);
  if (c == nullptr) {
    ++stats_.replies_dropped;
    return false;
  }
  Slot* s = find_slot(*c, id.seq);
  if (s == nullptr || s->ready) {
    ++stats_.unexpected_completions;
    return false;
  }
  s->reply = std::move(reply);
  s->ready = true;
  ++stats_.completed;
  if (s == &c->slots.front()) schedule(*c);
  return true;
}

bool RespServer::fail_pending(RequestId id) {
  Connection* c = find(id.connection);
  if (c == nullptr) {
    ++stats_.replies_dropped;
    return false;
  }
  Slot* s = find_slot(*c, id.seq);
  if (s == nullptr || s->ready) {
    ++stats_.unexpected_completions;
    return false;
  }
  ReplyWriter(&s->reply, c->client.resp_version)
      .error(s->command_class == CommandClass::kRead ? kRetryReadError : kUncertainWriteError);
  s->ready = true;
  ++stats_.failed_pending;
  if (s == &c->slots.front()) schedule(*c);
  return true;
}

void RespServer::schedule(Connection& c) {
  if (c.queued) return;
  c.queued = true;
  work_.push_back(c.client.id);
}

void RespServer::flush(Connection& c) {
  // Replies that were waiting only for those before them join the output, in order.
  while (!c.slots.empty() && c.slots.front().ready) {
    c.out.append(c.slots.front().reply);
    c.slots.pop_front();
  }
  if (c.unsent() > options_.max_output_bytes) {
    ++stats_.output_limit_closes;  // the client does not read its replies
    close_connection(c);
    return;
  }
  for (int i = 0; i < kMaxSendsPerFlush && c.unsent() > 0; ++i) {
    const ssize_t n = ::send(c.fd, c.out.data() + c.out_sent, c.unsent(), MSG_NOSIGNAL);
    if (n > 0) {
      c.out_sent += static_cast<size_t>(n);
      stats_.bytes_written += static_cast<uint64_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    ++stats_.socket_errors;  // EPIPE, ECONNRESET: the client is gone
    close_connection(c);
    return;
  }
  if (c.unsent() == 0) {
    c.out.clear();
    c.out_sent = 0;
  } else if (c.out_sent > c.out.size() / 2) {
    c.out.erase(0, c.out_sent);
    c.out_sent = 0;
  }
  // Answered everything it asked for after QUIT, a protocol error, or EOF from the client
  // (after EOF the buffer is empty once every complete command has run: see process_input).
  const bool done = c.slots.empty() && c.unsent() == 0;
  if (done && (c.closing || (c.eof && c.in.size() == 0))) {
    close_connection(c);
    return;
  }
  // Back-pressure released: parse what is already buffered (reading resumes via interest).
  if (!c.closing && !paused(c) && c.in.size() > 0) schedule(c);
  update_interest(c);
}

void RespServer::update_interest(Connection& c) {
  c.reading = !c.closing && !c.eof && !paused(c);
  uint32_t want = 0;
  if (c.reading) want |= EPOLLIN;
  if (c.unsent() > 0) want |= EPOLLOUT;
  if (want == c.epoll_events) return;
  epoll_event ev{};
  ev.events = want;
  ev.data.u64 = c.client.id;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &ev) != 0) {
    ++stats_.socket_errors;
    close_connection(c);
    return;
  }
  c.epoll_events = want;
}

void RespServer::close_connection(Connection& c) {
  for (const Slot& s : c.slots) stats_.orphaned_on_close += !s.ready;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c.fd, nullptr);
  ::close(c.fd);
  ++stats_.connections_closed;
  connections_.erase(c.client.id);  // destroys c
}

size_t RespServer::pending_count() const {
  size_t n = 0;
  for (const auto& [id, c] : connections_) {
    for (const Slot& s : c->slots) n += !s.ready;
  }
  return n;
}

// ---- FrontEnd ------------------------------------------------------------------------------

uint64_t RespServer::now_ms() const { return options_.clock_ms(); }

ReplicationView RespServer::replication_view() const {
  if (view_) return view_();
  ReplicationView standalone;
  standalone.mu_role = "standalone";
  return standalone;
}

ServerFacts RespServer::server_facts() const {
  ServerFacts f;
  f.port = port_;
  const uint64_t now = options_.clock_ms();
  f.uptime_s = now > started_ms_ ? (now - started_ms_) / 1000 : 0;
  f.connected_clients = connections_.size();
  f.max_clients = options_.max_clients;
  f.total_connections = stats_.connections_accepted;
  f.total_commands = stats_.commands;
  f.rejected_connections = stats_.connections_rejected;
  f.protocol_errors = stats_.protocol_errors;
  f.rejected_commands = stats_.rejected_commands;
  f.replies_dropped = stats_.replies_dropped;
  f.max_bulk_bytes = options_.parser.max_bulk_bytes;
  return f;
}

void RespServer::describe_clients(std::string* out) const {
  std::vector<const Connection*> all;
  for (const auto& [id, c] : connections_) all.push_back(c.get());
  std::sort(all.begin(), all.end(),
            [](const Connection* a, const Connection* b) { return a->client.id < b->client.id; });
  const uint64_t now = options_.clock_ms();
  for (const Connection* c : all) describe_client(c->client, now, out);
}

}  // namespace mu::kv
