// RESP (the Redis serialization protocol, versions 2 and 3): an incremental request parser and a
// reply encoder. Pure byte-in/byte-out code: no sockets, no clock, no allocation beyond the
// parser's reusable buffers.
//
// Requests come in two shapes, both accepted as Redis does:
//   multibulk  "*<n>\r\n" then n times "$<len>\r\n<len bytes>\r\n"   (every client library)
//   inline     one line of space-separated words, with "..." and '...' quoting   (telnet, nc)
//
// Errors come in two strengths (DESIGN.md §3.7: "the connection stays usable where the protocol
// allows"):
//   kRejected       the command was framed correctly but breaks a limit (a value larger than
//                   max_bulk_bytes, too many arguments, a too-large command). Its bytes are
//                   skipped without being buffered, the client gets an error in its place in the
//                   pipeline, and the connection stays usable: the declared lengths tell exactly
//                   where the next command starts.
//   kProtocolError  the framing itself is broken (bad length, missing '$', unbalanced quotes, an
//                   endless line). Where the next command starts is unknown, so, as Redis does,
//                   the server replies with the error and closes the connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mu::kv {

// A command's arguments; argv[0] is the command name. Views into a buffer the caller owns.
using Argv = std::span<const std::string_view>;
using Command = std::vector<std::string_view>;

// Declared lengths above these are not "too large values" but garbage: a protocol error. They are
// Redis's own defaults (proto-max-bulk-len, the multibulk limit for unauthenticated clients).
constexpr uint64_t kMaxDeclaredBulkBytes = 512ull * 1024 * 1024;
constexpr uint64_t kMaxDeclaredArguments = 1024 * 1024;
// "*<n>\r\n" and "$<len>\r\n" lines: a sign, 20 digits and CRLF fit; anything longer is garbage.
constexpr size_t kMaxHeaderLineBytes = 32;

struct ParserLimits {
  uint32_t max_arguments = 64 * 1024;     // more: the command is skipped and rejected
  uint64_t max_bulk_bytes = 1024 * 1024;  // the value size limit; larger: skipped and rejected
  // Wire bytes of one multibulk command (framing included). Bounds the query buffer: a command
  // is only ever buffered whole when it fits. Larger: skipped and rejected.
  uint64_t max_command_bytes = 4 * 1024 * 1024;
  uint32_t max_inline_bytes = 64 * 1024;  // a longer inline line: protocol error (close)
};

enum class ParseStatus : uint8_t {
  kNeedMore,       // no complete command yet
  kCommand,        // *argv holds a complete command
  kRejected,       // a whole command was skipped; reply `error`, keep the connection
  kProtocolError,  // reply `error`, then close the connection
};

struct ParseResult {
  ParseStatus status = ParseStatus::kNeedMore;
  // Bytes at the front of the input the caller must drop before the next call (every status;
  // for kNeedMore these are skipped bytes of a rejected command or empty commands).
  size_t consumed = 0;
  // kRejected / kProtocolError: the whole error reply text, without '-' and CRLF
  // (e.g. "ERR Protocol error: invalid bulk length"). Valid until the next call.
  std::string_view error;
};

// Incremental: call parse() with all bytes not yet consumed, i.e. the previous input minus
// `consumed` plus whatever arrived since. The parser remembers how far it got, so feeding a
// command byte by byte costs O(length), not O(length²).
//
// On kCommand, argv's views point into `input` (multibulk) or into the parser (inline) and stay
// valid until the caller drops the consumed bytes or calls parse() again.
class RequestParser {
 public:
  explicit RequestParser(ParserLimits limits = {});

  ParseResult parse(std::string_view input, Command* argv);
  // Forget any partial command (the connection was reset).
  void reset();

  const ParserLimits& limits() const { return limits_; }
  // True when no partial command is held (all consumed bytes were whole commands).
  bool idle() const { return state_ == State::kIdle && pos_ == 0; }

 private:
  enum class State : uint8_t { kIdle, kCount, kBulkHeader, kBulkData, kInline, kFailed };

  ParseResult need_more();
  ParseResult protocol_error(std::string message);
  ParseResult reject();
  // nullopt: a blank line was skipped, go on.
  std::optional<ParseResult> parse_inline(std::string_view input, Command* argv);
  void doom(std::string message);
  void rebase(size_t dropped);

  ParserLimits limits_;
  State state_ = State::kIdle;
  // Offsets relative to the first byte of the current input.
  size_t start_ = 0;  // where the current command starts
  size_t pos_ = 0;    // next unparsed byte; start_ <= pos_
  size_t scan_ = 0;   // inline: bytes before this are known to hold no '\n'
  uint64_t expected_args_ = 0;
  uint64_t seen_args_ = 0;
  uint64_t bulk_bytes_ = 0;  // declared length of the bulk being read
  uint64_t skip_bytes_ = 0;  // doomed: bulk bytes (and CRLF) still to skip
  bool doomed_ = false;      // the current command breaks a limit; skipping it
  std::string error_;
  std::vector<std::pair<size_t, size_t>> args_;  // (offset, length) of each argument so far
  std::string inline_arena_;                     // inline arguments, unquoted
};

// Redis's string2ll rules: optional '-', digits, no '+', no leading zeros, no spaces, no overflow.
bool parse_int64(std::string_view s, int64_t* value);

// Splits an inline request line into arguments appended to *arena as (offset, length) pairs,
// honouring "double quotes" (with \n \r \t \b \a \\ \" \xHH escapes) and 'single quotes' (with \').
// False on unbalanced quotes or a closing quote not followed by a space.
bool split_inline(std::string_view line, std::string* arena,
                  std::vector<std::pair<size_t, size_t>>* args);

// Reply encoder for one connection's protocol version (2 or 3). Appends to *out.
// Error and simple-string texts must not contain CR or LF; they are replaced by spaces.
class ReplyWriter {
 public:
  ReplyWriter(std::string* out, int resp_version) : out_(out), resp3_(resp_version >= 3) {}

  void simple(std::string_view s);
  void ok() { out_->append("+OK\r\n"); }
  void error(std::string_view message);  // the full text, e.g. "ERR syntax error"
  void integer(int64_t v);
  void bulk(std::string_view s);
  void null();        // RESP2 "$-1", RESP3 "_"
  void null_array();  // RESP2 "*-1", RESP3 "_"
  void array(size_t elements);
  void map(size_t pairs);  // RESP3 "%", RESP2 a flat array of 2*pairs
  bool resp3() const { return resp3_; }
  std::string* out() { return out_; }

 private:
  void header(char type, uint64_t n);
  void line(char type, std::string_view s);
  std::string* out_;
  bool resp3_;
};

}  // namespace mu::kv
