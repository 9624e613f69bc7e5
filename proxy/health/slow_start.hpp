// Slow start: an endpoint that (re)joins gets a weight that ramps from a floor up to its full
// weight over the slow_start window (HAProxy `slowstart`, Envoy slow_start_config):
//   weight × max(min_fraction, (elapsed / window)^(1 / aggression)),
// never below 1. aggression 1 is a straight line; above 1 the ramp rises faster early.
//
// Weights are integers and the ramp is only as fine as the weight: an endpoint of weight 1
// cannot ramp. Callers that want a smooth ramp for small weights scale every effective_weight
// of the cluster by the same factor (HAProxy scales by 16).
//
// Threading: slow_start_ramp belongs to whoever updates weights (one timer thread);
// the endpoint's effective_weight it writes is an atomic read by every worker.
#pragma once

#include <cstdint>

#include "common/clock.hpp"
#include "config/config.hpp"
#include "proxy/upstream/endpoint.hpp"

namespace spillway::health {

struct slow_start_shape {
  double aggression = 1.0;
  double min_fraction = 0.1;  // Envoy's min_weight_percent 10%
};

/// Weight at `elapsed` into a ramp of length `window` towards `full_weight`.
uint32_t ramp_weight(uint32_t full_weight, std::chrono::nanoseconds elapsed,
                     std::chrono::nanoseconds window, const slow_start_shape& shape = {}) noexcept;

/// Tracks one endpoint's ramp and writes its effective_weight.
class slow_start_ramp {
 public:
  /// `scale` multiplies the configured weight (see the note above).
  slow_start_ramp(config::duration window, uint32_t scale = 1, slow_start_shape shape = {})
      : window_(window), scale_(scale), shape_(shape) {}

  /// The endpoint (re)joined at `now` (became healthy, un-ejected, breaker closed).
  void start(steady_time now) noexcept {
    started_ = now;
    ramping_ = window_.count() > 0;
  }

  bool ramping() const noexcept { return ramping_; }
  /// Reload: continues a ramp `previous` had under way (this ramp's window applies).
  void continue_from(const slow_start_ramp& previous) noexcept {
    started_ = previous.started_;
    ramping_ = previous.ramping_ && window_.count() > 0;
  }

  /// Writes the weight for `now` into e.effective_weight; returns false once the ramp is over.
  bool update(upstream::endpoint& e, steady_time now) noexcept;

 private:
  const config::duration window_;
  const uint32_t scale_;
  const slow_start_shape shape_;
  steady_time started_{};
  bool ramping_ = false;
};

}  // namespace spillway::health
