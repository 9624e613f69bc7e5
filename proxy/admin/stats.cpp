#include "proxy/admin/stats.hpp"

#include <algorithm>

namespace spillway::admin {

void histogram::observe(double seconds) noexcept {
  auto it = std::lower_bound(latency_buckets.begin(), latency_buckets.end(), seconds);
  buckets_[static_cast<size_t>(it - latency_buckets.begin())].add();
  count_.add();
  sum_us_.add(static_cast<uint64_t>(seconds * 1e6));
}

}  // namespace spillway::admin
