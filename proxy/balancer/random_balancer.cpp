#include "proxy/balancer/random_balancer.hpp"

namespace spillway::balancer {

random_balancer::random_balancer(const endpoint_set& endpoints, uint64_t seed)
    : endpoints_(endpoints), candidates_(endpoints.size()), rng_(seed) {}

int random_balancer::pick(const pick_context& ctx) {
  weighted_index* out = candidates_.data();
  const auto [count, total] = collect_eligible(endpoints_, ctx.excluded, out);
  if (count == 0) return -1;
  uint64_t before = 0;
  return out[locate_weighted(out, count, rng_.below(total), before)].index;
}

}  // namespace spillway::balancer
