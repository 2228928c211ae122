#include "apps/kv/kv_store.h"

#include <algorithm>
#include <cassert>
#include <charconv>
#include <vector>

namespace mu::kv {

namespace {

constexpr std::string_view kNotInteger = "ERR value is not an integer or out of range";
constexpr std::string_view kOverflow = "ERR increment or decrement would overflow";
constexpr std::string_view kSyntax = "ERR syntax error";
constexpr std::string_view kTooBig = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";

std::string invalid_expire(std::string_view name) {
  return "ERR invalid expire time in '" + std::string(name) + "' command";
}

// Turns an expiry argument into an absolute time in ms, with Redis's overflow rules.
// `positive`: SET/SETEX demand > 0; EXPIRE accepts any value (<= now deletes).
bool expire_time(std::string_view arg, bool seconds, bool absolute, bool positive, int64_t now,
                 std::string_view name, int64_t* at, std::string* error) {
  int64_t v = 0;
  if (!parse_int64(arg, &v)) {
    *error = kNotInteger;
    return false;
  }
  if (positive && v <= 0) {
    *error = invalid_expire(name);
    return false;
  }
  if (seconds) {
    if (v > INT64_MAX / 1000 || v < INT64_MIN / 1000) {
      *error = invalid_expire(name);
      return false;
    }
    v *= 1000;
  }
  if (!absolute) {
    if (v > INT64_MAX - now) {
      *error = invalid_expire(name);
      return false;
    }
    v += now;
  }
  *at = v;
  return true;
}

// One element of a glob pattern at p (not '*'): does it match c, and how long is it?
bool glob_element(std::string_view p, size_t i, char c, size_t* length) {
  const char t = p[i];
  if (t == '?') {
    *length = 1;
    return true;
  }
  if (t == '\\' && i + 1 < p.size()) {
    *length = 2;
    return p[i + 1] == c;
  }
  if (t != '[') {
    *length = 1;
    return t == c;
  }
  size_t j = i + 1;
  bool negate = false;
  if (j < p.size() && p[j] == '^') {
    negate = true;
    ++j;
  }
  bool matched = false;
  while (j < p.size() && p[j] != ']') {
    if (p[j] == '\\' && j + 1 < p.size()) {
      matched |= p[j + 1] == c;
      j += 2;
    } else if (j + 2 < p.size() && p[j + 1] == '-' && p[j + 2] != ']') {
      char lo = p[j], hi = p[j + 2];
      if (lo > hi) std::swap(lo, hi);
      matched |= c >= lo && c <= hi;
      j += 3;
    } else {
      matched |= p[j] == c;
      ++j;
    }
  }
  // An unterminated class runs to the end of the pattern.
  *length = (j < p.size() ? j + 1 : j) - i;
  return matched != negate;
}

}  // namespace

bool glob_match(std::string_view p, std::string_view s) {
  // Backtracking only to the last '*': every other element matches exactly one character, so
  // this is complete and linear-ish (O(|p|·|s|) worst case), never exponential.
  size_t pi = 0, si = 0;
  size_t star_p = std::string_view::npos, star_s = 0;
  while (si < s.size()) {
    if (pi < p.size() && p[pi] == '*') {
      while (pi < p.size() && p[pi] == '*') ++pi;
      if (pi == p.size()) return true;
      star_p = pi;
      star_s = si;
      continue;
    }
    size_t length = 0;
    if (pi < p.size() && glob_element(p, pi, s[si], &length)) {
      pi += length;
      ++si;
      continue;
    }
    if (star_p == std::string_view::npos) return false;
    pi = star_p;
    si = ++star_s;
  }
  while (pi < p.size() && p[pi] == '*') ++pi;
  return pi == p.size();
}

KvStore::Entry* KvStore::find_live(std::string_view key) {
  auto it = map_.find(key);
  if (it == map_.end()) return nullptr;
  if (expired(it->second)) {
    erase(it);
    ++stats_.expired_keys;
    return nullptr;
  }
  return &it->second;
}

void KvStore::set_expiry(const std::string& key, Entry& e, uint64_t expire_at_ms) {
  if (e.expire_at_ms == expire_at_ms) return;
  if (e.expire_at_ms != 0) {
    const size_t n = expiry_.erase({e.expire_at_ms, key});
    assert(n == 1);
    (void)n;
  }
  e.expire_at_ms = expire_at_ms;
  if (expire_at_ms != 0) expiry_.emplace(expire_at_ms, key);
}

KvStore::Map::iterator KvStore::erase(Map::iterator it) {
  if (it->second.expire_at_ms != 0) expiry_.erase({it->second.expire_at_ms, it->first});
  return map_.erase(it);
}

bool KvStore::erase_key(std::string_view key) {
  if (find_live(key) == nullptr) return false;
  erase(map_.find(key));
  return true;
}

void KvStore::put(std::string_view key, std::string_view value, uint64_t expire_at_ms) {
  auto it = map_.find(key);
  if (it == map_.end()) it = map_.emplace(std::string(key), Entry{}).first;
  it->second.value.assign(value);
  set_expiry(it->first, it->second, expire_at_ms);
}

void KvStore::active_expire(uint64_t budget) {
  while (budget > 0 && !expiry_.empty() && expiry_.begin()->first <= now_ms_) {
    auto it = map_.find(expiry_.begin()->second);
    assert(it != map_.end());
    erase(it);
    ++stats_.expired_keys;
    --budget;
  }
}

void KvStore::clear() {
  map_.clear();
  expiry_.clear();
}

std::map<std::string, std::pair<std::string, uint64_t>> KvStore::snapshot() const {
  std::map<std::string, std::pair<std::string, uint64_t>> out;
  for (const auto& [key, e] : map_) {
    if (!expired(e)) out.emplace(key, std::make_pair(e.value, e.expire_at_ms));
  }
  return out;
}

namespace {
constexpr uint32_t kStateMagic = 0x4d754b76;  // "MuKv"

void put_u64(std::vector<uint8_t>* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void put_bytes(std::vector<uint8_t>* out, std::string_view s) {
  put_u64(out, s.size());
  out->insert(out->end(), s.begin(), s.end());
}
}  // namespace

void KvStore::save_state(std::vector<uint8_t>* out) const {
  put_u64(out, kStateMagic);
  put_u64(out, now_ms_);
  put_u64(out, map_.size());
  for (const auto& [key, e] : map_) {
    put_bytes(out, key);
    put_bytes(out, e.value);
    put_u64(out, e.expire_at_ms);
  }
}

bool KvStore::load_state(const uint8_t* data, size_t length) {
  size_t at = 0;
  const auto u64 = [&](uint64_t* v) {
    if (length - at < 8) return false;
    *v = 0;
    for (int i = 0; i < 8; ++i) *v |= uint64_t{data[at + i]} << (8 * i);
    at += 8;
    return true;
  };
  const auto bytes = [&](std::string* s) {
    uint64_t n = 0;
    if (!u64(&n) || length - at < n) return false;
    s->assign(reinterpret_cast<const char*>(data + at), n);
    at += n;
    return true;
  };
  uint64_t magic = 0, now = 0, count = 0;
  if (!u64(&magic) || magic != kStateMagic || !u64(&now) || !u64(&count)) return false;
  Map map;
  std::set<std::pair<uint64_t, std::string>> expiry;
  map.reserve(std::min<uint64_t>(count, length / 24));
  for (uint64_t k = 0; k < count; ++k) {
    std::string key;
    Entry e;
    if (!bytes(&key) || !bytes(&e.value) || !u64(&e.expire_at_ms)) return false;
    if (e.expire_at_ms != 0) expiry.emplace(e.expire_at_ms, key);
    if (!map.emplace(std::move(key), std::move(e)).second) return false;  // a key twice
  }
  if (at != length) return false;
  map_ = std::move(map);
  expiry_ = std::move(expiry);
  now_ms_ = now;
  return true;
}

uint64_t KvStore::fingerprint() const {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a over the sorted live state
  auto mix = [&h](const void* data, size_t n) {
    const auto* b = static_cast<const uint8_t*>(data);
    for (size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 0x100000001b3ull;
  };
  for (const auto& [key, ve] : snapshot()) {
    const uint64_t sizes[3] = {key.size(), ve.first.size(), ve.second};
    mix(sizes, sizeof(sizes));
    mix(key.data(), key.size());
    mix(ve.first.data(), ve.first.size());
  }
  return h;
}

void KvStore::execute(Argv argv, uint64_t now_ms, int resp_version, std::string* reply) {
  // Times beyond INT64_MAX would break Redis's signed arithmetic; no real clock gets there.
  now_ms = std::min<uint64_t>(now_ms, INT64_MAX);
  if (now_ms > now_ms_) now_ms_ = now_ms;
  ++stats_.commands;
  const size_t before = reply->size();
  ReplyWriter w(reply, resp_version);
  active_expire(limits_.active_expire_per_command);
  if (argv.empty()) {
    w.error("ERR empty command");
  } else if (const CommandInfo* info = find_command(argv[0]); info == nullptr) {
    w.error(unknown_command_error(argv));
  } else if (!arity_ok(*info, argv.size())) {
    w.error(wrong_arity_error(info->name));
  } else {
    dispatch(*info, argv, w);
  }
  if (reply->size() > before && (*reply)[before] == '-') ++stats_.errors;
}

void KvStore::dispatch(const CommandInfo& info, Argv argv, ReplyWriter& w) {
  switch (info.id) {
    case CommandId::kGet: {
      const Entry* e = find_live(argv[1]);
      e ? w.bulk(e->value) : w.null();
      return;
    }
    case CommandId::kMget: {
      w.array(argv.size() - 1);
      for (size_t i = 1; i < argv.size(); ++i) {
        const Entry* e = find_live(argv[i]);
        e ? w.bulk(e->value) : w.null();
      }
      return;
    }
    case CommandId::kStrlen: {
      const Entry* e = find_live(argv[1]);
      w.integer(e ? static_cast<int64_t>(e->value.size()) : 0);
      return;
    }
    case CommandId::kExists: {
      int64_t n = 0;
      for (size_t i = 1; i < argv.size(); ++i) n += find_live(argv[i]) != nullptr;
      w.integer(n);
      return;
    }
    case CommandId::kTtl:
    case CommandId::kPttl: {
      const Entry* e = find_live(argv[1]);
      if (e == nullptr) {
        w.integer(-2);
      } else if (e->expire_at_ms == 0) {
        w.integer(-1);
      } else {
        const int64_t ms = static_cast<int64_t>(e->expire_at_ms - now_ms_);
        w.integer(info.id == CommandId::kPttl ? ms : (ms + 500) / 1000);
      }
      return;
    }
    case CommandId::kType:
      w.simple(find_live(argv[1]) ? "string" : "none");
      return;
    case CommandId::kKeys:
      cmd_keys(argv[1], w);
      return;
    case CommandId::kDbsize:
      active_expire(UINT64_MAX);  // bounded by the number of keys; makes the count exact
      w.integer(static_cast<int64_t>(map_.size()));
      return;

    case CommandId::kSet:
      cmd_set(argv, w);
      return;
    case CommandId::kSetnx: {
      if (find_live(argv[1])) {
        w.integer(0);
        return;
      }
      put(argv[1], argv[2], 0);
      w.integer(1);
      return;
    }
    case CommandId::kSetex:
      cmd_setex(argv, false, info.name, w);
      return;
    case CommandId::kPsetex:
      cmd_setex(argv, true, info.name, w);
      return;
    case CommandId::kMset:
    case CommandId::kMsetnx: {
      if (argv.size() % 2 == 0) {
        w.error(wrong_arity_error(info.name));
        return;
      }
      if (info.id == CommandId::kMsetnx) {
        for (size_t i = 1; i < argv.size(); i += 2) {
          if (find_live(argv[i])) {
            w.integer(0);
            return;
          }
        }
      }
      for (size_t i = 1; i < argv.size(); i += 2) put(argv[i], argv[i + 1], 0);
      info.id == CommandId::kMset ? w.ok() : w.integer(1);
      return;
    }
    case CommandId::kDel: {
      int64_t n = 0;
      for (size_t i = 1; i < argv.size(); ++i) n += erase_key(argv[i]);
      w.integer(n);
      return;
    }
    case CommandId::kIncr:
      cmd_incr(argv, 1, false, info.name, w);
      return;
    case CommandId::kDecr:
      cmd_incr(argv, -1, false, info.name, w);
      return;
    case CommandId::kIncrby:
      cmd_incr(argv, 1, true, info.name, w);
      return;
    case CommandId::kDecrby:
      cmd_incr(argv, -1, true, info.name, w);
      return;
    case CommandId::kAppend: {
      Entry* e = find_live(argv[1]);
      const uint64_t old_size = e ? e->value.size() : 0;
      if (old_size + argv[2].size() > limits_.max_value_bytes) {
        w.error(kTooBig);
        return;
      }
      if (e) {
        e->value.append(argv[2]);  // keeps the TTL, as Redis does
      } else {
        put(argv[1], argv[2], 0);
      }
      w.integer(static_cast<int64_t>(old_size + argv[2].size()));
      return;
    }
    case CommandId::kGetset: {
      const Entry* e = find_live(argv[1]);
      e ? w.bulk(e->value) : w.null();  // the reply is written before the value changes
      put(argv[1], argv[2], 0);
      return;
    }
    case CommandId::kGetdel: {
      const Entry* e = find_live(argv[1]);
      if (e == nullptr) {
        w.null();
        return;
      }
      w.bulk(e->value);
      erase(map_.find(argv[1]));
      return;
    }
    case CommandId::kExpire:
      cmd_expire(argv, false, false, info.name, w);
      return;
    case CommandId::kPexpire:
      cmd_expire(argv, true, false, info.name, w);
      return;
    case CommandId::kExpireat:
      cmd_expire(argv, false, true, info.name, w);
      return;
    case CommandId::kPexpireat:
      cmd_expire(argv, true, true, info.name, w);
      return;
    case CommandId::kPersist: {
      Entry* e = find_live(argv[1]);
      if (e == nullptr || e->expire_at_ms == 0) {
        w.integer(0);
        return;
      }
      auto it = map_.find(argv[1]);
      set_expiry(it->first, it->second, 0);
      w.integer(1);
      return;
    }
    case CommandId::kFlushall:
    case CommandId::kFlushdb: {
      if (argv.size() > 2 ||
          (argv.size() == 2 && !equals_ignore_case(argv[1], "async") &&
           !equals_ignore_case(argv[1], "sync"))) {
        w.error(kSyntax);
        return;
      }
      clear();
      w.ok();
      return;
    }
    case CommandId::kPing:
      if (argv.size() > 2) {
        w.error(wrong_arity_error(info.name));
      } else if (argv.size() == 2) {
        w.bulk(argv[1]);
      } else {
        w.simple("PONG");
      }
      return;
    case CommandId::kEcho:
      w.bulk(argv[1]);
      return;
    default:
      break;
  }
  w.error("ERR '" + std::string(info.name) +
          "' is answered by the front end, not the state machine");
}

void KvStore::cmd_set(Argv argv, ReplyWriter& w) {
  enum : uint32_t {
    kNx = 1, kXx = 2, kGetFlag = 4, kKeepTtl = 8, kEx = 16, kPx = 32, kExat = 64, kPxat = 128,
  };
  constexpr uint32_t kAnyExpire = kEx | kPx | kExat | kPxat;
  uint32_t flags = 0;
  std::string_view expire_arg;
  for (size_t j = 3; j < argv.size(); ++j) {
    const std::string_view o = argv[j];
    const bool has_next = j + 1 < argv.size();
    if (equals_ignore_case(o, "nx") && !(flags & kXx)) {
      flags |= kNx;
    } else if (equals_ignore_case(o, "xx") && !(flags & kNx)) {
      flags |= kXx;
    } else if (equals_ignore_case(o, "get")) {
      flags |= kGetFlag;
    } else if (equals_ignore_case(o, "keepttl") && !(flags & kAnyExpire)) {
      flags |= kKeepTtl;
    } else if (has_next && !(flags & (kKeepTtl | kAnyExpire)) &&
               (equals_ignore_case(o, "ex") || equals_ignore_case(o, "px") ||
                equals_ignore_case(o, "exat") || equals_ignore_case(o, "pxat"))) {
      flags |= equals_ignore_case(o, "ex")   ? kEx
               : equals_ignore_case(o, "px") ? kPx
               : equals_ignore_case(o, "exat") ? kExat
                                               : kPxat;
      expire_arg = argv[++j];
    } else {
      w.error(kSyntax);
      return;
    }
  }
  int64_t at = 0;
  if (flags & kAnyExpire) {
    std::string error;
    if (!expire_time(expire_arg, (flags & (kEx | kExat)) != 0, (flags & (kExat | kPxat)) != 0,
                     true, static_cast<int64_t>(now_ms_), "set", &at, &error)) {
      w.error(error);
      return;
    }
  }
  // Validated: from here on the command succeeds.
  Entry* old = find_live(argv[1]);
  const bool condition_failed = ((flags & kNx) && old) || ((flags & kXx) && !old);
  if (flags & kGetFlag) {
    old ? w.bulk(old->value) : w.null();  // written before the value changes
  } else if (condition_failed) {
    w.null();
  } else {
    w.ok();
  }
  if (condition_failed) return;
  uint64_t expire_at = 0;
  if (flags & kAnyExpire) {
    if (at <= static_cast<int64_t>(now_ms_)) {  // EXAT/PXAT in the past: set, then expired
      if (old) erase(map_.find(argv[1]));
      return;
    }
    expire_at = static_cast<uint64_t>(at);
  } else if ((flags & kKeepTtl) && old) {
    expire_at = old->expire_at_ms;
  }
  put(argv[1], argv[2], expire_at);
}

void KvStore::cmd_setex(Argv argv, bool milliseconds, std::string_view name, ReplyWriter& w) {
  int64_t at = 0;
  std::string error;
  if (!expire_time(argv[2], !milliseconds, false, true, static_cast<int64_t>(now_ms_), name, &at,
                   &error)) {
    w.error(error);
    return;
  }
  put(argv[1], argv[3], static_cast<uint64_t>(at));
  w.ok();
}

void KvStore::cmd_incr(Argv argv, int64_t sign, bool has_delta, std::string_view name,
                       ReplyWriter& w) {
  (void)name;
  int64_t delta = sign;
  if (has_delta) {
    int64_t v = 0;
    if (!parse_int64(argv[2], &v)) {
      w.error(kNotInteger);
      return;
    }
    if (sign < 0) {
      if (v == INT64_MIN) {
        w.error("ERR decrement would overflow");
        return;
      }
      v = -v;
    }
    delta = v;
  }
  Entry* e = find_live(argv[1]);
  int64_t current = 0;
  if (e && !parse_int64(e->value, &current)) {
    w.error(kNotInteger);
    return;
  }
  if ((delta < 0 && current < 0 && delta < INT64_MIN - current) ||
      (delta > 0 && current > 0 && delta > INT64_MAX - current)) {
    w.error(kOverflow);
    return;
  }
  const int64_t result = current + delta;
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof(buf), result);
  const std::string_view text(buf, static_cast<size_t>(r.ptr - buf));
  if (e) {
    e->value.assign(text);  // keeps the TTL, as Redis does
  } else {
    put(argv[1], text, 0);
  }
  w.integer(result);
}

void KvStore::cmd_expire(Argv argv, bool milliseconds, bool absolute, std::string_view name,
                         ReplyWriter& w) {
  bool nx = false, xx = false, gt = false, lt = false;
  for (size_t j = 3; j < argv.size(); ++j) {
    if (equals_ignore_case(argv[j], "nx")) {
      nx = true;
    } else if (equals_ignore_case(argv[j], "xx")) {
      xx = true;
    } else if (equals_ignore_case(argv[j], "gt")) {
      gt = true;
    } else if (equals_ignore_case(argv[j], "lt")) {
      lt = true;
    } else {
      w.error("ERR Unsupported option " + std::string(argv[j]));
      return;
    }
  }
  if (nx && (xx || gt || lt)) {
    w.error("ERR NX and XX, GT or LT options at the same time are not compatible");
    return;
  }
  if (gt && lt) {
    w.error("ERR GT and LT options at the same time are not compatible");
    return;
  }
  int64_t at = 0;
  std::string error;
  if (!expire_time(argv[2], !milliseconds, absolute, false, static_cast<int64_t>(now_ms_), name,
                   &at, &error)) {
    w.error(error);
    return;
  }
  Entry* e = find_live(argv[1]);
  if (e == nullptr) {
    w.integer(0);
    return;
  }
  // No expiry counts as an infinite one for GT and LT.
  const bool has_ttl = e->expire_at_ms != 0;
  const int64_t current = static_cast<int64_t>(e->expire_at_ms);
  if ((nx && has_ttl) || (xx && !has_ttl) || (gt && (!has_ttl || at <= current)) ||
      (lt && has_ttl && at >= current)) {
    w.integer(0);
    return;
  }
  if (at <= static_cast<int64_t>(now_ms_)) {
    erase(map_.find(argv[1]));
  } else {
    auto it = map_.find(argv[1]);
    set_expiry(it->first, it->second, static_cast<uint64_t>(at));
  }
  w.integer(1);
}

void KvStore::cmd_keys(std::string_view pattern, ReplyWriter& w) {
  active_expire(UINT64_MAX);  // bounded by the number of keys
  std::vector<const std::string*> keys;
  const bool all = pattern == "*";
  for (const auto& [key, e] : map_) {
    if (all || glob_match(pattern, key)) keys.push_back(&key);
  }
  // Sorted: the reply must not depend on hash-table iteration order.
  std::sort(keys.begin(), keys.end(),
            [](const std::string* a, const std::string* b) { return *a < *b; });
  w.array(keys.size());
  for (const std::string* k : keys) w.bulk(*k);
}

}  // namespace mu::kv
