// Prometheus text for the traffic policies (SPEC §2.2 Traffic policy): rate-limit refusals,
// tokens charged, shared checks decided locally, fallback responses, request bodies decoded
// or refused, responses compressed.
#include <fmt/format.h>

#include "common/prometheus.hpp"
#include "proxy/admin/admin_server.hpp"
#include "proxy/server/server.hpp"

namespace spillway::admin {

using prometheus::escape_label;

namespace {

uint64_t get(const std::atomic<uint64_t>& a) {
  return a.load(std::memory_order_relaxed);
}

}  // namespace

void render_policy_metrics(std::string& out, const server::runtime& rt) {
  const auto& routes = rt.config->routes;
  auto each = [&](std::string_view name, std::string_view help, std::string_view type, auto&& fn) {
    fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
    for (size_t r = 0; r < routes.size(); ++r)
      fn(escape_label(routes[r].name), rt.route_states[r]->traffic);
  };
  each("spillway_rate_limited_total", "Requests refused by the route's rate limit.", "counter",
       [&](const std::string& route, const policy::route_policy& p) {
         if (!p.limiter) return;
         fmt::format_to(std::back_inserter(out),
                        "spillway_rate_limited_total{{route=\"{}\",reason=\"requests\"}} {}\n"
                        "spillway_rate_limited_total{{route=\"{}\",reason=\"tokens\"}} {}\n",
                        route, get(p.limiter->refused_requests), route,
                        get(p.limiter->refused_tokens));
       });
  each("spillway_rate_limit_tokens_total", "Answer tokens charged to token budgets.", "counter",
       [&](const std::string& route, const policy::route_policy& p) {
         if (!p.limiter || !p.limiter->limits_tokens()) return;
         fmt::format_to(std::back_inserter(out),
                        "spillway_rate_limit_tokens_total{{route=\"{}\"}} {}\n", route,
                        get(p.limiter->tokens_charged));
       });
  each("spillway_rate_limit_redis_fallbacks_total",
       "Shared rate-limit checks decided by local buckets because Redis did not answer.", "counter",
       [&](const std::string& route, const policy::route_policy& p) {
         if (!p.limiter || !p.limiter->shared()) return;
         fmt::format_to(std::back_inserter(out),
                        "spillway_rate_limit_redis_fallbacks_total{{route=\"{}\"}} {}\n", route,
                        get(p.limiter->redis_fallbacks));
       });
  each("spillway_fallback_responses_total", "Configured fallback_response answers served.",
       "counter", [&](const std::string& route, const policy::route_policy& p) {
         fmt::format_to(std::back_inserter(out),
                        "spillway_fallback_responses_total{{route=\"{}\"}} {}\n", route,
                        get(p.fallback_responses));
       });
  each("spillway_compression_total",
       "Request bodies decoded or refused, responses compressed (routes with compression).",
       "counter", [&](const std::string& route, const policy::route_policy& p) {
         fmt::format_to(std::back_inserter(out),
                        "spillway_compression_total{{route=\"{}\",what=\"request_decoded\"}} {}\n"
                        "spillway_compression_total{{route=\"{}\",what=\"request_refused\"}} {}\n"
                        "spillway_compression_total{{route=\"{}\",what=\"response_encoded\"}} {}\n",
                        route, get(p.decoded_requests), route, get(p.refused_bodies), route,
                        get(p.compressed_responses));
       });
  each("spillway_websocket_upgrades_total", "WebSocket upgrades accepted and tunnelled.", "counter",
       [&](const std::string& route, const policy::route_policy& p) {
         fmt::format_to(std::back_inserter(out),
                        "spillway_websocket_upgrades_total{{route=\"{}\"}} {}\n", route,
                        get(p.websockets));
       });
}

}  // namespace spillway::admin
