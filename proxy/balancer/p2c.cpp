#include "proxy/balancer/p2c.hpp"

namespace spillway::balancer {

p2c::p2c(const endpoint_set& endpoints, uint64_t seed)
    : endpoints_(endpoints), candidates_(endpoints.size()), rng_(seed) {}

int p2c::pick(const pick_context& ctx) {
  weighted_index* out = candidates_.data();
  const auto [count, total] = collect_eligible(endpoints_, ctx.excluded, out);
  if (count <= 1) return count == 0 ? -1 : out[0].index;

  // One 64-bit draw gives both points: each 32-bit half scaled onto its range (Lemire's
  // multiply-shift; the bias is below total / 2^32).
  const uint64_t bits = rng_.next();
  const auto scale = [](uint64_t half, uint64_t range) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(half) * range) >> 32);
  };
  uint64_t before_a = 0, unused = 0;
  const std::size_t a = locate_weighted(out, count, scale(bits >> 32, total), before_a);
  // Second point over the others: a point past `a`'s interval is shifted over it.
  uint64_t r = scale(bits & 0xffffffffu, total - out[a].weight);
  if (r >= before_a) r += out[a].weight;
  const std::size_t b = locate_weighted(out, count, r, unused);
  const auto [load_a, load_b] = cross(active_of(*endpoints_[out[a].index]), out[a].weight,
                                      active_of(*endpoints_[out[b].index]), out[b].weight);
  return load_a <= load_b ? out[a].index : out[b].index;
}

}  // namespace spillway::balancer
