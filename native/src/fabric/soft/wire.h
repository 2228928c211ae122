// The soft NIC's wire format: what travels on one TCP connection from a requester QP to its
// responder QP after authentication (auth.h), and back.
//
//   requester → responder: CONNECT once, then WRITE (header + `length` payload bytes), READ and
//                          COMPARE_SWAP (header only), in posting order;
//   responder → requester: one RESPONSE per request, in the same order (header + READ data or
//                          the 8-byte old value of a CAS).
//
// Every frame starts with the same 48-byte little-endian header. Input from the wire is
// untrusted: decode_header() rejects unknown types, wrong magic and oversized lengths before a
// single payload byte is looked at (STYLE.md 7: bad input is dropped and counted, never asserted).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace mu::fabric::soft {

// Largest READ/WRITE the soft NIC carries in one frame. Bounds every receive buffer.
constexpr uint32_t kMaxMessageBytes = 4u << 20;
constexpr size_t kHeaderBytes = 48;
constexpr uint16_t kFrameMagic = 0x4d55;  // "MU"
static_assert(kMaxMessageBytes % 8 == 0 && kHeaderBytes % 8 == 0);

enum class FrameType : uint8_t {
  kConnect = 1,      // binds the connection to (requester QP, responder QP)
  kWrite = 2,
  kRead = 3,
  kCompareSwap = 4,
  kResponse = 5,
};

// Outcome of one request, carried by its RESPONSE.
enum class ResponseStatus : uint8_t {
  kOk = 0,
  kUnreachable = 1,     // responder QP not RTR/RTS or not bound to this connection → RETRY_EXC
  kInvalidRequest = 2,  // QP access flags forbid the op, misaligned CAS → REM_INV_REQ
  kAccessError = 3,     // rkey, region access or bounds → REM_ACCESS_ERR
};

// Why a CONNECT was refused (the refusal's `aux`, for the requester's error message).
constexpr uint32_t kRefusedNotReady = 1;  // responder QP missing or not in RTR/RTS
constexpr uint32_t kRefusedFinal = 2;     // bound to another peer, or already connected

struct FrameHeader {
  FrameType type = FrameType::kWrite;
  ResponseStatus status = ResponseStatus::kOk;  // RESPONSE only
  uint32_t length = 0;    // payload bytes that follow (WRITE, RESPONSE) or bytes asked (READ)
  uint64_t seq = 0;       // request sequence number on this connection, from 1; echoed back
  uint64_t remote_addr = 0;
  uint32_t rkey = 0;      // CONNECT: the requester QP's binding (low 32 bits of its epoch)
  uint32_t aux = 0;       // CONNECT: the responder QP number; its refusal: kRefused*
  uint64_t compare = 0;   // CAS; CONNECT: the requester device id
  uint64_t swap = 0;      // CAS; CONNECT: the responder device id
  // CONNECT reuses remote_addr for the requester QP number.

  // Bytes of payload that follow this header on the wire.
  uint32_t wire_payload_bytes() const;
};

void encode_header(const FrameHeader& header, std::span<uint8_t, kHeaderBytes> out);

enum class DecodeResult : uint8_t { kOk, kMalformed };
// Decodes and validates one header (exactly kHeaderBytes). kMalformed: close the connection.
DecodeResult decode_header(std::span<const uint8_t, kHeaderBytes> in, FrameHeader* header);

}  // namespace mu::fabric::soft
