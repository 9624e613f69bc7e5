#include "proxy/health/slow_start.hpp"

#include <algorithm>
#include <cmath>

namespace spillway::health {

uint32_t ramp_weight(uint32_t full_weight, std::chrono::nanoseconds elapsed,
                     std::chrono::nanoseconds window, const slow_start_shape& shape) noexcept {
  if (window.count() <= 0 || elapsed >= window) return full_weight;
  const double t =
      std::max(0.0, static_cast<double>(elapsed.count()) / static_cast<double>(window.count()));
  const double aggression = shape.aggression > 0 ? shape.aggression : 1.0;
  const double fraction =
      std::max(std::clamp(shape.min_fraction, 0.0, 1.0), std::pow(t, 1.0 / aggression));
  const auto w = static_cast<uint32_t>(std::lround(fraction * full_weight));
  return std::clamp<uint32_t>(w, 1, std::max<uint32_t>(full_weight, 1));
}

bool slow_start_ramp::update(upstream::endpoint& e, steady_time now) noexcept {
  const uint32_t full = e.weight * scale_;
  if (!ramping_) {
    e.effective_weight.store(full, std::memory_order_relaxed);
    return false;
  }
  const auto elapsed = now - started_;
  e.effective_weight.store(ramp_weight(full, elapsed, window_, shape_), std::memory_order_relaxed);
  if (elapsed >= window_) ramping_ = false;
  return ramping_;
}

}  // namespace spillway::health
