// What only the sim fabric offers: determinism by seed, reordering across QPs, torn WRITEs,
// crashes and QP failures on demand.
#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <vector>

#include "mu/fabric/sim.h"

namespace mu::fabric {
namespace {

// Two devices, `pairs` connected QP pairs from device a (requester) to device b (responder).
struct Rig {
  explicit Rig(uint64_t seed, SimFaults faults = {}, int pairs = 2) : world(seed, faults) {
    a = world.create_device("a");
    b = world.create_device("b");
    src.assign(4096, 0);
    dst.assign(4096, 0);
    src_mr = std::move(a->register_region(src.data(), src.size(), kAccessAll).value());
    dst_mr = std::move(b->register_region(dst.data(), dst.size(), kAccessAll).value());
    cq_a = std::move(a->create_cq(4096).value());
    cq_b = std::move(b->create_cq(4096).value());
    for (int i = 0; i < pairs; ++i) {
      qa.push_back(std::move(a->create_qp(*cq_a, {}).value()));
      qb.push_back(std::move(b->create_qp(*cq_b, {}).value()));
      EXPECT_TRUE(qa[i]->to_init(kAccessAll).ok());
      EXPECT_TRUE(qb[i]->to_init(kAccessAll).ok());
      EXPECT_TRUE(qa[i]->to_rtr(qb[i]->address()).ok());
      EXPECT_TRUE(qb[i]->to_rtr(qa[i]->address()).ok());
      EXPECT_TRUE(qa[i]->to_rts().ok());
      EXPECT_TRUE(qb[i]->to_rts().ok());
    }
  }
  Status write(int pair, size_t src_off, size_t len, size_t dst_off, uint64_t wr_id) {
    WorkRequest wr;
    wr.wr_id = wr_id;
    wr.local_addr = src.data() + src_off;
    wr.length = static_cast<uint32_t>(len);
    wr.lkey = src_mr->lkey();
    wr.remote_addr = dst_mr->remote().addr + dst_off;
    wr.rkey = dst_mr->rkey();
    return qa[pair]->post(wr);
  }
  std::vector<Completion> drain() {
    std::vector<Completion> out;
    world.run_until_idle(100000);
    Completion c[64];
    for (int n; (n = cq_a->poll(c, 64)) > 0;) out.insert(out.end(), c, c + n);
    return out;
  }

  SimWorld world;
  std::unique_ptr<Device> a, b;
  std::vector<uint8_t> src, dst;
  std::unique_ptr<MemoryRegion> src_mr, dst_mr;
  std::unique_ptr<CompletionQueue> cq_a, cq_b;
  std::vector<std::unique_ptr<QueuePair>> qa, qb;
};

// The order in which completions of two QPs interleave, as a string of QP indexes.
std::string interleaving(uint64_t seed) {
  Rig rig(seed);
  for (int i = 0; i < 20; ++i) {
    EXPECT_TRUE(rig.write(0, 0, 8, 0, i).ok());
    EXPECT_TRUE(rig.write(1, 0, 8, 8, 100 + i).ok());
  }
  std::string order;
  for (const Completion& c : rig.drain()) order += c.wr_id < 100 ? '0' : '1';
  EXPECT_EQ(order.size(), 40u);
  return order;
}

TEST(SimFabric, SameSeedSameHistory) { EXPECT_EQ(interleaving(7), interleaving(7)); }

TEST(SimFabric, SeedsReorderOperationsAcrossQps) {
  std::set<std::string> orders;
  for (uint64_t seed = 1; seed <= 20; ++seed) orders.insert(interleaving(seed));
  EXPECT_GT(orders.size(), 10u) << "different seeds should interleave QPs differently";
}

TEST(SimFabric, OrderWithinAQpIsKeptUnderAnySchedule) {
  for (uint64_t seed = 1; seed <= 200; ++seed) {
    Rig rig(seed, SimFaults{.max_delay_steps = 8, .tear_probability = 0.5});
    for (int i = 0; i < 30; ++i) ASSERT_TRUE(rig.write(i % 2, 0, 64, 64 * (i % 2), i).ok());
    uint64_t last[2] = {0, 0};
    bool seen[2] = {false, false};
    for (const Completion& c : rig.drain()) {
      const int q = static_cast<int>(c.wr_id % 2);
      ASSERT_EQ(c.status, WcStatus::kSuccess);
      if (seen[q]) {
        ASSERT_GT(c.wr_id, last[q]) << "seed " << seed;
      }
      last[q] = c.wr_id;
      seen[q] = true;
    }
  }
}

TEST(SimFabric, TornWriteIsVisibleInPiecesBeforeItCompletes) {
  int seeds_with_partial_state = 0;
  for (uint64_t seed = 1; seed <= 50; ++seed) {
    Rig rig(seed, SimFaults{.max_delay_steps = 2, .tear_probability = 1.0, .max_tear_pieces = 8},
            1);
    std::memset(rig.src.data(), 0xCD, 256);
    ASSERT_TRUE(rig.write(0, 0, 256, 0, 1).ok());
    bool partial = false;
    for (int s = 0; s < 1000; ++s) {
      rig.world.step();
      size_t landed = 0;
      for (size_t i = 0; i < 256; ++i) landed += rig.dst[i] == 0xCD;
      if (landed > 0 && landed < 256) partial = true;
    }
    Completion c;
    ASSERT_EQ(rig.cq_a->poll(&c, 1), 1);
    ASSERT_EQ(c.status, WcStatus::kSuccess);
    for (size_t i = 0; i < 256; ++i) ASSERT_EQ(rig.dst[i], 0xCD);
    seeds_with_partial_state += partial;
  }
  EXPECT_GT(seeds_with_partial_state, 40);
}

TEST(SimFabric, RevocationBetweenPiecesStopsTheRestOfATornWrite) {
  int revoked_mid_write = 0;
  for (uint64_t seed = 1; seed <= 100; ++seed) {
    Rig rig(seed, SimFaults{.max_delay_steps = 2, .tear_probability = 1.0, .max_tear_pieces = 8},
            1);
    std::memset(rig.src.data(), 0xEF, 512);
    ASSERT_TRUE(rig.write(0, 0, 512, 0, 1).ok());
    size_t landed_at_revocation = 0;
    for (int s = 0; s < 1000 && landed_at_revocation == 0; ++s) {
      rig.world.step();
      for (size_t i = 0; i < 512; ++i) landed_at_revocation += rig.dst[i] == 0xEF;
    }
    if (landed_at_revocation == 512) continue;  // landed whole before we looked
    ASSERT_TRUE(rig.qb[0]->set_access(kRemoteRead).ok());
    ++revoked_mid_write;
    const std::vector<uint8_t> snapshot(rig.dst.begin(), rig.dst.end());
    auto cs = rig.drain();
    ASSERT_EQ(cs.size(), 1u);
    EXPECT_EQ(cs[0].status, WcStatus::kRemoteInvalidRequest);
    EXPECT_EQ(snapshot, rig.dst) << "a piece landed after the revocation, seed " << seed;
  }
  EXPECT_GT(revoked_mid_write, 30) << "too few schedules revoked in the middle of a WRITE";
}

TEST(SimFabric, CrashedPeerFailsOperationsAndItsMemoryIsNeverTouched) {
  Rig rig(3, {}, 1);
  rig.world.crash(*rig.b);
  std::memset(rig.src.data(), 0x11, 64);
  ASSERT_TRUE(rig.write(0, 0, 64, 0, 1).ok());
  ASSERT_TRUE(rig.write(0, 0, 64, 64, 2).ok());
  auto cs = rig.drain();
  ASSERT_EQ(cs.size(), 2u);
  EXPECT_EQ(cs[0].status, WcStatus::kRetryExceeded);
  EXPECT_EQ(cs[1].status, WcStatus::kWorkRequestFlushed);
  for (uint8_t byte : rig.dst) ASSERT_EQ(byte, 0);
}

TEST(SimFabric, PausedDeviceSendsNothingUntilResumed) {
  Rig rig(4, {}, 1);
  rig.world.pause(*rig.a);
  rig.src[0] = 9;
  ASSERT_TRUE(rig.write(0, 0, 1, 0, 1).ok());
  EXPECT_TRUE(rig.drain().empty());
  EXPECT_EQ(rig.dst[0], 0);
  rig.world.resume(*rig.a);
  auto cs = rig.drain();
  ASSERT_EQ(cs.size(), 1u);
  EXPECT_EQ(cs[0].status, WcStatus::kSuccess);
  EXPECT_EQ(rig.dst[0], 9);
}

TEST(SimFabric, FailedQpCompletesItsWorkWithErrors) {
  Rig rig(5, SimFaults{.max_delay_steps = 0}, 1);
  rig.world.pause(*rig.a);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(rig.write(0, 0, 8, 0, i).ok());
  rig.world.fail_qp(*rig.qa[0]);
  EXPECT_EQ(rig.qa[0]->state(), QpState::kErr);
  auto cs = rig.drain();
  ASSERT_EQ(cs.size(), 3u);
  EXPECT_EQ(cs[0].status, WcStatus::kRetryExceeded);
  EXPECT_EQ(cs[1].status, WcStatus::kWorkRequestFlushed);
  EXPECT_EQ(cs[2].status, WcStatus::kWorkRequestFlushed);
}

TEST(SimFabric, VirtualTimeAdvancesWithStepsAndControlVerbs) {
  Rig rig(6, SimFaults{.step_ns = 100}, 1);
  const uint64_t t0 = rig.world.now_ns();
  rig.world.step();
  EXPECT_EQ(rig.world.now_ns(), t0 + 100);
  const uint64_t t1 = rig.world.now_ns();
  ASSERT_TRUE(rig.qb[0]->set_access(kRemoteRead).ok());
  EXPECT_GT(rig.world.now_ns(), t1);
}

}  // namespace
}  // namespace mu::fabric
