// Runtime view of one configured cluster: its endpoints (process-wide state shared by every
// worker) and their resolved socket addresses. Host names are resolved at start and
// re-resolved periodically by the server thread; workers read the current list under a mutex
// only when they open a new upstream connection (pooled connections need no lookup).
//
// The cluster also owns the process-wide resilience state of its endpoints: circuit breakers,
// the outlier detector, active health states, slow-start ramps and the admission queue. Workers
// call admit()/report()/queue operations from any thread (each part is thread-safe); the
// control thread calls control_tick() every few hundred milliseconds.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/clock.hpp"
#include "config/config.hpp"
#include "proxy/balancer/balancer.hpp"
#include "proxy/breaker/circuit_breaker.hpp"
#include "proxy/health/health_state.hpp"
#include "proxy/health/outlier_detector.hpp"
#include "proxy/health/slow_start.hpp"
#include "proxy/queue/admission_queue.hpp"
#include "proxy/queue/queued_request.hpp"
#include "proxy/upstream/endpoint.hpp"

namespace spillway::upstream {

using tcp = boost::asio::ip::tcp;

/// How one try on an endpoint ended, for breaker and outlier accounting.
enum class try_result { success, server_error, connect_failure, timeout, reset, cancelled };

class cluster {
 public:
  /// Weights are scaled by this so slow start can ramp even a weight-1 endpoint (HAProxy does
  /// the same); balancers only compare ratios, so the split is unchanged.
  static constexpr uint32_t weight_scale = 16;

  cluster(const config::cluster_config& cfg, size_t index,
          const clock_source& clock = system_clock_source::instance());
  /// Reload: a cluster of the new runtime that continues `previous` (same name). Endpoints with
  /// the same address are shared with it, along with their resolved addresses, breakers (when
  /// the breaker settings are unchanged), health, outlier and slow-start state; `previous`'s
  /// policies that this one replaces are detached so they no longer touch shared endpoints.
  /// Control thread, before the new runtime is published.
  cluster(const config::cluster_config& cfg, size_t index, cluster& previous,
          const clock_source& clock = system_clock_source::instance());

  const config::cluster_config& config() const noexcept { return cfg_; }
  const std::string& name() const noexcept { return cfg_.name; }
  size_t index() const noexcept { return index_; }
  size_t size() const noexcept { return endpoints_.size(); }
  endpoint& at(size_t i) noexcept { return *endpoints_[i]; }
  const endpoint& at(size_t i) const noexcept { return *endpoints_[i]; }
  /// True when some endpoint has a max_concurrent: only then can requests wait in the queue,
  /// so the request path skips the queue's lock otherwise.
  bool queues() const noexcept { return queues_; }
  const balancer::endpoint_set& endpoint_set() const noexcept { return raw_; }

  /// Resolves every endpoint's host name (blocking getaddrinfo). Keeps the previous addresses of
  /// an endpoint whose lookup fails. Returns the number of endpoints that have no address.
  size_t resolve_all();

  /// Current socket addresses of endpoint `i` (copy; thread-safe).
  std::vector<tcp::endpoint> addresses(size_t i) const;

  // ------------------------------------------------------------ resilience (any thread)

  /// Asks endpoint `i`'s breaker to let one request through. Always admitted without a breaker.
  breaker::circuit_breaker::ticket admit(size_t i);
  /// Outcome of a try admitted with `t`: feeds the breaker and the outlier detector.
  void report(size_t i, const breaker::circuit_breaker::ticket& t, try_result r);

  /// True when some available endpoint is below max_concurrent.
  bool has_free_slot() const noexcept;

  using waiters = queue::locked_admission_queue<queue::queue_handle>;
  waiters& queue() noexcept { return queue_; }
  /// Wakes the first waiter, if any (call after an in-flight slot was released).
  void wake_waiter();

  breaker::breaker_state breaker_state(size_t i) const noexcept;
  bool ejected(size_t i) const;
  health::health_status health(size_t i) const noexcept;

  // ------------------------------------------------------------ control thread

  /// Active health state of endpoint `i`, or null without health_check.
  health::health_state* health_state(size_t i) noexcept {
    return health_.empty() ? nullptr : health_[i].get();
  }
  /// Breaker half-open transitions, outlier un-ejection, slow-start ramps, queue wake-ups.
  void control_tick();
  /// Only the queue safety net of control_tick: wakes as many waiters as there are free slots.
  /// For the clusters of a replaced runtime whose queued requests are still waiting.
  void wake_for_free_slots();

 private:
  const config::cluster_config& cfg_;
  size_t index_;
  const clock_source& clock_;
  void build(const cluster* previous, const std::vector<int>& previous_index);

  std::vector<std::shared_ptr<breaker::circuit_breaker>> breakers_;  // shared across a reload
  std::unique_ptr<health::outlier_detector> outliers_;
  std::vector<std::unique_ptr<health::health_state>> health_;
  std::vector<health::slow_start_ramp> ramps_;
  std::vector<bool> was_available_;  // control thread: last availability seen by control_tick
  waiters queue_;
  bool queues_ = false;
  std::vector<std::shared_ptr<endpoint>> endpoints_;  // shared with the next runtime's cluster
  balancer::endpoint_set raw_;
  mutable std::mutex addresses_mutex_;
  std::vector<std::vector<tcp::endpoint>> addresses_;
};

}  // namespace spillway::upstream
