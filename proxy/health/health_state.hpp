// State machine of active health checking for one endpoint (HAProxy's rise/fall, Envoy's
// healthy/unhealthy thresholds): unknown → healthy after healthy_threshold consecutive
// successful checks, → unhealthy after unhealthy_threshold consecutive failures; healthy and
// unhealthy flip the same way. The state is mirrored into the endpoint's health_unknown /
// unhealthy bits so balancers skip endpoints that are not known good.
//
// Threading: the checker of one endpoint drives it from one strand or thread; the endpoint bits
// it writes are atomics that workers read.
#pragma once

#include <cstdint>

#include "config/config.hpp"
#include "proxy/upstream/endpoint.hpp"

namespace spillway::health {

enum class health_status : uint8_t { unknown, healthy, unhealthy };

const char* to_string(health_status s) noexcept;

class health_state {
 public:
  /// `target` (optional, must outlive this) starts with the health_unknown bit set.
  health_state(const config::health_check_config& cfg, upstream::endpoint* target = nullptr);
  /// Reload of an endpoint that stays: continues from `previous` (status and streaks), or, when
  /// the endpoint had no health check before (null), starts healthy, as it was serving. Leaves
  /// the endpoint's bits as they are.
  health_state(const config::health_check_config& cfg, upstream::endpoint* target,
               const health_state* previous);

  /// Records one check result; returns true when the status changed.
  bool record(bool success);

  health_status status() const noexcept { return status_; }
  uint32_t consecutive_successes() const noexcept { return successes_; }
  uint32_t consecutive_failures() const noexcept { return failures_; }

 private:
  void set(health_status s);

  const uint32_t healthy_threshold_;
  const uint32_t unhealthy_threshold_;
  upstream::endpoint* const target_;
  health_status status_ = health_status::unknown;
  uint32_t successes_ = 0;
  uint32_t failures_ = 0;
};

}  // namespace spillway::health
