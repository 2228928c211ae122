// Replicated records (encode/decode, malformed input) and the glue between the front end and
// the replication plane: ReplicatedKvHandler (propose, redirect) and KvStateMachine (apply,
// route replies by ticket, abandoned requests).
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <vector>

#include "apps/kv/kv_replicated.h"
#include "apps/kv/record.h"

namespace mu::kv {
namespace {

std::vector<uint8_t> encode(uint64_t now, int resp, std::vector<std::string> args) {
  Command argv(args.begin(), args.end());
  std::vector<uint8_t> out;
  encode_record(now, resp, argv, &out);
  return out;
}

TEST(Record, RoundTrip) {
  const std::string binary("\0\r\n\xff", 4);
  const auto bytes = encode(1'700'000'000'123, 3, {"SET", "key", binary, ""});
  EXPECT_EQ(bytes.size(), record_bytes(Command{"SET", "key", binary, ""}));
  EXPECT_EQ(bytes.size(), kRecordHeaderBytes + 4 * 4 + 3 + 3 + 4 + 0);
  Record r;
  ASSERT_EQ(decode_record(bytes.data(), bytes.size(), &r), RecordError::kNone);
  EXPECT_EQ(r.now_ms, 1'700'000'000'123u);
  EXPECT_EQ(r.resp_version, 3);
  ASSERT_EQ(r.argv.size(), 4u);
  EXPECT_EQ(r.argv[0], "SET");
  EXPECT_EQ(r.argv[2], binary);
  EXPECT_EQ(r.argv[3], "");
}

TEST(Record, EncodingIsLittleEndianAndStable) {
  const auto bytes = encode(0x0102030405060708ull, 2, {"GET", "k"});
  const std::vector<uint8_t> want = {8, 7, 6, 5, 4, 3, 2, 1, 2, 2, 0, 0, 0,
                                     3, 0, 0, 0, 'G', 'E', 'T', 1, 0, 0, 0, 'k'};
  EXPECT_EQ(bytes, want);
}

TEST(Record, EveryTruncationIsRejected) {
  const auto bytes = encode(42, 2, {"MSET", "a", "1", "b", "22"});
  for (size_t n = 0; n < bytes.size(); ++n) {
    Record r;
    EXPECT_NE(decode_record(bytes.data(), n, &r), RecordError::kNone) << n;
    EXPECT_TRUE(r.argv.empty()) << n;  // nothing half-decoded
  }
}

TEST(Record, MalformedHeadersAreRejected) {
  auto bytes = encode(42, 2, {"GET", "k"});
  Record r;
  auto with = [&](size_t at, uint8_t v) {
    auto b = bytes;
    b[at] = v;
    return decode_record(b.data(), b.size(), &r);
  };
  EXPECT_EQ(with(8, 1), RecordError::kBadVersion);
  EXPECT_EQ(with(8, 4), RecordError::kBadVersion);
  EXPECT_EQ(with(9, 0), RecordError::kNoArguments);
  EXPECT_EQ(with(9, 3), RecordError::kTruncated);
  EXPECT_EQ(with(12, 0xff), RecordError::kTooManyArguments);
  EXPECT_EQ(with(16, 0xff), RecordError::kTruncated);  // argument length far past the end
  auto longer = bytes;
  longer.push_back(0);
  EXPECT_EQ(decode_record(longer.data(), longer.size(), &r), RecordError::kTrailingBytes);
  // A length word near 2^32 must not wrap the bounds check.
  auto wrap = bytes;
  wrap[13] = wrap[14] = wrap[15] = wrap[16] = 0xff;
  EXPECT_EQ(decode_record(wrap.data(), wrap.size(), &r), RecordError::kTruncated);
}

TEST(Record, RandomBytesNeverCrash) {
  std::mt19937_64 rng(7);
  size_t accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    std::vector<uint8_t> b(rng() % 64);
    for (auto& x : b) x = static_cast<uint8_t>(rng() % 4 == 0 ? rng() : rng() % 4);
    if (b.size() > 8) b[8] = 2;
    Record r;
    if (decode_record(b.data(), b.size(), &r) == RecordError::kNone) {
      ++accepted;
      EXPECT_EQ(record_bytes(r.argv), b.size());
    }
  }
  (void)accepted;
}

// Collects what the state machine routes to the front end.
class FakeSink final : public ReplySink {
 public:
  bool complete(RequestId id, std::string reply) override {
    if (closed.count(id.connection)) return false;
    replies[id.ticket()] = std::move(reply);
    return true;
  }
  bool fail_pending(RequestId id) override {
    failed.push_back(id);
    return !closed.count(id.connection);
  }
  std::map<uint64_t, std::string> replies;
  std::vector<RequestId> failed;
  std::map<ConnectionId, bool> closed;
};

struct Proposed {
  std::vector<uint8_t> record;
  uint64_t ticket;
};

TEST(RequestId, TicketRoundTripIsNeverZero) {
  const RequestId id{7, 0xfffffffe};
  EXPECT_NE(id.ticket(), 0u);
  EXPECT_EQ(RequestId::from_ticket(id.ticket()), id);
  EXPECT_NE((RequestId{1, 0}).ticket(), 0u);
}

// A leader proposes through the handler; the log is applied on the leader (tickets) and on a
// follower (no tickets): replies reach the right requests, and both stores agree.
TEST(ReplicatedKv, LeaderRoutesRepliesAndReplicasAgree) {
  std::vector<Proposed> log;
  uint64_t clock = 1'000;
  ReplicatedKvHandler handler(
      {0, {"10.0.0.1:6379", "10.0.0.2:6379"}},
      [&](const void* p, uint32_t n, uint64_t ticket) {
        const auto* b = static_cast<const uint8_t*>(p);
        log.push_back({std::vector<uint8_t>(b, b + n), ticket});
        return core::ProposeResult{core::ProposeStatus::kQueued, 0u};
      },
      [&] { return clock; });
  const std::vector<std::vector<std::string>> commands = {
      {"SET", "k", "v", "PX", "100"}, {"GET", "k"}, {"INCR", "n"}, {"PTTL", "k"}, {"GET", "k"}};
  for (size_t i = 0; i < commands.size(); ++i) {
    Command argv(commands[i].begin(), commands[i].end());
    std::string reply;
    const CommandInfo* info = find_command(argv[0]);
    ASSERT_NE(info, nullptr);
    EXPECT_EQ(handler.handle(RequestId{5, static_cast<uint32_t>(i)}, *info, argv, 2, &reply),
              Disposition::kPending);
    EXPECT_TRUE(reply.empty());
    clock += 60;  // the last GET is stamped at 1240: past the expiry at 1100
  }
  ASSERT_EQ(log.size(), commands.size());
  EXPECT_EQ(handler.stats().proposed, commands.size());

  KvStore leader_store, follower_store;
  FakeSink leader_sink, follower_sink;
  KvStateMachine leader(&leader_store, &leader_sink), follower(&follower_store, &follower_sink);
  for (size_t i = 0; i < log.size(); ++i) {
    leader.apply(i, log[i].record.data(), static_cast<uint32_t>(log[i].record.size()),
                 log[i].ticket);
    follower.apply(i, log[i].record.data(), static_cast<uint32_t>(log[i].record.size()), 0);
  }
  EXPECT_TRUE(follower_sink.replies.empty());
  EXPECT_EQ(leader.stats().replies_routed, commands.size());
  EXPECT_EQ(leader_sink.replies[(RequestId{5, 0}).ticket()], "+OK\r\n");
  EXPECT_EQ(leader_sink.replies[(RequestId{5, 1}).ticket()], "$1\r\nv\r\n");
  EXPECT_EQ(leader_sink.replies[(RequestId{5, 2}).ticket()], ":1\r\n");
  EXPECT_EQ(leader_sink.replies[(RequestId{5, 3}).ticket()], ":-2\r\n");  // 1180: expired
  EXPECT_EQ(leader_sink.replies[(RequestId{5, 4}).ticket()], "$-1\r\n");
  EXPECT_EQ(leader_store.fingerprint(), follower_store.fingerprint());
  EXPECT_EQ(follower.stats().applied, commands.size());
}

TEST(ReplicatedKv, RepliesInTheClientsProtocol) {
  std::vector<Proposed> log;
  ReplicatedKvHandler handler(
      {0, {}},
      [&](const void* p, uint32_t n, uint64_t ticket) {
        const auto* b = static_cast<const uint8_t*>(p);
        log.push_back({std::vector<uint8_t>(b, b + n), ticket});
        return core::ProposeResult{core::ProposeStatus::kQueued, 0u};
      },
      [] { return uint64_t{1}; });
  Command argv{"GET", "missing"};
  std::string reply;
  handler.handle(RequestId{1, 1}, *find_command("get"), argv, 3, &reply);
  KvStore store;
  FakeSink sink;
  KvStateMachine m(&store, &sink);
  m.apply(0, log[0].record.data(), static_cast<uint32_t>(log[0].record.size()), log[0].ticket);
  EXPECT_EQ(sink.replies[(RequestId{1, 1}).ticket()], "_\r\n");
}

core::ProposeResult refuse(core::ProposeStatus s, std::optional<uint32_t> leader) {
  return {s, leader};
}

TEST(ReplicatedKv, FollowersRedirectToTheLeader) {
  std::optional<uint32_t> leader = 2;
  core::ProposeStatus status = core::ProposeStatus::kNotLeader;
  ReplicatedKvHandler handler(
      {1, {"10.0.0.1:7000", "10.0.0.2:7000", "10.0.0.3:7000"}},
      [&](const void*, uint32_t, uint64_t) { return refuse(status, leader); },
      [] { return uint64_t{1}; });
  auto run = [&](std::vector<std::string> args) {
    Command argv(args.begin(), args.end());
    std::string reply;
    EXPECT_EQ(handler.handle(RequestId{1, 0}, *find_command(argv[0]), argv, 2, &reply),
              Disposition::kReplied);
    return reply;
  };
  EXPECT_EQ(run({"SET", "a", "b"}), "-MOVED 0 10.0.0.3:7000\r\n");
  EXPECT_EQ(run({"GET", "a"}), "-MOVED 0 10.0.0.3:7000\r\n");  // reads too: see commands.h
  leader.reset();
  EXPECT_EQ(run({"GET", "a"}), "-CLUSTERDOWN no leader elected\r\n");
  leader = 7;
  EXPECT_EQ(run({"GET", "a"}),
            "-CLUSTERDOWN the leader is replica 7 but its address is unknown\r\n");
  status = core::ProposeStatus::kLogFull;
  EXPECT_EQ(run({"SET", "a", "b"}), "-TRYAGAIN replication log full, retry later\r\n");
  status = core::ProposeStatus::kTooLarge;
  EXPECT_EQ(run({"SET", "a", "b"}),
            "-ERR request too large for the replication log (30 bytes)\r\n");
  EXPECT_EQ(handler.stats().redirected, 2u);
  EXPECT_EQ(handler.stats().no_leader, 2u);
  EXPECT_EQ(handler.stats().log_full, 1u);
  EXPECT_EQ(handler.stats().too_large, 1u);
}

TEST(KvStateMachine, MalformedRecordIsCountedNotExecuted) {
  KvStore store;
  FakeSink sink;
  KvStateMachine m(&store, &sink);
  auto bytes = encode(1, 2, {"SET", "k", "v"});
  bytes.pop_back();
  m.apply(0, bytes.data(), static_cast<uint32_t>(bytes.size()), (RequestId{3, 9}).ticket());
  m.apply(1, bytes.data(), static_cast<uint32_t>(bytes.size()), 0);
  EXPECT_EQ(m.stats().malformed_records, 2u);
  EXPECT_EQ(m.stats().applied, 0u);
  EXPECT_EQ(store.stored_keys(), 0u);
  EXPECT_EQ(sink.replies[(RequestId{3, 9}).ticket()],
            "-ERR malformed replicated record: truncated\r\n");
}

TEST(KvStateMachine, RepliesForClosedConnectionsAreDroppedAndCounted) {
  KvStore store;
  FakeSink sink;
  sink.closed[4] = true;
  KvStateMachine m(&store, &sink);
  const auto bytes = encode(1, 2, {"SET", "k", "v"});
  m.apply(0, bytes.data(), static_cast<uint32_t>(bytes.size()), (RequestId{4, 1}).ticket());
  EXPECT_EQ(m.stats().replies_dropped, 1u);
  EXPECT_EQ(store.stored_keys(), 1u);  // applied all the same: it is in the log
  m.abandoned((RequestId{4, 2}).ticket());
  m.abandoned((RequestId{5, 1}).ticket());
  EXPECT_EQ(m.stats().abandoned, 2u);
  EXPECT_EQ(m.stats().replies_dropped, 2u);
  ASSERT_EQ(sink.failed.size(), 2u);
  EXPECT_EQ(sink.failed[1], (RequestId{5, 1}));
}

}  // namespace
}  // namespace mu::kv
