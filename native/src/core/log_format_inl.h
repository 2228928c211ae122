#pragma once
#include <cstring>

namespace mu::core {

inline size_t record_bytes(size_t request_bytes) { return sizeof(uint32_t) + request_bytes; }

inline uint8_t* append_record(uint8_t* dst, const void* request, uint32_t length) {
  std::memcpy(dst, &length, sizeof length);
  std::memcpy(dst + sizeof length, request, length);
  return dst + sizeof length + length;
}

template <typename F>
bool for_each_record(const uint8_t* payload, size_t payload_bytes, uint16_t count, F&& f) {
  size_t at = 0;
  for (uint16_t i = 0; i < count; ++i) {
    uint32_t length;
    if (payload_bytes - at < sizeof length) return false;
    std::memcpy(&length, payload + at, sizeof length);
    at += sizeof length;
    if (payload_bytes - at < length) return false;
    f(i, payload + at, length);
    at += length;
  }
  return at == payload_bytes;
}

}  // namespace mu::core
