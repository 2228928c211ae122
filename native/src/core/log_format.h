// The replicated log's memory layout (DESIGN.md §3.3), shared by leaders (who write it remotely
// with one-sided WRITEs and read it in prepare/catch-up) and by every replica (which scans and
// applies its own copy).
//
// Replication region = [LogHeader, kHeaderBytes][ring, ring_bytes].
//
// Entries live at *virtual positions* (vpos): a byte counter that only grows; the entry at vpos
// lives at ring offset vpos % ring_bytes. Entries are cache-line multiples and never straddle the
// ring's end: when fewer than max_entry_bytes remain before the end of the lap, the next entry
// starts at the next lap (entry_position). Entry i+1 starts where entry i ends, so where index i
// lives depends only on the decided prefix — never on i's own (possibly undecided) value — and is
// identical on every replica; prepare can read "the slot of index i" without knowing its value.
//
// An entry is [EntryHeader][payload][padding][EntryTrailer]. It is valid for an expected
// (index, vpos) only if header and trailer carry that index, the header carries that vpos, and
// the CRC32C over header+payload matches: a torn entry (some pieces of the WRITE not yet visible)
// fails the CRC or the trailer index; a stale entry of an earlier lap carries an older index/vpos.
// Neither needs the NIC to place bytes in any order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace mu::core {

constexpr size_t kCacheLineBytes = 64;
constexpr size_t kHeaderBytes = 256;
constexpr uint32_t kEntryMagic = 0x4d754c67;  // "MuLg"
constexpr uint64_t kLogMagic = 0x4d754c6f67763031;  // "MuLogv01"

// Words of a replica's log header. Who writes each is part of the protocol.
struct LogHeader {
  uint64_t min_proposal;  // leaders' prepare writes it (Mu §4.1); one per log, not per slot
  uint64_t commit;        // leader writes it when idle: every index < commit is decided
  uint64_t applied_index;  // this replica: first index not yet applied (its log head)
  uint64_t applied_vpos;   // this replica: vpos of applied_index
  uint64_t frontier_index;  // this replica: first index past its contiguous valid entries
  uint64_t frontier_vpos;
  uint64_t ring_bytes;
  uint64_t magic;
  // A leader that cannot catch this replica up from its log (the entries it lacks were
  // recycled) asks it to fetch the applied state instead: see core/state_transfer.h.
  uint64_t transfer_request;
};
static_assert(sizeof(LogHeader) <= kHeaderBytes);
static_assert(kHeaderBytes % kCacheLineBytes == 0);

namespace header_offset {
constexpr size_t kMinProposal = offsetof(LogHeader, min_proposal);
constexpr size_t kCommit = offsetof(LogHeader, commit);
constexpr size_t kAppliedIndex = offsetof(LogHeader, applied_index);
constexpr size_t kTransferRequest = offsetof(LogHeader, transfer_request);
}  // namespace header_offset

enum class EntryKind : uint16_t { kData = 1, kNoop = 3 };

struct EntryHeader {
  uint64_t index = 0;
  uint64_t proposal = 0;
  uint64_t commit = 0;  // piggybacked commit point: every index < commit is decided
  uint64_t vpos = 0;    // where this entry lives: distinguishes laps
  uint32_t payload_bytes = 0;
  EntryKind kind = EntryKind::kData;
  uint16_t record_count = 0;  // requests batched in the payload, each [u32 length][bytes]
  uint64_t batch_id = 0;  // proposer's id for the batch: re-proposals are applied once
};
static_assert(sizeof(EntryHeader) == 48);

struct EntryTrailer {
  uint64_t index;
  uint32_t crc;
  uint32_t magic;
};
static_assert(sizeof(EntryTrailer) == 16);

// Bytes an entry with `payload_bytes` occupies in the ring (a cache-line multiple).
constexpr size_t entry_bytes(size_t payload_bytes) {
  const size_t raw = sizeof(EntryHeader) + payload_bytes + sizeof(EntryTrailer);
  return (raw + kCacheLineBytes - 1) / kCacheLineBytes * kCacheLineBytes;
}
static_assert(entry_bytes(0) == kCacheLineBytes);

// Writes a complete entry at dst (entry_bytes(header.payload_bytes) bytes); returns its size.
size_t encode_entry(uint8_t* dst, const EntryHeader& header, const void* payload);

enum class EntryRead : uint8_t {
  kValid,
  kEmpty,    // nothing there for this index: never written, stale lap, or an older index
  kTorn,     // right index in the header but the CRC or trailer disagree (a WRITE in progress)
  kInvalid,  // claims the index but is malformed (length beyond bounds): bad input, not ours
};

struct DecodedEntry {
  EntryHeader header;
  const uint8_t* payload = nullptr;  // points into the caller's scratch copy
};

// Copies the entry at ring offset (vpos % ring_bytes) into `scratch` and validates the copy
// against the expected index and vpos. `max_payload_bytes` bounds what is believed.
EntryRead read_entry(const uint8_t* ring, size_t ring_bytes, uint64_t vpos, uint64_t expected_index,
                     size_t max_payload_bytes, std::vector<uint8_t>& scratch, DecodedEntry* out);

// An entry this replica encoded itself, in a log nobody else may have written since (the
// leader's own entries of its current term): decoded in place — no copy, no checksum — with
// `out->payload` pointing into the ring. kInvalid if the header is not the expected one.
EntryRead read_own_entry(const uint8_t* ring, size_t ring_bytes, uint64_t vpos, uint64_t expected_index,
                         DecodedEntry* out);

// Where the entry following `vpos` starts: vpos, or the next lap when fewer than
// max_entry_bytes remain before the ring's end.
uint64_t entry_position(uint64_t vpos, size_t max_entry_bytes, size_t ring_bytes);

// Validates an entry held in a local buffer (e.g. a READ of a follower's slot) against the
// expected index and vpos; `out->payload` points into buf.
EntryRead decode_entry(const uint8_t* buf, size_t buf_bytes, uint64_t vpos, uint64_t expected_index,
                       size_t max_payload_bytes, DecodedEntry* out);

// Batched requests inside a payload.
size_t record_bytes(size_t request_bytes);
uint8_t* append_record(uint8_t* dst, const void* request, uint32_t length);
// Iterates records; false on a malformed payload (bad input).
template <typename F>
bool for_each_record(const uint8_t* payload, size_t payload_bytes, uint16_t count, F&& f);

}  // namespace mu::core

#include "core/log_format_inl.h"
