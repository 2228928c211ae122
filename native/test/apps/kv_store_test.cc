// The KV state machine: Redis semantics of every command, expiry decided only by the now_ms
// passed in, validation before mutation, and determinism (same inputs, same replies and state).
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "apps/kv/kv_store.h"
#include "apps/kv/record.h"

namespace mu::kv {
namespace {

using namespace std::string_literals;

// Runs a command at time `now` (ms) and returns the encoded reply.
struct Store {
  KvStore store;
  uint64_t now = 1'000'000;
  int resp = 2;
  explicit Store(KvStoreLimits limits = {}) : store(limits) {}
  std::string operator()(std::vector<std::string> args) {
    Command argv(args.begin(), args.end());
    return store.execute(argv, now, resp);
  }
};

std::string bulk(const std::string& s) {
  return "$" + std::to_string(s.size()) + "\r\n" + s + "\r\n";
}
std::string integer(int64_t v) { return ":" + std::to_string(v) + "\r\n"; }
const std::string kOk = "+OK\r\n";
const std::string kNil = "$-1\r\n";
const std::string kNotInt = "-ERR value is not an integer or out of range\r\n";
const std::string kSyntax = "-ERR syntax error\r\n";

TEST(KvStore, GetSetDel) {
  Store s;
  EXPECT_EQ(s({"GET", "a"}), kNil);
  EXPECT_EQ(s({"SET", "a", "hello"}), kOk);
  EXPECT_EQ(s({"get", "a"}), bulk("hello"));
  EXPECT_EQ(s({"SET", "a", ""}), kOk);
  EXPECT_EQ(s({"GET", "a"}), bulk(""));
  EXPECT_EQ(s({"SET", "b", "x"}), kOk);
  EXPECT_EQ(s({"DEL", "a", "b", "c", "a"}), integer(2));
  EXPECT_EQ(s({"GET", "a"}), kNil);
}

TEST(KvStore, ExistsCountsRepeats) {
  Store s;
  s({"SET", "a", "1"});
  EXPECT_EQ(s({"EXISTS", "a", "a", "b"}), integer(2));
}

TEST(KvStore, SetNxXxGet) {
  Store s;
  EXPECT_EQ(s({"SET", "k", "1", "XX"}), kNil);
  EXPECT_EQ(s({"GET", "k"}), kNil);
  EXPECT_EQ(s({"SET", "k", "1", "NX"}), kOk);
  EXPECT_EQ(s({"SET", "k", "2", "nx"}), kNil);
  EXPECT_EQ(s({"GET", "k"}), bulk("1"));
  EXPECT_EQ(s({"SET", "k", "3", "XX"}), kOk);
  EXPECT_EQ(s({"SET", "k", "4", "GET"}), bulk("3"));
  EXPECT_EQ(s({"SET", "new", "v", "GET"}), kNil);
  EXPECT_EQ(s({"GET", "new"}), bulk("v"));
  // NX GET on an existing key: returns the old value, sets nothing (Redis 7).
  EXPECT_EQ(s({"SET", "k", "5", "NX", "GET"}), bulk("4"));
  EXPECT_EQ(s({"GET", "k"}), bulk("4"));
}

TEST(KvStore, SetSyntaxErrorsChangeNothing) {
  Store s;
  s({"SET", "k", "orig"});
  for (std::vector<std::string> bad : std::vector<std::vector<std::string>>{
           {"SET", "k", "v", "NX", "XX"},
           {"SET", "k", "v", "EX"},
           {"SET", "k", "v", "EX", "10", "PX", "100"},
           {"SET", "k", "v", "KEEPTTL", "EX", "10"},
           {"SET", "k", "v", "EX", "10", "KEEPTTL"},
           {"SET", "k", "v", "BOGUS"},
       }) {
    EXPECT_EQ(s(bad), kSyntax) << bad.back();
  }
  EXPECT_EQ(s({"SET", "k", "v", "EX", "ten"}), kNotInt);
  EXPECT_EQ(s({"SET", "k", "v", "EX", "0"}), "-ERR invalid expire time in 'set' command\r\n");
  EXPECT_EQ(s({"SET", "k", "v", "PX", "-5"}), "-ERR invalid expire time in 'set' command\r\n");
  EXPECT_EQ(s({"SET", "k", "v", "EX", "9223372036854775"}),
            "-ERR invalid expire time in 'set' command\r\n");  // overflows as ms + now
  EXPECT_EQ(s({"SET", "k", "v", "EX", "9223372036854776"}),
            "-ERR invalid expire time in 'set' command\r\n");  // overflows as ms
  EXPECT_EQ(s({"GET", "k"}), bulk("orig"));
  EXPECT_EQ(s({"TTL", "k"}), integer(-1));
}

TEST(KvStore, SetExpiryOptions) {
  Store s;
  s.now = 10'000;
  EXPECT_EQ(s({"SET", "ex", "v", "EX", "10"}), kOk);
  EXPECT_EQ(s({"SET", "px", "v", "PX", "1500"}), kOk);
  EXPECT_EQ(s({"SET", "exat", "v", "EXAT", "30"}), kOk);
  EXPECT_EQ(s({"SET", "pxat", "v", "PXAT", "12345"}), kOk);
  EXPECT_EQ(s({"PTTL", "ex"}), integer(10'000));
  EXPECT_EQ(s({"PTTL", "px"}), integer(1'500));
  EXPECT_EQ(s({"PTTL", "exat"}), integer(20'000));
  EXPECT_EQ(s({"PTTL", "pxat"}), integer(2'345));
  EXPECT_EQ(s({"TTL", "px"}), integer(2));  // 1.5 s rounds to 2, as Redis
  // A plain SET clears the TTL; KEEPTTL keeps it.
  EXPECT_EQ(s({"SET", "ex", "w", "KEEPTTL"}), kOk);
  EXPECT_EQ(s({"PTTL", "ex"}), integer(10'000));
  EXPECT_EQ(s({"SET", "ex", "w"}), kOk);
  EXPECT_EQ(s({"PTTL", "ex"}), integer(-1));
  // An absolute time in the past: the key is set and gone at once.
  EXPECT_EQ(s({"SET", "pxat", "v", "PXAT", "5"}), kOk);
  EXPECT_EQ(s({"EXISTS", "pxat"}), integer(0));
}

TEST(KvStore, ExpiryUsesOnlyTheGivenTime) {
  Store s;
  s.now = 1000;
  s({"SET", "k", "v", "PX", "100"});
  s.now = 1099;
  EXPECT_EQ(s({"GET", "k"}), bulk("v"));
  EXPECT_EQ(s({"PTTL", "k"}), integer(1));
  s.now = 1100;
  EXPECT_EQ(s({"GET", "k"}), kNil);
  EXPECT_EQ(s({"TTL", "k"}), integer(-2));
  EXPECT_EQ(s({"EXISTS", "k"}), integer(0));
}

TEST(KvStore, TimeNeverGoesBackwards) {
  Store s;
  s.now = 5000;
  s({"SET", "k", "v", "PX", "100"});
  s.now = 6000;
  EXPECT_EQ(s({"PTTL", "nothing"}), integer(-2));  // the store has now seen t=6000
  s.now = 5050;  // a new leader whose clock is behind: the key stays expired
  EXPECT_EQ(s({"GET", "k"}), kNil);
  EXPECT_EQ(s.store.now_ms(), 6000u);
}

TEST(KvStore, ExpiredKeysDisappearFromDbsizeAndKeys) {
  Store s;
  s.now = 100;
  s({"SET", "a", "1", "PX", "10"});
  s({"SET", "b", "1", "PX", "20"});
  s({"SET", "c", "1"});
  EXPECT_EQ(s({"DBSIZE"}), integer(3));
  s.now = 115;
  EXPECT_EQ(s({"DBSIZE"}), integer(2));
  EXPECT_EQ(s({"KEYS", "*"}), "*2\r\n" + bulk("b") + bulk("c"));
  s.now = 120;
  EXPECT_EQ(s({"KEYS", "*"}), "*1\r\n" + bulk("c"));
  EXPECT_EQ(s.store.keys_with_expiry(), 0u);
}

TEST(KvStore, ActiveExpiryReclaimsWithoutAccess) {
  KvStoreLimits limits;
  limits.active_expire_per_command = 4;
  Store s(limits);
  s.now = 0;
  for (int i = 0; i < 10; ++i) s({"SET", "k" + std::to_string(i), "v", "PX", "5"});
  s({"SET", "keep", "v"});
  EXPECT_EQ(s.store.stored_keys(), 11u);
  s.now = 10;
  s({"PING"});
  EXPECT_EQ(s.store.stored_keys(), 7u);  // 4 reclaimed by one command
  s({"PING"});
  s({"PING"});
  EXPECT_EQ(s.store.stored_keys(), 1u);
  EXPECT_EQ(s.store.stats().expired_keys, 10u);
}

TEST(KvStore, IncrFamily) {
  Store s;
  EXPECT_EQ(s({"INCR", "n"}), integer(1));
  EXPECT_EQ(s({"INCRBY", "n", "41"}), integer(42));
  EXPECT_EQ(s({"DECR", "n"}), integer(41));
  EXPECT_EQ(s({"DECRBY", "n", "50"}), integer(-9));
  EXPECT_EQ(s({"GET", "n"}), bulk("-9"));
  EXPECT_EQ(s({"INCRBY", "n", "x"}), kNotInt);
  EXPECT_EQ(s({"INCRBY", "n", "1.5"}), kNotInt);
  s({"SET", "s", "abc"});
  EXPECT_EQ(s({"INCR", "s"}), kNotInt);
  s({"SET", "s", " 1"});
  EXPECT_EQ(s({"INCR", "s"}), kNotInt);
  s({"SET", "s", "+1"});
  EXPECT_EQ(s({"INCR", "s"}), kNotInt);
  s({"SET", "s", "007"});
  EXPECT_EQ(s({"INCR", "s"}), kNotInt);
  EXPECT_EQ(s({"GET", "s"}), bulk("007"));
}

TEST(KvStore, IncrOverflowChangesNothing) {
  Store s;
  s({"SET", "n", "9223372036854775807"});
  EXPECT_EQ(s({"INCR", "n"}), "-ERR increment or decrement would overflow\r\n");
  EXPECT_EQ(s({"GET", "n"}), bulk("9223372036854775807"));
  s({"SET", "m", "-9223372036854775808"});
  EXPECT_EQ(s({"DECR", "m"}), "-ERR increment or decrement would overflow\r\n");
  EXPECT_EQ(s({"DECRBY", "x", "-9223372036854775808"}), "-ERR decrement would overflow\r\n");
  EXPECT_EQ(s({"EXISTS", "x"}), integer(0));
  EXPECT_EQ(s({"INCRBY", "m", "9223372036854775807"}), integer(-1));
}

TEST(KvStore, IncrAndAppendKeepTheTtl) {
  Store s;
  s.now = 0;
  s({"SET", "n", "1", "PX", "1000"});
  s({"INCR", "n"});
  EXPECT_EQ(s({"PTTL", "n"}), integer(1000));
  s({"APPEND", "n", "0"});
  EXPECT_EQ(s({"GET", "n"}), bulk("20"));
  EXPECT_EQ(s({"PTTL", "n"}), integer(1000));
}

TEST(KvStore, MgetMset) {
  Store s;
  EXPECT_EQ(s({"MSET", "a", "1", "b", "2"}), kOk);
  EXPECT_EQ(s({"MGET", "a", "nope", "b"}), "*3\r\n" + bulk("1") + kNil + bulk("2"));
  s.resp = 3;
  EXPECT_EQ(s({"MGET", "a", "nope"}), "*2\r\n" + bulk("1") + "_\r\n");
  s.resp = 2;
  // Odd arguments: an arity error and nothing written.
  EXPECT_EQ(s({"MSET", "c", "3", "d"}), "-ERR wrong number of arguments for 'mset' command\r\n");
  EXPECT_EQ(s({"EXISTS", "c", "d"}), integer(0));
  EXPECT_EQ(s({"MSET", "a", "x", "a", "y"}), kOk);  // the last one wins
  EXPECT_EQ(s({"GET", "a"}), bulk("y"));
  EXPECT_EQ(s({"MSETNX", "a", "1", "z", "1"}), integer(0));
  EXPECT_EQ(s({"EXISTS", "z"}), integer(0));
  EXPECT_EQ(s({"MSETNX", "y", "1", "z", "1"}), integer(1));
}

TEST(KvStore, AppendStrlen) {
  Store s;
  EXPECT_EQ(s({"STRLEN", "a"}), integer(0));
  EXPECT_EQ(s({"APPEND", "a", "Hello"}), integer(5));
  EXPECT_EQ(s({"APPEND", "a", " World"}), integer(11));
  EXPECT_EQ(s({"STRLEN", "a"}), integer(11));
  EXPECT_EQ(s({"GET", "a"}), bulk("Hello World"));
}

TEST(KvStore, AppendBeyondTheValueLimitChangesNothing) {
  KvStoreLimits limits;
  limits.max_value_bytes = 8;
  Store s(limits);
  s({"SET", "a", "12345"});
  EXPECT_EQ(s({"APPEND", "a", "6789"}),
            "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n");
  EXPECT_EQ(s({"GET", "a"}), bulk("12345"));
  EXPECT_EQ(s({"APPEND", "a", "678"}), integer(8));
}

TEST(KvStore, GetsetGetdel) {
  Store s;
  s.now = 0;
  EXPECT_EQ(s({"GETSET", "a", "1"}), kNil);
  s({"PEXPIRE", "a", "100"});
  EXPECT_EQ(s({"GETSET", "a", "2"}), bulk("1"));
  EXPECT_EQ(s({"TTL", "a"}), integer(-1));  // GETSET clears the TTL
  EXPECT_EQ(s({"GETDEL", "a"}), bulk("2"));
  EXPECT_EQ(s({"GETDEL", "a"}), kNil);
  EXPECT_EQ(s({"EXISTS", "a"}), integer(0));
}

TEST(KvStore, SetexPsetexSetnx) {
  Store s;
  s.now = 0;
  EXPECT_EQ(s({"SETEX", "a", "10", "v"}), kOk);
  EXPECT_EQ(s({"PTTL", "a"}), integer(10'000));
  EXPECT_EQ(s({"PSETEX", "b", "10", "v"}), kOk);
  EXPECT_EQ(s({"PTTL", "b"}), integer(10));
  EXPECT_EQ(s({"SETEX", "c", "0", "v"}), "-ERR invalid expire time in 'setex' command\r\n");
  EXPECT_EQ(s({"SETEX", "c", "x", "v"}), kNotInt);
  EXPECT_EQ(s({"SETNX", "a", "w"}), integer(0));
  EXPECT_EQ(s({"SETNX", "c", "w"}), integer(1));
}

TEST(KvStore, ExpireTtlPersist) {
  Store s;
  s.now = 1'000;
  EXPECT_EQ(s({"EXPIRE", "a", "10"}), integer(0));  // no such key
  s({"SET", "a", "v"});
  EXPECT_EQ(s({"TTL", "a"}), integer(-1));
  EXPECT_EQ(s({"EXPIRE", "a", "10"}), integer(1));
  EXPECT_EQ(s({"TTL", "a"}), integer(10));
  EXPECT_EQ(s({"PTTL", "a"}), integer(10'000));
  EXPECT_EQ(s({"PEXPIRE", "a", "2500"}), integer(1));
  EXPECT_EQ(s({"TTL", "a"}), integer(3));
  EXPECT_EQ(s({"PERSIST", "a"}), integer(1));
  EXPECT_EQ(s({"PERSIST", "a"}), integer(0));
  EXPECT_EQ(s({"TTL", "a"}), integer(-1));
  EXPECT_EQ(s({"EXPIREAT", "a", "100"}), integer(1));  // 100 s since the epoch > 1 s now
  EXPECT_EQ(s({"PTTL", "a"}), integer(99'000));
  EXPECT_EQ(s({"PEXPIREAT", "a", "1500"}), integer(1));
  EXPECT_EQ(s({"PTTL", "a"}), integer(500));
  // Zero or negative: the key is deleted.
  EXPECT_EQ(s({"EXPIRE", "a", "-1"}), integer(1));
  EXPECT_EQ(s({"EXISTS", "a"}), integer(0));
  EXPECT_EQ(s({"EXPIRE", "a", "x"}), kNotInt);
  s({"SET", "a", "v"});
  EXPECT_EQ(s({"EXPIRE", "a", "9223372036854775807"}),
            "-ERR invalid expire time in 'expire' command\r\n");
  EXPECT_EQ(s({"PEXPIRE", "a", "9223372036854775807"}),
            "-ERR invalid expire time in 'pexpire' command\r\n");
  EXPECT_EQ(s({"TTL", "a"}), integer(-1));
}

TEST(KvStore, ExpireConditions) {
  Store s;
  s.now = 0;
  s({"SET", "a", "v"});
  EXPECT_EQ(s({"EXPIRE", "a", "10", "XX"}), integer(0));
  EXPECT_EQ(s({"EXPIRE", "a", "10", "GT"}), integer(0));  // no TTL counts as infinite
  EXPECT_EQ(s({"EXPIRE", "a", "10", "NX"}), integer(1));
  EXPECT_EQ(s({"EXPIRE", "a", "20", "NX"}), integer(0));
  EXPECT_EQ(s({"EXPIRE", "a", "5", "GT"}), integer(0));
  EXPECT_EQ(s({"EXPIRE", "a", "20", "gt"}), integer(1));
  EXPECT_EQ(s({"EXPIRE", "a", "30", "LT"}), integer(0));
  EXPECT_EQ(s({"EXPIRE", "a", "15", "LT", "XX"}), integer(1));
  EXPECT_EQ(s({"TTL", "a"}), integer(15));
  EXPECT_EQ(s({"EXPIRE", "a", "1", "NX", "XX"}),
            "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n");
  EXPECT_EQ(s({"EXPIRE", "a", "1", "GT", "LT"}),
            "-ERR GT and LT options at the same time are not compatible\r\n");
  EXPECT_EQ(s({"EXPIRE", "a", "1", "SOON"}), "-ERR Unsupported option SOON\r\n");
  EXPECT_EQ(s({"TTL", "a"}), integer(15));
  s({"PERSIST", "a"});
  EXPECT_EQ(s({"EXPIRE", "a", "10", "LT"}), integer(1));  // infinite > 10
}

TEST(KvStore, TypeKeysFlush) {
  Store s;
  s({"MSET", "user:1", "a", "user:2", "b", "order:1", "c", "u", "d"});
  EXPECT_EQ(s({"TYPE", "user:1"}), "+string\r\n");
  EXPECT_EQ(s({"TYPE", "none"}), "+none\r\n");
  EXPECT_EQ(s({"KEYS", "user:*"}), "*2\r\n" + bulk("user:1") + bulk("user:2"));
  EXPECT_EQ(s({"KEYS", "*:1"}), "*2\r\n" + bulk("order:1") + bulk("user:1"));
  EXPECT_EQ(s({"KEYS", "?"}), "*1\r\n" + bulk("u"));
  EXPECT_EQ(s({"DBSIZE"}), integer(4));
  EXPECT_EQ(s({"FLUSHALL", "NOW"}), kSyntax);
  EXPECT_EQ(s({"DBSIZE"}), integer(4));
  EXPECT_EQ(s({"FLUSHDB", "ASYNC"}), kOk);
  EXPECT_EQ(s({"DBSIZE"}), integer(0));
  s({"SET", "a", "1", "EX", "5"});
  EXPECT_EQ(s({"FLUSHALL"}), kOk);
  EXPECT_EQ(s.store.keys_with_expiry(), 0u);
}

TEST(KvStore, PingEchoAndErrors) {
  Store s;
  EXPECT_EQ(s({"PING"}), "+PONG\r\n");
  EXPECT_EQ(s({"PING", "hi"}), bulk("hi"));
  EXPECT_EQ(s({"ECHO", "x y"}), bulk("x y"));
  EXPECT_EQ(s({"GET"}), "-ERR wrong number of arguments for 'get' command\r\n");
  EXPECT_EQ(s({"Get", "a", "b"}), "-ERR wrong number of arguments for 'get' command\r\n");
  EXPECT_EQ(s({"FOO", "a", "b"}),
            "-ERR unknown command 'FOO', with args beginning with: 'a' 'b' \r\n");
  EXPECT_EQ(s({"FOO"}), "-ERR unknown command 'FOO', with args beginning with: \r\n");
  EXPECT_EQ(s.store.stats().errors, 4u);
}

TEST(Glob, RedisPatterns) {
  EXPECT_TRUE(glob_match("*", ""));
  EXPECT_TRUE(glob_match("h?llo", "hello"));
  EXPECT_FALSE(glob_match("h?llo", "hllo"));
  EXPECT_TRUE(glob_match("h*llo", "heeeello"));
  EXPECT_TRUE(glob_match("h[ae]llo", "hallo"));
  EXPECT_FALSE(glob_match("h[ae]llo", "hillo"));
  EXPECT_TRUE(glob_match("h[^e]llo", "hallo"));
  EXPECT_FALSE(glob_match("h[^e]llo", "hello"));
  EXPECT_TRUE(glob_match("h[a-b]llo", "hbllo"));
  EXPECT_TRUE(glob_match("h[b-a]llo", "hallo"));
  EXPECT_TRUE(glob_match("h\\*llo", "h*llo"));
  EXPECT_FALSE(glob_match("h\\*llo", "hello"));
  EXPECT_TRUE(glob_match("*a*b*c*", "xxaxxbxxcxx"));
  EXPECT_FALSE(glob_match("*a*b*c*", "xxaxxcxxbxx"));
  EXPECT_TRUE(glob_match("a*", "a"));
  EXPECT_FALSE(glob_match("a", "ab"));
  // No exponential backtracking.
  EXPECT_FALSE(glob_match("*a*a*a*a*a*a*a*a*a*a*b", std::string(5000, 'a')));
}

// Random traffic over a small key space, including expiry and errors.
std::vector<std::vector<std::string>> random_commands(uint64_t seed, size_t n) {
  std::mt19937_64 rng(seed);
  auto key = [&] { return "k" + std::to_string(rng() % 8); };
  auto num = [&] { return std::to_string(static_cast<int64_t>(rng() % 200) - 50); };
  std::vector<std::vector<std::string>> out;
  for (size_t i = 0; i < n; ++i) {
    switch (rng() % 16) {
      case 0: out.push_back({"SET", key(), num()}); break;
      case 1: out.push_back({"SET", key(), "v" + num(), "PX", std::to_string(rng() % 50 + 1)});
        break;
      case 2: out.push_back({"GET", key()}); break;
      case 3: out.push_back({"INCRBY", key(), num()}); break;
      case 4: out.push_back({"DEL", key(), key()}); break;
      case 5: out.push_back({"APPEND", key(), "x"}); break;
      case 6: out.push_back({"PEXPIRE", key(), num()}); break;
      case 7: out.push_back({"PTTL", key()}); break;
      case 8: out.push_back({"MSET", key(), num(), key(), num()}); break;
      case 9: out.push_back({"MGET", key(), key(), key()}); break;
      case 10: out.push_back({"GETDEL", key()}); break;
      case 11: out.push_back({"SET", key(), num(), "NX", "GET"}); break;
      case 12: out.push_back({"PERSIST", key()}); break;
      case 13: out.push_back({"DBSIZE"}); break;
      case 14: out.push_back({"KEYS", "k[0-3]"}); break;
      default: out.push_back({"EXPIRE", key(), num(), "GT"}); break;
    }
  }
  return out;
}

TEST(KvStore, DeterministicGivenTheSameRecords) {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    const auto commands = random_commands(seed, 2000);
    std::mt19937_64 rng(seed * 7919);
    // The leader encodes records with its clock; both replicas decode and execute them.
    std::vector<std::vector<uint8_t>> records;
    uint64_t now = 1'700'000'000'000;
    for (const auto& c : commands) {
      now += rng() % 7;
      Command argv(c.begin(), c.end());
      records.emplace_back();
      encode_record(now, 2 + static_cast<int>(rng() % 2), argv, &records.back());
    }
    KvStore a, b;
    std::string replies_a, replies_b;
    for (const auto& r : records) {
      Record ra, rb;
      ASSERT_EQ(decode_record(r.data(), r.size(), &ra), RecordError::kNone);
      ASSERT_EQ(decode_record(r.data(), r.size(), &rb), RecordError::kNone);
      a.execute(ra.argv, ra.now_ms, ra.resp_version, &replies_a);
      b.execute(rb.argv, rb.now_ms, rb.resp_version, &replies_b);
    }
    EXPECT_EQ(replies_a, replies_b) << "seed " << seed;
    EXPECT_EQ(a.snapshot(), b.snapshot()) << "seed " << seed;
    EXPECT_EQ(a.fingerprint(), b.fingerprint()) << "seed " << seed;
    EXPECT_EQ(a.stored_keys(), b.stored_keys());
    EXPECT_EQ(a.keys_with_expiry(), b.keys_with_expiry());
  }
}

// State transfer: a replica that loads another's saved state midway continues exactly like it
// (same replies, same state, expired-but-not-reclaimed keys and the clock included).
TEST(KvStore, LoadedStateContinuesLikeTheOriginal) {
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    const auto commands = random_commands(seed, 2000);
    std::mt19937_64 rng(seed * 31);
    uint64_t now = 1'700'000'000'000;
    KvStore a, c;
    std::string replies_a, replies_c;
    for (size_t k = 0; k < commands.size(); ++k) {
      now += rng() % 7;
      Command argv(commands[k].begin(), commands[k].end());
      if (k == 1000) {
        std::vector<uint8_t> state;
        a.save_state(&state);
        ASSERT_TRUE(c.load_state(state.data(), state.size())) << "seed " << seed;
        EXPECT_EQ(c.stored_keys(), a.stored_keys());
        EXPECT_EQ(c.now_ms(), a.now_ms());
      }
      if (k >= 1000) c.execute(argv, now, 2, &replies_c);
      std::string reply;
      a.execute(argv, now, 2, &reply);
      if (k >= 1000) replies_a += reply;
    }
    EXPECT_EQ(replies_c, replies_a) << "seed " << seed;
    EXPECT_EQ(c.fingerprint(), a.fingerprint()) << "seed " << seed;
    EXPECT_EQ(c.stored_keys(), a.stored_keys());
    EXPECT_EQ(c.keys_with_expiry(), a.keys_with_expiry());
  }
}

TEST(KvStore, MalformedStateIsRefusedAndChangesNothing) {
  Store a;
  a({"SET", "k", "v"});
  a({"SET", "t", "1", "PX", "500"});
  std::vector<uint8_t> state;
  a.store.save_state(&state);
  Store b;
  b({"SET", "mine", "x"});
  const uint64_t before = b.store.fingerprint();
  for (size_t cut : {size_t{0}, size_t{7}, state.size() / 2, state.size() - 1}) {
    EXPECT_FALSE(b.store.load_state(state.data(), cut)) << cut;
  }
  std::vector<uint8_t> longer = state;
  longer.push_back(0);
  EXPECT_FALSE(b.store.load_state(longer.data(), longer.size()));
  EXPECT_EQ(b.store.fingerprint(), before);
  EXPECT_EQ(b({"GET", "mine"}), bulk("x"));
  ASSERT_TRUE(b.store.load_state(state.data(), state.size()));
  EXPECT_EQ(b({"GET", "k"}), bulk("v"));
  EXPECT_EQ(b({"GET", "mine"}), "$-1\r\n");
  EXPECT_EQ(b({"PTTL", "t"}), ":500\r\n");
}

TEST(KvStore, FingerprintSeesValuesAndExpiry) {
  Store a, b;
  a({"SET", "k", "v"});
  b({"SET", "k", "v"});
  EXPECT_EQ(a.store.fingerprint(), b.store.fingerprint());
  b({"PEXPIRE", "k", "100000"});
  EXPECT_NE(a.store.fingerprint(), b.store.fingerprint());
}

}  // namespace
}  // namespace mu::kv
