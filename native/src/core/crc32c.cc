#include "core/crc32c.h"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <cpuid.h>
#include <nmmintrin.h>
#endif

namespace mu::core {
namespace {

constexpr uint32_t kPolynomial = 0x82F63B78;  // reflected Castagnoli polynomial

constexpr std::array<uint32_t, 256> make_table() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ kPolynomial : c >> 1;
    t[i] = c;
  }
  return t;
}
constexpr std::array<uint32_t, 256> kTable = make_table();

uint32_t crc32c_portable(const uint8_t* p, size_t n, uint32_t crc) {
  for (size_t i = 0; i < n; ++i) crc = kTable[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
  return crc;
}

#if defined(__x86_64__)
// One stream: each crc32 instruction waits for the previous one (3 cycles of latency).
__attribute__((target("sse4.2"))) uint64_t crc32c_stream(const uint8_t* p, size_t words, uint64_t c) {
  for (size_t i = 0; i < words; ++i) {
    uint64_t word;
    std::memcpy(&word, p + 8 * i, 8);
    c = _mm_crc32_u64(c, word);
  }
  return c;
}

// Large buffers go in chunks of three independent streams of kStreamBytes each, which the CPU
// runs in parallel (one crc32 per cycle instead of one per 3 cycles), joined by the linearity of
// the CRC: crc(s, A || B) = shift(crc(s, A)) ^ crc(0, B), where shift(x) is the register after
// kStreamBytes zero bytes from x — linear in x, so four 256-entry tables (one per byte of x).
constexpr size_t kStreamBytes = 256;

struct ShiftTables {
  uint32_t t[4][256];
};

// Built at start-up in every process: shift each of the 32 register bits once (32 x 256 zero
// bytes), then every table entry is the XOR of its bits' shifts (shift is linear).
ShiftTables make_shift_tables() {
  const uint8_t zeros[kStreamBytes] = {};
  uint32_t bit[32];
  for (int i = 0; i < 32; ++i) bit[i] = crc32c_portable(zeros, kStreamBytes, uint32_t{1} << i);
  ShiftTables s{};
  for (int k = 0; k < 4; ++k) {
    for (uint32_t b = 1; b < 256; ++b) {
      const int low = __builtin_ctz(b);  // b = lowest set bit + the rest, already computed
      s.t[k][b] = bit[8 * k + low] ^ s.t[k][b & (b - 1)];
    }
  }
  return s;
}
const ShiftTables kShift = make_shift_tables();

inline uint32_t shift(uint32_t x) {
  return kShift.t[0][x & 0xff] ^ kShift.t[1][(x >> 8) & 0xff] ^ kShift.t[2][(x >> 16) & 0xff] ^
         kShift.t[3][x >> 24];
}

__attribute__((target("sse4.2"))) uint32_t crc32c_sse42(const uint8_t* p, size_t n, uint32_t crc) {
  uint64_t c = crc;
  constexpr size_t kWords = kStreamBytes / 8;
  while (n >= 3 * kStreamBytes) {
    uint64_t a = c, b = 0, d = 0;
    for (size_t i = 0; i < kWords; ++i) {  // interleaved: three independent dependency chains
      uint64_t wa, wb, wd;
      std::memcpy(&wa, p + 8 * i, 8);
      std::memcpy(&wb, p + kStreamBytes + 8 * i, 8);
      std::memcpy(&wd, p + 2 * kStreamBytes + 8 * i, 8);
      a = _mm_crc32_u64(a, wa);
      b = _mm_crc32_u64(b, wb);
      d = _mm_crc32_u64(d, wd);
    }
    c = shift(shift(static_cast<uint32_t>(a)) ^ static_cast<uint32_t>(b)) ^ static_cast<uint32_t>(d);
    p += 3 * kStreamBytes;
    n -= 3 * kStreamBytes;
  }
  c = crc32c_stream(p, n / 8, c);
  p += n / 8 * 8;
  n %= 8;
  uint32_t c32 = static_cast<uint32_t>(c);
  while (n-- > 0) c32 = _mm_crc32_u8(c32, *p++);
  return c32;
}

bool has_sse42() {
  unsigned a, b, c, d;
  return __get_cpuid(1, &a, &b, &c, &d) && (c & bit_SSE4_2);
}
const bool kHasSse42 = has_sse42();
#endif

}  // namespace

uint32_t crc32c_bytewise(const void* data, size_t length, uint32_t crc) {
  return ~crc32c_portable(static_cast<const uint8_t*>(data), length, ~crc);
}

uint32_t crc32c(const void* data, size_t length, uint32_t crc) {
  const auto* p = static_cast<const uint8_t*>(data);
  crc = ~crc;
#if defined(__x86_64__)
  if (kHasSse42) return ~crc32c_sse42(p, length, crc);
#endif
  return ~crc32c_portable(p, length, crc);
}

}  // namespace mu::core
