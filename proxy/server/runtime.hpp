// Everything the data plane derives from one loaded configuration: clusters with their shared
// endpoint state, and the route table. Immutable after construction except for the endpoints'
// atomics; shared by all workers through std::shared_ptr.
//
// Reload builds a new runtime from the previous one (carry-over rules in
// upstream/carry_over.hpp) and swaps it in; exchanges keep the snapshot they started on, so a
// replaced runtime lives until its last exchange ends.
#pragma once

#include <array>
#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

#include "config/config.hpp"
#include "proxy/admin/stats.hpp"
#include "proxy/policy/route_policy.hpp"
#include "proxy/retry/retry_budget.hpp"
#include "proxy/retry/retry_policy.hpp"
#include "proxy/router/router.hpp"
#include "proxy/server/cluster_policy.hpp"
#include "proxy/upstream/cluster.hpp"

namespace boost::asio::ssl {
class context;
}

namespace spillway::server {

/// A listener's settings and connection count. Listeners cannot change without a restart, so
/// a reloaded runtime shares these with the one it replaces (`owner` keeps `cfg` alive).
struct listener_shared {
  listener_shared(const config::listener_config& c,
                  std::shared_ptr<const config::proxy_config> owner_config)
      : cfg(c), owner(std::move(owner_config)) {}
  const config::listener_config& cfg;
  std::shared_ptr<const config::proxy_config> owner;
  std::atomic<int64_t> connections{0};

  /// The TLS context new connections handshake with; null on a plaintext listener. A reload
  /// replaces it (rotated certificate); connections already open keep theirs.
  std::shared_ptr<boost::asio::ssl::context> tls() const {
    std::lock_guard lock(tls_mutex_);
    return tls_;
  }
  void set_tls(std::shared_ptr<boost::asio::ssl::context> c) {
    std::lock_guard lock(tls_mutex_);
    tls_ = std::move(c);
  }

 private:
  mutable std::mutex tls_mutex_;
  std::shared_ptr<boost::asio::ssl::context> tls_;
};

/// Why a request was refused without reaching an endpoint (spillway_shed_total{reason}).
enum class shed_reason : uint8_t { queue_full, queue_timeout, evicted, no_endpoint, count };
const char* to_string(shed_reason r) noexcept;

/// Process-wide state of one route: its retry policy, budget and counters.
struct route_state {
  explicit route_state(const config::route_config& r) : policy(r.retry), budget(r.retry) {}
  retry::retry_policy policy;
  retry::retry_budget budget;
  retry::retry_counters retries;
  std::array<std::atomic<uint64_t>, static_cast<size_t>(shed_reason::count)> shed{};
  std::vector<int> fallbacks;    // cluster indexes, in order
  policy::route_policy traffic;  // rate limit, cluster split, their counters
  void count_shed(shed_reason r) noexcept {
    shed[static_cast<size_t>(r)].fetch_add(1, std::memory_order_relaxed);
  }
};

struct runtime {
  /// `workers`: how many workers record into `stats`.
  runtime(std::shared_ptr<const config::proxy_config> c, size_t workers);
  /// Reload: continues `previous` (control thread, before this runtime is published). Clusters
  /// of the same name carry their endpoints over; listeners are kept from `previous`.
  runtime(std::shared_ptr<const config::proxy_config> c, size_t workers, const runtime& previous);

  std::shared_ptr<const config::proxy_config> config;
  std::vector<std::unique_ptr<upstream::cluster>> clusters;
  std::vector<std::unique_ptr<cluster_policy>> policies;  // one per cluster, same index
  router::route_table routes;
  std::vector<int> route_cluster;  // primary cluster index of each route
  std::vector<std::unique_ptr<route_state>> route_states;
  std::vector<std::shared_ptr<listener_shared>> listeners;
  std::vector<admin::request_stats> stats;              // [worker]; each written by its worker only
  std::shared_ptr<ratelimit::redis_link> policy_redis;  // shared rate limits; null when none

  int cluster_index(const std::string& name) const noexcept;

 private:
  void build_routes();
  void build_stats(size_t workers, const runtime* previous);
};

}  // namespace spillway::server
