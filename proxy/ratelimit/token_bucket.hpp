// Token bucket arithmetic (the GCRA-equivalent "leaky bucket as a meter", RFC 2697 style):
// a level that refills at `rate` tokens per second up to `capacity` and is drained by what each
// request costs. Used twice per rate-limit key: requests per second with a burst, and the
// tokens-per-minute budget (charged after the answer, so its level may go below zero: a debt
// that refill pays back before the key is admitted again).
//
// The shared limiter's Lua script (shared_limiter.cpp) implements the same arithmetic inside
// Redis; keep the two in step.
//
// Threading: plain values; callers serialise access.
#pragma once

#include <chrono>
#include <cstdint>

namespace spillway::ratelimit {

using steady_time = std::chrono::steady_clock::time_point;

struct bucket_params {
  double rate = 1;      // tokens per second, > 0
  double capacity = 1;  // the most the bucket holds (burst), > 0
};

struct bucket {
  double level = -1;  // < 0 with at == {}: never used, i.e. full
  steady_time at{};
  bool fresh() const noexcept { return at == steady_time{}; }
};

/// The level of `b` at `now` (refilled, capped at capacity). A fresh bucket is full.
double level_at(const bucket& b, const bucket_params& p, steady_time now) noexcept;

struct take_result {
  bool allowed = false;
  double remaining = 0;                   // level after the take (or now, when refused)
  std::chrono::milliseconds retry_after;  // until `cost` is available again; 0 when allowed
  std::chrono::milliseconds reset;        // until the bucket is full again
};

/// Takes `cost` tokens if the level holds them; otherwise leaves the bucket as it is.
take_result take(bucket& b, const bucket_params& p, steady_time now, double cost = 1) noexcept;

/// Admits while the level is above zero, without taking anything (the token budget: the cost
/// is only known once the answer is in).
take_result check_positive(const bucket& b, const bucket_params& p, steady_time now) noexcept;

/// Subtracts `cost` unconditionally; the level may go negative, down to -capacity (so one huge
/// answer locks a key out for at most two refill periods).
void charge(bucket& b, const bucket_params& p, steady_time now, double cost) noexcept;

}  // namespace spillway::ratelimit
