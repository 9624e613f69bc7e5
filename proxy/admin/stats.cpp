#include "proxy/admin/stats.hpp"

#include <algorithm>

namespace spillway::admin {

void histogram::observe(double seconds) noexcept {
  auto it = std::lower_bound(latency_buckets.begin(), latency_buckets.end(), seconds);
  buckets_[static_cast<size_t>(it - latency_buckets.begin())].add();
  count_.add();
  sum_us_.add(static_cast<uint64_t>(seconds * 1e6));
}

worker_stats::worker_stats(size_t route_count, const std::vector<size_t>& cluster_sizes) {
  for (size_t i = 0; i < route_count; ++i) routes.push_back(std::make_unique<route_stats>());
  endpoints.resize(cluster_sizes.size());
  for (size_t c = 0; c < cluster_sizes.size(); ++c)
    for (size_t e = 0; e < cluster_sizes[c]; ++e)
      endpoints[c].push_back(std::make_unique<endpoint_stats>());
}

}  // namespace spillway::admin
