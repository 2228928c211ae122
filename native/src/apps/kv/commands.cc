#include "apps/kv/commands.h"

#include <array>
#include <unordered_map>

namespace mu::kv {

namespace {

using C = CommandClass;
using I = CommandId;

// Arities are Redis 7's.
constexpr CommandInfo kCommands[] = {
    {"get", 2, C::kRead, I::kGet},
    {"mget", -2, C::kRead, I::kMget},
    {"strlen", 2, C::kRead, I::kStrlen},
    {"exists", -2, C::kRead, I::kExists},
    {"ttl", 2, C::kRead, I::kTtl},
    {"pttl", 2, C::kRead, I::kPttl},
    {"type", 2, C::kRead, I::kType},
    {"keys", 2, C::kRead, I::kKeys},
    {"dbsize", 1, C::kRead, I::kDbsize},
    {"set", -3, C::kWrite, I::kSet},
    {"setnx", 3, C::kWrite, I::kSetnx},
    {"setex", 4, C::kWrite, I::kSetex},
    {"psetex", 4, C::kWrite, I::kPsetex},
    {"mset", -3, C::kWrite, I::kMset},
    {"msetnx", -3, C::kWrite, I::kMsetnx},
    {"del", -2, C::kWrite, I::kDel},
    {"incr", 2, C::kWrite, I::kIncr},
    {"incrby", 3, C::kWrite, I::kIncrby},
    {"decr", 2, C::kWrite, I::kDecr},
    {"decrby", 3, C::kWrite, I::kDecrby},
    {"append", 3, C::kWrite, I::kAppend},
    {"getset", 3, C::kWrite, I::kGetset},
    {"getdel", 2, C::kWrite, I::kGetdel},
    {"expire", -3, C::kWrite, I::kExpire},
    {"pexpire", -3, C::kWrite, I::kPexpire},
    {"expireat", -3, C::kWrite, I::kExpireat},
    {"pexpireat", -3, C::kWrite, I::kPexpireat},
    {"persist", 2, C::kWrite, I::kPersist},
    {"flushall", -1, C::kWrite, I::kFlushall},
    {"flushdb", -1, C::kWrite, I::kFlushdb},
    {"ping", -1, C::kLocal, I::kPing},
    {"echo", 2, C::kLocal, I::kEcho},
    {"command", -1, C::kLocal, I::kCommand},
    {"hello", -1, C::kLocal, I::kHello},
    {"client", -2, C::kLocal, I::kClient},
    {"select", 2, C::kLocal, I::kSelect},
    {"config", -2, C::kLocal, I::kConfig},
    {"info", -1, C::kLocal, I::kInfo},
    {"quit", -1, C::kLocal, I::kQuit},
    {"reset", 1, C::kLocal, I::kReset},
    {"auth", -2, C::kLocal, I::kAuth},
};

constexpr size_t kMaxNameBytes = 16;

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

const std::unordered_map<std::string_view, const CommandInfo*>& table() {
  static const auto* map = [] {
    auto* m = new std::unordered_map<std::string_view, const CommandInfo*>();
    for (const CommandInfo& c : kCommands) {
      if (c.name.size() > kMaxNameBytes) __builtin_trap();  // a table entry we could never find
      m->emplace(c.name, &c);
    }
    return m;
  }();
  return *map;
}

// Redis quotes user text in errors; CR/LF would break the reply line (ReplyWriter also guards).
void append_quoted(std::string* out, std::string_view s, size_t limit) {
  out->push_back('\'');
  out->append(s.substr(0, limit));
  out->push_back('\'');
}

}  // namespace

const char* to_string(CommandClass c) {
  switch (c) {
    case CommandClass::kWrite: return "write";
    case CommandClass::kRead: return "read";
    case CommandClass::kLocal: return "local";
  }
  return "?";
}

bool equals_ignore_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

const CommandInfo* find_command(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameBytes) return nullptr;
  std::array<char, kMaxNameBytes> buf;
  for (size_t i = 0; i < name.size(); ++i) buf[i] = lower(name[i]);
  const auto& t = table();
  auto it = t.find(std::string_view(buf.data(), name.size()));
  return it == t.end() ? nullptr : it->second;
}

std::span<const CommandInfo> all_commands() { return kCommands; }

std::string wrong_arity_error(std::string_view lower_name) {
  std::string s = "ERR wrong number of arguments for '";
  s.append(lower_name);
  s.append("' command");
  return s;
}

std::string unknown_command_error(Argv argv) {
  // Redis: the name (up to 128 bytes), then quoted arguments while the list is under 128 bytes.
  std::string s = "ERR unknown command ";
  append_quoted(&s, argv.empty() ? std::string_view() : argv[0], 128);
  s.append(", with args beginning with: ");
  std::string args;
  for (size_t i = 1; i < argv.size() && args.size() < 128; ++i) {
    append_quoted(&args, argv[i], 128 - args.size());
    args.push_back(' ');
  }
  s.append(args);
  return s;
}

std::string unknown_subcommand_error(std::string_view sub, std::string_view command) {
  std::string s = "ERR unknown subcommand ";
  append_quoted(&s, sub, 128);
  s.append(". Try ");
  for (char c : command) s.push_back(c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c);
  s.append(" HELP.");
  return s;
}

}  // namespace mu::kv
