// Unit tests of the soft fabric: the authentication handshake (sans-IO), the frame codec, and a
// soft NIC under bad input — wrong secret, garbage, truncated and oversized frames, a peer that
// vanishes mid-operation — plus the cases the conformance suite does not cover.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "fabric/auth.h"
#include "fabric/soft/net.h"
#include "fabric/soft/soft_stats.h"
#include "fabric/soft/wire.h"
#include "mu/fabric/soft.h"

namespace mu::fabric {
namespace {

using auth::Handshake;
using soft::FrameHeader;
using soft::FrameType;
using soft::kHeaderBytes;

constexpr char kSecret[] = "unit-test-secret";

// --- handshake (no sockets) ---------------------------------------------------------------------

// Moves bytes between two handshakes until neither makes progress.
void pump(Handshake& a, Handshake& b) {
  for (int round = 0; round < 16; ++round) {
    bool moved = false;
    for (auto [from, to] : {std::pair{&a, &b}, std::pair{&b, &a}}) {
      auto out = from->output();
      if (out.empty()) continue;
      const size_t n = to->feed(out);
      from->consume_output(out.size());  // bytes the peer did not take are lost, like a close
      moved = moved || n > 0;
    }
    if (!moved) return;
  }
}

TEST(Handshake, SameSecretAuthenticatesBothSides) {
  Handshake initiator(Handshake::Role::kInitiator, kSecret, "ctx");
  Handshake acceptor(Handshake::Role::kAcceptor, kSecret, "ctx");
  pump(initiator, acceptor);
  EXPECT_EQ(initiator.state(), Handshake::State::kDone) << initiator.error();
  EXPECT_EQ(acceptor.state(), Handshake::State::kDone) << acceptor.error();
}

TEST(Handshake, WrongSecretIsDetectedByTheInitiatorFirst) {
  Handshake initiator(Handshake::Role::kInitiator, "not-the-secret", "ctx");
  Handshake acceptor(Handshake::Role::kAcceptor, kSecret, "ctx");
  pump(initiator, acceptor);
  EXPECT_EQ(initiator.state(), Handshake::State::kFailed);
  EXPECT_NE(initiator.error().find("could not prove"), std::string::npos) << initiator.error();
  EXPECT_NE(acceptor.state(), Handshake::State::kDone);  // it never received a valid proof
}

TEST(Handshake, ForgedProofIsRejectedWithAVerdict) {
  Handshake initiator(Handshake::Role::kInitiator, kSecret, "ctx");
  Handshake acceptor(Handshake::Role::kAcceptor, kSecret, "ctx");
  // Hello, then the challenge, then a proof with one bit flipped.
  auto hello = initiator.output();
  ASSERT_EQ(acceptor.feed(hello), auth::kHelloBytes);
  initiator.consume_output(hello.size());
  auto challenge = acceptor.output();
  ASSERT_EQ(initiator.feed(challenge), auth::kChallengeBytes);
  acceptor.consume_output(challenge.size());
  std::vector<uint8_t> proof(initiator.output().begin(), initiator.output().end());
  ASSERT_EQ(proof.size(), auth::kProofBytes);
  proof[7] ^= 1;
  acceptor.feed(proof);
  EXPECT_EQ(acceptor.state(), Handshake::State::kFailed);
  ASSERT_EQ(acceptor.output().size(), auth::kVerdictBytes);  // the rejection to flush
  initiator.feed(acceptor.output());
  EXPECT_EQ(initiator.state(), Handshake::State::kFailed);
  EXPECT_NE(initiator.error().find("rejected"), std::string::npos) << initiator.error();
}

TEST(Handshake, DifferentContextsDoNotAuthenticate) {
  Handshake initiator(Handshake::Role::kInitiator, kSecret, "mu-bootstrap-v1");
  Handshake acceptor(Handshake::Role::kAcceptor, kSecret, "mu-soft-nic-v1");
  pump(initiator, acceptor);
  EXPECT_EQ(initiator.state(), Handshake::State::kFailed);
}

TEST(Handshake, GarbageHelloFails) {
  Handshake acceptor(Handshake::Role::kAcceptor, kSecret, "ctx");
  std::vector<uint8_t> garbage(100, 0x41);
  EXPECT_EQ(acceptor.feed(garbage), auth::kHelloBytes);
  EXPECT_EQ(acceptor.state(), Handshake::State::kFailed);
  EXPECT_EQ(acceptor.feed(garbage), 0u);
  EXPECT_NE(acceptor.error().find("not a mu endpoint"), std::string::npos) << acceptor.error();
}

TEST(Handshake, BytesAfterTheLastMessageAreLeftForTheCaller) {
  Handshake initiator(Handshake::Role::kInitiator, kSecret, "ctx");
  Handshake acceptor(Handshake::Role::kAcceptor, kSecret, "ctx");
  acceptor.feed(initiator.output());
  initiator.consume_output(initiator.output().size());
  initiator.feed(acceptor.output());
  acceptor.consume_output(acceptor.output().size());
  std::vector<uint8_t> proof_and_frames(initiator.output().begin(), initiator.output().end());
  proof_and_frames.insert(proof_and_frames.end(), 10, 0xFF);  // application bytes, pipelined
  EXPECT_EQ(acceptor.feed(proof_and_frames), auth::kProofBytes);
  EXPECT_EQ(acceptor.state(), Handshake::State::kDone);
  std::vector<uint8_t> verdict_and_frames(acceptor.output().begin(), acceptor.output().end());
  verdict_and_frames.insert(verdict_and_frames.end(), 10, 0xFF);
  EXPECT_EQ(initiator.feed(verdict_and_frames), auth::kVerdictBytes);
  EXPECT_EQ(initiator.state(), Handshake::State::kDone);
}

TEST(Handshake, EmptySecretNeverAuthenticates) {
  Handshake initiator(Handshake::Role::kInitiator, "", "ctx");
  EXPECT_EQ(initiator.state(), Handshake::State::kFailed);
}

TEST(Handshake, ConstantTimeCompare) {
  const uint8_t a[4] = {1, 2, 3, 4}, b[4] = {1, 2, 3, 4}, c[4] = {1, 2, 3, 5};
  EXPECT_TRUE(auth::equal_constant_time(a, b));
  EXPECT_FALSE(auth::equal_constant_time(a, c));
  EXPECT_FALSE(auth::equal_constant_time(std::span(a, 3), b));
}

// --- frame codec --------------------------------------------------------------------------------

TEST(Wire, HeaderRoundTripsAndRejectsBadInput) {
  FrameHeader h;
  h.type = FrameType::kWrite;
  h.length = 1234;
  h.seq = 0x0102030405060708ull;
  h.remote_addr = 0xdeadbeefcafef00dull;
  h.rkey = 0x11223344;
  std::array<uint8_t, kHeaderBytes> bytes{};
  soft::encode_header(h, bytes);
  FrameHeader back;
  ASSERT_EQ(soft::decode_header(bytes, &back), soft::DecodeResult::kOk);
  EXPECT_EQ(back.length, h.length);
  EXPECT_EQ(back.seq, h.seq);
  EXPECT_EQ(back.remote_addr, h.remote_addr);
  EXPECT_EQ(back.rkey, h.rkey);

  auto bad = bytes;
  bad[0] ^= 0xFF;  // magic
  EXPECT_EQ(soft::decode_header(bad, &back), soft::DecodeResult::kMalformed);
  bad = bytes;
  bad[2] = 77;  // frame type
  EXPECT_EQ(soft::decode_header(bad, &back), soft::DecodeResult::kMalformed);
  h.length = soft::kMaxMessageBytes + 1;
  soft::encode_header(h, bytes);
  EXPECT_EQ(soft::decode_header(bytes, &back), soft::DecodeResult::kMalformed);
  std::array<uint8_t, kHeaderBytes> zeros{};
  EXPECT_EQ(soft::decode_header(zeros, &back), soft::DecodeResult::kMalformed);
}

// --- a soft NIC ---------------------------------------------------------------------------------

template <typename T>
T take(Result<T> r) {
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  if (!r.ok()) throw std::runtime_error(r.status().to_string());
  return std::move(r.value());
}

std::unique_ptr<SoftDevice> open_device(const std::string& name, const std::string& secret = kSecret,
                                        bool busy_poll = false) {
  SoftConfig config;
  config.name = name;
  config.secret = secret;
  config.busy_poll = busy_poll;
  return take(open_soft_device(config));
}

// One endpoint: device, 4 KiB region, CQ, QP.
struct Endpoint {
  explicit Endpoint(std::unique_ptr<SoftDevice> d) : device(std::move(d)), memory(4096, 0) {
    region = take(device->register_region(memory.data(), memory.size(), kAccessAll));
    cq = take(device->create_cq(256));
    qp = take(device->create_qp(*cq, QpCaps{}));
  }
  ~Endpoint() {  // the device outlives its QP, CQ and region
    qp.reset();
    cq.reset();
    region.reset();
  }
  std::unique_ptr<SoftDevice> device;
  std::vector<uint8_t> memory;
  std::unique_ptr<MemoryRegion> region;
  std::unique_ptr<CompletionQueue> cq;
  std::unique_ptr<QueuePair> qp;
};

void connect(Endpoint& a, Endpoint& b, uint32_t access = kAccessAll) {
  ASSERT_TRUE(a.qp->to_init(access).ok());
  ASSERT_TRUE(b.qp->to_init(access).ok());
  ASSERT_TRUE(a.qp->to_rtr(b.qp->address()).ok());
  ASSERT_TRUE(b.qp->to_rtr(a.qp->address()).ok());
  ASSERT_TRUE(a.qp->to_rts().ok());
  ASSERT_TRUE(b.qp->to_rts().ok());
}

// a in RTS, b only in INIT (not ready to answer yet).
void only_requester_ready(Endpoint& a, Endpoint& b) {
  ASSERT_TRUE(a.qp->to_init(kAccessAll).ok());
  ASSERT_TRUE(b.qp->to_init(kAccessAll).ok());
  ASSERT_TRUE(a.qp->to_rtr(b.qp->address()).ok());
  ASSERT_TRUE(a.qp->to_rts().ok());
}

WorkRequest write_wr(Endpoint& from, size_t local_off, uint32_t length, const RemoteRegion& to,
                     size_t remote_off, uint64_t wr_id) {
  WorkRequest wr;
  wr.wr_id = wr_id;
  wr.opcode = Opcode::kWrite;
  wr.local_addr = from.memory.data() + local_off;
  wr.length = length;
  wr.lkey = from.region->lkey();
  wr.remote_addr = to.addr + remote_off;
  wr.rkey = to.rkey;
  return wr;
}

std::vector<Completion> wait_completions(Endpoint& e, size_t n, double timeout_s = 10) {
  std::vector<Completion> got;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  Completion batch[16];
  while (got.size() < n && std::chrono::steady_clock::now() < deadline) {
    const int k = e.cq->poll(batch, 16);
    for (int i = 0; i < k; ++i) got.push_back(batch[i]);
    if (k == 0) std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
  return got;
}

Completion wait_one(Endpoint& e, double timeout_s = 10) {
  auto c = wait_completions(e, 1, timeout_s);
  if (c.empty()) throw std::runtime_error("no completion within the timeout");
  return c[0];
}

bool all_zero(const std::vector<uint8_t>& v) {
  for (uint8_t b : v) {
    if (b != 0) return false;
  }
  return true;
}

TEST(SoftDevice, RejectsEmptySecretAndWildcardAddress) {
  SoftConfig config;
  auto r = open_soft_device(config);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code, ErrorCode::kInvalidArgument);
  config.secret = kSecret;
  config.listen_host = "0.0.0.0";
  r = open_soft_device(config);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code, ErrorCode::kInvalidArgument);
  config.listen_host = "127.0.0.1";
  config.netns = "mu-no-such-namespace";
  r = open_soft_device(config);
  ASSERT_FALSE(r.ok());
}

TEST(SoftDevice, RegistrationKeysAreUniqueAndNeverReused) {
  auto device = open_device("keys");
  std::vector<uint8_t> memory(64);
  std::vector<uint32_t> keys;
  for (int i = 0; i < 50; ++i) {
    auto region = take(device->register_region(memory.data(), memory.size(), kAccessAll));
    keys.push_back(region->rkey());
    keys.push_back(region->lkey());
    ASSERT_TRUE(device->reregister_region(*region, kAccessAll).ok());
    keys.push_back(region->rkey());
    keys.push_back(region->lkey());
  }
  std::sort(keys.begin(), keys.end());
  EXPECT_EQ(std::adjacent_find(keys.begin(), keys.end()), keys.end()) << "a key was reused";
  // Remote write without local write is refused, as by ibv_reg_mr.
  EXPECT_FALSE(device->register_region(memory.data(), memory.size(), kRemoteWrite).ok());
}

TEST(SoftDevice, WrongSecretIsRefusedAndNothingIsTouched) {
  Endpoint a(open_device("a", "the-real-secret"));
  Endpoint b(open_device("b", "a-different-secret"));
  // b only responds (RTR): in RTS its NIC would connect to a too, and a's last error could be
  // that incoming failure instead of its own.
  ASSERT_TRUE(a.qp->to_init(kAccessAll).ok());
  ASSERT_TRUE(b.qp->to_init(kAccessAll).ok());
  ASSERT_TRUE(a.qp->to_rtr(b.qp->address()).ok());
  ASSERT_TRUE(b.qp->to_rtr(a.qp->address()).ok());
  ASSERT_TRUE(a.qp->to_rts().ok());
  std::memset(a.memory.data(), 0x5A, 64);
  ASSERT_TRUE(a.qp->post(write_wr(a, 0, 64, b.region->remote(), 0, 1)).ok());
  Completion c = wait_one(a);
  EXPECT_EQ(c.status, WcStatus::kRetryExceeded) << to_string(c.status);
  EXPECT_EQ(a.qp->state(), QpState::kErr);
  EXPECT_TRUE(all_zero(b.memory));
  const SoftStats requester = soft_stats(*a.device);
  EXPECT_GE(requester.auth_failures, 1u);
  EXPECT_NE(requester.last_error.find("authentication"), std::string::npos) << requester.last_error;
  for (int i = 0; i < 1000 && soft_stats(*b.device).auth_failures == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_GE(soft_stats(*b.device).auth_failures, 1u);
}

TEST(SoftDevice, BusyPollDeviceKeepsOrder) {
  Endpoint a(open_device("a", kSecret, /*busy_poll=*/true));
  Endpoint b(open_device("b", kSecret, /*busy_poll=*/true));
  connect(a, b);
  for (int i = 0; i < 200; ++i) {
    const uint64_t v = i;
    std::memcpy(a.memory.data() + 8 * (i % 64), &v, 8);
    WorkRequest wr = write_wr(a, 8 * (i % 64), 8, b.region->remote(), 0, i);
    wr.inline_data = true;
    ASSERT_TRUE(a.qp->post(wr).ok());
    if ((i + 1) % 64 == 0) {
      ASSERT_EQ(wait_completions(a, 64).size(), 64u);
    }
  }
  auto rest = wait_completions(a, 200 % 64);
  ASSERT_EQ(rest.size(), size_t{200 % 64});
  EXPECT_EQ(rest.back().wr_id, 199u);
  uint64_t last = 0;
  std::memcpy(&last, b.memory.data(), 8);
  EXPECT_EQ(last, 199u);
}

std::unique_ptr<SoftDevice> open_device_with(const std::string& name, bool fast_paths, uint32_t linger_us) {
  SoftConfig config;
  config.name = name;
  config.secret = kSecret;
  config.send_in_post = fast_paths;
  config.complete_in_poll = fast_paths;
  config.linger_us = linger_us;
  return take(open_soft_device(config));
}

// One WRITE at a time, the caller spinning on its CQ: returns the completions in order.
std::vector<Completion> write_one_at_a_time(Endpoint& a, Endpoint& b, int count) {
  std::vector<Completion> out;
  for (int i = 0; i < count; ++i) {
    const uint64_t v = 1000 + i;
    std::memcpy(a.memory.data() + 8 * (i % 64), &v, 8);
    WorkRequest wr = write_wr(a, 8 * (i % 64), 8, b.region->remote(), 8 * (i % 64), i);
    EXPECT_TRUE(a.qp->post(wr).ok());
    Completion c;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (a.cq->poll(&c, 1) == 0) {
      if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("no completion");
    }
    out.push_back(c);
  }
  return out;
}

TEST(SoftDevice, PostSendsAndPollCompletesWhileTheNicThreadSleeps) {
  Endpoint a(open_device_with("a", /*fast_paths=*/true, /*linger_us=*/0));
  Endpoint b(open_device_with("b", /*fast_paths=*/true, /*linger_us=*/0));
  connect(a, b);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // connected ahead of work
  const auto cs = write_one_at_a_time(a, b, 300);
  for (int i = 0; i < 300; ++i) {
    ASSERT_EQ(cs[i].status, WcStatus::kSuccess) << i;
    ASSERT_EQ(cs[i].wr_id, uint64_t(i));
  }
  for (int i = 236; i < 300; ++i) {
    uint64_t v = 0;
    std::memcpy(&v, b.memory.data() + 8 * (i % 64), 8);
    EXPECT_EQ(v, uint64_t(1000 + i));
  }
  // Which thread wins each race is the scheduler's call; over 300 operations both paths ran.
  const SoftStats s = soft_stats(*a.device);
  EXPECT_GT(s.sent_in_post, 0u);
  EXPECT_GT(s.completed_in_poll, 0u);
  EXPECT_LE(s.sent_in_post, 300u);
  EXPECT_EQ(s.completed_in_poll + s.completed_by_nic, 300u);  // every response read once
}

TEST(SoftDevice, WithoutTheFastPathsOnlyTheNicThreadSendsAndCompletes) {
  Endpoint a(open_device_with("a", /*fast_paths=*/false, /*linger_us=*/0));
  Endpoint b(open_device_with("b", /*fast_paths=*/false, /*linger_us=*/0));
  connect(a, b);
  const auto cs = write_one_at_a_time(a, b, 100);
  for (int i = 0; i < 100; ++i) ASSERT_EQ(cs[i].wr_id, uint64_t(i));
  const SoftStats s = soft_stats(*a.device);
  EXPECT_EQ(s.sent_in_post, 0u);
  EXPECT_EQ(s.completed_in_poll, 0u);
  EXPECT_EQ(s.completed_by_nic, 100u);
  EXPECT_EQ(s.responses_parked, 0u);
}

// Loopback peers talk over AF_UNIX when both accept it, over TCP otherwise; either way the same
// frames flow (every WRITE lands and completes).
TEST(SoftDevice, LoopbackPeersUseTheLocalTransportAndFallBackToTcp) {
  auto open = [](const std::string& name, bool local) {
    SoftConfig config;
    config.name = name;
    config.secret = kSecret;
    config.local_transport = local;
    return take(open_soft_device(config));
  };
  auto run = [](Endpoint& a, Endpoint& b) {
    connect(a, b);
    const auto cs = write_one_at_a_time(a, b, 50);
    for (int i = 0; i < 50; ++i) ASSERT_EQ(cs[i].status, WcStatus::kSuccess) << i;
    for (int i = 0; i < 50; ++i) {
      uint64_t v = 0;
      std::memcpy(&v, b.memory.data() + 8 * i, 8);
      EXPECT_EQ(v, uint64_t(1000 + i));
    }
  };
  {
    Endpoint a(open("a", true)), b(open("b", true));
    run(a, b);
    EXPECT_GE(soft_stats(*a.device).local_connections, 1u);
  }
  {
    Endpoint a(open("a", true)), b(open("b", false));  // b has no local listener: TCP
    run(a, b);
    EXPECT_EQ(soft_stats(*a.device).local_connections, 0u);
  }
  {
    Endpoint a(open("a", false)), b(open("b", true));  // a does not use it: TCP
    run(a, b);
    EXPECT_EQ(soft_stats(*a.device).local_connections, 0u);
  }
}

// A lingering NIC thread on the one CPU of a poller that never yields would wait a scheduler
// slice (milliseconds) for every operation; it notices the first such yield and sleeps instead
// (woken, it preempts the poller at once). With CPUs to spare it lingers.
TEST(SoftDevice, NicStopsLingeringWhenItsCpuIsHeldByAPollerThatNeverYields) {
  cpu_set_t original;
  ASSERT_EQ(sched_getaffinity(0, sizeof original, &original), 0);
  int cpu = -1;
  for (int c = 0; c < CPU_SETSIZE && cpu < 0; ++c) {
    if (CPU_ISSET(c, &original)) cpu = c;
  }
  ASSERT_GE(cpu, 0);
  auto run = [&](const cpu_set_t& set, SoftStats* a_stats, SoftStats* b_stats) {
    ASSERT_EQ(sched_setaffinity(0, sizeof set, &set), 0);  // the NIC threads inherit it
    Endpoint a(open_device_with("a", /*fast_paths=*/true, /*linger_us=*/20));
    Endpoint b(open_device_with("b", /*fast_paths=*/true, /*linger_us=*/20));
    connect(a, b);
    const auto cs = write_one_at_a_time(a, b, 100);  // spins on its CQ, never yields
    for (int i = 0; i < 100; ++i) ASSERT_EQ(cs[i].status, WcStatus::kSuccess);
    *a_stats = soft_stats(*a.device);
    *b_stats = soft_stats(*b.device);
  };
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(cpu, &one);
  SoftStats a1, b1, a2, b2;
  run(one, &a1, &b1);
  run(original, &a2, &b2);
  ASSERT_EQ(sched_setaffinity(0, sizeof original, &original), 0);
  // Confined: b's NIC lingered after serving a WRITE, stalled, and was banned for the rest.
  EXPECT_GE(b1.linger_stalls, 1u);
  EXPECT_LE(b1.linger_stalls + a1.linger_stalls, 4u);  // each ban lasts 100 ms or more
  if (CPU_COUNT(&original) > 1) {
    EXPECT_GT(b2.lingers, 0u);  // b served 100 WRITEs
  }
}

// Responses a spinning poller reads itself are left to it: the NIC stops watching that connection
// (no wake-up per response) and watches it again once the poller has not polled for a while, so
// a response that arrives while nobody polls is still completed, by the NIC.
TEST(SoftDevice, NicLeavesResponsesToASpinningPollerAndTakesThemBackWhenItStops) {
  Endpoint a(open_device_with("a", /*fast_paths=*/true, /*linger_us=*/0));
  Endpoint b(open_device_with("b", /*fast_paths=*/true, /*linger_us=*/0));
  connect(a, b);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // connected ahead of work
  auto wait_until = [](auto predicate) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!predicate()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    return true;
  };
  auto write = [&](int i) {
    const uint64_t v = 5000 + i;
    std::memcpy(a.memory.data() + 8 * i, &v, 8);
    ASSERT_TRUE(a.qp->post(write_wr(a, 8 * i, 8, b.region->remote(), 8 * i, i)).ok());
  };
  Completion c;
  // The poller is active (its empty polls look for responses); the response it has not read
  // yet wakes the NIC, which parks the connection instead of completing it.
  ASSERT_EQ(a.cq->poll(&c, 1), 0);
  write(0);
  ASSERT_TRUE(wait_until([&] { return soft_stats(*a.device).responses_parked == 1; }));
  const uint64_t in_poll_before = soft_stats(*a.device).completed_in_poll;
  ASSERT_EQ(a.cq->poll(&c, 1), 1);  // the poll reads it itself
  EXPECT_EQ(c.wr_id, 0u);
  EXPECT_EQ(c.status, WcStatus::kSuccess);
  EXPECT_EQ(soft_stats(*a.device).completed_in_poll, in_poll_before + 1);
  // The poller goes quiet: within a few checks the NIC watches the connection again.
  ASSERT_TRUE(wait_until([&] { return soft_stats(*a.device).responses_unparked == 1; }));
  // Now a response that arrives while nobody polls is completed by the NIC.
  const uint64_t by_nic_before = soft_stats(*a.device).completed_by_nic;
  write(1);
  ASSERT_TRUE(wait_until([&] { return soft_stats(*a.device).completed_by_nic == by_nic_before + 1; }));
  ASSERT_EQ(a.cq->poll(&c, 1), 1);
  EXPECT_EQ(c.wr_id, 1u);
  // Parked with a response waiting, then the poller stops: the NIC completes it after all.
  ASSERT_EQ(a.cq->poll(&c, 1), 0);
  write(2);
  ASSERT_TRUE(wait_until([&] { return soft_stats(*a.device).completed_by_nic == by_nic_before + 2; }));
  const SoftStats taken_back = soft_stats(*a.device);
  EXPECT_EQ(taken_back.responses_parked, 2u);
  EXPECT_EQ(taken_back.responses_unparked, 2u);
  ASSERT_EQ(a.cq->poll(&c, 1), 1);
  EXPECT_EQ(c.wr_id, 2u);
}

// Responses waiting on two connections of one CQ: a poll completes those of one connection and
// returns (its caller wants the first completion now, not after another recv), and the next
// poll starts with the other connection, so neither waits behind the other. Two streams of
// WRITEs to two peers, the poller spinning: a poll returning both QPs' completions can only be
// one where the NIC thread had completed some itself.
TEST(SoftDevice, PollReadsOneConnectionAtATimeAndTheNextPollStartsWithTheOther) {
  Endpoint a(open_device_with("a", /*fast_paths=*/true, /*linger_us=*/0));
  Endpoint b(open_device_with("b", /*fast_paths=*/true, /*linger_us=*/0));
  Endpoint c(open_device_with("c", /*fast_paths=*/true, /*linger_us=*/0));
  std::unique_ptr<QueuePair> a_to_c = take(a.device->create_qp(*a.cq, QpCaps{}));  // same CQ
  connect(a, b);
  ASSERT_TRUE(a_to_c->to_init(kAccessAll).ok());
  ASSERT_TRUE(c.qp->to_init(kAccessAll).ok());
  ASSERT_TRUE(a_to_c->to_rtr(c.qp->address()).ok());
  ASSERT_TRUE(c.qp->to_rtr(a_to_c->address()).ok());
  ASSERT_TRUE(a_to_c->to_rts().ok());
  ASSERT_TRUE(c.qp->to_rts().ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // connected ahead of work
  constexpr uint64_t kPerQp = 2000;
  constexpr uint64_t kWindow = 4;
  QueuePair* qps[2] = {a.qp.get(), a_to_c.get()};
  const RemoteRegion to[2] = {b.region->remote(), c.region->remote()};
  uint64_t posted[2] = {0, 0}, completed[2] = {0, 0};
  uint64_t mixed_polls = 0, polls_with_completions = 0;
  const SoftStats before = soft_stats(*a.device);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (completed[0] < kPerQp || completed[1] < kPerQp) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << completed[0] << " / " << completed[1];
    for (int q = 0; q < 2; ++q) {
      while (posted[q] < kPerQp && posted[q] - completed[q] < kWindow) {
        WorkRequest wr = write_wr(a, 8 * q, 8, to[q], 8 * (posted[q] % 64), posted[q] * 2 + q);
        ASSERT_TRUE(qps[q]->post(wr).ok());
        ++posted[q];
      }
    }
    Completion cs[16];
    const int n = a.cq->poll(cs, 16);
    bool seen[2] = {false, false};
    for (int i = 0; i < n; ++i) {
      ASSERT_EQ(cs[i].status, WcStatus::kSuccess);
      const int q = static_cast<int>(cs[i].wr_id % 2);
      ASSERT_EQ(cs[i].wr_id / 2, completed[q]) << "QP " << q << " out of order";
      ++completed[q];
      seen[q] = true;
    }
    polls_with_completions += n > 0;
    mixed_polls += seen[0] && seen[1];
  }
  const SoftStats after = soft_stats(*a.device);
  const uint64_t by_nic = after.completed_by_nic - before.completed_by_nic;
  EXPECT_EQ(after.completed_in_poll - before.completed_in_poll + by_nic, 2 * kPerQp);
  EXPECT_LE(mixed_polls, by_nic) << "of " << polls_with_completions << " polls with completions";
}

// Two application threads post and poll on their own QPs of one device while its NIC thread
// serves a third QP's peer: every QP's completions come in order and every byte lands.
TEST(SoftDevice, ThreadsPostingAndPollingOneDeviceKeepEachQpInOrder) {
  auto a_device = open_device("a");
  auto b_device = open_device("b");
  struct Pair {
    std::vector<uint8_t> a_mem = std::vector<uint8_t>(4096, 0), b_mem = std::vector<uint8_t>(4096, 0);
    std::unique_ptr<MemoryRegion> a_region, b_region;
    std::unique_ptr<CompletionQueue> a_cq, b_cq;
    std::unique_ptr<QueuePair> a_qp, b_qp;
  };
  std::array<Pair, 3> pairs;
  for (Pair& p : pairs) {
    p.a_region = take(a_device->register_region(p.a_mem.data(), p.a_mem.size(), kAccessAll));
    p.b_region = take(b_device->register_region(p.b_mem.data(), p.b_mem.size(), kAccessAll));
    p.a_cq = take(a_device->create_cq(64));
    p.b_cq = take(b_device->create_cq(64));
    p.a_qp = take(a_device->create_qp(*p.a_cq, QpCaps{}));
    p.b_qp = take(b_device->create_qp(*p.b_cq, QpCaps{}));
    ASSERT_TRUE(p.a_qp->to_init(kAccessAll).ok());
    ASSERT_TRUE(p.b_qp->to_init(kAccessAll).ok());
    ASSERT_TRUE(p.a_qp->to_rtr(p.b_qp->address()).ok());
    ASSERT_TRUE(p.b_qp->to_rtr(p.a_qp->address()).ok());
    ASSERT_TRUE(p.a_qp->to_rts().ok());
    ASSERT_TRUE(p.b_qp->to_rts().ok());
  }
  constexpr uint64_t kOps = 3000;
  constexpr uint64_t kWindow = 8;
  // Pairs 0 and 1: a thread on device a writes to b. Pair 2: device b writes to a (a serves).
  auto drive = [&](QueuePair& qp, CompletionQueue& cq, std::vector<uint8_t>& from,
                   MemoryRegion& from_region, MemoryRegion& to_region, std::string* error) {
    uint64_t posted = 0, completed = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (completed < kOps) {
      while (posted < kOps && posted - completed < kWindow) {
        const uint64_t v = posted + 1;
        const uint64_t slot = posted % kWindow;
        std::memcpy(from.data() + 8 * slot, &v, 8);
        WorkRequest wr;
        wr.wr_id = posted;
        wr.opcode = Opcode::kWrite;
        wr.local_addr = from.data() + 8 * slot;
        wr.length = 8;
        wr.lkey = from_region.lkey();
        wr.remote_addr = reinterpret_cast<uint64_t>(to_region.addr()) + 8 * slot;
        wr.rkey = to_region.rkey();
        Status st = qp.post(wr);
        if (!st.ok()) { *error = "post: " + st.message; return; }
        ++posted;
      }
      Completion c[4];
      const int n = cq.poll(c, 4);
      for (int i = 0; i < n; ++i) {
        if (c[i].status != WcStatus::kSuccess || c[i].wr_id != completed) {
          *error = "completion " + std::to_string(completed) + " came as wr_id " +
                   std::to_string(c[i].wr_id) + " with " + to_string(c[i].status);
          return;
        }
        ++completed;
      }
      if (std::chrono::steady_clock::now() > deadline) { *error = "timed out"; return; }
    }
  };
  std::array<std::string, 3> errors;
  std::vector<std::thread> threads;
  for (int k = 0; k < 2; ++k) {
    threads.emplace_back([&, k] {
      Pair& p = pairs[k];
      drive(*p.a_qp, *p.a_cq, p.a_mem, *p.a_region, *p.b_region, &errors[k]);
    });
  }
  threads.emplace_back([&] {
    Pair& p = pairs[2];
    drive(*p.b_qp, *p.b_cq, p.b_mem, *p.b_region, *p.a_region, &errors[2]);
  });
  for (auto& t : threads) t.join();
  for (int k = 0; k < 3; ++k) EXPECT_EQ(errors[k], "") << "pair " << k;
  for (int k = 0; k < 3; ++k) {
    const std::vector<uint8_t>& landed = k < 2 ? pairs[k].b_mem : pairs[k].a_mem;
    for (uint64_t slot = 0; slot < kWindow; ++slot) {
      uint64_t v = 0;
      std::memcpy(&v, landed.data() + 8 * slot, 8);
      EXPECT_EQ(v, kOps - kWindow + slot + 1) << "pair " << k << " slot " << slot;
    }
  }
  for (Pair& p : pairs) {  // the devices outlive their QPs, CQs and regions
    p.a_qp.reset(); p.b_qp.reset(); p.a_cq.reset(); p.b_cq.reset();
    p.a_region.reset(); p.b_region.reset();
  }
}

TEST(SoftDevice, ReregisteredRegionGetsNewRkeyAndAccess) {
  Endpoint a(open_device("a"));
  Endpoint b(open_device("b"));
  connect(a, b);
  const RemoteRegion old_remote = b.region->remote();
  ASSERT_TRUE(b.device->reregister_region(*b.region, kLocalWrite | kRemoteRead).ok());
  EXPECT_NE(b.region->rkey(), old_remote.rkey);
  EXPECT_EQ(b.region->access(), uint32_t{kLocalWrite | kRemoteRead});

  // Old rkey: access error, both QPs in ERR.
  a.memory[0] = 1;
  ASSERT_TRUE(a.qp->post(write_wr(a, 0, 8, old_remote, 0, 1)).ok());
  EXPECT_EQ(wait_one(a).status, WcStatus::kRemoteAccessError);
  EXPECT_EQ(a.qp->state(), QpState::kErr);
  for (int i = 0; i < 1000 && b.qp->state() != QpState::kErr; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(b.qp->state(), QpState::kErr) << "rxe moves the responder to ERR on access errors";

  // New rkey, but the region is read-only now: WRITE fails, READ works.
  ASSERT_TRUE(a.qp->to_reset().ok());
  ASSERT_TRUE(b.qp->to_reset().ok());
  connect(a, b);
  ASSERT_TRUE(a.qp->post(write_wr(a, 0, 8, b.region->remote(), 0, 2)).ok());
  EXPECT_EQ(wait_one(a).status, WcStatus::kRemoteAccessError);
  ASSERT_TRUE(a.qp->to_reset().ok());
  ASSERT_TRUE(b.qp->to_reset().ok());
  connect(a, b);
  b.memory[100] = 0x77;
  WorkRequest rd = write_wr(a, 200, 1, b.region->remote(), 100, 3);
  rd.opcode = Opcode::kRead;
  ASSERT_TRUE(a.qp->post(rd).ok());
  EXPECT_EQ(wait_one(a).status, WcStatus::kSuccess);
  EXPECT_EQ(a.memory[200], 0x77);
  EXPECT_EQ(b.memory[0], 0);
}

TEST(SoftDevice, QpWithoutRemoteReadFailsReadsWithInvalidRequest) {
  Endpoint a(open_device("a"));
  Endpoint b(open_device("b"));
  ASSERT_TRUE(a.qp->to_init(kAccessAll).ok());
  ASSERT_TRUE(b.qp->to_init(kRemoteWrite).ok());
  ASSERT_TRUE(a.qp->to_rtr(b.qp->address()).ok());
  ASSERT_TRUE(b.qp->to_rtr(a.qp->address()).ok());
  ASSERT_TRUE(a.qp->to_rts().ok());
  ASSERT_TRUE(b.qp->to_rts().ok());
  WorkRequest rd = write_wr(a, 0, 8, b.region->remote(), 0, 1);
  rd.opcode = Opcode::kRead;
  ASSERT_TRUE(a.qp->post(rd).ok());
  EXPECT_EQ(wait_one(a).status, WcStatus::kRemoteInvalidRequest);
}

TEST(SoftDevice, MisalignedCompareSwapIsAnInvalidRequestAsOnRxe) {
  Endpoint a(open_device("a"));
  Endpoint b(open_device("b"));
  connect(a, b);
  WorkRequest cas = write_wr(a, 0, 8, b.region->remote(), 4, 1);
  cas.opcode = Opcode::kCompareSwap;
  cas.compare = 0;
  cas.swap = ~0ull;
  ASSERT_TRUE(a.qp->post(cas).ok());
  EXPECT_EQ(wait_one(a).status, WcStatus::kRemoteInvalidRequest);
  EXPECT_TRUE(all_zero(b.memory));
}

TEST(SoftDevice, BadLkeyFailsLocallyAfterEarlierWorkCompletes) {
  Endpoint a(open_device("a"));
  Endpoint b(open_device("b"));
  connect(a, b);
  ASSERT_TRUE(a.qp->post(write_wr(a, 0, 8, b.region->remote(), 0, 1)).ok());
  WorkRequest bad = write_wr(a, 0, 8, b.region->remote(), 8, 2);
  bad.lkey ^= 0x1234;
  ASSERT_TRUE(a.qp->post(bad).ok());
  ASSERT_TRUE(a.qp->post(write_wr(a, 0, 8, b.region->remote(), 16, 3)).ok());
  auto cs = wait_completions(a, 3);
  ASSERT_EQ(cs.size(), 3u);
  EXPECT_EQ(cs[0].status, WcStatus::kSuccess);
  EXPECT_EQ(cs[1].status, WcStatus::kLocalProtectionError);
  EXPECT_EQ(cs[2].status, WcStatus::kWorkRequestFlushed);
}

TEST(SoftDevice, ZeroLengthWriteSucceedsWithoutTouchingMemory) {
  Endpoint a(open_device("a"));
  Endpoint b(open_device("b"));
  connect(a, b);
  WorkRequest wr = write_wr(a, 0, 0, b.region->remote(), 0, 1);
  wr.rkey = 0;  // as rxe: a zero-length op needs no valid rkey
  ASSERT_TRUE(a.qp->post(wr).ok());
  EXPECT_EQ(wait_one(a).status, WcStatus::kSuccess);
}

TEST(SoftDevice, SendQueueBoundAndHoldAndDelay) {
  Endpoint a(open_device("a"));
  Endpoint b(open_device("b"));
  connect(a, b);
  a.device->hold_outgoing(true);
  QpCaps caps;
  caps.max_send_wr = 4;
  auto qp = take(a.device->create_qp(*a.cq, caps));
  auto peer_qp = take(b.device->create_qp(*b.cq, caps));
  ASSERT_TRUE(qp->to_init(kAccessAll).ok());
  ASSERT_TRUE(peer_qp->to_init(kAccessAll).ok());
  ASSERT_TRUE(qp->to_rtr(peer_qp->address()).ok());
  ASSERT_TRUE(peer_qp->to_rtr(qp->address()).ok());
  ASSERT_TRUE(qp->to_rts().ok());
  ASSERT_TRUE(peer_qp->to_rts().ok());
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(qp->post(write_wr(a, 0, 8, b.region->remote(), 0, i)).ok());
  Status full = qp->post(write_wr(a, 0, 8, b.region->remote(), 0, 9));
  EXPECT_EQ(full.code, ErrorCode::kQueueFull);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  Completion c;
  EXPECT_EQ(a.cq->poll(&c, 1), 0) << "held operations must not complete";
  a.device->hold_outgoing(false);
  EXPECT_EQ(wait_completions(a, 4).size(), 4u);

  a.device->set_outgoing_delay_us(30'000);
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(qp->post(write_wr(a, 0, 8, b.region->remote(), 0, 10)).ok());
  EXPECT_EQ(wait_one(a).status, WcStatus::kSuccess);
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(30));
  a.device->set_outgoing_delay_us(0);
  qp.reset();
  peer_qp.reset();
}

// The loss hook: moderate loss only delays operations (retransmissions, in order); an
// operation lost on every one of its 8 transmissions fails the QP as RC's retry count would.
TEST(SoftDevice, LossHookRetransmitsThenFailsTheQp) {
  Endpoint a(open_device("a"));
  Endpoint b(open_device("b"));
  connect(a, b);
  a.device->set_outgoing_loss(200'000, 100);  // 20%: P(8 losses in a row) = 2.6e-6 per op
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(a.qp->post(write_wr(a, 0, 8, b.region->remote(), 0, 100 + i)).ok());
  }
  auto done = wait_completions(a, 50);
  ASSERT_EQ(done.size(), 50u);
  for (size_t i = 0; i < done.size(); ++i) {
    EXPECT_EQ(done[i].status, WcStatus::kSuccess);
    EXPECT_EQ(done[i].wr_id, 100 + i) << "RC completes in order";
  }

  a.device->set_outgoing_loss(1'000'000, 2'000);  // everything lost
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(a.qp->post(write_wr(a, 0, 8, b.region->remote(), 0, 7)).ok());
  EXPECT_EQ(wait_one(a).status, WcStatus::kRetryExceeded);
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(14))
      << "7 retransmissions, 2 ms apart";
  EXPECT_EQ(a.qp->state(), QpState::kErr);
  a.device->set_outgoing_loss(0, 0);
}

TEST(SoftDevice, PeerDeviceGoneGivesRetryExceeded) {
  Endpoint a(open_device("a"));
  auto b = std::make_unique<Endpoint>(open_device("b"));
  connect(a, *b);
  const RemoteRegion remote = b->region->remote();
  ASSERT_TRUE(a.qp->post(write_wr(a, 0, 8, remote, 0, 1)).ok());
  ASSERT_EQ(wait_one(a).status, WcStatus::kSuccess);
  b.reset();  // the peer host disappears; the requester notices at its next operation
  ASSERT_TRUE(a.qp->post(write_wr(a, 0, 8, remote, 0, 2)).ok());
  EXPECT_EQ(wait_one(a).status, WcStatus::kRetryExceeded);
  EXPECT_EQ(a.qp->state(), QpState::kErr);
}

TEST(SoftDevice, CrashedPeerIsCountedAsALostConnectionBeforeAnyWorkIsPosted) {
  Endpoint a(open_device("a"));
  Endpoint b(open_device("b"));
  connect(a, b);
  const RemoteRegion remote = b.region->remote();
  ASSERT_TRUE(a.qp->post(write_wr(a, 0, 8, remote, 0, 1)).ok());
  ASSERT_EQ(wait_one(a).status, WcStatus::kSuccess);
  const uint64_t lost_before = a.device->lost_connections();
  b.device->crash();  // its NIC dies with its process; b's QP and region are destroyed later
  b.device->crash();  // idempotent
  // The requester learns of it from its socket, with nothing outstanding: the hint a failure
  // detector polls to probe at once instead of at its next scheduled read.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (a.device->lost_connections() == lost_before && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
  EXPECT_EQ(a.device->lost_connections(), lost_before + 1);
  EXPECT_EQ(a.qp->state(), QpState::kRts);  // nothing was outstanding: it fails at its next use
  ASSERT_TRUE(a.qp->post(write_wr(a, 0, 8, remote, 0, 2)).ok());
  EXPECT_EQ(wait_one(a).status, WcStatus::kRetryExceeded);
  EXPECT_EQ(a.qp->state(), QpState::kErr);
}

template <typename Pred>
bool wait_until(Pred done, double timeout_s = 10) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  return true;
}

// An RC QP is connected once in RTS: the soft NIC opens (and authenticates, and binds) its
// connection then, not at the first work request — so an idle QP's peer dying is noticed too,
// and the first READ of a failover does not wait for a handshake.
TEST(SoftDevice, QpInRtsConnectsBeforeAnyWorkSoAnIdlePeersCrashIsNoticed) {
  Endpoint a(open_device("a"));
  Endpoint b(open_device("b"));
  connect(a, b);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // both NICs connect meanwhile
  const uint64_t lost_before = a.device->lost_connections();
  b.device->crash();
  ASSERT_TRUE(wait_until([&] { return a.device->lost_connections() > lost_before; }))
      << "an idle QP's connection was not open";
  EXPECT_EQ(a.qp->state(), QpState::kRts);  // nothing outstanding: it fails at its next use
  ASSERT_TRUE(a.qp->post(write_wr(a, 0, 8, b.region->remote(), 0, 1)).ok());
  EXPECT_EQ(wait_one(a).status, WcStatus::kRetryExceeded);
}

// The same with connections opened at the first work request: nothing to notice.
TEST(SoftDevice, WithoutConnectAtRtsAnIdleQpHasNoConnection) {
  SoftConfig config;
  config.secret = kSecret;
  config.connect_at_rts = false;
  config.name = "a";
  Endpoint a(take(open_soft_device(config)));
  config.name = "b";
  Endpoint b(take(open_soft_device(config)));
  connect(a, b);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const uint64_t lost_before = a.device->lost_connections();
  b.device->crash();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(a.device->lost_connections(), lost_before);
}

// A requester in RTS before its responder is in RTR (peers come up in any order): the early
// connection is refused as "not ready" and retried, the QP stays usable, and once the responder
// is ready the connection is there and work succeeds.
TEST(SoftDevice, QpInRtsBeforeItsPeerIsReadyConnectsOnceThePeerIs) {
  Endpoint a(open_device("a"));
  Endpoint b(open_device("b"));
  only_requester_ready(a, b);
  ASSERT_TRUE(wait_until([&] { return soft_stats(*a.device).eager_connection_retries >= 2; }));
  EXPECT_GE(soft_stats(*b.device).refused_connections, 2u);
  EXPECT_EQ(a.qp->state(), QpState::kRts);
  EXPECT_EQ(soft_stats(*a.device).last_error, "");  // retried quietly: nothing was lost
  ASSERT_TRUE(b.qp->to_rtr(a.qp->address()).ok());
  ASSERT_TRUE(b.qp->to_rts().ok());
  // Connected within the backoff (at most 100 ms); nothing was lost on the way.
  const uint64_t lost_before = a.device->lost_connections();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  std::memset(a.memory.data(), 0x7E, 16);
  ASSERT_TRUE(a.qp->post(write_wr(a, 0, 16, b.region->remote(), 0, 1)).ok());
  ASSERT_EQ(wait_one(a).status, WcStatus::kSuccess);
  EXPECT_EQ(b.memory[15], 0x7E);
  EXPECT_EQ(a.device->lost_connections(), lost_before);
}

void cycle(Endpoint& e, Endpoint& peer) {
  ASSERT_TRUE(e.qp->to_reset().ok());
  ASSERT_TRUE(e.qp->to_init(kAccessAll).ok());
  ASSERT_TRUE(e.qp->to_rtr(peer.qp->address()).ok());
  ASSERT_TRUE(e.qp->to_rts().ok());
}

// A requester whose connection was accepted before it carried any work (opened ahead of work)
// and which is then cycled gets its new binding connected: the idle one is replaced. (A
// candidate's QP is often connected just before the grantor cycles, then cycled itself.)
TEST(SoftDevice, CycledRequesterReplacesItsIdleConnection) {
  Endpoint a(open_device("a"));
  Endpoint b(open_device("b"));
  connect(a, b);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // a's idle connection is bound at b
  cycle(a, b);
  std::memset(a.memory.data(), 0x3C, 8);
  ASSERT_TRUE(a.qp->post(write_wr(a, 0, 8, b.region->remote(), 0, 1)).ok());
  ASSERT_EQ(wait_one(a).status, WcStatus::kSuccess);
  EXPECT_EQ(b.memory[7], 0x3C);
}

// After a cycle an idle QP connects ahead of work again (after a short pause: its peer is
// usually cycling too), so the next failover finds it connected.
TEST(SoftDevice, CycledIdleQpConnectsAgain) {
  Endpoint a(open_device("a"));
  Endpoint b(open_device("b"));
  connect(a, b);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  cycle(a, b);
  cycle(b, a);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const uint64_t lost_before = a.device->lost_connections();
  b.device->crash();
  EXPECT_TRUE(wait_until([&] { return a.device->lost_connections() > lost_before; }))
      << "the cycled QP did not connect again";
}

// Once a connection has carried work, a requester cycled alone gets no second one (as with RC,
// where both sides must be reset): its work fails until the responder is cycled too.
TEST(SoftDevice, RequesterCycledAloneAfterWorkIsRefusedUntilTheResponderIsCycled) {
  Endpoint a(open_device("a"));
  Endpoint b(open_device("b"));
  connect(a, b);
  ASSERT_TRUE(a.qp->post(write_wr(a, 0, 8, b.region->remote(), 0, 1)).ok());
  ASSERT_EQ(wait_one(a).status, WcStatus::kSuccess);
  cycle(a, b);
  ASSERT_TRUE(a.qp->post(write_wr(a, 0, 8, b.region->remote(), 0, 2)).ok());
  const Completion refused = wait_one(a);
  EXPECT_EQ(refused.status, WcStatus::kRetryExceeded);
  // The NIC records the reason just after completing the work request.
  EXPECT_TRUE(wait_until([&] {
    return soft_stats(*a.device).last_error.find("already connected") != std::string::npos;
  })) << soft_stats(*a.device).last_error;
  cycle(b, a);
  cycle(a, b);
  ASSERT_TRUE(a.qp->post(write_wr(a, 0, 8, b.region->remote(), 0, 3)).ok());
  EXPECT_EQ(wait_one(a).status, WcStatus::kSuccess);
}

// The requester's connection attempts race with the responder's to_rtr (on another thread): a
// CONNECT bound for the new binding before the responder's NIC caught up with that to_rtr used
// to be closed as if it belonged to the old binding, leaving the binding without a connection —
// seen as a 100 ms failover in the bench. Many rounds, so that some hit the window.
TEST(SoftDevice, ConnectionBoundRightAfterTheRespondersToRtrSurvives) {
  auto da = open_device("a");
  auto db = open_device("b");
  std::vector<uint8_t> memory(4096, 0);
  auto region = take(db->register_region(memory.data(), memory.size(), kAccessAll));
  std::vector<uint8_t> local(64, 0x11);
  auto local_region = take(da->register_region(local.data(), local.size(), kAccessAll));
  auto cq_a = take(da->create_cq(64));
  auto cq_b = take(db->create_cq(64));
  int failures = 0;
  for (int round = 0; round < 150; ++round) {
    auto qa = take(da->create_qp(*cq_a, QpCaps{}));
    auto qb = take(db->create_qp(*cq_b, QpCaps{}));
    ASSERT_TRUE(qa->to_init(kAccessAll).ok());
    ASSERT_TRUE(qb->to_init(kAccessAll).ok());
    ASSERT_TRUE(qa->to_rtr(qb->address()).ok());
    ASSERT_TRUE(qa->to_rts().ok());  // a's NIC starts connecting; b is not ready yet
    std::this_thread::sleep_for(std::chrono::microseconds(200 + 37 * (round % 29)));
    ASSERT_TRUE(qb->to_rtr(qa->address()).ok());
    ASSERT_TRUE(qb->to_rts().ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    WorkRequest wr;
    wr.wr_id = static_cast<uint64_t>(round);
    wr.opcode = Opcode::kWrite;
    wr.local_addr = local.data();
    wr.length = 8;
    wr.lkey = local_region->lkey();
    wr.remote_addr = region->remote().addr;
    wr.rkey = region->remote().rkey;
    ASSERT_TRUE(qa->post(wr).ok());
    Completion c{};
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (cq_a->poll(&c, 1) == 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
    failures += c.status != WcStatus::kSuccess;
  }
  EXPECT_EQ(failures, 0) << soft_stats(*da).last_error;
}

// Work posted while the responder is not ready fails as before (the refusal is the work's).
TEST(SoftDevice, WorkPostedBeforeThePeerIsReadyStillFails) {
  Endpoint a(open_device("a"));
  Endpoint b(open_device("b"));
  only_requester_ready(a, b);
  ASSERT_TRUE(a.qp->post(write_wr(a, 0, 8, b.region->remote(), 0, 1)).ok());
  EXPECT_EQ(wait_one(a).status, WcStatus::kRetryExceeded);
  EXPECT_EQ(a.qp->state(), QpState::kErr);
  EXPECT_TRUE(all_zero(b.memory));
}

// --- raw peers: a hand-driven TCP client or server speaking (or abusing) the protocol ---------

// Reads the QpAddress fields the tests need (layout documented in soft_device.cc).
uint64_t address_device_id(const QpAddress& a) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(a.bytes[16 + i]) << (8 * i);
  return v;
}

QpAddress fake_address(uint16_t port, uint32_t qp_num, uint64_t device_id) {
  QpAddress a;
  std::memcpy(a.bytes, "MUSQ", 4);
  const uint32_t ip = htonl(INADDR_LOOPBACK);
  std::memcpy(a.bytes + 4, &ip, 4);
  a.bytes[8] = static_cast<uint8_t>(port);
  a.bytes[9] = static_cast<uint8_t>(port >> 8);
  for (int i = 0; i < 4; ++i) a.bytes[12 + i] = static_cast<uint8_t>(qp_num >> (8 * i));
  for (int i = 0; i < 8; ++i) a.bytes[16 + i] = static_cast<uint8_t>(device_id >> (8 * i));
  return a;
}

int raw_connect(uint16_t port) {
  auto fd = net::connect_tcp(htonl(INADDR_LOOPBACK), port, auth::monotonic_ns() + 2'000'000'000);
  if (!fd.ok()) throw std::runtime_error(fd.status().to_string());
  return *fd;
}

void send_all(int fd, const std::vector<uint8_t>& bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n <= 0) return;  // the NIC may already have closed on us: that is the point
    done += static_cast<size_t>(n);
  }
}

std::vector<uint8_t> header_bytes(const FrameHeader& h) {
  std::vector<uint8_t> out(kHeaderBytes);
  soft::encode_header(h, std::span<uint8_t, kHeaderBytes>(out.data(), kHeaderBytes));
  return out;
}

// True when the peer closes the connection within the timeout (reading and dropping data).
bool closed_by_peer(int fd, int timeout_ms = 5000) {
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  uint8_t buffer[256];
  for (;;) {
    const ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
    if (n == 0) return true;
    if (n < 0) return errno == ECONNRESET;
  }
}

// A responder device with a QP bound to a fake requester (qp 77 of device 0xABC), which the
// tests impersonate over a raw, authenticated connection.
class RawRequester : public ::testing::Test {
 protected:
  static constexpr uint32_t kFakeQpNum = 77;
  static constexpr uint64_t kFakeDeviceId = 0xABC;

  void SetUp() override {
    responder_ = std::make_unique<Endpoint>(open_device("responder"));
    ASSERT_TRUE(responder_->qp->to_init(kAccessAll).ok());
    ASSERT_TRUE(responder_->qp->to_rtr(fake_address(1, kFakeQpNum, kFakeDeviceId)).ok());
    ASSERT_TRUE(responder_->qp->to_rts().ok());
  }

  int authenticated_connection(const std::string& secret = kSecret) {
    const int fd = raw_connect(responder_->device->listen_port());
    Handshake hs(Handshake::Role::kInitiator, secret, "mu-soft-nic-v1");
    Status s = auth::run_handshake_blocking(fd, hs, auth::monotonic_ns() + 2'000'000'000);
    EXPECT_TRUE(s.ok()) << s.to_string();
    return fd;
  }

  std::vector<uint8_t> connect_frame() {
    FrameHeader h;
    h.type = FrameType::kConnect;
    h.remote_addr = kFakeQpNum;
    h.aux = responder_->qp->qp_num();
    h.compare = kFakeDeviceId;
    h.swap = address_device_id(responder_->qp->address());
    return header_bytes(h);
  }

  std::vector<uint8_t> write_frame(uint64_t seq, uint64_t offset, uint32_t length, uint8_t fill) {
    FrameHeader h;
    h.type = FrameType::kWrite;
    h.seq = seq;
    h.length = length;
    h.remote_addr = responder_->region->remote().addr + offset;
    h.rkey = responder_->region->rkey();
    auto bytes = header_bytes(h);
    bytes.insert(bytes.end(), length, fill);
    return bytes;
  }

  // Waits until the responder's counters settle on `pred`.
  template <typename Pred>
  bool eventually(Pred pred) {
    for (int i = 0; i < 2000; ++i) {
      if (pred(soft_stats(*responder_->device))) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return false;
  }

  void TearDown() override { responder_.reset(); }

  std::unique_ptr<Endpoint> responder_;
};

TEST_F(RawRequester, ValidFramesLand) {
  const int fd = authenticated_connection();
  auto bytes = connect_frame();
  auto write = write_frame(1, 10, 5, 0x42);
  bytes.insert(bytes.end(), write.begin(), write.end());
  send_all(fd, bytes);
  uint8_t response[kHeaderBytes];
  ASSERT_EQ(::recv(fd, response, sizeof(response), MSG_WAITALL), static_cast<ssize_t>(kHeaderBytes));
  FrameHeader h;
  ASSERT_EQ(soft::decode_header(std::span<const uint8_t, kHeaderBytes>(response, kHeaderBytes), &h),
            soft::DecodeResult::kOk);
  EXPECT_EQ(h.type, FrameType::kResponse);
  EXPECT_EQ(h.status, soft::ResponseStatus::kOk);
  EXPECT_EQ(h.seq, 1u);
  EXPECT_EQ(responder_->memory[10], 0x42);
  EXPECT_EQ(responder_->memory[14], 0x42);
  EXPECT_EQ(responder_->memory[15], 0);
  ::close(fd);
}

TEST_F(RawRequester, GarbageBeforeAuthenticationIsRefused) {
  const int fd = raw_connect(responder_->device->listen_port());
  send_all(fd, std::vector<uint8_t>(4096, 0x41));
  EXPECT_TRUE(closed_by_peer(fd));
  ::close(fd);
  EXPECT_TRUE(eventually([](const SoftStats& s) { return s.auth_failures >= 1; }));
  EXPECT_TRUE(all_zero(responder_->memory));
}

TEST_F(RawRequester, WrongSecretIsRefusedBeforeAnyFrameIsParsed) {
  const int fd = raw_connect(responder_->device->listen_port());
  Handshake hs(Handshake::Role::kInitiator, "wrong", "mu-soft-nic-v1");
  Status s = auth::run_handshake_blocking(fd, hs, auth::monotonic_ns() + 2'000'000'000);
  EXPECT_EQ(s.code, ErrorCode::kAuthenticationFailed);
  // Even if the client ignores the failure and sends frames, nothing is executed.
  auto bytes = connect_frame();
  auto write = write_frame(1, 0, 64, 0x13);
  bytes.insert(bytes.end(), write.begin(), write.end());
  send_all(fd, bytes);
  EXPECT_TRUE(closed_by_peer(fd));
  ::close(fd);
  EXPECT_TRUE(all_zero(responder_->memory));
}

TEST_F(RawRequester, GarbageFrameClosesTheConnection) {
  const int fd = authenticated_connection();
  auto bytes = connect_frame();
  bytes.insert(bytes.end(), 200, 0x7F);
  send_all(fd, bytes);
  EXPECT_TRUE(closed_by_peer(fd));
  ::close(fd);
  EXPECT_TRUE(eventually([](const SoftStats& s) { return s.malformed_frames >= 1; }));
  EXPECT_TRUE(all_zero(responder_->memory));
}

TEST_F(RawRequester, TruncatedWriteThenDisconnectTouchesNothing) {
  const int fd = authenticated_connection();
  auto bytes = connect_frame();
  auto write = write_frame(1, 0, 1000, 0x66);
  write.resize(kHeaderBytes + 300);  // the peer dies mid-frame
  bytes.insert(bytes.end(), write.begin(), write.end());
  send_all(fd, bytes);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ::close(fd);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_TRUE(all_zero(responder_->memory));
}

TEST_F(RawRequester, OversizedLengthIsRejectedWithoutAllocatingOrTouching) {
  const int fd = authenticated_connection();
  auto bytes = connect_frame();
  FrameHeader h;
  h.type = FrameType::kWrite;
  h.seq = 1;
  h.length = soft::kMaxMessageBytes + 8;
  h.remote_addr = responder_->region->remote().addr;
  h.rkey = responder_->region->rkey();
  auto header = header_bytes(h);
  bytes.insert(bytes.end(), header.begin(), header.end());
  bytes.insert(bytes.end(), 64, 0x55);
  send_all(fd, bytes);
  EXPECT_TRUE(closed_by_peer(fd));
  ::close(fd);
  EXPECT_TRUE(all_zero(responder_->memory));
}

TEST_F(RawRequester, OutOfSequenceRequestClosesTheConnection) {
  const int fd = authenticated_connection();
  auto bytes = connect_frame();
  auto write = write_frame(5, 0, 8, 0x31);  // seq must start at 1
  bytes.insert(bytes.end(), write.begin(), write.end());
  send_all(fd, bytes);
  EXPECT_TRUE(closed_by_peer(fd));
  ::close(fd);
  EXPECT_TRUE(all_zero(responder_->memory));
}

TEST_F(RawRequester, RequestBeforeConnectAndSecondBindingAreRefused) {
  const int fd = authenticated_connection();
  send_all(fd, write_frame(1, 0, 8, 0x31));  // no CONNECT first
  EXPECT_TRUE(closed_by_peer(fd));
  ::close(fd);

  const int first = authenticated_connection();
  send_all(first, connect_frame());
  ASSERT_TRUE(eventually([](const SoftStats&) { return true; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  // One connection per binding: a second requester claiming the same QP is refused.
  const int second = authenticated_connection();
  auto bytes = connect_frame();
  auto write = write_frame(1, 0, 8, 0x31);
  bytes.insert(bytes.end(), write.begin(), write.end());
  send_all(second, bytes);
  EXPECT_TRUE(closed_by_peer(second));
  EXPECT_TRUE(eventually([](const SoftStats& s) { return s.refused_connections >= 1; }));
  ::close(second);
  ::close(first);
  EXPECT_TRUE(all_zero(responder_->memory));
}

TEST_F(RawRequester, ConnectionOfAResetQpIsDeadAfterToResetReturns) {
  const int fd = authenticated_connection();
  send_all(fd, connect_frame());
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_TRUE(responder_->qp->to_reset().ok());
  // Same binding again (RESET→INIT→RTR→RTS with the same peer): the old connection stays dead.
  ASSERT_TRUE(responder_->qp->to_init(kAccessAll).ok());
  ASSERT_TRUE(responder_->qp->to_rtr(fake_address(1, kFakeQpNum, kFakeDeviceId)).ok());
  ASSERT_TRUE(responder_->qp->to_rts().ok());
  send_all(fd, write_frame(1, 0, 8, 0x31));
  EXPECT_TRUE(closed_by_peer(fd));
  ::close(fd);
  EXPECT_TRUE(all_zero(responder_->memory));
}

// A fake responder: authenticates, reads what the requester sends, then hangs up mid-operation
// (or answers with garbage).
class RawResponder {
 public:
  // kSilent: takes the request and never answers; closes when the requester does.
  enum class Behaviour { kCloseAfterRequest, kGarbageResponse, kSilent };

  RawResponder(Behaviour behaviour, const std::string& secret = kSecret) {
    listen_fd_ = *net::listen_tcp(htonl(INADDR_LOOPBACK), 0, /*nonblocking=*/false);
    port_ = net::local_port(listen_fd_);
    thread_ = std::thread([this, behaviour, secret] {
      const int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) return;
      Handshake hs(Handshake::Role::kAcceptor, secret, "mu-soft-nic-v1");
      if (auth::run_handshake_blocking(fd, hs, auth::monotonic_ns() + 2'000'000'000).ok()) {
        uint8_t frames[2 * kHeaderBytes];  // CONNECT + the first request header
        ssize_t n = ::recv(fd, frames, sizeof(frames), MSG_WAITALL);
        (void)n;
        if (behaviour == Behaviour::kGarbageResponse) {
          std::vector<uint8_t> garbage(kHeaderBytes, 0x99);
          send_all(fd, garbage);
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        if (behaviour == Behaviour::kSilent) {
          uint8_t sink[256];
          while (::recv(fd, sink, sizeof sink, 0) > 0) {
          }  // until the requester gives up and closes
        }
      }
      ::close(fd);
    });
  }
  ~RawResponder() {
    ::shutdown(listen_fd_, SHUT_RDWR);
    thread_.join();
    ::close(listen_fd_);
  }
  uint16_t port() const { return port_; }

 private:
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
};

void run_against_raw_responder(RawResponder::Behaviour behaviour) {
  RawResponder server(behaviour);
  Endpoint a(open_device("a"));
  ASSERT_TRUE(a.qp->to_init(kAccessAll).ok());
  ASSERT_TRUE(a.qp->to_rtr(fake_address(server.port(), 5, 0x5151)).ok());
  ASSERT_TRUE(a.qp->to_rts().ok());
  RemoteRegion remote{0x1000, 1, 4096};
  WorkRequest rd = write_wr(a, 0, 64, remote, 0, 1);
  rd.opcode = Opcode::kRead;
  std::memset(a.memory.data(), 0xEE, 64);
  ASSERT_TRUE(a.qp->post(rd).ok());
  ASSERT_TRUE(a.qp->post(write_wr(a, 0, 8, remote, 0, 2)).ok());
  auto cs = wait_completions(a, 2);
  ASSERT_EQ(cs.size(), 2u);
  EXPECT_EQ(cs[0].status, WcStatus::kRetryExceeded) << to_string(cs[0].status);
  EXPECT_EQ(cs[1].status, WcStatus::kWorkRequestFlushed);
  EXPECT_EQ(a.qp->state(), QpState::kErr);
  for (int i = 0; i < 64; ++i) ASSERT_EQ(a.memory[i], 0xEE) << "READ buffer touched";
}

TEST(RawResponderTest, PeerDisconnectingMidOperationGivesRetryExceeded) {
  run_against_raw_responder(RawResponder::Behaviour::kCloseAfterRequest);
}

TEST(RawResponderTest, GarbageResponseGivesAnErrorAndTouchesNothing) {
  run_against_raw_responder(RawResponder::Behaviour::kGarbageResponse);
}

// Work sent by post() while the NIC thread sleeps still has its response deadline checked.
TEST(RawResponderTest, SilentPeerFailsWorkSentFromPostAfterTheResponseTimeout) {
  RawResponder server(RawResponder::Behaviour::kSilent);
  SoftConfig config;
  config.name = "a";
  config.secret = kSecret;
  config.linger_us = 0;
  Endpoint a(take(open_soft_device(config)));
  ASSERT_TRUE(a.qp->to_init(kAccessAll).ok());
  ASSERT_TRUE(a.qp->to_rtr(fake_address(server.port(), 5, 0x5151)).ok());
  ASSERT_TRUE(a.qp->to_rts().ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // connected ahead of work, idle
  RemoteRegion remote{0x1000, 1, 4096};
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(a.qp->post(write_wr(a, 0, 8, remote, 0, 1)).ok());
  EXPECT_EQ(soft_stats(*a.device).sent_in_post, 1u);
  const Completion c = wait_one(a, 10);
  const double waited_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(c.status, WcStatus::kRetryExceeded) << to_string(c.status);
  EXPECT_GE(waited_s, 1.9);  // the 2 s response timeout, not a lost connection
  EXPECT_LT(waited_s, 3.0);  // and noticed by the NIC's idle pass soon after it expired
  EXPECT_EQ(a.qp->state(), QpState::kErr);
}

TEST(RawResponderTest, ResponderWithoutTheSecretIsRefused) {
  RawResponder server(RawResponder::Behaviour::kCloseAfterRequest, "impostor");
  Endpoint a(open_device("a"));
  ASSERT_TRUE(a.qp->to_init(kAccessAll).ok());
  ASSERT_TRUE(a.qp->to_rtr(fake_address(server.port(), 5, 0x5151)).ok());
  ASSERT_TRUE(a.qp->to_rts().ok());
  std::memset(a.memory.data(), 0xEE, 64);
  WorkRequest rd = write_wr(a, 0, 64, RemoteRegion{0x1000, 1, 4096}, 0, 1);
  rd.opcode = Opcode::kRead;
  ASSERT_TRUE(a.qp->post(rd).ok());
  EXPECT_EQ(wait_one(a).status, WcStatus::kRetryExceeded);
  EXPECT_NE(soft_stats(*a.device).last_error.find("secret"), std::string::npos)
      << soft_stats(*a.device).last_error;
  for (int i = 0; i < 64; ++i) ASSERT_EQ(a.memory[i], 0xEE);
}

}  // namespace
}  // namespace mu::fabric
