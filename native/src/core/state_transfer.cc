#include "core/state_transfer.h"

#include <cassert>
#include <cstring>
#include <utility>

#include "core/crc32c.h"

namespace mu::core {
namespace {

constexpr uint8_t kMagic[4] = {'M', 'u', 'S', 'n'};
constexpr uint32_t kVersion = 1;

class Reader {
 public:
  Reader(const uint8_t* data, size_t length) : p_(data), end_(data + length) {}
  bool u64(uint64_t* v) {
    if (end_ - p_ < 8) return false;
    *v = 0;
    for (int i = 0; i < 8; ++i) *v |= uint64_t{p_[i]} << (8 * i);
    p_ += 8;
    return true;
  }
  bool bytes(size_t n, std::vector<uint8_t>* out) {
    if (static_cast<size_t>(end_ - p_) < n) return false;
    out->assign(p_, p_ + n);
    p_ += n;
    return true;
  }
  size_t left() const { return static_cast<size_t>(end_ - p_); }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
};

}  // namespace

std::vector<uint8_t> encode_snapshot(const StateSnapshot& s) {
  // Sized once, then filled: the layout is fixed but for the two counted arrays.
  std::vector<uint8_t> out(4 + 4 + 7 * 8 + 8 * s.applied_batches.size() + s.machine.size() + 4);
  uint8_t* p = out.data();
  const auto put = [&](uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) *p++ = static_cast<uint8_t>(v >> (8 * i));
  };
  std::memcpy(p, kMagic, 4);
  p += 4;
  put(kVersion, 4);
  put(s.applied_index, 8);
  put(s.applied_vpos, 8);
  put(s.ring_bytes, 8);
  put(s.max_entry_bytes, 8);
  put(s.source, 8);
  put(s.applied_batches.size(), 8);
  for (uint64_t id : s.applied_batches) put(id, 8);
  put(s.machine.size(), 8);
  if (!s.machine.empty()) std::memcpy(p, s.machine.data(), s.machine.size());
  p += s.machine.size();
  put(crc32c(out.data(), out.size() - 4), 4);
  assert(p == out.data() + out.size());
  return out;
}

std::string decode_snapshot(const uint8_t* data, size_t length, StateSnapshot* out) {
  if (length < 12 || std::memcmp(data, kMagic, 4) != 0) return "not a Mu state snapshot";
  uint32_t version = 0, crc = 0;
  for (int i = 0; i < 4; ++i) version |= uint32_t{data[4 + i]} << (8 * i);
  for (int i = 0; i < 4; ++i) crc |= uint32_t{data[length - 4 + i]} << (8 * i);
  if (version != kVersion) return "state snapshot version " + std::to_string(version) + " (expected 1)";
  if (crc32c(data, length - 4) != crc) return "state snapshot checksum mismatch (truncated or corrupted)";
  Reader r(data + 8, length - 12);
  StateSnapshot s;
  uint64_t source = 0, batches = 0, machine_bytes = 0;
  if (!r.u64(&s.applied_index) || !r.u64(&s.applied_vpos) || !r.u64(&s.ring_bytes) ||
      !r.u64(&s.max_entry_bytes) || !r.u64(&source) || !r.u64(&batches) || batches > r.left() / 8) {
    return "state snapshot header is malformed";
  }
  s.source = static_cast<uint32_t>(source);
  s.applied_batches.resize(batches);
  for (uint64_t& id : s.applied_batches) r.u64(&id);
  if (!r.u64(&machine_bytes) || machine_bytes != r.left() || !r.bytes(machine_bytes, &s.machine)) {
    return "state snapshot length is inconsistent";
  }
  *out = std::move(s);
  return "";
}

}  // namespace mu::core
