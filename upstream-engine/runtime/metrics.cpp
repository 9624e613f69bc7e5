#include "upstream-engine/runtime/metrics.hpp"

namespace spillway::engine::runtime {

void histogram::observe(double seconds) noexcept {
  size_t i = 0;
  while (i < bounds.size() && seconds > bounds[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(seconds, std::memory_order_relaxed);
}

uint64_t histogram::cumulative(size_t i) const noexcept {
  uint64_t n = 0;
  for (size_t k = 0; k <= i && k < buckets_.size(); ++k)
    n += buckets_[k].load(std::memory_order_relaxed);
  return n;
}

}  // namespace spillway::engine::runtime
