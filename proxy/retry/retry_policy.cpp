#include "proxy/retry/retry_policy.hpp"

#include <algorithm>

namespace spillway::retry {

std::string_view to_string(retry_reason r) noexcept {
  switch (r) {
    case retry_reason::connect_failure:
      return "connect_failure";
    case retry_reason::reset:
      return "reset";
    case retry_reason::timeout:
      return "timeout";
    case retry_reason::status:
      return "status";
    case retry_reason::budget_exhausted:
      return "budget_exhausted";
    case retry_reason::attempts_exhausted:
      return "attempts_exhausted";
  }
  return "unknown";
}

std::optional<retry_reason> retry_policy::retryable(const failed_try& f) const noexcept {
  const auto on = [this](config::retry_condition c) {
    return (cfg_.conditions & static_cast<uint32_t>(c)) != 0;
  };
  switch (f.kind) {
    case failure_kind::connect_failure:
      if (on(config::retry_condition::connect_failure)) return retry_reason::connect_failure;
      break;
    case failure_kind::reset:
      if (on(config::retry_condition::reset)) return retry_reason::reset;
      break;
    case failure_kind::timeout:
      if (on(config::retry_condition::timeout)) return retry_reason::timeout;
      break;
    case failure_kind::status:
      if (std::find(cfg_.statuses.begin(), cfg_.statuses.end(), f.status) != cfg_.statuses.end())
        return retry_reason::status;
      break;
  }
  return std::nullopt;
}

std::chrono::microseconds retry_policy::delay(uint32_t retry_index, std::string_view retry_after,
                                              wall_time now, xoshiro256& rng) const noexcept {
  if (cfg_.respect_retry_after && !retry_after.empty()) {
    if (auto d = retry_after_delay(retry_after, now, cfg_.max_retry_after)) return *d;
  }
  return full_jitter_backoff(cfg_.backoff, retry_index, rng);
}

}  // namespace spillway::retry
