// Retry budget (Envoy's retry_budget, Finagle's RetryBudget): retries in flight may not exceed
// max(min_retries, budget × active requests), so a failing upstream sees at most a bounded share
// of extra load instead of a retry storm.
//
// Threading: one budget per cluster (or route), shared by every worker; lock-free atomics.
// Every try_acquire_retry() that returns true is paired with release_retry(); every
// request_started() with request_finished().
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>

#include "config/config.hpp"

namespace spillway::retry {

class retry_budget {
 public:
  explicit retry_budget(const config::retry_config& cfg) noexcept
      : budget_(cfg.budget), min_retries_(cfg.min_retries) {}
  retry_budget(double budget, uint32_t min_retries) noexcept
      : budget_(budget), min_retries_(min_retries) {}

  /// A request (first try) begins or ends; retries in progress count as active too.
  void request_started() noexcept { active_.fetch_add(1, std::memory_order_relaxed); }
  void request_finished() noexcept { active_.fetch_sub(1, std::memory_order_relaxed); }

  /// Takes a retry slot if the budget allows one more retry in flight now.
  bool try_acquire_retry() noexcept;
  void release_retry() noexcept { retries_.fetch_sub(1, std::memory_order_relaxed); }

  /// Most retries allowed in flight with the current number of active requests.
  uint32_t limit() const noexcept;

  uint32_t active_requests() const noexcept {
    return static_cast<uint32_t>(std::max(active_.load(std::memory_order_relaxed), 0));
  }
  uint32_t retries_in_flight() const noexcept {
    return static_cast<uint32_t>(std::max(retries_.load(std::memory_order_relaxed), 0));
  }

 private:
  const double budget_;
  const uint32_t min_retries_;
  std::atomic<int32_t> active_{0};
  std::atomic<int32_t> retries_{0};
};

}  // namespace spillway::retry
