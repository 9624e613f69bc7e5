#include "proxy/policy/route_policy.hpp"

namespace spillway::policy {

void build(route_policy& out, const config::route_config& route,
           const std::vector<int>& cluster_indexes, std::shared_ptr<ratelimit::redis_link> link) {
  if (route.rate_limit)
    out.limiter =
        std::make_unique<ratelimit::route_limiter>(*route.rate_limit, route.name, std::move(link));
  std::vector<uint32_t> weights;
  for (const auto& c : route.clusters) weights.push_back(c.weight);
  out.split = split::cluster_split(cluster_indexes, weights);
}

std::shared_ptr<ratelimit::redis_link> redis_for(const config::proxy_config& cfg) {
  if (!cfg.cache || !cfg.cache->redis) return nullptr;
  for (const auto& r : cfg.routes)
    if (r.rate_limit && r.rate_limit->shared)
      return ratelimit::redis_link::start(*cfg.cache->redis);
  return nullptr;
}

}  // namespace spillway::policy
