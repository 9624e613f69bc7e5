// Small helpers shared by the balancing policies: the weight and in-flight count a policy reads
// from an endpoint, the load comparison by cross-multiplication (no floating point), and the
// smooth weighted round robin of nginx (ngx_http_upstream_get_peer, Maxim Dounin 2012).
//
// Threading: smooth_wrr is per balancer instance, hence per worker thread; no locks.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "proxy/balancer/balancer.hpp"
#include "proxy/upstream/endpoint.hpp"

namespace spillway::balancer {

/// Weight a policy uses: effective_weight (after slow start), never below 1 so an endpoint that
/// is ramping up still takes an occasional request and the arithmetic never divides by zero.
inline uint32_t weight_of(const upstream::endpoint& e) noexcept {
  return std::max<uint32_t>(e.effective_weight.load(std::memory_order_relaxed), 1);
}

/// In-flight requests on `e`, all workers together; never negative.
inline uint32_t active_of(const upstream::endpoint& e) noexcept {
  return static_cast<uint32_t>(std::max<int32_t>(e.active.load(std::memory_order_relaxed), 0));
}

/// eligible() for loops: the exclusion list is taken by value so it stays in registers instead of
/// being reloaded through the context after every atomic read.
inline bool eligible_in(const upstream::endpoint& e, int i, std::span<const int> excluded) {
  return eligible(e, i, pick_context{.excluded = excluded});
}

/// Cross-multiplied ratios: a_num / a_den against b_num / b_den (dens > 0) becomes
/// first against second, with no division and no floating point.
struct ratio_products {
  uint64_t first;
  uint64_t second;
};
inline ratio_products cross(uint32_t a_num, uint32_t a_den, uint32_t b_num,
                            uint32_t b_den) noexcept {
  return {uint64_t{a_num} * b_den, uint64_t{b_num} * a_den};
}

/// An endpoint index with the weight read for it during one pick.
struct weighted_index {
  int index;
  uint32_t weight;
};

/// The eligible endpoints of one pick with their weights, written to `out` (room for every
/// endpoint); returns how many and their total weight.
struct weighted_candidates {
  std::size_t count;
  uint64_t total;
};
inline weighted_candidates collect_eligible(const endpoint_set& endpoints,
                                            std::span<const int> excluded, weighted_index* out) {
  std::size_t count = 0;
  uint64_t total = 0;
  const int n = static_cast<int>(endpoints.size());
  for (int i = 0; i < n; ++i) {
    const upstream::endpoint& e = *endpoints[i];
    if (!eligible_in(e, i, excluded)) continue;
    const uint32_t w = weight_of(e);
    out[count++] = {i, w};
    total += w;
  }
  return {count, total};
}

/// Position in c[0..count) whose weight interval holds r (r < total weight); `before` receives
/// the total weight of the positions ahead of it.
inline std::size_t locate_weighted(const weighted_index* c, std::size_t count, uint64_t r,
                                   uint64_t& before) noexcept {
  before = 0;
  for (std::size_t k = 0; k + 1 < count; ++k) {
    if (r < c[k].weight) return k;
    r -= c[k].weight;
    before += c[k].weight;
  }
  return count - 1;
}

/// Smooth weighted round robin: each candidate of one pick gains its weight, the largest current
/// value wins and pays back the pick's total. Over any window of sum(weights) picks each
/// candidate is chosen weight times, interleaved (5,1,1 gives a a b a c a a).
class smooth_wrr {
 public:
  explicit smooth_wrr(std::size_t n) : current_(n, 0) {}

  /// Chooses among `candidates` (indexes below n, each at most once); -1 when empty.
  int choose(std::span<const weighted_index> candidates) noexcept {
    int64_t* current = current_.data();
    int64_t total = 0;
    int best = -1;
    int64_t best_current = 0;
    for (const weighted_index& c : candidates) {
      const int64_t v = current[c.index] += c.weight;
      total += c.weight;
      if (best < 0 || v > best_current) {
        best = c.index;
        best_current = v;
      }
    }
    if (best >= 0) current[best] = best_current - total;
    return best;
  }

  /// Same choice over endpoints 0..n-1 in one pass; weight(i) returns 0 for a non-candidate.
  template <class WeightOf>
  int choose_each(int n, WeightOf weight) noexcept {
    int64_t* current = current_.data();
    int64_t total = 0;
    int best = -1;
    int64_t best_current = 0;
    for (int i = 0; i < n; ++i) {
      const uint32_t w = weight(i);
      if (w == 0) continue;
      const int64_t v = current[i] += w;
      total += w;
      if (best < 0 || v > best_current) {
        best = i;
        best_current = v;
      }
    }
    if (best >= 0) current[best] = best_current - total;
    return best;
  }

 private:
  std::vector<int64_t> current_;
};

}  // namespace spillway::balancer
