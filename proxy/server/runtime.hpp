// Everything the data plane derives from one loaded configuration: clusters with their shared
// endpoint state, and the route table. Immutable after construction except for the endpoints'
// atomics; shared by all workers through std::shared_ptr.
#pragma once

#include <memory>
#include <vector>

#include "config/config.hpp"
#include "proxy/router/router.hpp"
#include "proxy/upstream/cluster.hpp"

namespace spillway::server {

struct listener_shared {
  explicit listener_shared(const config::listener_config& c) : cfg(c) {}
  const config::listener_config& cfg;
  std::atomic<int64_t> connections{0};
};

struct runtime {
  explicit runtime(std::shared_ptr<const config::proxy_config> c);

  std::shared_ptr<const config::proxy_config> config;
  std::vector<std::unique_ptr<upstream::cluster>> clusters;
  router::route_table routes;
  std::vector<int> route_cluster;  // primary cluster index of each route
  std::vector<std::unique_ptr<listener_shared>> listeners;

  int cluster_index(const std::string& name) const noexcept;
};

}  // namespace spillway::server
