#include "apps/kv/resp.h"

#include <algorithm>
#include <cassert>
#include <charconv>
#include <optional>

namespace mu::kv {

bool parse_int64(std::string_view s, int64_t* value) {
  if (s.empty() || s.size() > 20) return false;
  size_t i = 0;
  const bool negative = s[0] == '-';
  if (negative) {
    i = 1;
    if (s.size() == 1) return false;
  }
  // No leading zeros ("0" alone is fine, "-0" is not): one spelling per number.
  if (s[i] == '0') {
    if (s.size() == 1) {
      *value = 0;
      return true;
    }
    return false;
  }
  uint64_t magnitude = 0;
  for (; i < s.size(); ++i) {
    const char c = s[i];
    if (c < '0' || c > '9') return false;
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    if (magnitude > (UINT64_MAX - digit) / 10) return false;
    magnitude = magnitude * 10 + digit;
  }
  constexpr uint64_t kMaxPositive = static_cast<uint64_t>(INT64_MAX);
  if (negative) {
    if (magnitude > kMaxPositive + 1) return false;
    *value = magnitude == kMaxPositive + 1 ? INT64_MIN : -static_cast<int64_t>(magnitude);
  } else {
    if (magnitude > kMaxPositive) return false;
    *value = static_cast<int64_t>(magnitude);
  }
  return true;
}

namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

// Finds "\r\n" at or after `from`; returns the offset of '\r' or npos.
size_t find_crlf(std::string_view in, size_t from) {
  for (size_t i = from; i + 1 < in.size(); ++i) {
    if (in[i] == '\r' && in[i + 1] == '\n') return i;
  }
  return std::string_view::npos;
}

}  // namespace

bool split_inline(std::string_view line, std::string* arena,
                  std::vector<std::pair<size_t, size_t>>* args) {
  size_t i = 0;
  const size_t n = line.size();
  while (true) {
    while (i < n && is_space(line[i])) ++i;
    if (i == n) return true;
    const size_t begin = arena->size();
    bool in_double = false;
    bool in_single = false;
    bool done = false;
    while (!done) {
      if (in_double) {
        if (i == n) return false;  // unterminated "
        const char c = line[i];
        if (c == '\\' && i + 3 < n && line[i + 1] == 'x' && hex_digit(line[i + 2]) >= 0 &&
            hex_digit(line[i + 3]) >= 0) {
          arena->push_back(static_cast<char>(hex_digit(line[i + 2]) * 16 + hex_digit(line[i + 3])));
          i += 4;
        } else if (c == '\\' && i + 1 < n) {
          char e = line[i + 1];
          switch (e) {
            case 'n': e = '\n'; break;
            case 'r': e = '\r'; break;
            case 't': e = '\t'; break;
            case 'b': e = '\b'; break;
            case 'a': e = '\a'; break;
            default: break;  // \\ \" and any other char stand for themselves
          }
          arena->push_back(e);
          i += 2;
        } else if (c == '"') {
          // A closing quote must end the word.
          if (i + 1 < n && !is_space(line[i + 1])) return false;
          ++i;
          done = true;
        } else {
          arena->push_back(c);
          ++i;
        }
      } else if (in_single) {
        if (i == n) return false;  // unterminated '
        const char c = line[i];
        if (c == '\\' && i + 1 < n && line[i + 1] == '\'') {
          arena->push_back('\'');
          i += 2;
        } else if (c == '\'') {
          if (i + 1 < n && !is_space(line[i + 1])) return false;
          ++i;
          done = true;
        } else {
          arena->push_back(c);
          ++i;
        }
      } else {
        if (i == n || is_space(line[i])) {
          done = true;
        } else if (line[i] == '"') {
          in_double = true;
          ++i;
        } else if (line[i] == '\'') {
          in_single = true;
          ++i;
        } else {
          arena->push_back(line[i]);
          ++i;
        }
      }
    }
    args->emplace_back(begin, arena->size() - begin);
  }
}

RequestParser::RequestParser(ParserLimits limits) : limits_(limits) {
  assert(limits_.max_arguments > 0);
  assert(limits_.max_bulk_bytes <= kMaxDeclaredBulkBytes);
}

void RequestParser::reset() {
  state_ = State::kIdle;
  start_ = pos_ = scan_ = 0;
  expected_args_ = seen_args_ = bulk_bytes_ = skip_bytes_ = 0;
  doomed_ = false;
  error_.clear();
  args_.clear();
}

void RequestParser::rebase(size_t dropped) {
  assert(dropped <= pos_);
  pos_ -= dropped;
  start_ = start_ >= dropped ? start_ - dropped : 0;
  scan_ = scan_ >= dropped ? scan_ - dropped : 0;
  for (auto& a : args_) {
    assert(a.first >= dropped);
    a.first -= dropped;
  }
}

ParseResult RequestParser::need_more() {
  // Idle or skipping a doomed command: nothing scanned so far is needed again. Otherwise the
  // partial command from start_ on stays in the caller's buffer.
  const size_t dropped = (state_ == State::kIdle || doomed_) ? pos_ : start_;
  if (doomed_) start_ = pos_;
  rebase(dropped);
  return {ParseStatus::kNeedMore, dropped, {}};
}

ParseResult RequestParser::protocol_error(std::string message) {
  state_ = State::kFailed;
  error_ = std::move(message);
  args_.clear();
  return {ParseStatus::kProtocolError, 0, error_};
}

void RequestParser::doom(std::string message) {
  if (doomed_) return;  // the first limit broken is the one reported
  doomed_ = true;
  error_ = std::move(message);
  args_.clear();
}

ParseResult RequestParser::reject() {
  const size_t consumed = pos_;
  state_ = State::kIdle;
  doomed_ = false;
  start_ = pos_ = scan_ = 0;
  args_.clear();
  return {ParseStatus::kRejected, consumed, error_};
}

ParseResult RequestParser::parse(std::string_view in, Command* argv) {
  if (state_ == State::kFailed) return {ParseStatus::kProtocolError, 0, error_};
  assert(pos_ <= in.size());
  for (;;) {
    switch (state_) {
      case State::kFailed:
        return {ParseStatus::kProtocolError, 0, error_};

      case State::kIdle: {
        if (pos_ >= in.size()) return need_more();
        start_ = pos_;
        if (in[pos_] == '*') {
          ++pos_;
          state_ = State::kCount;
        } else {
          scan_ = pos_;
          state_ = State::kInline;
        }
        break;
      }

      case State::kCount: {
        const size_t cr = find_crlf(in, pos_);
        if (cr == std::string_view::npos) {
          if (in.size() - pos_ > kMaxHeaderLineBytes) {
            return protocol_error("ERR Protocol error: invalid multibulk length");
          }
          return need_more();
        }
        int64_t count = 0;
        if (!parse_int64(in.substr(pos_, cr - pos_), &count) ||
            count > static_cast<int64_t>(kMaxDeclaredArguments)) {
          return protocol_error("ERR Protocol error: invalid multibulk length");
        }
        pos_ = cr + 2;
        if (count <= 0) {  // "*0" and "*-1" are empty commands; Redis ignores them too
          state_ = State::kIdle;
          start_ = pos_;
          break;
        }
        expected_args_ = static_cast<uint64_t>(count);
        seen_args_ = 0;
        args_.clear();
        if (expected_args_ > limits_.max_arguments) {
          doom("ERR too many arguments (" + std::to_string(expected_args_) + "; the limit is " +
               std::to_string(limits_.max_arguments) + ")");
        }
        state_ = State::kBulkHeader;
        break;
      }

      case State::kBulkHeader: {
        if (pos_ >= in.size()) return need_more();
        if (in[pos_] != '$') {
          const unsigned char c = static_cast<unsigned char>(in[pos_]);
          std::string got = c >= 0x20 && c < 0x7f ? std::string(1, static_cast<char>(c)) : "?";
          return protocol_error("ERR Protocol error: expected '$', got '" + got + "'");
        }
        const size_t cr = find_crlf(in, pos_ + 1);
        if (cr == std::string_view::npos) {
          if (in.size() - pos_ > kMaxHeaderLineBytes) {
            return protocol_error("ERR Protocol error: invalid bulk length");
          }
          return need_more();
        }
        int64_t length = 0;
        if (!parse_int64(in.substr(pos_ + 1, cr - pos_ - 1), &length) || length < 0 ||
            static_cast<uint64_t>(length) > kMaxDeclaredBulkBytes) {
          return protocol_error("ERR Protocol error: invalid bulk length");
        }
        pos_ = cr + 2;
        bulk_bytes_ = static_cast<uint64_t>(length);
        if (!doomed_) {
          if (bulk_bytes_ > limits_.max_bulk_bytes) {
            doom("ERR value too large (" + std::to_string(bulk_bytes_) +
                 " bytes; the limit is " + std::to_string(limits_.max_bulk_bytes) + ")");
          } else if ((pos_ - start_) + bulk_bytes_ + 2 > limits_.max_command_bytes) {
            doom("ERR request too large (more than " + std::to_string(limits_.max_command_bytes) +
                 " bytes)");
          }
        }
        // Skipped bulks are not checked for their CRLF: only the declared length frames them.
        if (doomed_) skip_bytes_ = bulk_bytes_ + 2;
        state_ = State::kBulkData;
        break;
      }

      case State::kBulkData: {
        if (doomed_) {
          const uint64_t available = in.size() - pos_;
          const uint64_t take = std::min(available, skip_bytes_);
          pos_ += take;
          skip_bytes_ -= take;
          if (skip_bytes_ > 0) return need_more();
        } else {
          if (in.size() - pos_ < bulk_bytes_ + 2) return need_more();
          if (in[pos_ + bulk_bytes_] != '\r' || in[pos_ + bulk_bytes_ + 1] != '\n') {
            return protocol_error("ERR Protocol error: expected CRLF after bulk data");
          }
          args_.emplace_back(pos_, bulk_bytes_);
          pos_ += bulk_bytes_ + 2;
        }
        if (++seen_args_ < expected_args_) {
          state_ = State::kBulkHeader;
          break;
        }
        if (doomed_) return reject();
        argv->clear();
        for (const auto& a : args_) argv->push_back(in.substr(a.first, a.second));
        const size_t consumed = pos_;
        state_ = State::kIdle;
        start_ = pos_ = scan_ = 0;
        args_.clear();
        return {ParseStatus::kCommand, consumed, {}};
      }

      case State::kInline: {
        std::optional<ParseResult> r = parse_inline(in, argv);
        if (r) return *r;
        break;  // a blank line was skipped
      }
    }
  }
}

std::optional<ParseResult> RequestParser::parse_inline(std::string_view in, Command* argv) {
  {
    const size_t nl = in.find('\n', scan_);
    if (nl == std::string_view::npos) {
      scan_ = in.size();
      if (in.size() - start_ > limits_.max_inline_bytes) {
        return protocol_error("ERR Protocol error: too big inline request");
      }
      return need_more();
    }
    if (nl - start_ > limits_.max_inline_bytes) {
      return protocol_error("ERR Protocol error: too big inline request");
    }
    std::string_view line = in.substr(start_, nl - start_);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    pos_ = nl + 1;
    inline_arena_.clear();
    args_.clear();
    if (!split_inline(line, &inline_arena_, &args_)) {
      return protocol_error("ERR Protocol error: unbalanced quotes in request");
    }
    if (args_.empty()) {  // a blank line (Redis uses them as keep-alives): not a command
      state_ = State::kIdle;
      start_ = scan_ = pos_;
      return std::nullopt;
    }
    // The line is consumed whole, so the stream stays in sync: limits reject, not close.
    if (args_.size() > limits_.max_arguments) {
      error_ = "ERR too many arguments (" + std::to_string(args_.size()) + "; the limit is " +
               std::to_string(limits_.max_arguments) + ")";
      return reject();
    }
    for (const auto& a : args_) {
      if (a.second > limits_.max_bulk_bytes) {
        error_ = "ERR value too large (" + std::to_string(a.second) + " bytes; the limit is " +
                 std::to_string(limits_.max_bulk_bytes) + ")";
        return reject();
      }
    }
    argv->clear();
    const std::string_view arena(inline_arena_);
    for (const auto& a : args_) argv->push_back(arena.substr(a.first, a.second));
    const size_t consumed = pos_;
    state_ = State::kIdle;
    start_ = pos_ = scan_ = 0;
    args_.clear();
    return ParseResult{ParseStatus::kCommand, consumed, {}};
  }
}

// ---- replies -------------------------------------------------------------------------------

void ReplyWriter::header(char type, uint64_t n) {
  char buf[24];
  buf[0] = type;
  auto r = std::to_chars(buf + 1, buf + sizeof(buf) - 2, n);
  r.ptr[0] = '\r';
  r.ptr[1] = '\n';
  out_->append(buf, static_cast<size_t>(r.ptr + 2 - buf));
}

void ReplyWriter::line(char type, std::string_view s) {
  out_->push_back(type);
  const size_t at = out_->size();
  out_->append(s);
  // CR or LF inside a line would split the reply: the client would desynchronise.
  for (size_t i = at; i < out_->size(); ++i) {
    if ((*out_)[i] == '\r' || (*out_)[i] == '\n') (*out_)[i] = ' ';
  }
  out_->append("\r\n");
}

void ReplyWriter::simple(std::string_view s) { line('+', s); }
void ReplyWriter::error(std::string_view message) { line('-', message); }

void ReplyWriter::integer(int64_t v) {
  char buf[24];
  buf[0] = ':';
  auto r = std::to_chars(buf + 1, buf + sizeof(buf) - 2, v);
  r.ptr[0] = '\r';
  r.ptr[1] = '\n';
  out_->append(buf, static_cast<size_t>(r.ptr + 2 - buf));
}

void ReplyWriter::bulk(std::string_view s) {
  header('$', s.size());
  out_->append(s);
  out_->append("\r\n");
}

void ReplyWriter::null() { out_->append(resp3_ ? "_\r\n" : "$-1\r\n"); }
void ReplyWriter::null_array() { out_->append(resp3_ ? "_\r\n" : "*-1\r\n"); }
void ReplyWriter::array(size_t elements) { header('*', elements); }
void ReplyWriter::map(size_t pairs) {
  if (resp3_) {
    header('%', pairs);
  } else {
    header('*', 2 * static_cast<uint64_t>(pairs));
  }
}

}  // namespace mu::kv
