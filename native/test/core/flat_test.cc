// The hot path's allocation-free containers against the standard ones they replace.
#include "core/flat.h"

#include <gtest/gtest.h>

#include <deque>
#include <random>
#include <unordered_set>

namespace mu::core::testing {
namespace {

TEST(Ring, BehavesAsADequeThroughGrowthAndWrapAround) {
  std::mt19937_64 rng(7);
  Ring<uint64_t> ring;
  std::deque<uint64_t> ref;
  for (int step = 0; step < 200'000; ++step) {
    const auto op = rng() % 8;
    if (op < 3) {
      const uint64_t v = rng();
      ring.push_back(v);
      ref.push_back(v);
    } else if (op < 5) {
      const uint64_t v = rng();
      ring.push_front(v);
      ref.push_front(v);
    } else if (op < 7 && !ref.empty()) {
      ASSERT_EQ(ring.front(), ref.front());
      ring.pop_front();
      ref.pop_front();
    } else if (op == 7 && rng() % 500 == 0) {
      ring.clear();
      ref.clear();
    }
    ASSERT_EQ(ring.size(), ref.size());
    if (!ref.empty()) {
      ASSERT_EQ(ring.front(), ref.front());
      ASSERT_EQ(ring.back(), ref.back());
      const size_t i = rng() % ref.size();
      ASSERT_EQ(ring[i], ref[i]);
    }
  }
}

TEST(Ring, ReservedCapacityIsNotExceededByAFifoOfThatSize) {
  Ring<uint64_t> ring;
  ring.reserve(33);
  const size_t capacity = ring.capacity();
  EXPECT_GE(capacity, 33u);
  for (uint64_t i = 0; i < 100'000; ++i) {
    ring.push_back(i);
    if (ring.size() > 33) ring.pop_front();
  }
  EXPECT_EQ(ring.capacity(), capacity);  // no growth: nothing allocated after the reserve
  EXPECT_EQ(ring.front(), 100'000u - 33);
}

// Remembers exactly the last `history` distinct ids inserted, with inserts of ids that are
// remembered refused: the same as an unordered_set plus a FIFO of insertion order.
void check_recent_ids(size_t history, uint64_t id_range, uint64_t seed, bool sequential) {
  std::mt19937_64 rng(seed);
  RecentIds ids(history);
  std::unordered_set<uint64_t> ref;
  std::deque<uint64_t> order;
  uint64_t next = 1;
  for (int step = 0; step < 300'000; ++step) {
    // Mostly fresh ids (sequential, as batch ids are, or random), sometimes a repeat.
    uint64_t id;
    if (rng() % 4 == 0 && !order.empty()) {
      id = order[rng() % order.size()];
    } else if (sequential) {
      id = next++;
    } else {
      id = 1 + rng() % id_range;
    }
    const bool inserted = ids.insert(id);
    const bool expected = ref.insert(id).second;
    ASSERT_EQ(inserted, expected) << "step " << step << " id " << id;
    if (expected) {
      order.push_back(id);
      if (order.size() > history) {
        ref.erase(order.front());
        order.pop_front();
      }
    }
    ASSERT_EQ(ids.size(), ref.size());
    if (step % 97 == 0) {
      const uint64_t probe = 1 + rng() % (sequential ? next : id_range);
      ASSERT_EQ(ids.contains(probe), ref.count(probe) == 1) << "probe " << probe;
    }
  }
  for (uint64_t id : order) ASSERT_TRUE(ids.contains(id));
}

TEST(RecentIds, MatchesASetWithFifoEvictionForSequentialIds) {
  check_recent_ids(1000, 0, 1, true);
  check_recent_ids(1 << 16, 0, 2, true);
}

TEST(RecentIds, MatchesASetWithFifoEvictionForRandomIdsWithCollisions) {
  // A small id range: many repeats, long probe runs, deletions in the middle of runs.
  check_recent_ids(512, 2000, 3, false);
  check_recent_ids(3, 10, 4, false);
  check_recent_ids(4096, uint64_t{1} << 62, 5, false);
}

TEST(RecentIds, BatchIdShapedValues) {
  // [replica+1:8][sequence:56], several proposers interleaved, as apply sees them.
  RecentIds ids(100);
  for (uint64_t seq = 1; seq <= 10'000; ++seq) {
    for (uint64_t r = 1; r <= 3; ++r) ASSERT_TRUE(ids.insert(r << 56 | seq));
    ASSERT_FALSE(ids.insert(2ull << 56 | seq));
    if (seq > 40) {
      ASSERT_FALSE(ids.contains(1ull << 56 | (seq - 40)));  // 120 inserts ago
    }
    ASSERT_TRUE(ids.contains(3ull << 56 | (seq > 30 ? seq - 30 : 1)));
  }
}

}  // namespace
}  // namespace mu::core::testing
