// The RESP front end (DESIGN.md §3.7): a non-blocking TCP server that speaks the Redis protocol
// to unmodified clients and hands each data command to the engine through CommandHandler.
//
// Poll-driven like the rest of the engine (DESIGN.md §3.1): poll() does one bounded step —
// epoll_wait with timeout 0, at most max_events_per_poll events, at most max_accepts_per_poll
// accepts, at most max_commands_per_poll commands and read_budget_bytes per connection — and
// never blocks. The engine thread calls it in its loop; nothing here owns a thread or sleeps.
//
// Pipelining: a client may send many commands without waiting. Each command gets the next
// sequence number of its connection. Replies leave in sequence order even when they are
// produced out of order (local commands at once, replicated ones when their log entry is
// applied): a reply that is ready behind an unanswered one waits in the connection's slot queue.
//
// Limits (all bounded, none asserted; breaking one is counted and answered):
//   - parser limits (value size, arguments, command bytes, inline line): see resp.h;
//   - the query buffer never holds more than one maximal command plus one read;
//   - max_pipeline unanswered commands per connection, pause_output_bytes of unsent replies:
//     beyond either the server stops reading that connection (TCP back-pressure) until replies
//     drain; max_output_bytes of unsent replies: the client is not reading, it is disconnected
//     (Redis's client-output-buffer-limit);
//   - max_clients connections; one more gets "-ERR max number of clients reached" and is closed.
//
// Closing: on EOF from the client the server stops reading, still answers the complete commands
// it already has (including pending ones), then closes. On a protocol error, after QUIT, or when
// the output limit is hit, it closes after (or, for the output limit, instead of) flushing. On a
// socket error it closes at once. Replies completed for a closed connection are dropped and
// counted (stats().replies_dropped).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "apps/kv/commands.h"
#include "apps/kv/local_commands.h"
#include "apps/kv/resp.h"

namespace mu::kv {

using ConnectionId = uint32_t;  // never 0; not reused while the connection is alive

// One request: its connection and its place in that connection's pipeline. Packs into the
// nonzero 64-bit ticket that ReplicationPlane::propose carries to StateMachine::apply.
struct RequestId {
  ConnectionId connection = 0;
  uint32_t seq = 0;  // per connection, wraps; at most max_pipeline are unanswered at a time

  uint64_t ticket() const { return (uint64_t{connection} << 32) | seq; }
  static RequestId from_ticket(uint64_t ticket) {
    return {static_cast<ConnectionId>(ticket >> 32), static_cast<uint32_t>(ticket)};
  }
  bool operator==(const RequestId&) const = default;
};

enum class Disposition : uint8_t {
  kReplied,  // the whole reply was appended to *reply
  kPending,  // the reply comes later through complete() or fail_pending()
};

// The engine side of the front end: receives every kRead and kWrite command (commands.h) that
// exists and has a valid arity, in arrival order per connection. Local commands, unknown
// commands and arity errors never reach it.
class CommandHandler {
 public:
  virtual ~CommandHandler() = default;
  // argv's views are valid only during the call: copy what must outlive it. Either append the
  // reply (encoded for resp_version) to *reply and return kReplied, or leave *reply untouched,
  // return kPending, and later call complete(id) or fail_pending(id) exactly once — never from
  // inside this call.
  virtual Disposition handle(RequestId id, const CommandInfo& info, Argv argv, int resp_version,
                             std::string* reply) = 0;
};

// Where replies for pending requests go (the server; a fake in tests).
class ReplySink {
 public:
  virtual ~ReplySink() = default;
  // The encoded reply for a pending request. False if it cannot be delivered (the connection
  // is gone, or the request is unknown or already answered): the reply is dropped and counted.
  virtual bool complete(RequestId id, std::string reply) = 0;
  // The request's fate is unknown: the replica stopped leading before its log entry was known
  // to be decided, and another leader may still apply it (StateMachine::abandoned). Replies
  //   write: "-UNCERTAIN leadership changed before the write was known to commit; it may or may
  //          not have been applied"  — deliberately not TRYAGAIN: cluster clients retry TRYAGAIN
  //          on their own, and blindly retrying e.g. INCR could apply it twice;
  //   read:  "-TRYAGAIN leadership changed before the read was answered; retry"  — a read has no
  //          effect, retrying it is always safe.
  virtual bool fail_pending(RequestId id) = 0;
};

constexpr std::string_view kUncertainWriteError =
    "UNCERTAIN leadership changed before the write was known to commit; it may or may not have "
    "been applied";
constexpr std::string_view kRetryReadError =
    "TRYAGAIN leadership changed before the read was answered; retry";

struct RespServerOptions {
  std::string bind_address = "0.0.0.0";  // IPv4 or IPv6 literal
  uint16_t port = 6379;                  // 0: an ephemeral port (see port())
  int backlog = 511;
  uint32_t max_clients = 10000;
  ParserLimits parser{};
  uint32_t max_pipeline = 1024;            // unanswered commands per connection
  size_t pause_output_bytes = 1 << 20;     // stop reading a connection with this much unsent
  size_t max_output_bytes = 256ull << 20;  // disconnect a client with this much unsent
  size_t read_chunk_bytes = 64 * 1024;     // one recv()
  size_t read_budget_bytes = 256 * 1024;   // per connection per poll
  uint32_t max_commands_per_poll = 256;    // per connection per poll
  uint32_t max_events_per_poll = 64;
  uint32_t max_accepts_per_poll = 16;
  // Front-end clock (uptime, client age in CLIENT LIST); never used for data. Defaults to the
  // monotonic clock.
  std::function<uint64_t()> clock_ms;
};

struct RespServerStats {
  uint64_t connections_accepted = 0;
  uint64_t connections_rejected = 0;  // over max_clients
  uint64_t connections_closed = 0;
  uint64_t commands = 0;               // parsed, whatever became of them
  uint64_t handled = 0;                // given to the handler
  uint64_t pending = 0;                // handler said kPending (cumulative)
  uint64_t completed = 0;              // complete() delivered into a live slot
  uint64_t failed_pending = 0;         // fail_pending() delivered
  uint64_t replies_dropped = 0;        // completion for a closed connection
  uint64_t unexpected_completions = 0; // completion for an unknown or answered request
  uint64_t orphaned_on_close = 0;      // unanswered requests of connections that closed
  uint64_t protocol_errors = 0;
  uint64_t rejected_commands = 0;      // over a parser limit; connection kept
  uint64_t unknown_commands = 0;
  uint64_t output_limit_closes = 0;
  uint64_t query_limit_closes = 0;
  uint64_t socket_errors = 0;
  uint64_t bytes_read = 0;
  uint64_t bytes_written = 0;
};

class RespServer final : public ReplySink, private FrontEnd {
 public:
  RespServer(RespServerOptions options, CommandHandler* handler);
  ~RespServer() override;
  RespServer(const RespServer&) = delete;
  RespServer& operator=(const RespServer&) = delete;

  // Binds and listens. False with *error set (e.g. "bind 0.0.0.0:6379: Address in use").
  bool listen(std::string* error);
  uint16_t port() const { return port_; }

  // One bounded, non-blocking step. Returns how much happened (0: idle).
  int poll();

  bool complete(RequestId id, std::string reply) override;
  bool fail_pending(RequestId id) override;

  // INFO and HELLO ask this for the replication picture (default: a lone leader).
  void set_replication_view(std::function<ReplicationView()> view) { view_ = std::move(view); }

  const RespServerStats& stats() const { return stats_; }
  size_t connection_count() const { return connections_.size(); }
  // Unanswered requests across all connections.
  size_t pending_count() const;

 private:
  struct Slot {
    uint32_t seq = 0;
    bool ready = false;
    CommandClass command_class = CommandClass::kLocal;
    std::string reply;
  };

  // The query buffer: bytes [begin, end) of data are unconsumed input.
  class InputBuffer {
   public:
    std::string_view view() const { return {data_.get() + begin_, end_ - begin_}; }
    size_t size() const { return end_ - begin_; }
    void consume(size_t n);
    // Room for up to `want` more bytes without exceeding `limit` in total; returns the room
    // (0 when full) and where to write.
    char* prepare(size_t want, size_t limit, size_t* room);
    void commit(size_t n) { end_ += n; }
    void clear() { begin_ = end_ = 0; }

   private:
    std::unique_ptr<char[]> data_;
    size_t capacity_ = 0;
    size_t begin_ = 0;
    size_t end_ = 0;
  };

  struct Connection {
    ClientState client;
    int fd = -1;
    RequestParser parser;
    InputBuffer in;
    std::string out;       // replies not yet sent: out[out_sent, size)
    size_t out_sent = 0;
    std::deque<Slot> slots;  // seq-contiguous; front = oldest unsent reply that had to wait
    uint32_t next_seq = 0;
    uint32_t epoll_events = 0;  // currently registered interest
    bool reading = true;        // EPOLLIN wanted
    bool eof = false;           // the client finished sending
    bool closing = false;       // close once every reply is out; accept no more input
    bool queued = false;        // in work_
    bool wants_input = true;    // the parser consumed all it could and needs more bytes
    explicit Connection(const ParserLimits& limits) : parser(limits) {}
    size_t unsent() const { return out.size() - out_sent; }
  };

  void accept_some(int* work);
  void on_event(Connection& c, uint32_t events);
  void read_some(Connection& c);
  void process(Connection& c);
  void process_input(Connection& c);
  void dispatch(Connection& c, Argv argv);
  void immediate_error(Connection& c, std::string_view message);
  void flush(Connection& c);
  void update_interest(Connection& c);
  void schedule(Connection& c);
  void close_connection(Connection& c);
  bool paused(const Connection& c) const;
  Connection* find(ConnectionId id);
  Slot* find_slot(Connection& c, uint32_t seq);
  ConnectionId next_connection_id();
  uint64_t now_ms() const override;

  // FrontEnd
  ReplicationView replication_view() const override;
  ServerFacts server_facts() const override;
  void describe_clients(std::string* out) const override;

  RespServerOptions options_;
  CommandHandler* handler_;
  std::function<ReplicationView()> view_;
  int listen_fd_ = -1;
  int epoll_fd_ = -1;
  uint16_t port_ = 0;
  uint64_t started_ms_ = 0;
  size_t max_query_bytes_ = 0;
  ConnectionId last_id_ = 0;
  std::unordered_map<ConnectionId, std::unique_ptr<Connection>> connections_;
  std::vector<ConnectionId> work_;       // connections with buffered input or output to push
  std::vector<ConnectionId> work_now_;   // the batch poll() is processing
  Command argv_;                         // reused by the parser
  std::string scratch_;                  // a reply that must wait behind an unanswered one
  RespServerStats stats_;
};

}  // namespace mu::kv
