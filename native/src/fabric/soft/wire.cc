// Encoding of the soft NIC's frame header (see wire.h).
#include "fabric/soft/wire.h"

#include <cstring>

namespace mu::fabric::soft {
namespace {

// Explicit little-endian so two hosts agree whatever their byte order.
void put16(uint8_t* p, uint16_t v) {
  for (int i = 0; i < 2; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
void put32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
void put64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
uint16_t get16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
uint32_t get32(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(p[i]) << (8 * i);
  return v;
}
uint64_t get64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}

// Layout: magic(2) type(1) status(1) length(4) seq(8) remote_addr(8) rkey(4) aux(4)
//         compare(8) swap(8) = 48.
constexpr size_t kOffMagic = 0, kOffType = 2, kOffStatus = 3, kOffLength = 4, kOffSeq = 8,
                 kOffRemoteAddr = 16, kOffRkey = 24, kOffAux = 28, kOffCompare = 32, kOffSwap = 40;
static_assert(kOffSwap + 8 == kHeaderBytes);

}  // namespace

uint32_t FrameHeader::wire_payload_bytes() const {
  switch (type) {
    case FrameType::kWrite:
    case FrameType::kResponse:
      return length;
    case FrameType::kConnect:
    case FrameType::kRead:
    case FrameType::kCompareSwap:
      return 0;
  }
  return 0;
}

void encode_header(const FrameHeader& h, std::span<uint8_t, kHeaderBytes> out) {
  uint8_t* p = out.data();
  std::memset(p, 0, kHeaderBytes);
  put16(p + kOffMagic, kFrameMagic);
  p[kOffType] = static_cast<uint8_t>(h.type);
  p[kOffStatus] = static_cast<uint8_t>(h.status);
  put32(p + kOffLength, h.length);
  put64(p + kOffSeq, h.seq);
  put64(p + kOffRemoteAddr, h.remote_addr);
  put32(p + kOffRkey, h.rkey);
  put32(p + kOffAux, h.aux);
  put64(p + kOffCompare, h.compare);
  put64(p + kOffSwap, h.swap);
}

DecodeResult decode_header(std::span<const uint8_t, kHeaderBytes> in, FrameHeader* h) {
  const uint8_t* p = in.data();
  if (get16(p + kOffMagic) != kFrameMagic) return DecodeResult::kMalformed;
  const uint8_t type = p[kOffType];
  if (type < static_cast<uint8_t>(FrameType::kConnect) ||
      type > static_cast<uint8_t>(FrameType::kResponse)) {
    return DecodeResult::kMalformed;
  }
  const uint8_t status = p[kOffStatus];
  if (status > static_cast<uint8_t>(ResponseStatus::kAccessError)) return DecodeResult::kMalformed;
  h->type = static_cast<FrameType>(type);
  h->status = static_cast<ResponseStatus>(status);
  h->length = get32(p + kOffLength);
  h->seq = get64(p + kOffSeq);
  h->remote_addr = get64(p + kOffRemoteAddr);
  h->rkey = get32(p + kOffRkey);
  h->aux = get32(p + kOffAux);
  h->compare = get64(p + kOffCompare);
  h->swap = get64(p + kOffSwap);
  if (h->length > kMaxMessageBytes) return DecodeResult::kMalformed;
  if (h->type != FrameType::kResponse && h->status != ResponseStatus::kOk) {
    return DecodeResult::kMalformed;
  }
  if (h->type == FrameType::kConnect && h->length != 0) return DecodeResult::kMalformed;
  if (h->type == FrameType::kCompareSwap && h->length != 8) return DecodeResult::kMalformed;
  return DecodeResult::kOk;
}

}  // namespace mu::fabric::soft
