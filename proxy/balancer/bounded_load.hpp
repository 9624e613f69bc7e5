// Consistent hashing with bounded loads (Mirrokni, Thorup, Zadimoghaddam, "Consistent Hashing
// with Bounded Loads", SODA 2018 / arXiv 2017). An endpoint accepts a new request only while its
// in-flight count stays within balance_factor times its weighted share of the mean, counting the
// new request: active_i + 1 <= ceil(c * (A + 1) * w_i / W), with A and W the in-flight total and
// the effective-weight total over available endpoints. A key walks its hash order (ring or Maglev
// table) from its home and takes the first eligible endpoint within the bound. Since the bounds
// add up to c * (A + 1) > A, some available endpoint is always below its bound. An optional
// floor F admits any endpoint with fewer than F in flight (an absolute slack, as LLM routers'
// cache-aware policies allow before balancing: batching engines take a few requests cheaply).
//
// Weights: positions on the ring (or Maglev fill counts) follow the configured weights and never
// change at run time, so keys stay put; the effective weight (slow start) acts through the bound
// only, which lets a ramping endpoint take its keys back gradually.
//
// Threading: per worker instance; the counts read are the shared relaxed atomics, so concurrent
// workers may each admit one request past a bound at the same instant.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

#include "proxy/balancer/balancer.hpp"
#include "proxy/balancer/weighted_load.hpp"

namespace spillway::balancer {

/// The bound of one pick: measured once, then asked per endpoint.
class load_bound {
 public:
  /// `factor` <= 0 means no bound (plain consistent hashing). `floor`: see the file comment.
  static load_bound measure(const endpoint_set& endpoints, double factor,
                            uint32_t floor = 0) noexcept {
    load_bound b;
    if (!(factor > 0)) return b;
    b.floor_ = floor;
    uint64_t active = 0, weight = 0;
    for (const upstream::endpoint* e : endpoints) {
      if (!e->available()) continue;
      active += active_of(*e);
      weight += weight_of(*e);
    }
    if (weight == 0) return b;
    b.bounded_ = true;
    b.num_ = static_cast<uint64_t>(std::llround(factor * scale)) * (active + 1);
    b.den_ = scale * weight;
    return b;
  }

  bool bounded() const noexcept { return bounded_; }

  /// True when `e` may take one more request: active < c * (A + 1) * w / W, which is
  /// active + 1 <= ceil(c * (A + 1) * w / W) for integer counts.
  bool admits(const upstream::endpoint& e) const noexcept {
    if (!bounded_ || active_of(e) < floor_) return true;
    using u128 = unsigned __int128;
    return u128{active_of(e)} * den_ < u128{num_} * weight_of(e);
  }

 private:
  static constexpr uint64_t scale = 1000;  // balance factor in thousandths
  bool bounded_ = false;
  uint64_t num_ = 0;
  uint64_t den_ = 1;
  uint32_t floor_ = 0;
};

/// Result of a hashed pick.
struct hash_pick {
  int index = -1;  // endpoint to use; -1 when none is eligible
  int home = -1;   // the key's own endpoint: first in hash order, eligible or not
};

/// Marks endpoints seen during one walk; reset in O(1) by bumping the generation.
class visit_marks {
 public:
  explicit visit_marks(std::size_t n) : mark_(n, 0) {}

  void next_walk() noexcept {
    if (++gen_ == 0) {
      std::fill(mark_.begin(), mark_.end(), 0);
      gen_ = 1;
    }
  }
  /// True the first time `i` is seen in this walk.
  bool first(int i) noexcept {
    if (mark_[i] == gen_) return false;
    mark_[i] = gen_;
    return true;
  }

 private:
  std::vector<uint32_t> mark_;
  uint32_t gen_ = 0;
};

/// The bounded-load walk shared by ring_hash and maglev. `next()` yields endpoint indexes in
/// hash order from the key's position (repeats allowed); the walk ends after `distinct` distinct
/// endpoints or `max_steps` draws. `avoid` (or -1) is skipped like an excluded endpoint. When no
/// eligible endpoint is within its bound (only possible when the ones below it are excluded or at
/// max_concurrent) the lightest eligible one by (active + 1) / weight is taken, first in hash
/// order on ties.
template <class Next>
hash_pick bounded_walk(const endpoint_set& endpoints, const load_bound& bound,
                       std::span<const int> excluded, int avoid, visit_marks& marks,
                       std::size_t distinct, std::size_t max_steps, Next next) {
  hash_pick r;
  marks.next_walk();
  uint32_t best_load = 0, best_weight = 1;
  std::size_t seen = 0;
  for (std::size_t step = 0; step < max_steps && seen < distinct; ++step) {
    const int i = next();
    if (!marks.first(i)) continue;
    ++seen;
    if (r.home < 0) r.home = i;
    const upstream::endpoint& e = *endpoints[i];
    if (i == avoid || !eligible_in(e, i, excluded)) continue;
    if (bound.admits(e)) {
      r.index = i;
      return r;
    }
    const uint32_t load = active_of(e) + 1, w = weight_of(e);
    if (r.index < 0 || [&] {
          const auto [mine, best] = cross(load, w, best_load, best_weight);
          return mine < best;
        }()) {
      r.index = i;
      best_load = load;
      best_weight = w;
    }
  }
  return r;
}

/// A policy that maps a 64-bit key onto the endpoints in a fixed hash order. pick() with
/// has_hash uses pick_hash(); without a hash it balances as least_conn.
class hashing_balancer : public balancer {
 public:
  /// The key's home endpoint, ignoring eligibility and load; -1 for an empty set.
  virtual int home(uint64_t hash) = 0;

  /// Bounded-load pick for `hash`, skipping `excluded` and `avoid` (-1: none).
  virtual hash_pick pick_hash(uint64_t hash, std::span<const int> excluded, int avoid = -1) = 0;

  /// Builds the lookup structure now instead of at the first hashed pick (call at startup to
  /// keep the cost off the data path). Idempotent.
  virtual void build() = 0;
};

}  // namespace spillway::balancer
