// Unit tests of the bootstrap channel: exchanges in any order, refusal of a wrong secret, timeouts,
// identity checks, and an end-to-end soft fabric connection set up through it.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "mu/fabric/bootstrap.h"
#include "mu/fabric/soft.h"

namespace mu::fabric {
namespace {

constexpr char kSecret[] = "bootstrap-test-secret";

std::unique_ptr<Bootstrap> listen_or_die(uint32_t id, const std::string& secret = kSecret) {
  BootstrapConfig config;
  config.id = id;
  config.secret = secret;
  auto b = Bootstrap::listen(config);
  if (!b.ok()) throw std::runtime_error(b.status().to_string());
  return std::move(b.value());
}

BootstrapPeer peer_of(const Bootstrap& b) { return {b.id(), "127.0.0.1", b.port()}; }

std::vector<uint8_t> blob_for(uint32_t from, uint32_t to) {
  std::string s = "from " + std::to_string(from) + " to " + std::to_string(to);
  return {s.begin(), s.end()};
}

TEST(Bootstrap, EmptySecretIsRejected) {
  BootstrapConfig config;
  auto b = Bootstrap::listen(config);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code, ErrorCode::kInvalidArgument);
}

// Three replicas, each exchanging with the others in a different order (a cycle), concurrently:
// publishing everything before fetching makes the order irrelevant.
TEST(Bootstrap, AllPairsExchangeInAnyOrder) {
  std::vector<std::unique_ptr<Bootstrap>> replicas;
  for (uint32_t id = 1; id <= 3; ++id) replicas.push_back(listen_or_die(id));
  const std::vector<std::vector<int>> orders = {{2, 1}, {0, 2}, {1, 0}};  // a cycle
  std::vector<std::vector<std::vector<uint8_t>>> got(3, std::vector<std::vector<uint8_t>>(3));
  std::vector<std::string> errors(3);
  std::vector<std::thread> threads;
  for (int me = 0; me < 3; ++me) {
    threads.emplace_back([&, me] {
      std::vector<BootstrapOffer> offers;
      for (int other : orders[me]) {
        offers.push_back({peer_of(*replicas[other]), blob_for(replicas[me]->id(), replicas[other]->id())});
      }
      auto r = replicas[me]->exchange_all(offers, 5000);
      if (!r.ok()) {
        errors[me] = r.status().to_string();
        return;
      }
      for (size_t k = 0; k < orders[me].size(); ++k) got[me][orders[me][k]] = r.value()[k];
    });
  }
  for (auto& t : threads) t.join();
  for (int me = 0; me < 3; ++me) {
    ASSERT_TRUE(errors[me].empty()) << errors[me];
    for (int other : orders[me]) {
      EXPECT_EQ(got[me][other], blob_for(replicas[other]->id(), replicas[me]->id()));
    }
  }
}

TEST(Bootstrap, WrongSecretIsRefusedAtOnceAndLearnsNothing) {
  auto server = listen_or_die(1);
  auto impostor = listen_or_die(2, "wrong-secret");
  ASSERT_TRUE(server->publish(2, blob_for(1, 2)).ok());
  const auto start = std::chrono::steady_clock::now();
  auto r = impostor->fetch(peer_of(*server), 5000);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code, ErrorCode::kAuthenticationFailed) << r.status().to_string();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2)) << "must not retry";
  // And the other way round: the honest replica refuses to trust the impostor's server.
  ASSERT_TRUE(impostor->publish(1, blob_for(2, 1)).ok());
  auto back = server->fetch(peer_of(*impostor), 5000);
  ASSERT_FALSE(back.ok());
  EXPECT_EQ(back.status().code, ErrorCode::kAuthenticationFailed);
}

TEST(Bootstrap, AbsentPeerTimesOut) {
  auto me = listen_or_die(1);
  uint16_t dead_port = 0;
  {
    auto gone = listen_or_die(2);
    dead_port = gone->port();
  }
  const auto start = std::chrono::steady_clock::now();
  auto r = me->fetch({2, "127.0.0.1", dead_port}, 300);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code, ErrorCode::kUnreachable);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
}

TEST(Bootstrap, PeerThatHasNotPublishedYetIsWaitedFor) {
  auto a = listen_or_die(1);
  auto b = listen_or_die(2);
  std::thread late([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    (void)b->publish(1, blob_for(2, 1));
  });
  auto r = a->fetch(peer_of(*b), 5000);
  late.join();
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r.value(), blob_for(2, 1));
}

TEST(Bootstrap, EndpointWithAnotherIdIsNotTrusted) {
  auto a = listen_or_die(1);
  auto b = listen_or_die(2);
  ASSERT_TRUE(b->publish(1, blob_for(2, 1)).ok());
  auto r = a->fetch({3, "127.0.0.1", b->port()}, 1000);  // the list says replica 3 lives there
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code, ErrorCode::kInvalidArgument);
}

TEST(Bootstrap, StateIsServedOnDemandByTheProviderAndRefusalsSayWhy) {
  auto a = listen_or_die(1);
  auto b = listen_or_die(2);
  // No provider yet: refused with a reason, not a timeout.
  auto none = a->fetch_state(peer_of(*b), 2000);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code, ErrorCode::kInvalidState);
  EXPECT_NE(none.status().message.find("serves no state"), std::string::npos) << none.status().message;
  // A state larger than a bootstrap blob, made for whoever asks.
  uint32_t asked_by = 99;
  b->serve_state([&](uint32_t requester) -> Result<std::vector<uint8_t>> {
    asked_by = requester;
    std::vector<uint8_t> state(3 * Bootstrap::kMaxBlobBytes);
    for (size_t i = 0; i < state.size(); ++i) state[i] = static_cast<uint8_t>(i * 7 + requester);
    return state;
  });
  auto got = a->fetch_state(peer_of(*b), 5000);
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  EXPECT_EQ(asked_by, 1u);
  ASSERT_EQ(got.value().size(), 3 * Bootstrap::kMaxBlobBytes);
  for (size_t i = 0; i < got.value().size(); i += 4099) {
    ASSERT_EQ(got.value()[i], static_cast<uint8_t>(i * 7 + 1)) << i;
  }
  // The provider's refusal reaches the fetcher.
  b->serve_state([](uint32_t) -> Result<std::vector<uint8_t>> {
    return Status::Error(ErrorCode::kInvalidState, "engine is stopping");
  });
  auto refused = a->fetch_state(peer_of(*b), 2000);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message.find("engine is stopping"), std::string::npos);
  // Without the secret: nothing.
  auto stranger = listen_or_die(3, "another-secret");
  auto denied = stranger->fetch_state(peer_of(*b), 2000);
  ASSERT_FALSE(denied.ok());
  EXPECT_EQ(denied.status().code, ErrorCode::kAuthenticationFailed);
  // And the ordinary blobs are still served beside it.
  ASSERT_TRUE(b->publish(1, blob_for(2, 1)).ok());
  auto blob = a->fetch(peer_of(*b), 2000);
  ASSERT_TRUE(blob.ok());
  EXPECT_EQ(blob.value(), blob_for(2, 1));
}

// What the channel is for: two soft devices learn each other's QP address and region, then WRITE.
TEST(Bootstrap, SetsUpASoftFabricConnection) {
  struct Replica {
    std::unique_ptr<Bootstrap> bootstrap;
    std::unique_ptr<SoftDevice> device;
    std::vector<uint8_t> memory = std::vector<uint8_t>(256, 0);
    std::unique_ptr<MemoryRegion> region;
    std::unique_ptr<CompletionQueue> cq;
    std::unique_ptr<QueuePair> qp;
    ~Replica() {
      qp.reset();
      cq.reset();
      region.reset();
    }
  };
  Replica r[2];
  for (uint32_t i = 0; i < 2; ++i) {
    r[i].bootstrap = listen_or_die(i + 1);
    SoftConfig config;
    config.secret = kSecret;
    r[i].device = std::move(open_soft_device(config).value());
    r[i].region = std::move(r[i].device->register_region(r[i].memory.data(), 256, kAccessAll).value());
    r[i].cq = std::move(r[i].device->create_cq(16).value());
    r[i].qp = std::move(r[i].device->create_qp(*r[i].cq, QpCaps{}).value());
    ASSERT_TRUE(r[i].qp->to_init(kAccessAll).ok());
  }
  // Blob = QpAddress | RemoteRegion, serialized by the caller (here: raw bytes, same host).
  auto blob = [](const Replica& x) {
    std::vector<uint8_t> out(QpAddress::kSize + sizeof(RemoteRegion));
    const QpAddress address = x.qp->address();
    const RemoteRegion region = x.region->remote();
    std::memcpy(out.data(), address.bytes, QpAddress::kSize);
    std::memcpy(out.data() + QpAddress::kSize, &region, sizeof(region));
    return out;
  };
  Result<std::vector<uint8_t>> from_peer[2] = {Status::Error(ErrorCode::kInternal, "unset"),
                                               Status::Error(ErrorCode::kInternal, "unset")};
  std::thread t([&] { from_peer[1] = r[1].bootstrap->exchange(peer_of(*r[0].bootstrap), blob(r[1]), 5000); });
  from_peer[0] = r[0].bootstrap->exchange(peer_of(*r[1].bootstrap), blob(r[0]), 5000);
  t.join();
  RemoteRegion remote_of[2];
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(from_peer[i].ok()) << from_peer[i].status().to_string();
    ASSERT_EQ(from_peer[i].value().size(), QpAddress::kSize + sizeof(RemoteRegion));
    QpAddress peer_address;
    std::memcpy(peer_address.bytes, from_peer[i].value().data(), QpAddress::kSize);
    std::memcpy(&remote_of[i], from_peer[i].value().data() + QpAddress::kSize, sizeof(RemoteRegion));
    ASSERT_TRUE(r[i].qp->to_rtr(peer_address).ok());
  }
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(r[i].qp->to_rts().ok());
  std::memset(r[0].memory.data(), 0x3C, 16);
  WorkRequest wr;
  wr.wr_id = 1;
  wr.local_addr = r[0].memory.data();
  wr.length = 16;
  wr.lkey = r[0].region->lkey();
  wr.remote_addr = remote_of[0].addr + 32;
  wr.rkey = remote_of[0].rkey;
  ASSERT_TRUE(r[0].qp->post(wr).ok());
  Completion c;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (r[0].cq->poll(&c, 1) == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  EXPECT_EQ(c.status, WcStatus::kSuccess) << to_string(c.status);
  EXPECT_EQ(r[1].memory[32], 0x3C);
  EXPECT_EQ(r[1].memory[47], 0x3C);
  EXPECT_EQ(r[1].memory[48], 0);
}

}  // namespace
}  // namespace mu::fabric
