// The replicated record: the bytes a leader proposes for one client command, and that every
// replica decodes and executes in log order.
//
//   [u64 now_ms][u8 resp_version][u32 argc] then argc × [u32 length][length bytes]
//
// Little-endian, no padding. now_ms is the leader's wall clock when it proposed the command:
// expiry decisions on every replica use it and nothing else (kv_store.h). resp_version is the
// client's protocol at the time, so the proposer's reply is encoded the way its client expects.
//
// Decoding is defensive: a record comes out of the log, i.e. from another process's memory; a
// malformed one is rejected with a reason, never trusted (STYLE.md habit 7).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "apps/kv/resp.h"

namespace mu::kv {

constexpr size_t kRecordHeaderBytes = 8 + 1 + 4;
constexpr size_t kRecordArgumentOverhead = 4;
constexpr uint32_t kRecordMaxArguments = kMaxDeclaredArguments;

struct Record {
  uint64_t now_ms = 0;
  int resp_version = 2;
  Command argv;  // views into the decoded bytes
};

// Bytes encode_record() produces for argv.
size_t record_bytes(Argv argv);

// Replaces *out with the encoding. argv must be non-empty with at most kRecordMaxArguments.
void encode_record(uint64_t now_ms, int resp_version, Argv argv, std::vector<uint8_t>* out);

enum class RecordError : uint8_t {
  kNone,
  kTruncated,       // shorter than its header or its declared arguments
  kBadVersion,      // resp_version not 2 or 3
  kNoArguments,     // argc == 0
  kTooManyArguments,
  kTrailingBytes,   // bytes after the last argument
};
const char* to_string(RecordError e);

// Decodes in place: out->argv points into `data`, valid while `data` is. kNone on success.
RecordError decode_record(const uint8_t* data, size_t length, Record* out);

}  // namespace mu::kv
