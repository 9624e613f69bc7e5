// The traffic policies of one route (SPEC §2.2 Traffic policy), built once per loaded config
// next to its retry state: the rate limiter, the weighted cluster split, and the counters that
// /metrics shows for them. Compression, fallback_response and websocket need no state beyond
// their config.
//
// Threading: built before the workers start; read by every worker; counters are atomics.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "config/config.hpp"
#include "proxy/ratelimit/route_limiter.hpp"
#include "proxy/split/cluster_split.hpp"

namespace spillway::policy {

struct route_policy {
  std::unique_ptr<ratelimit::route_limiter> limiter;  // null: no rate_limit
  split::cluster_split split;                         // the route's clusters by weight
  std::atomic<uint64_t> fallback_responses{0};        // fallback_response served
  std::atomic<uint64_t> decoded_requests{0};          // compressed request bodies decoded
  std::atomic<uint64_t> refused_bodies{0};            // too large once decoded, or corrupt
  std::atomic<uint64_t> compressed_responses{0};      // responses compressed for the client
  std::atomic<uint64_t> websockets{0};                // WebSocket upgrades tunnelled
};

/// Builds the policies of `route`; `cluster_index` maps a cluster name to its index (-1 when
/// unknown). `link` is the Redis connection for shared limits (null: none configured).
void build(route_policy& out, const config::route_config& route,
           const std::vector<int>& cluster_indexes, std::shared_ptr<ratelimit::redis_link> link);

/// The Redis connection for shared rate limits of `cfg`: started when a route asks for one and
/// cache.redis is configured; null otherwise.
std::shared_ptr<ratelimit::redis_link> redis_for(const config::proxy_config& cfg);

}  // namespace spillway::policy
