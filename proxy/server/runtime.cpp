#include "proxy/server/runtime.hpp"

namespace spillway::server {

runtime::runtime(std::shared_ptr<const config::proxy_config> c, size_t workers)
    : config(std::move(c)), routes(config->routes) {
  for (size_t i = 0; i < config->clusters.size(); ++i) {
    clusters.push_back(std::make_unique<upstream::cluster>(config->clusters[i], i));
    policies.push_back(std::make_unique<cluster_policy>(*clusters.back(), nullptr));
  }
  build_routes();
  for (const auto& l : config->listeners)
    listeners.push_back(std::make_shared<listener_shared>(l, config));
  build_stats(workers, nullptr);
}

runtime::runtime(std::shared_ptr<const config::proxy_config> c, size_t workers,
                 const runtime& previous)
    : config(std::move(c)), routes(config->routes), listeners(previous.listeners) {
  for (size_t i = 0; i < config->clusters.size(); ++i) {
    const int p = previous.cluster_index(config->clusters[i].name);
    if (p >= 0)
      clusters.push_back(
          std::make_unique<upstream::cluster>(config->clusters[i], i, *previous.clusters[p]));
    else
      clusters.push_back(std::make_unique<upstream::cluster>(config->clusters[i], i));
    policies.push_back(std::make_unique<cluster_policy>(
        *clusters.back(), p >= 0 ? previous.policies[p].get() : nullptr));
  }
  build_routes();
  build_stats(workers, &previous);
}

void runtime::build_routes() {
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
}

void runtime::build_stats(size_t workers, const runtime* previous) {
  stats.resize(workers);
  for (size_t w = 0; w < workers; ++w) {
    const admin::request_stats* before =
        previous && w < previous->stats.size() ? &previous->stats[w] : nullptr;
    auto& s = stats[w];
    for (const auto& r : config->routes) {
      std::shared_ptr<admin::route_stats> block;
      if (before)
        for (size_t i = 0; i < previous->config->routes.size() && !block; ++i)
          if (previous->config->routes[i].name == r.name) block = before->routes[i];
      s.routes.push_back(block ? std::move(block) : std::make_shared<admin::route_stats>());
    }
    s.endpoints.resize(clusters.size());
    for (size_t c = 0; c < clusters.size(); ++c) {
      const int pc = previous ? previous->cluster_index(clusters[c]->name()) : -1;
      for (size_t e = 0; e < clusters[c]->size(); ++e) {
        std::shared_ptr<admin::endpoint_stats> block;
        if (before && pc >= 0) {
          const auto& old = *previous->clusters[pc];
          for (size_t i = 0; i < old.size() && !block; ++i)
            if (old.at(i).address == clusters[c]->at(e).address) block = before->endpoints[pc][i];
        }
        s.endpoints[c].push_back(block ? std::move(block)
                                       : std::make_shared<admin::endpoint_stats>());
      }
    }
  }
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
