// Admin views of the affinity and load-report state (SPEC §2.4): the
// spillway_affinity_decisions_total{cluster,decision} counters and each endpoint's reported
// engine load for GET /admin/clusters.
//
// Threading: admin (control) thread; reads atomics only.
#pragma once

#include <boost/json/value.hpp>
#include <cstddef>
#include <string>

#include "proxy/server/runtime.hpp"

namespace spillway::admin {

/// Appends spillway_affinity_decisions_total for every cluster with affinity.
void render_affinity_metrics(std::string& out, const server::runtime& rt);

/// {"fresh", "waiting", "running", "kv_cache_usage"} of endpoint `e` of cluster `c`; null when
/// the cluster has no load_report.
boost::json::value reported_load(const server::runtime& rt, std::size_t c, std::size_t e);

}  // namespace spillway::admin
