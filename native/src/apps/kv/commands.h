// Which commands exist, how many arguments they take, and where each one is answered.
//
//   kWrite  changes the state machine: proposed as a log entry, applied on every replica.
//   kRead   reads the state machine. Reads are linearizable because they ALSO go through the
//           log: the leader proposes them as entries like writes, so a read is ordered after every
//           write decided before it and answered from the state at its own log position. A leader
//           answering from its local copy could be a deposed leader that has not noticed yet
//           (Mu lets a new leader take over without the old one's cooperation), which would
//           return stale data. Followers never answer reads (they redirect, see kv_replicated.h).
//           The cost is one replication round per read; a lease-based local read path could
//           remove it later.
//   kLocal  about the connection or the server, not the data (PING, HELLO, CLIENT, CONFIG, INFO,
//           COMMAND, SELECT, QUIT, RESET, AUTH): answered by the front end at once, on any
//           replica, without the log.
//
// The front end checks existence and arity before proposing anything, as Redis checks before
// any redirect, so the log only ever carries commands with a plausible shape.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "apps/kv/resp.h"

namespace mu::kv {

enum class CommandClass : uint8_t { kWrite, kRead, kLocal };
const char* to_string(CommandClass c);

enum class CommandId : uint8_t {
  // state machine: reads
  kGet, kMget, kStrlen, kExists, kTtl, kPttl, kType, kKeys, kDbsize,
  // state machine: writes
  kSet, kSetnx, kSetex, kPsetex, kMset, kMsetnx, kDel, kIncr, kIncrby, kDecr, kDecrby, kAppend,
  kGetset, kGetdel, kExpire, kPexpire, kExpireat, kPexpireat, kPersist, kFlushall, kFlushdb,
  // front end
  kPing, kEcho, kCommand, kHello, kClient, kSelect, kConfig, kInfo, kQuit, kReset, kAuth,
};

struct CommandInfo {
  std::string_view name;  // lower case, as Redis reports it in errors
  int arity;              // Redis convention: N = exactly N words, -N = at least N (name included)
  CommandClass command_class;
  CommandId id;
};

// Case-insensitive. nullptr when unknown.
const CommandInfo* find_command(std::string_view name);
std::span<const CommandInfo> all_commands();

inline bool arity_ok(const CommandInfo& info, size_t argc) {
  return info.arity >= 0 ? argc == static_cast<size_t>(info.arity)
                         : argc >= static_cast<size_t>(-info.arity);
}

// Redis's texts, word for word, so client libraries that match on them keep working.
// "ERR wrong number of arguments for 'get' command"
std::string wrong_arity_error(std::string_view lower_name);
// "ERR unknown command 'x', with args beginning with: 'a' "
std::string unknown_command_error(Argv argv);
std::string unknown_subcommand_error(std::string_view sub, std::string_view command);

bool equals_ignore_case(std::string_view a, std::string_view b);

}  // namespace mu::kv
