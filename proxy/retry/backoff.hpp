// Exponential backoff with full jitter (Brooker, "Exponential Backoff And Jitter", AWS
// Architecture Blog 2015): sleep = random(0, min(max, base × 2^attempt)). Spreading retries
// over the whole interval avoids synchronised retry waves.
//
// Threading: pure function of its arguments; the random source belongs to the caller's thread.
#pragma once

#include <chrono>
#include <cstdint>

#include "common/random.hpp"
#include "config/config.hpp"

namespace spillway::retry {

using micros = std::chrono::microseconds;

/// Upper bound of the wait before retry number `attempt` (0 = first retry): min(max, base ×
/// 2^attempt), without overflow for any attempt.
micros backoff_ceiling(const config::retry_backoff_config& cfg, uint32_t attempt) noexcept;

/// Wait before retry number `attempt`, uniform in [0, backoff_ceiling] at microsecond steps.
micros full_jitter_backoff(const config::retry_backoff_config& cfg, uint32_t attempt,
                           xoshiro256& rng) noexcept;

}  // namespace spillway::retry
