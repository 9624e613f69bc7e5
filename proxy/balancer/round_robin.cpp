#include "proxy/balancer/round_robin.hpp"

namespace spillway::balancer {

round_robin::round_robin(const endpoint_set& endpoints)
    : endpoints_(endpoints), wrr_(endpoints.size()) {}

int round_robin::pick(const pick_context& ctx) {
  const std::span<const int> excluded = ctx.excluded;
  upstream::endpoint* const* endpoints = endpoints_.data();
  return wrr_.choose_each(static_cast<int>(endpoints_.size()), [&](int i) -> uint32_t {
    const upstream::endpoint& e = *endpoints[i];
    return eligible_in(e, i, excluded) ? weight_of(e) : 0;
  });
}

}  // namespace spillway::balancer
