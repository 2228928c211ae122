// Log entry encoding and validation: torn entries, stale laps, checksums, placement, records.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/crc32c.h"
#include "core/log_format.h"

namespace mu::core {
namespace {

constexpr size_t kRing = 4096;

struct Ring {
  std::vector<uint8_t> bytes = std::vector<uint8_t>(kRing, 0);
  std::vector<uint8_t> scratch;
  size_t put(uint64_t vpos, uint64_t index, const std::string& payload, uint64_t proposal = 1) {
    EntryHeader h;
    h.index = index;
    h.proposal = proposal;
    h.vpos = vpos;
    h.payload_bytes = static_cast<uint32_t>(payload.size());
    return encode_entry(bytes.data() + vpos % kRing, h, payload.data());
  }
  EntryRead get(uint64_t vpos, uint64_t index, DecodedEntry* out) {
    return read_entry(bytes.data(), kRing, vpos, index, 1024, scratch, out);
  }
};

TEST(Crc32c, KnownVectors) {
  EXPECT_EQ(crc32c("", 0), 0u);
  EXPECT_EQ(crc32c("123456789", 9), 0xE3069283u);  // the standard CRC32C check value
  std::string zeros(32, '\0');
  EXPECT_EQ(crc32c(zeros.data(), zeros.size()), 0x8A9136AAu);  // RFC 3720 B.4
}

TEST(Crc32c, ChainingEqualsOneShot) {
  std::string s = "microsecond consensus for microsecond applications";
  uint32_t part = crc32c(s.data(), 10);
  EXPECT_EQ(crc32c(s.data() + 10, s.size() - 10, part), crc32c(s.data(), s.size()));
}

// The accelerated path (three interleaved streams over large buffers, joined by shift tables)
// against the bytewise reference: every length around the chunk boundaries, odd offsets, chained.
TEST(Crc32c, AcceleratedPathMatchesTheBytewiseReference) {
  std::vector<uint8_t> data(9000);
  uint64_t x = 0x9e3779b97f4a7c15ull;
  for (uint8_t& b : data) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    b = static_cast<uint8_t>(x);
  }
  for (size_t offset : {size_t{0}, size_t{1}, size_t{7}}) {
    for (size_t n = 0; n + offset <= data.size(); n += (n < 1600 ? 1 : 97)) {
      ASSERT_EQ(crc32c(data.data() + offset, n), crc32c_bytewise(data.data() + offset, n))
          << "length " << n << " offset " << offset;
    }
  }
  const uint32_t head = crc32c(data.data(), 1000);
  EXPECT_EQ(crc32c(data.data() + 1000, 5000, head), crc32c_bytewise(data.data(), 6000));
  EXPECT_EQ(crc32c(data.data(), 6000, 0x12345678u), crc32c_bytewise(data.data(), 6000, 0x12345678u));
}

TEST(LogFormat, EntrySizesAreCacheLineMultiples) {
  EXPECT_EQ(entry_bytes(0), 64u);
  EXPECT_EQ(entry_bytes(64 - 48 - 16), 64u);
  EXPECT_EQ(entry_bytes(1), 128u);
  for (size_t n = 0; n < 5000; n += 37) EXPECT_EQ(entry_bytes(n) % 64, 0u);
}

TEST(LogFormat, RoundTrip) {
  Ring r;
  const size_t size = r.put(128, 7, "hello", 42);
  EXPECT_EQ(size, 128u);
  DecodedEntry e;
  ASSERT_EQ(r.get(128, 7, &e), EntryRead::kValid);
  EXPECT_EQ(e.header.index, 7u);
  EXPECT_EQ(e.header.proposal, 42u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(e.payload), e.header.payload_bytes),
            "hello");
}

TEST(LogFormat, NeverWrittenReadsEmpty) {
  Ring r;
  DecodedEntry e;
  EXPECT_EQ(r.get(0, 1, &e), EntryRead::kEmpty);
}

TEST(LogFormat, StaleEntryOfAnEarlierLapReadsEmpty) {
  Ring r;
  r.put(256, 3, "old lap");
  DecodedEntry e;
  // Same ring offset one lap later: the old index and vpos do not match.
  EXPECT_EQ(r.get(256 + kRing, 3 + 50, &e), EntryRead::kEmpty);
  // Even if the index happened to match, the vpos tells the laps apart.
  EXPECT_EQ(r.get(256 + kRing, 3, &e), EntryRead::kEmpty);
}

TEST(LogFormat, EveryTornPrefixOrPieceIsDetected) {
  // An entry overwriting an older one at the same place, made visible in arbitrary pieces.
  std::mt19937 rng(1);
  for (int trial = 0; trial < 2000; ++trial) {
    Ring old_ring, new_ring;
    old_ring.put(0, 9, std::string(100, 'o'), 1);
    new_ring.put(0, 9, std::string(100 + trial % 7, 'n'), 2);
    const size_t size = entry_bytes(100 + 6);
    std::vector<uint8_t> mix = old_ring.bytes;
    // Each 8-byte word comes from the new entry or the old one.
    bool any_old = false, any_new = false;
    for (size_t w = 0; w < size / 8; ++w) {
      if (rng() % 2) {
        std::memcpy(mix.data() + 8 * w, new_ring.bytes.data() + 8 * w, 8);
        any_new = true;
      } else {
        any_old = any_old || std::memcmp(old_ring.bytes.data() + 8 * w,
                                         new_ring.bytes.data() + 8 * w, 8) != 0;
      }
    }
    if (!any_old || !any_new) continue;  // not actually torn
    Ring torn;
    torn.bytes = mix;
    DecodedEntry e;
    EntryRead result = torn.get(0, 9, &e);
    EXPECT_NE(result, EntryRead::kValid) << "trial " << trial;
  }
}

TEST(LogFormat, FlippedBitFailsTheChecksum) {
  Ring r;
  r.put(0, 1, "payload bytes");
  r.bytes[48 + 3] ^= 0x10;
  DecodedEntry e;
  EXPECT_EQ(r.get(0, 1, &e), EntryRead::kTorn);
}

TEST(LogFormat, HugeClaimedLengthIsNotBelieved) {
  Ring r;
  r.put(0, 1, "x");
  uint32_t huge = 1u << 30;
  std::memcpy(r.bytes.data() + offsetof(EntryHeader, payload_bytes), &huge, 4);
  DecodedEntry e;
  EXPECT_NE(r.get(0, 1, &e), EntryRead::kValid);
}

TEST(LogFormat, PositionSkipsToTheNextLapWhenAMaximalEntryWouldNotFit) {
  EXPECT_EQ(entry_position(0, 64, kRing), 0u);
  EXPECT_EQ(entry_position(kRing - 64, 64, kRing), kRing - 64);
  EXPECT_EQ(entry_position(kRing - 64, 128, kRing), kRing);
  EXPECT_EQ(entry_position(3 * kRing - 128, 256, kRing), 3 * kRing);
  EXPECT_EQ(entry_position(kRing, 256, kRing), kRing);
}

TEST(LogFormat, DecodeFromABufferChecksBounds) {
  Ring r;
  r.put(0, 4, std::string(100, 'p'));
  DecodedEntry e;
  EXPECT_EQ(decode_entry(r.bytes.data(), 256, 0, 4, 1024, &e), EntryRead::kValid);
  EXPECT_EQ(decode_entry(r.bytes.data(), 100, 0, 4, 1024, &e), EntryRead::kInvalid);
  EXPECT_EQ(decode_entry(r.bytes.data(), 256, 0, 5, 1024, &e), EntryRead::kEmpty);
}

TEST(LogFormat, RecordsRoundTripAndMalformedPayloadIsRejected) {
  std::vector<uint8_t> buf(64);
  uint8_t* p = append_record(buf.data(), "SET", 3);
  p = append_record(p, "abcd", 4);
  const size_t n = static_cast<size_t>(p - buf.data());
  EXPECT_EQ(n, record_bytes(3) + record_bytes(4));
  std::vector<std::string> seen;
  EXPECT_TRUE(for_each_record(buf.data(), n, 2, [&](uint16_t, const uint8_t* d, uint32_t len) {
    seen.emplace_back(reinterpret_cast<const char*>(d), len);
  }));
  EXPECT_EQ(seen, (std::vector<std::string>{"SET", "abcd"}));
  EXPECT_FALSE(for_each_record(buf.data(), n - 1, 2, [](uint16_t, const uint8_t*, uint32_t) {}));
  EXPECT_FALSE(for_each_record(buf.data(), n, 3, [](uint16_t, const uint8_t*, uint32_t) {}));
}

}  // namespace
}  // namespace mu::core
