// Runtime view of one configured cluster: its endpoints (process-wide state shared by every
// worker) and their resolved socket addresses. Host names are resolved at start and
// re-resolved periodically by the server thread; workers read the current list under a mutex
// only when they open a new upstream connection (pooled connections need no lookup).
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "proxy/balancer/balancer.hpp"
#include "proxy/upstream/endpoint.hpp"

namespace spillway::upstream {

using tcp = boost::asio::ip::tcp;

class cluster {
 public:
  cluster(const config::cluster_config& cfg, size_t index);

  const config::cluster_config& config() const noexcept { return cfg_; }
  const std::string& name() const noexcept { return cfg_.name; }
  size_t index() const noexcept { return index_; }
  size_t size() const noexcept { return endpoints_.size(); }
  endpoint& at(size_t i) noexcept { return *endpoints_[i]; }
  const balancer::endpoint_set& endpoint_set() const noexcept { return raw_; }

  /// Resolves every endpoint's host name (blocking getaddrinfo). Keeps the previous addresses of
  /// an endpoint whose lookup fails. Returns the number of endpoints that have no address.
  size_t resolve_all();

  /// Current socket addresses of endpoint `i` (copy; thread-safe).
  std::vector<tcp::endpoint> addresses(size_t i) const;

 private:
  const config::cluster_config& cfg_;
  size_t index_;
  std::vector<std::unique_ptr<endpoint>> endpoints_;
  balancer::endpoint_set raw_;
  mutable std::mutex addresses_mutex_;
  std::vector<std::vector<tcp::endpoint>> addresses_;
};

}  // namespace spillway::upstream
