// The deterministic key-value state machine (DESIGN.md §3.7): Redis string commands on one
// database, executed identically on every replica.
//
// Determinism contract: the reply and the resulting state are functions of the sequence of
// (argv, now_ms) fed to execute() and nothing else. The store never reads a clock; now_ms is
// the time the leader stamped into the replicated record (record.h). Time is clamped to be
// monotonic (effective now = max of every now_ms seen), so a new leader whose wall clock is a
// little behind the old one's never makes an expired key live again.
//
// Expiry: a key whose expiry time is <= now is gone, whether or not it has been reclaimed yet.
// Reclaiming is lazy (on access) plus a bounded active step at every execute() that removes the
// keys due earliest (ordered by (expiry, key), so every replica removes the same ones).
//
// Nothing is half-applied: every command validates all its arguments before changing anything.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "apps/kv/commands.h"
#include "apps/kv/resp.h"

namespace mu::kv {

struct KvStoreLimits {
  // APPEND may not grow a value beyond this (SET values are bounded by the parser's limit).
  uint64_t max_value_bytes = 512ull * 1024 * 1024;
  // Expired keys reclaimed by the active step of one execute().
  uint32_t active_expire_per_command = 16;
};

struct KvStoreStats {
  uint64_t commands = 0;
  uint64_t errors = 0;        // commands answered with an error reply
  uint64_t expired_keys = 0;  // reclaimed, lazily or actively
};

class KvStore {
 public:
  explicit KvStore(KvStoreLimits limits = {}) : limits_(limits) {}

  // Executes one command and appends its encoded reply (for resp_version 2 or 3) to *reply.
  void execute(Argv argv, uint64_t now_ms, int resp_version, std::string* reply);
  std::string execute(Argv argv, uint64_t now_ms, int resp_version) {
    std::string reply;
    execute(argv, now_ms, resp_version, &reply);
    return reply;
  }

  // Keys stored, including expired ones not reclaimed yet (as Redis's "keys=" in INFO).
  size_t stored_keys() const { return map_.size(); }
  size_t keys_with_expiry() const { return expiry_.size(); }
  uint64_t now_ms() const { return now_ms_; }
  const KvStoreStats& stats() const { return stats_; }

  // For tests and cross-replica checks: the live state as (key -> (value, expire_at_ms or 0)),
  // as of the last execute() time, and an order-independent fingerprint of it.
  std::map<std::string, std::pair<std::string, uint64_t>> snapshot() const;
  uint64_t fingerprint() const;

  // State transfer: the whole state — every stored key (expired ones not reclaimed yet too, so
  // that DBSIZE and active expiry go on exactly as on the replica that saved it) and the clock —
  // appended to *out; load_state() replaces the state with one save_state() produced, or returns
  // false for malformed bytes and changes nothing.
  void save_state(std::vector<uint8_t>* out) const;
  bool load_state(const uint8_t* data, size_t length);

 private:
  struct Entry {
    std::string value;
    uint64_t expire_at_ms = 0;  // 0: no expiry
  };
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using Map = std::unordered_map<std::string, Entry, Hash, std::equal_to<>>;

  // nullptr when absent or expired (an expired key is reclaimed on the spot).
  Entry* find_live(std::string_view key);
  bool expired(const Entry& e) const { return e.expire_at_ms != 0 && e.expire_at_ms <= now_ms_; }
  void set_expiry(const std::string& key, Entry& e, uint64_t expire_at_ms);
  Map::iterator erase(Map::iterator it);
  bool erase_key(std::string_view key);
  void put(std::string_view key, std::string_view value, uint64_t expire_at_ms);
  void active_expire(uint64_t budget);
  void clear();

  void dispatch(const CommandInfo& info, Argv argv, ReplyWriter& w);
  void cmd_set(Argv argv, ReplyWriter& w);
  void cmd_incr(Argv argv, int64_t delta_sign, bool has_delta, std::string_view name,
                ReplyWriter& w);
  void cmd_expire(Argv argv, bool milliseconds, bool absolute, std::string_view name,
                  ReplyWriter& w);
  void cmd_setex(Argv argv, bool milliseconds, std::string_view name, ReplyWriter& w);
  void cmd_keys(std::string_view pattern, ReplyWriter& w);

  KvStoreLimits limits_;
  Map map_;
  // (expire_at_ms, key) of every key with an expiry: expiry_ holds (e.expire_at_ms, k) iff
  // map_[k].expire_at_ms != 0. Ordered so that active expiry is the same on every replica.
  std::set<std::pair<uint64_t, std::string>> expiry_;
  uint64_t now_ms_ = 0;  // max now_ms seen: monotonic
  KvStoreStats stats_;
};

// Redis-style glob: * ? [abc] [^a] [a-z] and \ escapes. Exposed for tests and CONFIG GET.
bool glob_match(std::string_view pattern, std::string_view s);

}  // namespace mu::kv
