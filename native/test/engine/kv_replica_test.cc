// Three KV replicas in one process over the soft fabric: a RESP client talks to the leader,
// followers redirect, and every replica applies the same writes.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "engine/kv_replica.h"

namespace mu::engine {
namespace {

// A minimal blocking RESP client: sends a command, reads one reply line (or bulk).
class Client {
 public:
  explicit Client(uint16_t port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok_ = connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    timeval tv{5, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~Client() { close(fd_); }
  bool ok() const { return ok_; }
  std::string command(std::initializer_list<std::string> argv) {
    std::string out = "*" + std::to_string(argv.size()) + "\r\n";
    for (const auto& a : argv) out += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
    if (send(fd_, out.data(), out.size(), 0) != static_cast<ssize_t>(out.size())) return "send failed";
    std::string line = read_line();
    if (!line.empty() && line[0] == '$' && line != "$-1") {
      const size_t n = std::stoul(line.substr(1));
      std::string body = read_bytes(n + 2);
      return body.substr(0, n);
    }
    return line;
  }

 private:
  std::string read_line() {
    std::string line;
    char c;
    while (recv(fd_, &c, 1, 0) == 1) {
      if (c == '\n') break;
      if (c != '\r') line += c;
    }
    return line;
  }
  std::string read_bytes(size_t n) {
    std::string s(n, '\0');
    size_t got = 0;
    while (got < n) {
      ssize_t k = recv(fd_, s.data() + got, n - got, 0);
      if (k <= 0) break;
      got += static_cast<size_t>(k);
    }
    return s;
  }
  int fd_;
  bool ok_ = false;
};

TEST(KvReplica, LeaderServesFollowersRedirectAllApply) {
  constexpr uint32_t n = 3;
  const uint16_t base = static_cast<uint16_t>(20000 + (getpid() % 500) * 10);  // below the ephemeral range
  std::vector<Member> members;
  for (uint32_t i = 0; i < n; ++i) {
    members.push_back({i, "127.0.0.1", static_cast<uint16_t>(base + 3 * i),
                       static_cast<uint16_t>(base + 3 * i + 1),
                       static_cast<uint16_t>(base + 3 * i + 2)});
  }
  std::vector<std::unique_ptr<KvReplica>> replicas(n);
  std::vector<std::thread> starters;
  std::string errors[n];
  for (uint32_t i = 0; i < n; ++i) {
    starters.emplace_back([&, i] {
      KvReplicaConfig c;
      c.engine.id = i;
      c.engine.members = members;
      c.engine.secret = "kv-test";
      c.engine.log_bytes = 8u << 20;
      c.engine.replication.max_request_bytes = 64 * 1024;
      c.engine.busy_poll = false;
      c.engine.bootstrap = true;
      c.engine.detector.read_period_ns = 1'000'000;
      c.engine.detector.score_max = 40;
      c.resp_bind = "127.0.0.1";
      auto r = KvReplica::start(c);
      if (r.ok()) {
        replicas[i] = std::move(r.value());
      } else {
        errors[i] = r.status().to_string();
      }
    });
  }
  for (auto& t : starters) t.join();
  for (uint32_t i = 0; i < n; ++i) ASSERT_TRUE(replicas[i]) << errors[i];
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline &&
         replicas[0]->stats().engine.replication.role != core::Role::kLeader) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  Client leader(base + 2);
  ASSERT_TRUE(leader.ok());
  EXPECT_EQ(leader.command({"PING"}), "+PONG");
  EXPECT_EQ(leader.command({"SET", "k", "v1"}), "+OK");
  EXPECT_EQ(leader.command({"GET", "k"}), "v1");
  EXPECT_EQ(leader.command({"INCR", "n"}), ":1");
  EXPECT_EQ(leader.command({"INCR", "n"}), ":2");
  EXPECT_EQ(leader.command({"INCR", "k"}), "-ERR value is not an integer or out of range");
  Client follower(base + 3 + 2);
  ASSERT_TRUE(follower.ok());
  EXPECT_EQ(follower.command({"GET", "k"}), "-MOVED 0 127.0.0.1:" + std::to_string(base + 2));
  // Every replica applied the same writes (the state machine runs everywhere).
  const auto applied_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  bool all = false;
  while (!all && std::chrono::steady_clock::now() < applied_deadline) {
    all = true;
    for (auto& r : replicas) all = all && r->stats().keys == 2;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_TRUE(all);
  for (auto& r : replicas) r->stop();
}

}  // namespace
}  // namespace mu::engine
