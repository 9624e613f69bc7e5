#include "proxy/balancer/p2c.hpp"

namespace spillway::balancer {
namespace {

/// Position in `c` whose weight interval holds r (r < total weight of `c`); `before` receives
/// the total weight of the positions ahead of it.
std::size_t locate(const weighted_index* c, std::size_t count, uint64_t r, uint64_t& before) {
  before = 0;
  for (std::size_t k = 0; k + 1 < count; ++k) {
    if (r < c[k].weight) return k;
    r -= c[k].weight;
    before += c[k].weight;
  }
  return count - 1;
}

}  // namespace

p2c::p2c(const endpoint_set& endpoints, uint64_t seed)
    : endpoints_(endpoints), candidates_(endpoints.size()), rng_(seed) {}

int p2c::pick(const pick_context& ctx) {
  const std::span<const int> excluded = ctx.excluded;
  weighted_index* out = candidates_.data();
  std::size_t count = 0;
  uint64_t total = 0;
  const int n = static_cast<int>(endpoints_.size());
  for (int i = 0; i < n; ++i) {
    const upstream::endpoint& e = *endpoints_[i];
    if (!eligible_in(e, i, excluded)) continue;
    const uint32_t w = weight_of(e);
    out[count++] = {i, w};
    total += w;
  }
  if (count <= 1) return count == 0 ? -1 : out[0].index;

  // One 64-bit draw gives both points: each 32-bit half scaled onto its range (Lemire's
  // multiply-shift; the bias is below total / 2^32).
  const uint64_t bits = rng_.next();
  const auto scale = [](uint64_t half, uint64_t range) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(half) * range) >> 32);
  };
  uint64_t before_a = 0, unused = 0;
  const std::size_t a = locate(out, count, scale(bits >> 32, total), before_a);
  // Second point over the others: a point past `a`'s interval is shifted over it.
  uint64_t r = scale(bits & 0xffffffffu, total - out[a].weight);
  if (r >= before_a) r += out[a].weight;
  const std::size_t b = locate(out, count, r, unused);
  const auto [load_a, load_b] = cross(active_of(*endpoints_[out[a].index]), out[a].weight,
                                      active_of(*endpoints_[out[b].index]), out[b].weight);
  return load_a <= load_b ? out[a].index : out[b].index;
}

}  // namespace spillway::balancer
