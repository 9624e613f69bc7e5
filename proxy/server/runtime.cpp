#include "proxy/server/runtime.hpp"

namespace spillway::server {

runtime::runtime(std::shared_ptr<const config::proxy_config> c)
    : config(std::move(c)), routes(config->routes) {
  for (size_t i = 0; i < config->clusters.size(); ++i)
    clusters.push_back(std::make_unique<upstream::cluster>(config->clusters[i], i));
  for (const auto& r : config->routes)
    route_cluster.push_back(r.clusters.empty() ? -1 : cluster_index(r.clusters.front().name));
  for (const auto& l : config->listeners) listeners.push_back(std::make_unique<listener_shared>(l));
}

int runtime::cluster_index(const std::string& name) const noexcept {
  for (size_t i = 0; i < clusters.size(); ++i)
    if (clusters[i]->name() == name) return static_cast<int>(i);
  return -1;
}

}  // namespace spillway::server
