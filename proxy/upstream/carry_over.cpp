#include "proxy/upstream/carry_over.hpp"

#include <unordered_map>

namespace spillway::upstream {

std::vector<int> match_endpoints(const std::vector<std::string>& before,
                                 const std::vector<std::string>& now) {
  std::unordered_multimap<std::string, int> free;
  for (size_t i = 0; i < before.size(); ++i) free.emplace(before[i], static_cast<int>(i));
  std::vector<int> out(now.size(), -1);
  for (size_t i = 0; i < now.size(); ++i) {
    auto it = free.find(now[i]);
    if (it == free.end()) continue;
    // Equal addresses (not valid in one cluster, but harmless) pair up in order.
    int lowest = it->second;
    auto pick = it;
    for (auto [b, e] = free.equal_range(now[i]); b != e; ++b)
      if (b->second < lowest) lowest = b->second, pick = b;
    out[i] = lowest;
    free.erase(pick);
  }
  return out;
}

std::vector<std::string> endpoint_addresses(const config::cluster_config& c) {
  std::vector<std::string> out;
  out.reserve(c.endpoints.size());
  for (const auto& e : c.endpoints) out.push_back(e.address);
  return out;
}

bool same_breaker(const config::circuit_breaker_config& a,
                  const config::circuit_breaker_config& b) noexcept {
  return a.window == b.window && a.min_requests == b.min_requests && a.error_rate == b.error_rate &&
         a.open_duration == b.open_duration && a.half_open_requests == b.half_open_requests;
}

}  // namespace spillway::upstream
