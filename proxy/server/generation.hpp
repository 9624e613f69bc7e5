// One worker's share of one runtime: the runtime snapshot plus the worker's balancer, affinity
// picker and upstream connection pool for each of its clusters (indexes match the runtime's).
//
// A reload gives every worker a new generation through its mailbox; sessions hold the
// generation their current exchange started on (shared_ptr), so an exchange in flight keeps
// its runtime, balancers and pools while the next request takes the worker's current one.
//
// Threading: built, used and destroyed on its worker's thread only (the pools hold sockets of
// the worker's io_context); the runtime it points to is shared by every thread.
#pragma once

#include <memory>
#include <vector>

#include "common/random.hpp"
#include "proxy/affinity/affinity_picker.hpp"
#include "proxy/balancer/balancer.hpp"
#include "proxy/balancer/balancer_options.hpp"
#include "proxy/server/runtime.hpp"
#include "proxy/upstream_pool/connection_pool.hpp"

namespace spillway::server {

class generation {
 public:
  /// Builds a balancer and an empty pool per cluster of `rt`; balancers are seeded from `rng`.
  generation(std::shared_ptr<const runtime> rt, xoshiro256& rng);

  generation(const generation&) = delete;
  generation& operator=(const generation&) = delete;

  /// Reload: moves the idle pooled connections of endpoints that stay (same cluster name and
  /// address) out of `previous`, and closes the rest of its idle connections.
  void adopt_idle(generation& previous);

  const runtime& rt() const noexcept { return *rt_; }
  const std::shared_ptr<const runtime>& rt_ptr() const noexcept { return rt_; }
  balancer::balancer& lb(size_t cluster) noexcept { return *balancers_[cluster]; }
  /// The cluster's affinity picker; null when its affinity key is none.
  affinity::affinity_picker* picker(size_t cluster) noexcept { return pickers_[cluster].get(); }
  upstream_pool::connection_pool& pool(size_t cluster) noexcept { return *pools_[cluster]; }
  size_t clusters() const noexcept { return pools_.size(); }

 private:
  std::shared_ptr<const runtime> rt_;
  std::vector<std::unique_ptr<balancer::balancer>> balancers_;
  std::vector<std::unique_ptr<affinity::affinity_picker>> pickers_;  // after balancers_: uses them
  std::vector<std::unique_ptr<upstream_pool::connection_pool>> pools_;
};

}  // namespace spillway::server
