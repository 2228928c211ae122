// CRC32C (Castagnoli), the checksum that makes torn and stale log entries detectable.
#pragma once

#include <cstddef>
#include <cstdint>

namespace mu::core {

// crc32c(data) when `crc` is 0; chain calls by passing the previous result.
uint32_t crc32c(const void* data, size_t length, uint32_t crc = 0);
// The same, one table lookup per byte: the reference the accelerated path is tested against.
uint32_t crc32c_bytewise(const void* data, size_t length, uint32_t crc = 0);

}  // namespace mu::core
