// Majority arithmetic, for any group size (DESIGN.md §8: the original got even sizes wrong).
#pragma once

#include <cstdint>

namespace mu::core {

constexpr uint32_t kMaxReplicas = 16;

// Smallest number of replicas that forms a majority of n: any two such sets intersect.
constexpr uint32_t majority(uint32_t n) { return n / 2 + 1; }
// How many replicas may fail while a majority remains.
constexpr uint32_t max_failures(uint32_t n) { return n == 0 ? 0 : (n - 1) / 2; }

// Members in a replica bit set. Not __builtin_popcount: without -mpopcnt that is a libgcc call
// on every commit check.
constexpr uint32_t count_members(uint32_t set) {
  set = set - ((set >> 1) & 0x55555555u);
  set = (set & 0x33333333u) + ((set >> 2) & 0x33333333u);
  return (((set + (set >> 4)) & 0x0f0f0f0fu) * 0x01010101u) >> 24;
}

static_assert(count_members(0) == 0 && count_members(0b1011) == 3 && count_members(0xffffu) == 16);
static_assert(majority(1) == 1 && majority(2) == 2 && majority(3) == 2 && majority(4) == 3);
static_assert(majority(5) == 3 && majority(6) == 4 && majority(7) == 4);
static_assert(max_failures(3) == 1 && max_failures(4) == 1 && max_failures(5) == 2);

}  // namespace mu::core
