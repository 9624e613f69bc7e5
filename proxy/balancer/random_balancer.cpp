#include "proxy/balancer/random_balancer.hpp"

namespace spillway::balancer {

random_balancer::random_balancer(const endpoint_set& endpoints, uint64_t seed)
    : endpoints_(endpoints), candidates_(endpoints.size()), rng_(seed) {}

int random_balancer::pick(const pick_context& ctx) {
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
  if (count == 0) return -1;
  uint64_t r = rng_.below(total);
  for (std::size_t k = 0; k + 1 < count; ++k) {
    if (r < out[k].weight) return out[k].index;
    r -= out[k].weight;
  }
  return out[count - 1].index;
}

}  // namespace spillway::balancer
