// Challenge–response authentication with the cluster secret (see auth.h for the protocol).
#include "fabric/auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <poll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>

#include <cassert>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace mu::fabric::auth {
namespace {

constexpr uint8_t kHelloMagic[kMagicBytes] = {'M', 'U', 'H', '1'};
constexpr uint8_t kChallengeMagic[kMagicBytes] = {'M', 'U', 'C', '1'};
constexpr uint8_t kAcceptMagic[kMagicBytes] = {'M', 'U', 'O', 'K'};
constexpr uint8_t kRejectMagic[kMagicBytes] = {'M', 'U', 'N', 'O'};

}  // namespace

void random_bytes(std::span<uint8_t> out) {
  size_t filled = 0;
  while (filled < out.size()) {
    const ssize_t n = getrandom(out.data() + filled, out.size() - filled, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::fprintf(stderr, "mu: getrandom failed: %s\n", std::strerror(errno));
      std::abort();  // predictable nonces would defeat authentication
    }
    filled += static_cast<size_t>(n);
  }
}

uint64_t random_u64() {
  uint64_t v = 0;
  random_bytes({reinterpret_cast<uint8_t*>(&v), sizeof(v)});
  return v;
}

bool equal_constant_time(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

uint64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

Handshake::Handshake(Role role, std::string_view secret, std::string_view context)
    : role_(role), secret_(secret), context_(context) {
  out_.reserve(kChallengeBytes);
  if (role_ == Role::kInitiator) {
    random_bytes(nonce_initiator_);
    append_output(kHelloMagic);
    append_output(nonce_initiator_);
    step_ = Step::kAwaitChallenge;
    in_needed_ = kChallengeBytes;
  } else {
    random_bytes(nonce_acceptor_);
    step_ = Step::kAwaitHello;
    in_needed_ = kHelloBytes;
  }
  if (secret_.empty()) fail("empty cluster secret");
}

Handshake::~Handshake() { OPENSSL_cleanse(secret_.data(), secret_.size()); }

std::span<const uint8_t> Handshake::output() const {
  return {out_.data() + out_begin_, out_.size() - out_begin_};
}

void Handshake::consume_output(size_t n) {
  assert(n <= out_.size() - out_begin_);
  out_begin_ += n;
  if (out_begin_ == out_.size()) {
    out_.clear();
    out_begin_ = 0;
  }
}

size_t Handshake::bytes_wanted() const {
  if (state_ != State::kRunning) return 0;
  return in_needed_ - in_size_;
}

size_t Handshake::feed(std::span<const uint8_t> in) {
  size_t consumed = 0;
  while (consumed < in.size() && bytes_wanted() > 0) {
    const size_t take = std::min(bytes_wanted(), in.size() - consumed);
    std::memcpy(in_.data() + in_size_, in.data() + consumed, take);
    in_size_ += take;
    consumed += take;
    if (in_size_ == in_needed_) on_message();
  }
  return consumed;
}

void Handshake::append_output(std::span<const uint8_t> bytes) {
  out_.insert(out_.end(), bytes.begin(), bytes.end());
}

void Handshake::fail(std::string why) {
  state_ = State::kFailed;
  step_ = Step::kEnd;
  in_needed_ = 0;
  in_size_ = 0;
  if (error_.empty()) error_ = std::move(why);
}

void Handshake::compute_mac(std::string_view label, std::span<uint8_t, kMacBytes> out) const {
  // label \0 context \0 nonce_i nonce_a: the separators keep distinct (label, context) pairs from
  // producing the same MAC input.
  std::vector<uint8_t> message;
  message.reserve(label.size() + context_.size() + 2 + 2 * kNonceBytes);
  message.insert(message.end(), label.begin(), label.end());
  message.push_back(0);
  message.insert(message.end(), context_.begin(), context_.end());
  message.push_back(0);
  message.insert(message.end(), nonce_initiator_.begin(), nonce_initiator_.end());
  message.insert(message.end(), nonce_acceptor_.begin(), nonce_acceptor_.end());
  unsigned int mac_length = 0;
  const unsigned char* mac =
      HMAC(EVP_sha256(), secret_.data(), static_cast<int>(secret_.size()), message.data(),
           message.size(), out.data(), &mac_length);
  if (mac == nullptr || mac_length != kMacBytes) {
    std::fprintf(stderr, "mu: HMAC-SHA256 failed\n");
    std::abort();  // libcrypto broken: nothing can be authenticated
  }
}

void Handshake::on_message() {
  const std::span<const uint8_t> msg(in_.data(), in_needed_);
  in_size_ = 0;
  std::array<uint8_t, kMacBytes> expected{};
  switch (step_) {
    case Step::kAwaitHello: {  // acceptor
      if (!equal_constant_time(msg.first(kMagicBytes), kHelloMagic)) {
        fail("peer is not a mu endpoint (bad hello)");
        return;
      }
      std::memcpy(nonce_initiator_.data(), msg.data() + kMagicBytes, kNonceBytes);
      std::array<uint8_t, kMacBytes> mac{};
      compute_mac("acceptor", mac);
      append_output(kChallengeMagic);
      append_output(nonce_acceptor_);
      append_output(mac);
      step_ = Step::kAwaitProof;
      in_needed_ = kProofBytes;
      return;
    }
    case Step::kAwaitChallenge: {  // initiator
      if (!equal_constant_time(msg.first(kMagicBytes), kChallengeMagic)) {
        fail("peer is not a mu endpoint (bad challenge)");
        return;
      }
      std::memcpy(nonce_acceptor_.data(), msg.data() + kMagicBytes, kNonceBytes);
      compute_mac("acceptor", expected);
      if (!equal_constant_time(msg.subspan(kMagicBytes + kNonceBytes, kMacBytes), expected)) {
        fail("peer could not prove knowledge of the cluster secret");
        return;
      }
      std::array<uint8_t, kMacBytes> mac{};
      compute_mac("initiator", mac);
      append_output(mac);
      step_ = Step::kAwaitVerdict;
      in_needed_ = kVerdictBytes;
      return;
    }
    case Step::kAwaitProof: {  // acceptor
      compute_mac("initiator", expected);
      if (!equal_constant_time(msg, expected)) {
        append_output(kRejectMagic);
        fail("peer could not prove knowledge of the cluster secret");
        return;
      }
      append_output(kAcceptMagic);
      state_ = State::kDone;
      step_ = Step::kEnd;
      in_needed_ = 0;
      return;
    }
    case Step::kAwaitVerdict: {  // initiator
      if (equal_constant_time(msg, kAcceptMagic)) {
        state_ = State::kDone;
        step_ = Step::kEnd;
        in_needed_ = 0;
      } else if (equal_constant_time(msg, kRejectMagic)) {
        fail("peer rejected our cluster secret");
      } else {
        fail("peer is not a mu endpoint (bad verdict)");
      }
      return;
    }
    case Step::kEnd:
      break;
  }
  assert(false && "handshake received a message after its end");
}

Status run_handshake_blocking(int fd, Handshake& handshake, uint64_t deadline_ns) {
  std::array<uint8_t, kChallengeBytes> buffer{};
  for (;;) {
    // Send first: the acceptor's verdict must reach the peer even when it is a rejection.
    while (!handshake.output().empty()) {
      const uint64_t now = monotonic_ns();
      if (now >= deadline_ns) return Status::Error(ErrorCode::kUnreachable, "handshake timed out");
      pollfd pfd{fd, POLLOUT, 0};
      const int timeout_ms = static_cast<int>((deadline_ns - now + 999'999) / 1'000'000);
      const int ready = ::poll(&pfd, 1, timeout_ms);
      if (ready < 0 && errno == EINTR) continue;
      if (ready <= 0) continue;  // deadline re-checked above
      const auto out = handshake.output();
      const ssize_t n = ::send(fd, out.data(), out.size(), MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
        return Status::Error(ErrorCode::kUnreachable,
                             std::string("handshake send failed: ") + std::strerror(errno));
      }
      handshake.consume_output(static_cast<size_t>(n));
    }
    if (handshake.state() == Handshake::State::kDone) return Status::Ok();
    if (handshake.state() == Handshake::State::kFailed) {
      return Status::Error(ErrorCode::kAuthenticationFailed, handshake.error());
    }
    const size_t wanted = handshake.bytes_wanted();
    assert(wanted > 0 && wanted <= buffer.size());
    const uint64_t now = monotonic_ns();
    if (now >= deadline_ns) return Status::Error(ErrorCode::kUnreachable, "handshake timed out");
    pollfd pfd{fd, POLLIN, 0};
    const int timeout_ms = static_cast<int>((deadline_ns - now + 999'999) / 1'000'000);
    const int ready = ::poll(&pfd, 1, timeout_ms);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;
    const ssize_t n = ::recv(fd, buffer.data(), wanted, 0);
    if (n == 0) {
      // A peer that rejects us closes right after its verdict; one that cannot verify us (we are
      // the acceptor) simply closes. Either way we were not authenticated.
      return Status::Error(ErrorCode::kAuthenticationFailed,
                           "peer closed the connection during authentication");
    }
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
      return Status::Error(ErrorCode::kUnreachable,
                           std::string("handshake receive failed: ") + std::strerror(errno));
    }
    handshake.feed({buffer.data(), static_cast<size_t>(n)});
  }
}

}  // namespace mu::fabric::auth
