#include "apps/kv/record.h"

#include <cassert>
#include <cstring>

namespace mu::kv {

namespace {

void put_u32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
void put_u64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
uint32_t get_u32(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= uint32_t{p[i]} << (8 * i);
  return v;
}
uint64_t get_u64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t{p[i]} << (8 * i);
  return v;
}

}  // namespace

const char* to_string(RecordError e) {
  switch (e) {
    case RecordError::kNone: return "none";
    case RecordError::kTruncated: return "truncated";
    case RecordError::kBadVersion: return "bad resp version";
    case RecordError::kNoArguments: return "no arguments";
    case RecordError::kTooManyArguments: return "too many arguments";
    case RecordError::kTrailingBytes: return "trailing bytes";
  }
  return "?";
}

size_t record_bytes(Argv argv) {
  size_t n = kRecordHeaderBytes;
  for (std::string_view a : argv) n += kRecordArgumentOverhead + a.size();
  return n;
}

void encode_record(uint64_t now_ms, int resp_version, Argv argv, std::vector<uint8_t>* out) {
  assert(!argv.empty() && argv.size() <= kRecordMaxArguments);
  assert(resp_version == 2 || resp_version == 3);
  out->resize(record_bytes(argv));
  uint8_t* p = out->data();
  put_u64(p, now_ms);
  p[8] = static_cast<uint8_t>(resp_version);
  put_u32(p + 9, static_cast<uint32_t>(argv.size()));
  p += kRecordHeaderBytes;
  for (std::string_view a : argv) {
    assert(a.size() <= UINT32_MAX);
    put_u32(p, static_cast<uint32_t>(a.size()));
    if (!a.empty()) std::memcpy(p + 4, a.data(), a.size());
    p += 4 + a.size();
  }
  assert(p == out->data() + out->size());
}

namespace {

RecordError decode(const uint8_t* data, size_t length, Record* out) {
  if (length < kRecordHeaderBytes) return RecordError::kTruncated;
  out->now_ms = get_u64(data);
  const uint8_t version = data[8];
  if (version != 2 && version != 3) return RecordError::kBadVersion;
  out->resp_version = version;
  const uint32_t argc = get_u32(data + 9);
  if (argc == 0) return RecordError::kNoArguments;
  if (argc > kRecordMaxArguments) return RecordError::kTooManyArguments;
  // Every argument needs at least its length word: a cheap bound before any allocation.
  if (uint64_t{argc} * kRecordArgumentOverhead > length - kRecordHeaderBytes) {
    return RecordError::kTruncated;
  }
  out->argv.reserve(argc);
  size_t at = kRecordHeaderBytes;
  for (uint32_t i = 0; i < argc; ++i) {
    if (length - at < kRecordArgumentOverhead) return RecordError::kTruncated;
    const uint32_t n = get_u32(data + at);
    at += kRecordArgumentOverhead;
    if (n > length - at) return RecordError::kTruncated;
    out->argv.emplace_back(reinterpret_cast<const char*>(data + at), n);
    at += n;
  }
  if (at != length) return RecordError::kTrailingBytes;
  return RecordError::kNone;
}

}  // namespace

RecordError decode_record(const uint8_t* data, size_t length, Record* out) {
  out->argv.clear();
  const RecordError e = decode(data, length, out);
  if (e != RecordError::kNone) out->argv.clear();  // nothing half-decoded escapes
  return e;
}

}  // namespace mu::kv
