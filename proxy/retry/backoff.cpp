#include "proxy/retry/backoff.hpp"

#include <algorithm>

namespace spillway::retry {

micros backoff_ceiling(const config::retry_backoff_config& cfg, uint32_t attempt) noexcept {
  const int64_t base = std::max<int64_t>(micros(cfg.base).count(), 0);
  const int64_t cap = std::max<int64_t>(micros(cfg.max).count(), 0);
  if (base == 0) return micros(0);
  // base × 2^attempt >= cap as soon as 2^attempt >= cap / base; stop doubling there.
  int64_t value = base;
  for (uint32_t i = 0; i < attempt && value < cap; ++i) value *= 2;
  return micros(std::min(value, cap));
}

micros full_jitter_backoff(const config::retry_backoff_config& cfg, uint32_t attempt,
                           xoshiro256& rng) noexcept {
  const int64_t ceiling = backoff_ceiling(cfg, attempt).count();
  return micros(static_cast<int64_t>(rng.below(static_cast<uint64_t>(ceiling) + 1)));
}

}  // namespace spillway::retry
