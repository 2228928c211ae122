// The bootstrap channel: how replicas learn each other's QP addresses and region descriptors
// before any one-sided operation can flow (DESIGN.md §3.2), for every backend.
//
// Each replica runs one Bootstrap listening on a TCP port of a static peer list. A replica
// *publishes*, for each peer, an opaque blob (its QP address for that peer, RemoteRegion
// descriptors…, serialized by the caller) and *fetches* from each peer the blob that peer
// published for it. Serving runs on a background thread and a fetch retries (connection refused,
// nothing published yet) until its timeout, so replicas need no common order — provided each
// publishes for every peer before it starts fetching (exchange_all does exactly that; a chain of
// pairwise exchange() calls in different orders can wait on each other until the timeouts). Every connection is authenticated with the cluster secret (the same
// challenge–response as the soft NIC, in its own context): a peer without it gets nothing and
// learns nothing. Setup code: calls block (with timeouts) and allocate.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "mu/fabric/fabric.h"

namespace mu::fabric {

struct BootstrapPeer {
  uint32_t id = 0;
  std::string host;  // IPv4 address or name
  uint16_t port = 0;
};

struct BootstrapOffer {
  BootstrapPeer peer;
  std::vector<uint8_t> blob;  // what this peer gets from us
};

struct BootstrapConfig {
  uint32_t id = 0;                      // this replica's id in the peer list
  std::string host = "127.0.0.1";       // address to listen on
  uint16_t port = 0;                    // 0: ephemeral (see Bootstrap::port)
  std::string secret;                   // cluster secret; must be non-empty
  std::string netns;                    // network namespace under /run/netns; empty: ours
};

class Bootstrap {
 public:
  // Largest blob published or accepted (bounds what a peer can make us allocate).
  static constexpr uint32_t kMaxBlobBytes = 1u << 20;

  static Result<std::unique_ptr<Bootstrap>> listen(const BootstrapConfig& config);
  virtual ~Bootstrap() = default;

  virtual uint32_t id() const = 0;
  virtual uint16_t port() const = 0;

  // Makes `blob` what peer `peer_id` gets when it fetches from us (replaces an earlier one).
  virtual Status publish(uint32_t peer_id, std::span<const uint8_t> blob) = 0;
  // The blob `peer` published for us. Retries until timeout_ms while the peer is not up or has
  // not published yet. kAuthenticationFailed (no retry) when either side lacks the secret,
  // kUnreachable on timeout, kInvalidArgument when the peer is not who the list says.
  virtual Result<std::vector<uint8_t>> fetch(const BootstrapPeer& peer, int timeout_ms) = 0;
  // State transfer (core/state_transfer.h) rides the same authenticated channel: a replica
  // that must fetch a peer's applied state asks for it, and the peer's `provider` produces it
  // on demand (it runs on the serving thread, which serves nothing else meanwhile).
  // Largest state accepted.
  static constexpr uint64_t kMaxStateBytes = (uint64_t{1} << 32) - 1;
  // The provider gets the requester's id; it returns the bytes or a Status naming why not.
  // nullptr: no state served (requests get kInvalidState). Replacing it waits for a call in
  // progress to return.
  using StateProvider = std::function<Result<std::vector<uint8_t>>(uint32_t requester)>;
  virtual void serve_state(StateProvider provider) = 0;
  // The state `peer` provides for us. One attempt (the caller decides when to ask again), with
  // timeout_ms for the whole transfer. kInvalidState (with the peer's reason) when it has no
  // state for us now; kUnreachable, kAuthenticationFailed, kInvalidArgument as for fetch().
  virtual Result<std::vector<uint8_t>> fetch_state(const BootstrapPeer& peer, int timeout_ms) = 0;

  // publish(peer.id, mine) then fetch(peer): enough for two replicas.
  Result<std::vector<uint8_t>> exchange(const BootstrapPeer& peer, std::span<const uint8_t> mine,
                                        int timeout_ms) {
    Status s = publish(peer.id, mine);
    if (!s.ok()) return s;
    return fetch(peer, timeout_ms);
  }
  // Publishes every offer, then fetches from every offered peer; blobs in the offers' order.
  // timeout_ms bounds each fetch.
  Result<std::vector<std::vector<uint8_t>>> exchange_all(std::span<const BootstrapOffer> offers,
                                                         int timeout_ms) {
    for (const auto& offer : offers) {
      Status s = publish(offer.peer.id, offer.blob);
      if (!s.ok()) return s;
    }
    std::vector<std::vector<uint8_t>> blobs;
    for (const auto& offer : offers) {
      Result<std::vector<uint8_t>> blob = fetch(offer.peer, timeout_ms);
      if (!blob.ok()) return blob.status();
      blobs.push_back(std::move(blob.value()));
    }
    return blobs;
  }
};

}  // namespace mu::fabric
