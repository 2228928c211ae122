// The RESP server over real loopback TCP, polled by the test thread (as the engine thread would
// poll it): pipelining with replies in order even when completed out of order, oversized values,
// protocol errors closing the connection, back-pressure, EOF, limits, follower redirects.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "apps/kv/kv_replicated.h"
#include "apps/kv/kv_store.h"
#include "apps/kv/resp_server.h"

namespace mu::kv {
namespace {

using namespace std::string_literals;

std::string multibulk(const std::vector<std::string>& args) {
  std::string s = "*" + std::to_string(args.size()) + "\r\n";
  for (const auto& a : args) s += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
  return s;
}

// End of the RESP reply starting at pos, or npos if it is not complete yet.
size_t reply_end(std::string_view s, size_t pos) {
  constexpr size_t npos = std::string_view::npos;
  if (pos >= s.size()) return npos;
  const size_t cr = s.find("\r\n", pos);
  if (cr == npos) return npos;
  const char type = s[pos];
  if (type == '$') {
    const long n = std::stol(std::string(s.substr(pos + 1, cr - pos - 1)));
    if (n < 0) return cr + 2;
    const size_t end = cr + 2 + static_cast<size_t>(n) + 2;
    return end <= s.size() ? end : npos;
  }
  if (type == '*' || type == '%') {
    long n = std::stol(std::string(s.substr(pos + 1, cr - pos - 1)));
    if (n < 0) return cr + 2;
    if (type == '%') n *= 2;
    size_t p = cr + 2;
    for (long i = 0; i < n; ++i) {
      p = reply_end(s, p);
      if (p == npos) return npos;
    }
    return p;
  }
  return cr + 2;  // + - : _ and other one-line types
}

// Executes on a KvStore, either at once or deferred (replies handed back by the test).
class TestHandler final : public CommandHandler {
 public:
  struct Deferred {
    RequestId id;
    std::string reply;
  };
  Disposition handle(RequestId id, const CommandInfo&, Argv argv, int resp_version,
                     std::string* reply) override {
    ++calls;
    if (!defer) {
      store.execute(argv, 1000, resp_version, reply);
      return Disposition::kReplied;
    }
    Deferred d{id, {}};
    store.execute(argv, 1000, resp_version, &d.reply);
    deferred.push_back(std::move(d));
    return Disposition::kPending;
  }
  KvStore store;
  bool defer = false;
  size_t calls = 0;
  std::vector<Deferred> deferred;
};

using Clock = std::chrono::steady_clock;
constexpr auto kDeadline = std::chrono::seconds(10);  // a hang guard, not a timing assertion

class Client {
 public:
  Client(uint16_t port, std::function<void()> pump) : pump_(std::move(pump)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
  }
  ~Client() { close(); }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  void shutdown_write() { ::shutdown(fd_, SHUT_WR); }
  void reset() {  // close with RST instead of FIN
    linger l{1, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
    close();
  }

  void send(std::string_view bytes) {
    const auto start = Clock::now();
    while (!bytes.empty() && Clock::now() - start < kDeadline) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n > 0) bytes.remove_prefix(static_cast<size_t>(n));
      pump_();
      receive();  // keep the server's output flowing so it keeps reading
    }
    ASSERT_TRUE(bytes.empty());
  }

  // Without polling the server: for bytes that fit in the socket buffers.
  void send_raw(std::string_view bytes) {
    ASSERT_EQ(::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(bytes.size()));
  }

  // Waits for `count` complete replies and returns them.
  std::vector<std::string> read(size_t count) {
    std::vector<std::string> out;
    const auto start = Clock::now();
    while (out.size() < count && Clock::now() - start < kDeadline) {
      pump_();
      receive();
      size_t end;
      while (out.size() < count && (end = reply_end(buffer_, 0)) != std::string::npos) {
        out.push_back(buffer_.substr(0, end));
        buffer_.erase(0, end);
      }
    }
    EXPECT_EQ(out.size(), count) << "got so far: " << buffer_.substr(0, 200);
    return out;
  }
  std::string read1() {
    auto r = read(1);
    return r.empty() ? "" : r[0];
  }

  // Polls a little and returns whatever arrived (for "nothing yet" checks).
  std::string pending_bytes(int rounds = 50) {
    for (int i = 0; i < rounds; ++i) {
      pump_();
      receive();
    }
    return buffer_;
  }

  // True once the server closed the connection (EOF or reset).
  bool wait_closed() {
    const auto start = Clock::now();
    while (Clock::now() - start < kDeadline) {
      pump_();
      if (receive()) return true;
    }
    return false;
  }

 private:
  // Appends what is readable; true on EOF or error.
  bool receive() {
    char buf[65536];
    for (;;) {
      const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n > 0) {
        buffer_.append(buf, static_cast<size_t>(n));
        continue;
      }
      if (n == 0) return true;
      return errno != EAGAIN && errno != EWOULDBLOCK;
    }
  }
  int fd_ = -1;
  std::function<void()> pump_;
  std::string buffer_;
};

class RespServerTest : public ::testing::Test {
 protected:
  void start(RespServerOptions options = {}, CommandHandler* handler = nullptr) {
    options.bind_address = "127.0.0.1";
    options.port = 0;
    server_ = std::make_unique<RespServer>(options, handler ? handler : &handler_);
    std::string error;
    ASSERT_TRUE(server_->listen(&error)) << error;
    ASSERT_NE(server_->port(), 0);
  }
  std::unique_ptr<Client> connect() {
    auto c = std::make_unique<Client>(server_->port(), [this] { server_->poll(); });
    const auto start = Clock::now();
    auto seen = [this] {
      return server_->stats().connections_accepted + server_->stats().connections_rejected;
    };
    const size_t before = seen();
    while (seen() == before && Clock::now() - start < kDeadline) {
      server_->poll();
    }
    return c;
  }
  void pump_until(const std::function<bool()>& done) {
    const auto start = Clock::now();
    while (!done() && Clock::now() - start < kDeadline) server_->poll();
    ASSERT_TRUE(done());
  }

  TestHandler handler_;
  std::unique_ptr<RespServer> server_;
};

TEST_F(RespServerTest, SetGetAndInline) {
  start();
  auto c = connect();
  c->send(multibulk({"SET", "greeting", "hello"}));
  EXPECT_EQ(c->read1(), "+OK\r\n");
  c->send(multibulk({"GET", "greeting"}));
  EXPECT_EQ(c->read1(), "$5\r\nhello\r\n");
  c->send("GET greeting\r\nPING\r\n");
  EXPECT_EQ(c->read(2), (std::vector<std::string>{"$5\r\nhello\r\n", "+PONG\r\n"}));
}

TEST_F(RespServerTest, PipelinedRepliesComeInOrder) {
  start();
  auto c = connect();
  std::string batch;
  for (int i = 0; i < 500; ++i) batch += multibulk({"INCR", "n"});
  c->send(batch);
  const auto replies = c->read(500);
  for (int i = 0; i < 500; ++i) ASSERT_EQ(replies[i], ":" + std::to_string(i + 1) + "\r\n");
}

TEST_F(RespServerTest, ByteByByteInput) {
  start();
  auto c = connect();
  const std::string in = multibulk({"SET", "a", "1"}) + "GET a\r\n" + multibulk({"ECHO", "x"});
  for (char b : in) c->send(std::string(1, b));
  EXPECT_EQ(c->read(3), (std::vector<std::string>{"+OK\r\n", "$1\r\n1\r\n", "$1\r\nx\r\n"}));
}

TEST_F(RespServerTest, RepliesCompletedOutOfOrderLeaveInOrder) {
  handler_.defer = true;
  start();
  auto c = connect();
  c->send(multibulk({"SET", "a", "1"}) + multibulk({"PING"}) + multibulk({"GET", "a"}) +
          multibulk({"ECHO", "local"}) + multibulk({"FOO"}));
  pump_until([&] { return handler_.deferred.size() == 2; });
  // PING, ECHO and the unknown command are answered at once, but wait behind SET.
  EXPECT_EQ(c->pending_bytes(), "");
  EXPECT_EQ(server_->pending_count(), 2u);
  ASSERT_TRUE(server_->complete(handler_.deferred[1].id, handler_.deferred[1].reply));  // GET
  EXPECT_EQ(c->pending_bytes(), "");
  ASSERT_TRUE(server_->complete(handler_.deferred[0].id, handler_.deferred[0].reply));  // SET
  EXPECT_EQ(c->read(5), (std::vector<std::string>{
                            "+OK\r\n", "+PONG\r\n", "$1\r\n1\r\n", "$5\r\nlocal\r\n",
                            "-ERR unknown command 'FOO', with args beginning with: \r\n"}));
  // Twice is a bug in the caller: refused and counted.
  EXPECT_FALSE(server_->complete(handler_.deferred[0].id, "+OK\r\n"));
  EXPECT_EQ(server_->stats().unexpected_completions, 1u);
}

TEST_F(RespServerTest, FailPendingSaysWhetherRetryIsSafe) {
  handler_.defer = true;
  start();
  auto c = connect();
  c->send(multibulk({"SET", "a", "1"}) + multibulk({"GET", "a"}));
  pump_until([&] { return handler_.deferred.size() == 2; });
  EXPECT_TRUE(server_->fail_pending(handler_.deferred[0].id));
  EXPECT_TRUE(server_->fail_pending(handler_.deferred[1].id));
  EXPECT_EQ(c->read(2), (std::vector<std::string>{"-"s + std::string(kUncertainWriteError) + "\r\n",
                                                  "-"s + std::string(kRetryReadError) + "\r\n"}));
  EXPECT_EQ(server_->stats().failed_pending, 2u);
}

TEST_F(RespServerTest, OversizedValueIsRefusedAndTheConnectionStaysUsable) {
  RespServerOptions options;
  options.parser.max_bulk_bytes = 1024;
  start(options);
  auto c = connect();
  c->send(multibulk({"SET", "k", std::string(300000, 'x')}) + multibulk({"GET", "k"}) +
          multibulk({"SET", "k", std::string(1024, 'y')}) + multibulk({"STRLEN", "k"}));
  EXPECT_EQ(c->read(4), (std::vector<std::string>{
                            "-ERR value too large (300000 bytes; the limit is 1024)\r\n",
                            "$-1\r\n", "+OK\r\n", ":1024\r\n"}));
  EXPECT_EQ(server_->stats().rejected_commands, 1u);
  EXPECT_EQ(server_->connection_count(), 1u);
  EXPECT_EQ(handler_.calls, 3u);  // the rejected SET never reached the engine
}

TEST_F(RespServerTest, ProtocolErrorRepliesThenCloses) {
  start();
  auto c = connect();
  c->send(multibulk({"PING"}) + "*1\r\n$x\r\n" + multibulk({"PING"}));
  EXPECT_EQ(c->read(2), (std::vector<std::string>{
                            "+PONG\r\n", "-ERR Protocol error: invalid bulk length\r\n"}));
  EXPECT_TRUE(c->wait_closed());
  pump_until([&] { return server_->connection_count() == 0; });
  EXPECT_EQ(server_->stats().protocol_errors, 1u);
}

TEST_F(RespServerTest, UnbalancedInlineQuotesClose) {
  start();
  auto c = connect();
  c->send("SET a \"b\r\n");
  EXPECT_EQ(c->read1(), "-ERR Protocol error: unbalanced quotes in request\r\n");
  EXPECT_TRUE(c->wait_closed());
}

TEST_F(RespServerTest, LocalCommandsUnknownAndArityErrorsNeverReachTheHandler) {
  start();
  auto c = connect();
  c->send(multibulk({"PING"}) + multibulk({"COMMAND", "DOCS"}) +
          multibulk({"CONFIG", "GET", "save"}) + multibulk({"CONFIG", "GET", "appendonly"}) +
          multibulk({"CLIENT", "SETNAME", "t1"}) + multibulk({"CLIENT", "GETNAME"}) +
          multibulk({"SELECT", "0"}) + multibulk({"SELECT", "1"}) + multibulk({"GET"}) +
          multibulk({"xyz", "a"}));
  EXPECT_EQ(c->read(10),
            (std::vector<std::string>{
                "+PONG\r\n", "*0\r\n", "*2\r\n$4\r\nsave\r\n$0\r\n\r\n",
                "*2\r\n$10\r\nappendonly\r\n$2\r\nno\r\n", "+OK\r\n", "$2\r\nt1\r\n", "+OK\r\n",
                "-ERR DB index is out of range\r\n",
                "-ERR wrong number of arguments for 'get' command\r\n",
                "-ERR unknown command 'xyz', with args beginning with: 'a' \r\n"}));
  EXPECT_EQ(handler_.calls, 0u);
}

TEST_F(RespServerTest, HelloSwitchesTheProtocolAndResetSwitchesBack) {
  start();
  auto c = connect();
  c->send(multibulk({"HELLO", "3"}));
  const std::string hello = c->read1();
  EXPECT_EQ(hello.substr(0, 4), "%7\r\n");
  EXPECT_NE(hello.find("$5\r\nproto\r\n:3\r\n"), std::string::npos);
  c->send(multibulk({"GET", "missing"}) + multibulk({"MGET", "missing"}) + multibulk({"RESET"}) +
          multibulk({"GET", "missing"}) + multibulk({"HELLO", "4"}));
  EXPECT_EQ(c->read(5), (std::vector<std::string>{"_\r\n", "*1\r\n_\r\n", "+RESET\r\n", "$-1\r\n",
                                                  "-NOPROTO unsupported protocol version\r\n"}));
}

TEST_F(RespServerTest, QuitAnswersThenCloses) {
  start();
  auto c = connect();
  c->send(multibulk({"SET", "a", "1"}) + multibulk({"QUIT"}) + multibulk({"GET", "a"}));
  EXPECT_EQ(c->read(2), (std::vector<std::string>{"+OK\r\n", "+OK\r\n"}));
  EXPECT_TRUE(c->wait_closed());
  EXPECT_EQ(handler_.calls, 1u);  // nothing after QUIT is executed
}

TEST_F(RespServerTest, EofStillAnswersWhatWasSent) {
  handler_.defer = true;
  start();
  auto c = connect();
  c->send(multibulk({"SET", "a", "1"}) + multibulk({"GET", "a"}) + "*2\r\n$3\r\nGET");
  c->shutdown_write();
  pump_until([&] { return handler_.deferred.size() == 2; });
  server_->complete(handler_.deferred[0].id, handler_.deferred[0].reply);
  server_->complete(handler_.deferred[1].id, handler_.deferred[1].reply);
  EXPECT_EQ(c->read(2), (std::vector<std::string>{"+OK\r\n", "$1\r\n1\r\n"}));
  EXPECT_TRUE(c->wait_closed());  // the partial third command is dropped
  pump_until([&] { return server_->connection_count() == 0; });
}

TEST_F(RespServerTest, EofAfterALongPipelineAnswersAll) {
  RespServerOptions options;
  options.max_commands_per_poll = 16;  // many polls' worth of commands are buffered at EOF
  options.read_chunk_bytes = 4096;
  start(options);
  auto c = connect();
  // 8-byte commands filling two read chunks exactly, and the FIN already sent: one read_some
  // call sees the whole pipeline and then EOF.
  std::string batch;
  for (int i = 0; i < 1024; ++i) batch += "INCR n\r\n";
  ASSERT_EQ(batch.size(), 2 * options.read_chunk_bytes);
  c->send_raw(batch);
  c->shutdown_write();
  const auto replies = c->read(1024);
  ASSERT_EQ(replies.size(), 1024u);
  EXPECT_EQ(replies.back(), ":1024\r\n");
  EXPECT_TRUE(c->wait_closed());
}

// A client pipelining far faster than the per-poll budget: the server reads no faster than it
// parses, so the query buffer stays within its limit and nothing is refused.
TEST_F(RespServerTest, FastPipeliningDoesNotOverflowTheQueryBuffer) {
  RespServerOptions options;
  options.parser.max_command_bytes = 1024;
  options.read_chunk_bytes = 4096;
  options.max_commands_per_poll = 8;
  start(options);
  auto c = connect();
  std::string batch;
  for (int i = 0; i < 30000; ++i) batch += "PING\r\n";
  c->send(batch);
  const auto replies = c->read(30000);
  EXPECT_EQ(replies.size(), 30000u);
  EXPECT_EQ(server_->stats().query_limit_closes, 0u);
  EXPECT_EQ(server_->connection_count(), 1u);
}

TEST_F(RespServerTest, ReplyForAResetConnectionIsDroppedAndCounted) {
  handler_.defer = true;
  start();
  auto c = connect();
  c->send(multibulk({"GET", "a"}));
  pump_until([&] { return handler_.deferred.size() == 1; });
  c->reset();  // RST: the client is gone, not merely done sending
  pump_until([&] { return server_->connection_count() == 0; });
  EXPECT_EQ(server_->stats().orphaned_on_close, 1u);
  EXPECT_FALSE(server_->complete(handler_.deferred[0].id, "$-1\r\n"));
  EXPECT_FALSE(server_->fail_pending(handler_.deferred[0].id));
  EXPECT_EQ(server_->stats().replies_dropped, 2u);
}

// A plain close looks like a half-close (EOF) to the server: it still delivers the pending
// reply into the socket, then closes its side.
TEST_F(RespServerTest, ClosedClientWithAPendingReplyIsCleanedUp) {
  handler_.defer = true;
  start();
  auto c = connect();
  c->send(multibulk({"GET", "a"}));
  pump_until([&] { return handler_.deferred.size() == 1; });
  c->close();
  for (int i = 0; i < 100; ++i) server_->poll();
  EXPECT_EQ(server_->connection_count(), 1u);  // waiting for the reply it owes
  server_->complete(handler_.deferred[0].id, handler_.deferred[0].reply);
  pump_until([&] { return server_->connection_count() == 0; });
  EXPECT_EQ(server_->pending_count(), 0u);
}

TEST_F(RespServerTest, PipelineLimitPausesReadingUntilRepliesDrain) {
  RespServerOptions options;
  options.max_pipeline = 4;
  handler_.defer = true;
  start(options);
  auto c = connect();
  std::string batch;
  for (int i = 0; i < 10; ++i) batch += multibulk({"INCR", "n"});
  c->send(batch);
  pump_until([&] { return handler_.deferred.size() == 4; });
  c->pending_bytes();
  EXPECT_EQ(handler_.calls, 4u);  // the rest waits in the socket and the query buffer
  std::vector<std::string> replies;
  size_t done = 0;
  const auto start_time = Clock::now();
  while (replies.size() < 10 && Clock::now() - start_time < kDeadline) {
    server_->poll();
    for (; done < handler_.deferred.size(); ++done) {
      server_->complete(handler_.deferred[done].id, handler_.deferred[done].reply);
    }
    EXPECT_LE(server_->pending_count(), 4u);
    if (done > replies.size()) {
      for (auto& r : c->read(done - replies.size())) replies.push_back(r);
    }
  }
  ASSERT_EQ(replies.size(), 10u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(replies[i], ":" + std::to_string(i + 1) + "\r\n");
}

TEST_F(RespServerTest, LargeValuesSurvivePartialReadsAndWrites) {
  start();
  auto c = connect();
  std::mt19937 rng(3);
  std::string value(900 * 1024, '\0');
  for (char& ch : value) ch = static_cast<char>(rng());
  c->send(multibulk({"SET", "big", value}));
  EXPECT_EQ(c->read1(), "+OK\r\n");
  c->send(multibulk({"GET", "big"}) + multibulk({"GET", "big"}));
  const auto replies = c->read(2);
  const std::string want = "$" + std::to_string(value.size()) + "\r\n" + value + "\r\n";
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_TRUE(replies[0] == want);
  EXPECT_TRUE(replies[1] == want);
}

TEST_F(RespServerTest, MaxClientsRefusesTheNextConnection) {
  RespServerOptions options;
  options.max_clients = 1;
  start(options);
  auto a = connect();
  auto b = connect();
  EXPECT_EQ(b->read1(), "-ERR max number of clients reached\r\n");
  EXPECT_TRUE(b->wait_closed());
  a->send(multibulk({"PING"}));
  EXPECT_EQ(a->read1(), "+PONG\r\n");
  EXPECT_EQ(server_->stats().connections_rejected, 1u);
}

TEST_F(RespServerTest, ManyClientsInterleaved) {
  start();
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < 20; ++i) clients.push_back(connect());
  for (int round = 0; round < 5; ++round) {
    for (int i = 0; i < 20; ++i) {
      clients[i]->send(multibulk({"INCR", "c" + std::to_string(i)}) + multibulk({"INCR", "all"}));
    }
  }
  for (int i = 0; i < 20; ++i) {
    const auto r = clients[i]->read(10);
    for (int round = 0; round < 5; ++round) {
      EXPECT_EQ(r[2 * round], ":" + std::to_string(round + 1) + "\r\n");
    }
  }
  EXPECT_EQ(handler_.store.execute(Command{"GET", "all"}, 1000, 2), "$3\r\n100\r\n");
}

TEST_F(RespServerTest, FollowerRedirectsReadsAndWritesButAnswersLocalCommands) {
  std::optional<uint32_t> leader = 0;
  ReplicatedKvHandler follower(
      {1, {"127.0.0.1:7000", "127.0.0.1:7001", "127.0.0.1:7002"}},
      [&](const void*, uint32_t, uint64_t) {
        return core::ProposeResult{core::ProposeStatus::kNotLeader, leader};
      },
      [] { return uint64_t{1}; });
  start({}, &follower);
  server_->set_replication_view([&] {
    ReplicationView v;
    v.mu_role = "follower";
    v.is_leader = false;
    v.self_id = 1;
    v.leader_id = leader;
    v.leader_address = leader ? "127.0.0.1:7000" : "";
    v.replication_fields.emplace_back("mu_commit_index", "42");
    return v;
  });
  auto c = connect();
  c->send(multibulk({"SET", "a", "1"}) + multibulk({"GET", "a"}) + multibulk({"PING"}));
  EXPECT_EQ(c->read(3), (std::vector<std::string>{"-MOVED 0 127.0.0.1:7000\r\n",
                                                  "-MOVED 0 127.0.0.1:7000\r\n", "+PONG\r\n"}));
  c->send(multibulk({"INFO", "replication"}));
  const std::string info = c->read1();
  for (const char* line : {"role:slave\r\n", "mu_role:follower\r\n", "mu_leader_id:0\r\n",
                           "master_host:127.0.0.1\r\n", "master_port:7000\r\n",
                           "mu_leader_address:127.0.0.1:7000\r\n", "mu_commit_index:42\r\n"}) {
    EXPECT_NE(info.find(line), std::string::npos) << line << " in " << info;
  }
  EXPECT_EQ(info.find("# Server"), std::string::npos);  // only the section asked for
  leader.reset();
  c->send(multibulk({"GET", "a"}));
  EXPECT_EQ(c->read1(), "-CLUSTERDOWN no leader elected\r\n");
  EXPECT_EQ(follower.stats().redirected, 2u);
}

}  // namespace
}  // namespace mu::kv
