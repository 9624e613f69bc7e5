// Session affinity for one cluster (SPEC §2.1 affinity, §2.2 Affinity): turns a request's key or
// signed cookie into an endpoint by consistent hashing with bounded loads, applies
// on_unavailable, and says what happened (decision.hpp) and whether the response must set the
// cookie.
//
//   key (header, jwt, prefix): home = the key's endpoint in hash order. Home eligible and within
//     its load bound → hit. Home available but busy (over the bound or at max_concurrent, also
//     when excluded while full: a lost race for its last slot) → the next endpoint in hash order
//     within its bound: spill. Home unavailable (or excluded otherwise: it already failed this
//     request) → rebalance: next in hash order, repin; fail: failed.
//   cookie: a valid cookie naming a current endpoint pins to it, with the same rules; the walk
//     for spill and repin starts at hash(address), so replicas agree. A repin re-issues the
//     cookie; a spill does not (the session returns once the endpoint has room). No valid cookie
//     (absent, forged, tampered, expired, naming an endpoint no longer in the cluster) → the
//     cluster's balancer picks and the cookie is set: new_pin. A valid cookie past half its TTL
//     is re-issued on a hit (sliding expiry).
//   no key → the cluster's balancer picks: none.
//
// Threading: one picker per worker and cluster (it owns a hashing balancer with per-worker
// scratch). The cookie signer is shared and immutable.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "proxy/affinity/cookie.hpp"
#include "proxy/affinity/decision.hpp"
#include "proxy/affinity/key.hpp"
#include "proxy/balancer/balancer.hpp"
#include "proxy/balancer/bounded_load.hpp"
#include "proxy/http/message.hpp"

namespace spillway::affinity {

/// What a request carries for affinity; computed once per request by resolve().
struct affinity_request {
  std::optional<uint64_t> key;  // header, jwt, prefix
  int pinned = -1;              // cookie: the endpoint a valid cookie names; -1 none
  bool refresh = false;         // cookie: valid but past half its TTL
};

/// One pick under affinity.
struct affinity_pick {
  int index = -1;  // endpoint to try; -1: none eligible (queue or 503 as without affinity)
  decision what = decision::none;
  bool set_cookie = false;  // the response carries Set-Cookie: cookie_for(index, now)
};

/// on_unavailable for an endpoint (`pinned`) that cannot take the request: rebalance → the next
/// eligible endpoint in `ring`'s order from `hash`, skipping `pinned`, decision repin (index -1
/// when none is eligible); fail → {-1, failed}.
affinity_pick on_pinned_unavailable(config::on_unavailable_action action,
                                    balancer::hashing_balancer& ring, uint64_t hash, int pinned,
                                    std::span<const int> excluded);

class affinity_picker {
 public:
  /// `endpoints`: the cluster's set (outlives the picker). `cluster_kind`: the cluster's balancer
  /// (maglev keeps maglev for keys, anything else uses ring_hash). `fallback`: this worker's
  /// balancer for the cluster, used for decision none and new pins. `signer`: the cluster's
  /// cookie signer, required when cfg.key is cookie. All must outlive the picker.
  affinity_picker(const config::affinity_config& cfg, config::balancer_kind cluster_kind,
                  const balancer::endpoint_set& endpoints, balancer::balancer& fallback,
                  const cookie_signer* signer, prefix_options prefix = {});

  /// False for key none: the data path can skip resolve() and pick().
  bool enabled() const noexcept { return cfg_.key != config::affinity_key_kind::none; }
  /// True when resolve() needs the request body (key prefix).
  bool needs_body() const noexcept { return cfg_.key == config::affinity_key_kind::prefix; }

  /// Reads the key or cookie of a request. `body` matters for prefix only; `now_unix` for cookies.
  affinity_request resolve(const http::request_head& head, std::string_view body,
                           int64_t now_unix) const;

  /// Chooses the endpoint for one try. Call again for a retry with the tried endpoints in
  /// `excluded`; the cookie goes with the pick that finally served the response.
  affinity_pick pick(const affinity_request& req, std::span<const int> excluded);

  /// Set-Cookie field value pinning to endpoint `index` (cookie key only).
  std::string cookie_for(int index, int64_t now_unix) const;

  /// Index of the endpoint configured as `address`, -1 when the cluster has none.
  int index_of(std::string_view address) const noexcept;

  balancer::hashing_balancer& ring() noexcept { return *ring_; }

 private:
  affinity_pick pick_pinned(int home, uint64_t hash, bool cookie, bool refresh,
                            std::span<const int> excluded);

  config::affinity_config cfg_;
  balancer::endpoint_set endpoints_;
  balancer::balancer& fallback_;
  const cookie_signer* signer_;
  prefix_options prefix_;
  std::unique_ptr<balancer::hashing_balancer> ring_;
  std::vector<uint64_t> address_hash_;  // hash64(address) per endpoint: cookie walks start there
};

}  // namespace spillway::affinity
