// RESP request parser and reply encoder: whole, fragmented and pipelined input, inline
// commands, every malformed case, limits that reject (connection kept) versus errors that close.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "apps/kv/resp.h"

namespace mu::kv {
namespace {

using Args = std::vector<std::string>;

std::string multibulk(const Args& args) {
  std::string s = "*" + std::to_string(args.size()) + "\r\n";
  for (const auto& a : args) s += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
  return s;
}

// What a connection would see: each event is a command, a rejection or a protocol error.
struct Event {
  ParseStatus status;
  Args argv;
  std::string error;
  bool operator==(const Event& o) const {
    return status == o.status && argv == o.argv && error == o.error;
  }
};

std::ostream& operator<<(std::ostream& os, const Event& e) {
  os << static_cast<int>(e.status) << " [";
  for (const auto& a : e.argv) os << a << ",";
  return os << "] " << e.error;
}

// Drives a parser like the server does: a buffer that receives `chunk` bytes at a time and
// loses `consumed` bytes after every call. Also records the largest buffer seen.
struct Feeder {
  RequestParser parser;
  std::string buffer;
  size_t max_buffered = 0;
  std::vector<Event> events;

  explicit Feeder(ParserLimits limits = {}) : parser(limits) {}

  void drain() {
    Command argv;
    for (;;) {
      ParseResult r = parser.parse(buffer, &argv);
      if (r.status == ParseStatus::kNeedMore) {
        buffer.erase(0, r.consumed);
        return;
      }
      Event e{r.status, {}, std::string(r.error)};
      if (r.status == ParseStatus::kCommand) {
        for (auto v : argv) e.argv.emplace_back(v);
      }
      events.push_back(e);
      if (r.status == ParseStatus::kProtocolError) return;
      buffer.erase(0, r.consumed);
    }
  }
  void feed(const std::string& bytes, size_t chunk) {
    for (size_t i = 0; i < bytes.size(); i += chunk) {
      buffer.append(bytes, i, chunk);
      max_buffered = std::max(max_buffered, buffer.size());
      drain();
      if (!events.empty() && events.back().status == ParseStatus::kProtocolError) return;
    }
  }
};

std::vector<Event> parse_all(const std::string& bytes, size_t chunk, ParserLimits limits = {}) {
  Feeder f(limits);
  f.feed(bytes, chunk);
  return f.events;
}

Event cmd(Args a) { return {ParseStatus::kCommand, std::move(a), ""}; }
Event rejected(std::string e) { return {ParseStatus::kRejected, {}, std::move(e)}; }
Event proto(std::string e) { return {ParseStatus::kProtocolError, {}, std::move(e)}; }

TEST(RespParser, OneMultibulkCommand) {
  RequestParser p;
  Command argv;
  const std::string in = multibulk({"SET", "key", "value"});
  ParseResult r = p.parse(in, &argv);
  ASSERT_EQ(r.status, ParseStatus::kCommand);
  EXPECT_EQ(r.consumed, in.size());
  ASSERT_EQ(argv.size(), 3u);
  EXPECT_EQ(argv[0], "SET");
  EXPECT_EQ(argv[2], "value");
  EXPECT_TRUE(p.idle());
}

TEST(RespParser, BinarySafeValues) {
  const std::string v("a\r\n\0b$*", 7);
  EXPECT_EQ(parse_all(multibulk({"SET", "k", v}), 1000),
            std::vector<Event>{cmd({"SET", "k", v})});
  EXPECT_EQ(parse_all(multibulk({"SET", "", ""}), 1000), std::vector<Event>{cmd({"SET", "", ""})});
}

TEST(RespParser, ByteByByteEqualsWholeForAMixedPipeline) {
  std::string in = multibulk({"SET", "a", "1"}) + "PING\r\n" + multibulk({"GET", "a"}) +
                   "\r\n\n" + "*0\r\n" + "SET b \"two words\"\n" + multibulk({"MGET", "a", "b"});
  const std::vector<Event> want = {cmd({"SET", "a", "1"}), cmd({"PING"}), cmd({"GET", "a"}),
                                   cmd({"SET", "b", "two words"}), cmd({"MGET", "a", "b"})};
  for (size_t chunk : {1, 2, 3, 5, 7, 64, 4096}) {
    EXPECT_EQ(parse_all(in, chunk), want) << "chunk " << chunk;
  }
}

TEST(RespParser, NothingIsConsumedUntilTheCommandIsWhole) {
  RequestParser p;
  Command argv;
  const std::string in = multibulk({"SET", "k", "v"});
  for (size_t n = 0; n < in.size(); ++n) {
    ParseResult r = p.parse(std::string_view(in).substr(0, n), &argv);
    ASSERT_EQ(r.status, ParseStatus::kNeedMore) << n;
    ASSERT_EQ(r.consumed, 0u) << n;  // the partial command stays in the caller's buffer
  }
  EXPECT_EQ(p.parse(in, &argv).status, ParseStatus::kCommand);
}

TEST(RespParser, EmptyMultibulksAreIgnored) {
  EXPECT_EQ(parse_all("*0\r\n*-1\r\n" + multibulk({"PING"}), 1000),
            std::vector<Event>{cmd({"PING"})});
}

TEST(RespParser, InlineQuoting) {
  EXPECT_EQ(parse_all("SET k \"a b\\n\\x41\\\"\"\r\n", 1000),
            std::vector<Event>{cmd({"SET", "k", "a b\nA\""})});
  EXPECT_EQ(parse_all("SET k 'it\\'s'\n", 1000), std::vector<Event>{cmd({"SET", "k", "it's"})});
  EXPECT_EQ(parse_all("  ECHO   \"\"  \r\n", 1000), std::vector<Event>{cmd({"ECHO", ""})});
  EXPECT_EQ(parse_all("\r\n\r\n   \r\nPING\r\n", 1), std::vector<Event>{cmd({"PING"})});
}

TEST(RespParser, MalformedInputIsAProtocolError) {
  struct Case {
    std::string input;
    std::string error;
  };
  const std::string big_line(40, '1');
  const std::vector<Case> cases = {
      {"*abc\r\n", "ERR Protocol error: invalid multibulk length"},
      {"*1x\r\n", "ERR Protocol error: invalid multibulk length"},
      {"*+1\r\n", "ERR Protocol error: invalid multibulk length"},
      {"*99999999999\r\n", "ERR Protocol error: invalid multibulk length"},
      {"*" + big_line, "ERR Protocol error: invalid multibulk length"},
      {"*2\r\n+foo\r\n", "ERR Protocol error: expected '$', got '+'"},
      {"*1\r\n\x01", "ERR Protocol error: expected '$', got '?'"},
      {"*1\r\n$abc\r\n", "ERR Protocol error: invalid bulk length"},
      {"*1\r\n$-5\r\n", "ERR Protocol error: invalid bulk length"},
      {"*1\r\n$-1\r\n", "ERR Protocol error: invalid bulk length"},
      {"*1\r\n$01\r\nx\r\n", "ERR Protocol error: invalid bulk length"},
      {"*1\r\n$ 1\r\nx\r\n", "ERR Protocol error: invalid bulk length"},
      {"*1\r\n$600000000\r\n", "ERR Protocol error: invalid bulk length"},
      {"*1\r\n$" + big_line, "ERR Protocol error: invalid bulk length"},
      {"*1\r\n$3\r\nfooXY", "ERR Protocol error: expected CRLF after bulk data"},
      {"*1\r\n$3\r\nfoo\n\r", "ERR Protocol error: expected CRLF after bulk data"},
      {"SET a \"b\r\n", "ERR Protocol error: unbalanced quotes in request"},
      {"SET a 'b\r\n", "ERR Protocol error: unbalanced quotes in request"},
      {"SET \"a\"b c\r\n", "ERR Protocol error: unbalanced quotes in request"},
      {std::string(70000, 'x'), "ERR Protocol error: too big inline request"},
      {std::string(70000, 'x') + "\n", "ERR Protocol error: too big inline request"},
  };
  for (const Case& c : cases) {
    for (size_t chunk : {size_t{1}, size_t{100000}}) {
      const auto events = parse_all(c.input, chunk);
      ASSERT_EQ(events.size(), 1u) << c.input.substr(0, 60);
      EXPECT_EQ(events[0], proto(c.error)) << c.input.substr(0, 60) << " chunk " << chunk;
    }
  }
}

TEST(RespParser, AValidCommandBeforeAProtocolErrorIsStillParsed) {
  EXPECT_EQ(parse_all(multibulk({"PING"}) + "*1\r\n$x\r\n" + multibulk({"PING"}), 1000),
            (std::vector<Event>{cmd({"PING"}), proto("ERR Protocol error: invalid bulk length")}));
}

TEST(RespParser, TheParserStaysFailedAfterAProtocolError) {
  RequestParser p;
  Command argv;
  ASSERT_EQ(p.parse("*x\r\n", &argv).status, ParseStatus::kProtocolError);
  EXPECT_EQ(p.parse(multibulk({"PING"}), &argv).status, ParseStatus::kProtocolError);
  p.reset();
  EXPECT_EQ(p.parse(multibulk({"PING"}), &argv).status, ParseStatus::kCommand);
}

TEST(RespParser, OversizedValueIsSkippedAndTheNextCommandWorks) {
  ParserLimits limits;
  limits.max_bulk_bytes = 8;
  const std::string in = multibulk({"SET", "k", std::string(20, 'v')}) + multibulk({"PING"});
  const std::vector<Event> want = {rejected("ERR value too large (20 bytes; the limit is 8)"),
                                   cmd({"PING"})};
  for (size_t chunk : {1, 3, 1000}) EXPECT_EQ(parse_all(in, chunk, limits), want) << chunk;
  // Exactly at the limit is fine.
  EXPECT_EQ(parse_all(multibulk({"SET", "k", std::string(8, 'v')}), 1000, limits),
            std::vector<Event>{cmd({"SET", "k", std::string(8, 'v')})});
}

TEST(RespParser, SkippingAHugeValueNeverBuffersIt) {
  ParserLimits limits;
  limits.max_bulk_bytes = 1024;
  Feeder f(limits);
  const std::string value(8 << 20, 'v');
  f.feed(multibulk({"SET", "k", value}) + multibulk({"GET", "k"}), 4096);
  EXPECT_EQ(f.events, (std::vector<Event>{
                          rejected("ERR value too large (8388608 bytes; the limit is 1024)"),
                          cmd({"GET", "k"})}));
  EXPECT_LE(f.max_buffered, 4096u + 64u);
}

TEST(RespParser, TooManyArgumentsIsRejectedNotFatal) {
  ParserLimits limits;
  limits.max_arguments = 3;
  const std::string in = multibulk({"MSET", "a", "1", "b", "2"}) + multibulk({"GET", "a"}) +
                         "MSET a 1 b 2\r\nPING\r\n";
  const std::vector<Event> want = {rejected("ERR too many arguments (5; the limit is 3)"),
                                   cmd({"GET", "a"}),
                                   rejected("ERR too many arguments (5; the limit is 3)"),
                                   cmd({"PING"})};
  for (size_t chunk : {1, 1000}) EXPECT_EQ(parse_all(in, chunk, limits), want);
}

TEST(RespParser, TooLargeCommandIsRejectedNotFatal) {
  ParserLimits limits;
  limits.max_command_bytes = 64;
  const std::string in =
      multibulk({"MSET", std::string(20, 'a'), std::string(20, 'b'), std::string(20, 'c')}) +
      multibulk({"PING"});
  EXPECT_EQ(parse_all(in, 1, limits),
            (std::vector<Event>{rejected("ERR request too large (more than 64 bytes)"),
                                cmd({"PING"})}));
}

TEST(RespParser, InlineLimitsReject) {
  ParserLimits limits;
  limits.max_bulk_bytes = 4;
  EXPECT_EQ(parse_all("SET k 123456\r\nPING\r\n", 1, limits),
            (std::vector<Event>{rejected("ERR value too large (6 bytes; the limit is 4)"),
                                cmd({"PING"})}));
}

TEST(RespParser, ArgvPointsIntoTheInputForMultibulk) {
  RequestParser p;
  Command argv;
  const std::string in = multibulk({"GET", "key"});
  ASSERT_EQ(p.parse(in, &argv).status, ParseStatus::kCommand);
  EXPECT_GE(argv[1].data(), in.data());
  EXPECT_LT(argv[1].data(), in.data() + in.size());
}

TEST(ParseInt64, RedisRules) {
  int64_t v = 0;
  EXPECT_TRUE(parse_int64("0", &v));
  EXPECT_EQ(v, 0);
  EXPECT_TRUE(parse_int64("-42", &v));
  EXPECT_EQ(v, -42);
  EXPECT_TRUE(parse_int64("9223372036854775807", &v));
  EXPECT_EQ(v, INT64_MAX);
  EXPECT_TRUE(parse_int64("-9223372036854775808", &v));
  EXPECT_EQ(v, INT64_MIN);
  for (const char* bad : {"", "-", "+1", " 1", "1 ", "01", "-0", "1.5", "9223372036854775808",
                          "-9223372036854775809", "99999999999999999999", "abc", "1e3"}) {
    EXPECT_FALSE(parse_int64(bad, &v)) << bad;
  }
}

TEST(ReplyWriter, Resp2) {
  std::string out;
  ReplyWriter w(&out, 2);
  w.ok();
  w.simple("PONG");
  w.error("ERR bad\r\nthing");
  w.integer(-7);
  w.bulk("");
  w.bulk(std::string("a\0b", 3));
  w.null();
  w.null_array();
  w.array(2);
  w.map(2);
  using namespace std::string_literals;
  EXPECT_EQ(out, "+OK\r\n+PONG\r\n-ERR bad  thing\r\n:-7\r\n$0\r\n\r\n$3\r\na\0b\r\n"
                 "$-1\r\n*-1\r\n*2\r\n*4\r\n"s);
}

TEST(ReplyWriter, Resp3) {
  std::string out;
  ReplyWriter w(&out, 3);
  w.null();
  w.null_array();
  w.map(3);
  w.array(0);
  w.integer(INT64_MIN);
  EXPECT_EQ(out, "_\r\n_\r\n%3\r\n*0\r\n:-9223372036854775808\r\n");
}

}  // namespace
}  // namespace mu::kv
