#include "proxy/server/runtime.hpp"

namespace spillway::server {

runtime::runtime(std::shared_ptr<const config::proxy_config> c)
    : config(std::move(c)), routes(config->routes) {
  for (size_t i = 0; i < config->clusters.size(); ++i)
    clusters.push_back(std::make_unique<upstream::cluster>(config->clusters[i], i));
  policy_redis = policy::redis_for(*config);
  for (const auto& r : config->routes) {
    route_cluster.push_back(r.clusters.empty() ? -1 : cluster_index(r.clusters.front().name));
    auto st = std::make_unique<route_state>(r);
    std::vector<int> split_clusters;
    for (const auto& c : r.clusters) split_clusters.push_back(cluster_index(c.name));
    policy::build(st->traffic, r, split_clusters, policy_redis);
    for (const auto& f : r.fallback_clusters)
      if (int i = cluster_index(f); i >= 0) st->fallbacks.push_back(i);
    route_states.push_back(std::move(st));
  }
  for (const auto& l : config->listeners) listeners.push_back(std::make_unique<listener_shared>(l));
}

const char* to_string(shed_reason r) noexcept {
  switch (r) {
    case shed_reason::queue_full:
      return "queue_full";
    case shed_reason::queue_timeout:
      return "queue_timeout";
    case shed_reason::evicted:
      return "evicted";
    case shed_reason::no_endpoint:
      return "no_endpoint";
    case shed_reason::count:
      break;
  }
  return "unknown";
}

int runtime::cluster_index(const std::string& name) const noexcept {
  for (size_t i = 0; i < clusters.size(); ++i)
    if (clusters[i]->name() == name) return static_cast<int>(i);
  return -1;
}

}  // namespace spillway::server
