// Reload carry-over rules: which endpoint of the previous runtime an endpoint of the new one
// continues, and when a resilience policy keeps its state object. An endpoint stays when its
// cluster keeps its name and the endpoint its address (as written); everything it carries
// (in-flight count, unavailable bits, breaker, health, ejection, slow start) then continues.
//
// Pure functions over configuration, no I/O; called on the control thread during a reload.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"

namespace spillway::upstream {

/// For each address of `now`, the index of the same address in `before`, or -1 when it is new.
/// Each entry of `before` is matched at most once.
std::vector<int> match_endpoints(const std::vector<std::string>& before,
                                 const std::vector<std::string>& now);

/// The configured addresses of a cluster, in order.
std::vector<std::string> endpoint_addresses(const config::cluster_config& c);

/// True when a breaker built from `a` behaves as one built from `b`, so the running breaker
/// (window, state, probes in flight) can be kept as it is.
bool same_breaker(const config::circuit_breaker_config& a,
                  const config::circuit_breaker_config& b) noexcept;

}  // namespace spillway::upstream
