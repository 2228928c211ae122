// Mutual authentication with the cluster secret (DESIGN.md §3.2: "no unauthenticated peer can
// read or write a log"), used by the soft NIC and by the bootstrap channel.
//
// Challenge–response, HMAC-SHA256 keyed by the secret, four fixed-size messages:
//
//   initiator → acceptor  HELLO      magic | nonce_i                        (36 bytes)
//   acceptor  → initiator CHALLENGE  magic | nonce_a | mac_a               (68 bytes)
//   initiator → acceptor  PROOF      mac_i                                  (32 bytes)
//   acceptor  → initiator VERDICT    accept or reject magic                 (4 bytes)
//
//   mac_a = HMAC(secret, "acceptor\0"  | context | "\0" | nonce_i | nonce_a)
//   mac_i = HMAC(secret, "initiator\0" | context | "\0" | nonce_i | nonce_a)
//
// Each side proves the secret over a nonce the other chose, so a recorded transcript cannot be
// replayed; the role label keeps the acceptor from being used as an oracle for the initiator's
// proof, and `context` keeps a bootstrap transcript from opening a NIC connection (and back).
// MACs are compared in constant time. The secret never crosses the wire.
//
// Handshake is sans-IO (no sockets inside): the caller moves bytes, so the protocol is unit-tested
// without a network and drives both the non-blocking soft NIC and the blocking bootstrap channel.
// It never consumes bytes past its own last message: whatever follows belongs to the caller.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mu/fabric/fabric.h"

namespace mu::fabric::auth {

constexpr size_t kNonceBytes = 32;
constexpr size_t kMacBytes = 32;  // SHA-256
constexpr size_t kMagicBytes = 4;
constexpr size_t kHelloBytes = kMagicBytes + kNonceBytes;
constexpr size_t kChallengeBytes = kMagicBytes + kNonceBytes + kMacBytes;
constexpr size_t kProofBytes = kMacBytes;
constexpr size_t kVerdictBytes = kMagicBytes;
static_assert(kHelloBytes == 36 && kChallengeBytes == 68);

// Fills `out` from the kernel's CSPRNG (getrandom). Aborts if the kernel cannot provide
// randomness: nonces and keys must never be predictable.
void random_bytes(std::span<uint8_t> out);
uint64_t random_u64();

// Constant-time equality of two equally long byte strings.
bool equal_constant_time(std::span<const uint8_t> a, std::span<const uint8_t> b);

class Handshake {
 public:
  enum class Role : uint8_t { kInitiator, kAcceptor };
  enum class State : uint8_t {
    kRunning,  // waiting for input (bytes_wanted() > 0) and/or output to flush
    kDone,     // authenticated; flush output() (the acceptor's VERDICT) before application data
    kFailed,   // not authenticated; flush output() best-effort (a rejection), then close
  };

  Handshake(Role role, std::string_view secret, std::string_view context);
  ~Handshake();
  Handshake(const Handshake&) = delete;
  Handshake& operator=(const Handshake&) = delete;

  // Bytes to send now; after sending n of them, call consume_output(n).
  std::span<const uint8_t> output() const;
  void consume_output(size_t n);
  // How many more input bytes the current step needs (0 when done or failed).
  size_t bytes_wanted() const;
  // Feeds received bytes; returns how many were consumed (at most what the handshake needs).
  size_t feed(std::span<const uint8_t> in);

  State state() const { return state_; }
  Role role() const { return role_; }
  // Why the handshake failed, for logs and last_error(); never contains secret material.
  const std::string& error() const { return error_; }

 private:
  enum class Step : uint8_t { kAwaitHello, kAwaitChallenge, kAwaitProof, kAwaitVerdict, kEnd };

  void compute_mac(std::string_view label, std::span<uint8_t, kMacBytes> out) const;
  void on_message();
  void fail(std::string why);
  void append_output(std::span<const uint8_t> bytes);

  Role role_;
  State state_ = State::kRunning;
  Step step_;
  std::string secret_;
  std::string context_;
  std::array<uint8_t, kNonceBytes> nonce_initiator_{};
  std::array<uint8_t, kNonceBytes> nonce_acceptor_{};
  // The message being received: in_[0, in_size_) of in_needed_ bytes.
  std::array<uint8_t, kChallengeBytes> in_{};
  size_t in_size_ = 0;
  size_t in_needed_ = 0;
  // Output not yet handed to the socket: out_[out_begin_, out_.size()).
  std::vector<uint8_t> out_;
  size_t out_begin_ = 0;
  std::string error_;
};

// Runs `handshake` to completion over a connected socket, blocking until `deadline_ns`
// (CLOCK_MONOTONIC). Reads exactly what the handshake asks for, so later application bytes stay
// in the socket. Returns kAuthenticationFailed (with the handshake's reason) when the peer does not
// prove the secret or rejects ours, kUnreachable on I/O errors or timeout.
Status run_handshake_blocking(int fd, Handshake& handshake, uint64_t deadline_ns);

// CLOCK_MONOTONIC in nanoseconds.
uint64_t monotonic_ns();

}  // namespace mu::fabric::auth
