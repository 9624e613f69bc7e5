#include "proxy/health/health_state.hpp"

#include <algorithm>

namespace spillway::health {

const char* to_string(health_status s) noexcept {
  switch (s) {
    case health_status::unknown:
      return "unknown";
    case health_status::healthy:
      return "healthy";
    case health_status::unhealthy:
      return "unhealthy";
  }
  return "?";
}

health_state::health_state(const config::health_check_config& cfg, upstream::endpoint* target)
    : healthy_threshold_(std::max<uint32_t>(cfg.healthy_threshold, 1)),
      unhealthy_threshold_(std::max<uint32_t>(cfg.unhealthy_threshold, 1)),
      target_(target) {
  set(health_status::unknown);
}

health_state::health_state(const config::health_check_config& cfg, upstream::endpoint* target,
                           const health_state* previous)
    : healthy_threshold_(std::max<uint32_t>(cfg.healthy_threshold, 1)),
      unhealthy_threshold_(std::max<uint32_t>(cfg.unhealthy_threshold, 1)),
      target_(target),
      status_(previous ? previous->status_ : health_status::healthy),
      successes_(previous ? previous->successes_ : 0),
      failures_(previous ? previous->failures_ : 0) {}

bool health_state::record(bool success) {
  if (success) {
    failures_ = 0;
    ++successes_;
    if (status_ != health_status::healthy && successes_ >= healthy_threshold_) {
      set(health_status::healthy);
      return true;
    }
  } else {
    successes_ = 0;
    ++failures_;
    if (status_ != health_status::unhealthy && failures_ >= unhealthy_threshold_) {
      set(health_status::unhealthy);
      return true;
    }
  }
  return false;
}

void health_state::set(health_status s) {
  status_ = s;
  if (target_ == nullptr) return;
  constexpr uint32_t mine = upstream::health_unknown | upstream::unhealthy;
  const uint32_t bits = s == health_status::unknown     ? upstream::health_unknown
                        : s == health_status::unhealthy ? upstream::unhealthy
                                                        : 0u;
  // Clear both bits then set ours, leaving the other reasons (ejected, breaker, drain) alone.
  target_->unavailable.fetch_and(~mine, std::memory_order_relaxed);
  if (bits != 0) target_->unavailable.fetch_or(bits, std::memory_order_relaxed);
}

}  // namespace spillway::health
