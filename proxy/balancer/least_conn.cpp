#include "proxy/balancer/least_conn.hpp"

#include <limits>

namespace spillway::balancer {

least_conn::least_conn(const endpoint_set& endpoints)
    : endpoints_(endpoints), tied_(endpoints.size()), wrr_(endpoints.size()) {}

int least_conn::pick(const pick_context& ctx) {
  // One pass keeps the endpoints tied at the lowest load seen so far; each count is read once,
  // so a change made meanwhile by another worker cannot make the tied set inconsistent.
  const std::span<const int> excluded = ctx.excluded;
  weighted_index* tied = tied_.data();
  std::size_t ntied = 0;
  // Start above any real load: (active + 1) < 2^31 <= max * weight.
  uint32_t best_load = std::numeric_limits<uint32_t>::max();
  uint32_t best_weight = 1;
  const int n = static_cast<int>(endpoints_.size());
  for (int i = 0; i < n; ++i) {
    const upstream::endpoint& e = *endpoints_[i];
    if (!eligible_in(e, i, excluded)) continue;
    const uint32_t load = active_of(e) + 1;
    const uint32_t w = weight_of(e);
    const auto [mine, best] = cross(load, w, best_load, best_weight);
    if (mine > best) continue;
    if (mine < best) {
      ntied = 0;
      best_load = load;
      best_weight = w;
    }
    tied[ntied++] = {i, w};
  }
  if (ntied <= 1) return ntied == 0 ? -1 : tied[0].index;
  return wrr_.choose({tied, ntied});
}

}  // namespace spillway::balancer
