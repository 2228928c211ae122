#include "core/log_format.h"

#include <cassert>
#include <cstring>

#include "core/crc32c.h"

namespace mu::core {

size_t encode_entry(uint8_t* dst, const EntryHeader& header, const void* payload) {
  const size_t total = entry_bytes(header.payload_bytes);
  std::memcpy(dst, &header, sizeof header);
  if (header.payload_bytes > 0) std::memcpy(dst + sizeof header, payload, header.payload_bytes);
  const size_t pad_begin = sizeof header + header.payload_bytes;
  std::memset(dst + pad_begin, 0, total - sizeof(EntryTrailer) - pad_begin);
  EntryTrailer trailer{header.index, crc32c(dst, pad_begin), kEntryMagic};
  std::memcpy(dst + total - sizeof trailer, &trailer, sizeof trailer);
  return total;
}

EntryRead decode_entry(const uint8_t* buf, size_t buf_bytes, uint64_t vpos, uint64_t expected_index,
                       size_t max_payload_bytes, DecodedEntry* out) {
  EntryHeader h;
  if (buf_bytes < sizeof h) return EntryRead::kEmpty;
  std::memcpy(&h, buf, sizeof h);
  // Another index here is not an error: earlier laps, or an old leader's undecided entries
  // placed differently, leave such bytes behind.
  if (h.index != expected_index || h.vpos != vpos) return EntryRead::kEmpty;
  if (h.payload_bytes > max_payload_bytes) return EntryRead::kTorn;  // length not yet final
  const size_t total = entry_bytes(h.payload_bytes);
  if (total > buf_bytes) return EntryRead::kInvalid;
  EntryTrailer t;
  std::memcpy(&t, buf + total - sizeof t, sizeof t);
  if (t.index != expected_index || t.magic != kEntryMagic ||
      t.crc != crc32c(buf, sizeof h + h.payload_bytes)) {
    return EntryRead::kTorn;
  }
  if (h.kind != EntryKind::kData && h.kind != EntryKind::kNoop) return EntryRead::kInvalid;
  out->header = h;
  out->payload = buf + sizeof h;
  return EntryRead::kValid;
}

EntryRead read_entry(const uint8_t* ring, size_t ring_bytes, uint64_t vpos, uint64_t expected_index,
                     size_t max_payload_bytes, std::vector<uint8_t>& scratch, DecodedEntry* out) {
  assert(ring_bytes % kCacheLineBytes == 0 && vpos % kCacheLineBytes == 0);
  const size_t offset = vpos % ring_bytes;
  // The memory may change under us (a remote WRITE): peek at the header, then copy the entry
  // and validate the copy only.
  EntryHeader h;
  std::memcpy(&h, ring + offset, sizeof h);
  __atomic_thread_fence(__ATOMIC_ACQUIRE);
  if (h.index != expected_index || h.vpos != vpos) return EntryRead::kEmpty;
  if (h.payload_bytes > max_payload_bytes) return EntryRead::kTorn;
  const size_t total = entry_bytes(h.payload_bytes);
  if (total > ring_bytes - offset) return EntryRead::kInvalid;
  if (scratch.size() < total) scratch.resize(total);
  std::memcpy(scratch.data(), ring + offset, total);
  __atomic_thread_fence(__ATOMIC_ACQUIRE);
  return decode_entry(scratch.data(), total, vpos, expected_index, max_payload_bytes, out);
}

EntryRead read_own_entry(const uint8_t* ring, size_t ring_bytes, uint64_t vpos, uint64_t expected_index,
                         DecodedEntry* out) {
  assert(ring_bytes % kCacheLineBytes == 0 && vpos % kCacheLineBytes == 0);
  const size_t offset = vpos % ring_bytes;
  EntryHeader h;
  std::memcpy(&h, ring + offset, sizeof h);
  if (h.index != expected_index || h.vpos != vpos) return EntryRead::kInvalid;
  if (entry_bytes(h.payload_bytes) > ring_bytes - offset) return EntryRead::kInvalid;
  if (h.kind != EntryKind::kData && h.kind != EntryKind::kNoop) return EntryRead::kInvalid;
  out->header = h;
  out->payload = ring + offset + sizeof h;
  return EntryRead::kValid;
}

uint64_t entry_position(uint64_t vpos, size_t max_entry_bytes, size_t ring_bytes) {
  assert(max_entry_bytes <= ring_bytes);
  const uint64_t lap_end = (vpos / ring_bytes + 1) * ring_bytes;
  return lap_end - vpos >= max_entry_bytes ? vpos : lap_end;
}

}  // namespace mu::core
