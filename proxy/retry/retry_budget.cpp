#include "proxy/retry/retry_budget.hpp"

#include <algorithm>

namespace spillway::retry {

uint32_t retry_budget::limit() const noexcept {
  const double share = budget_ * static_cast<double>(active_requests());
  return std::max(min_retries_, static_cast<uint32_t>(share));
}

bool retry_budget::try_acquire_retry() noexcept {
  const int32_t cap = static_cast<int32_t>(std::min<uint32_t>(limit(), INT32_MAX));
  int32_t cur = retries_.load(std::memory_order_relaxed);
  while (cur < cap) {
    if (retries_.compare_exchange_weak(cur, cur + 1, std::memory_order_relaxed)) return true;
  }
  return false;
}

}  // namespace spillway::retry
