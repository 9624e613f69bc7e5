#include "proxy/ratelimit/token_bucket.hpp"

#include <algorithm>
#include <cmath>

namespace spillway::ratelimit {

namespace {

std::chrono::milliseconds ms_for(double tokens, double rate) noexcept {
  if (tokens <= 0) return std::chrono::milliseconds(0);
  return std::chrono::milliseconds(static_cast<int64_t>(std::ceil(tokens / rate * 1000.0)));
}

}  // namespace

double level_at(const bucket& b, const bucket_params& p, steady_time now) noexcept {
  if (b.fresh()) return p.capacity;
  const double elapsed = std::max(0.0, std::chrono::duration<double>(now - b.at).count());
  return std::min(p.capacity, b.level + elapsed * p.rate);
}

take_result take(bucket& b, const bucket_params& p, steady_time now, double cost) noexcept {
  const double level = level_at(b, p, now);
  take_result r;
  if (level + 1e-9 < cost) {
    r.allowed = false;
    r.remaining = level;
    r.retry_after = ms_for(cost - level, p.rate);
    r.reset = ms_for(p.capacity - level, p.rate);
    return r;
  }
  b.level = level - cost;
  b.at = now;
  r.allowed = true;
  r.remaining = b.level;
  r.retry_after = std::chrono::milliseconds(0);
  r.reset = ms_for(p.capacity - b.level, p.rate);
  return r;
}

take_result check_positive(const bucket& b, const bucket_params& p, steady_time now) noexcept {
  const double level = level_at(b, p, now);
  take_result r;
  r.allowed = level > 0;
  r.remaining = std::max(0.0, level);
  // Admitted again once the level is back above zero: one millisecond past the debt.
  r.retry_after = r.allowed ? std::chrono::milliseconds(0)
                            : ms_for(-level, p.rate) + std::chrono::milliseconds(1);
  r.reset = ms_for(p.capacity - level, p.rate);
  return r;
}

void charge(bucket& b, const bucket_params& p, steady_time now, double cost) noexcept {
  const double level = level_at(b, p, now);
  b.level = std::max(-p.capacity, level - cost);
  b.at = now;
}

}  // namespace spillway::ratelimit
