// Load-balancing policy interface. A policy is one file pair in this folder plus one line in
// balancer_factory.cpp (HAProxy's lb_*.c layout).
//
// Threading: each worker thread owns its own balancer instances (tie-break and round-robin
// state are per worker, no locks); the in-flight counts they read are the process-wide atomics
// in upstream::endpoint, so every worker sees every request.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "common/random.hpp"
#include "config/config.hpp"
#include "proxy/upstream/endpoint.hpp"

namespace spillway::balancer {

struct pick_context {
  /// Endpoint indexes that must not be chosen (already tried by this request).
  std::span<const int> excluded;
  /// Affinity or request hash for hashing policies (ring_hash, maglev).
  uint64_t hash = 0;
  bool has_hash = false;
};

class balancer {
 public:
  virtual ~balancer() = default;

  /// Chooses an endpoint among those that are available(), not at_capacity() and not excluded.
  /// Returns its index in the endpoint set, or -1 when none is eligible. Does not take the
  /// in-flight slot: the caller calls try_acquire() and picks again (excluding it) on failure.
  virtual int pick(const pick_context& ctx) = 0;
};

using endpoint_set = std::vector<upstream::endpoint*>;

/// Builds the policy `kind` over `endpoints` (which must outlive it). `seed` seeds its random
/// source so tests are repeatable.
std::unique_ptr<balancer> make_balancer(config::balancer_kind kind, const endpoint_set& endpoints,
                                        uint64_t seed);

/// True when endpoint `i` may be chosen under `ctx`.
inline bool eligible(const upstream::endpoint& e, int i, const pick_context& ctx) {
  if (!e.available() || e.at_capacity()) return false;
  for (int x : ctx.excluded)
    if (x == i) return false;
  return true;
}

}  // namespace spillway::balancer
