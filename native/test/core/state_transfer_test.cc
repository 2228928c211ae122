// The state snapshot's encoding: a round trip keeps every field; truncation, corruption and a
// foreign blob are refused with a reason; the transfer request word packs leader and log head.
#include <gtest/gtest.h>

#include "core/state_transfer.h"

namespace mu::core {
namespace {

StateSnapshot sample() {
  StateSnapshot s;
  s.applied_index = 12345;
  s.applied_vpos = 987654;
  s.ring_bytes = 1 << 20;
  s.max_entry_bytes = 4160;
  s.source = 2;
  s.applied_batches = {7, 8, 1ull << 60};
  s.machine = {'k', 'v', 0, 255, 3};
  return s;
}

TEST(StateSnapshot, RoundTripKeepsEveryField) {
  const StateSnapshot s = sample();
  const std::vector<uint8_t> bytes = encode_snapshot(s);
  StateSnapshot back;
  ASSERT_EQ(decode_snapshot(bytes.data(), bytes.size(), &back), "");
  EXPECT_EQ(back.applied_index, s.applied_index);
  EXPECT_EQ(back.applied_vpos, s.applied_vpos);
  EXPECT_EQ(back.ring_bytes, s.ring_bytes);
  EXPECT_EQ(back.max_entry_bytes, s.max_entry_bytes);
  EXPECT_EQ(back.source, s.source);
  EXPECT_EQ(back.applied_batches, s.applied_batches);
  EXPECT_EQ(back.machine, s.machine);
  // Empty parts are fine too.
  StateSnapshot empty;
  const std::vector<uint8_t> e = encode_snapshot(empty);
  ASSERT_EQ(decode_snapshot(e.data(), e.size(), &back), "");
  EXPECT_TRUE(back.machine.empty());
  EXPECT_TRUE(back.applied_batches.empty());
}

TEST(StateSnapshot, DamagedOrForeignBytesAreRefusedWithAReason) {
  const std::vector<uint8_t> bytes = encode_snapshot(sample());
  StateSnapshot out;
  out.applied_index = 77;  // untouched on failure
  std::vector<uint8_t> cut(bytes.begin(), bytes.end() - 3);
  EXPECT_NE(decode_snapshot(cut.data(), cut.size(), &out), "");
  for (size_t at : {size_t{9}, bytes.size() / 2, bytes.size() - 5}) {
    std::vector<uint8_t> bad = bytes;
    bad[at] ^= 0x40;
    EXPECT_NE(decode_snapshot(bad.data(), bad.size(), &out).find("checksum"), std::string::npos) << at;
  }
  const std::string foreign = "PNG not a snapshot at all";
  EXPECT_NE(decode_snapshot(reinterpret_cast<const uint8_t*>(foreign.data()), foreign.size(), &out), "");
  EXPECT_NE(decode_snapshot(bytes.data(), 4, &out), "");
  EXPECT_EQ(out.applied_index, 77u);
}

TEST(StateSnapshot, TransferRequestPacksTheSourceAndTheLogHeadItSaw) {
  const uint64_t r = transfer_request(4, 123456789);
  EXPECT_NE(r, 0u);  // 0 means "no request", even from replica 0 at index 0
  EXPECT_NE(transfer_request(0, 0), 0u);
  EXPECT_EQ(transfer_request_source(r), 4u);
  EXPECT_EQ(transfer_request_seen(r), 123456789u);
}

}  // namespace
}  // namespace mu::core
