// Prometheus text rendering (exposition format 0.0.4) and the clusters JSON view.
#include <fmt/format.h>
#include <boost/json.hpp>

#include "common/prometheus.hpp"
#include "proxy/admin/admin_server.hpp"
#include "proxy/admin/affinity_metrics.hpp"
#include "proxy/server/server.hpp"

namespace spillway::admin {

using prometheus::escape_label;

namespace {

void render_histogram(std::string& out, std::string_view name, std::string_view labels,
                      const std::vector<const histogram*>& parts) {
  uint64_t cumulative = 0;
  for (size_t b = 0; b <= latency_buckets.size(); ++b) {
    for (const auto* h : parts) cumulative += h->bucket(b);
    std::string le = b < latency_buckets.size() ? fmt::format("{}", latency_buckets[b]) : "+Inf";
    fmt::format_to(std::back_inserter(out), "{}_bucket{{{},le=\"{}\"}} {}\n", name, labels, le,
                   cumulative);
  }
  double sum = 0;
  uint64_t count = 0;
  for (const auto* h : parts) {
    sum += h->sum();
    count += h->count();
  }
  fmt::format_to(std::back_inserter(out), "{}_sum{{{}}} {}\n{}_count{{{}}} {}\n", name, labels, sum,
                 name, labels, count);
}

void render_route(std::string& out, const server::server& srv, std::string_view route_name,
                  const std::function<const route_stats&(const server::worker&)>& get) {
  const std::string labels = fmt::format("route=\"{}\"", escape_label(route_name));
  for (int code = 0; code < max_status; ++code) {
    uint64_t n = 0;
    for (const auto& w : srv.workers()) n += get(*w).by_status[code].get();
    if (n)
      fmt::format_to(std::back_inserter(out), "spillway_requests_total{{{},code=\"{}\"}} {}\n",
                     labels, code, n);
  }
}

}  // namespace

std::string render_metrics(const server::server& srv) {
  std::string out;
  const auto& rt = srv.rt();
  const auto& routes = rt.config->routes;

  out.append(
      "# HELP spillway_requests_total Requests answered, by route and status code.\n"
      "# TYPE spillway_requests_total counter\n");
  for (size_t r = 0; r < routes.size(); ++r)
    render_route(out, srv, routes[r].name, [&rt, r](const server::worker& w) -> const route_stats& {
      return *rt.stats[w.id()].routes[r];
    });
  render_route(out, srv, "",
               [](const server::worker& w) -> const route_stats& { return w.stats().unrouted; });

  out.append(
      "# HELP spillway_request_duration_seconds Time from request head to last response byte.\n"
      "# TYPE spillway_request_duration_seconds histogram\n");
  for (size_t r = 0; r < routes.size(); ++r) {
    std::vector<const histogram*> parts;
    for (const auto& w : srv.workers()) parts.push_back(&rt.stats[w->id()].routes[r]->duration);
    render_histogram(out, "spillway_request_duration_seconds",
                     fmt::format("route=\"{}\"", escape_label(routes[r].name)), parts);
  }
  out.append(
      "# HELP spillway_time_to_first_byte_seconds Time from request head to the first upstream "
      "response byte.\n"
      "# TYPE spillway_time_to_first_byte_seconds histogram\n");
  for (size_t r = 0; r < routes.size(); ++r) {
    std::vector<const histogram*> parts;
    for (const auto& w : srv.workers()) parts.push_back(&rt.stats[w->id()].routes[r]->ttfb);
    render_histogram(out, "spillway_time_to_first_byte_seconds",
                     fmt::format("route=\"{}\"", escape_label(routes[r].name)), parts);
  }

  out.append(
      "# HELP spillway_upstream_requests_total Upstream exchanges by endpoint and status (0: no "
      "response).\n"
      "# TYPE spillway_upstream_requests_total counter\n");
  for (size_t c = 0; c < rt.clusters.size(); ++c) {
    auto& cl = *rt.clusters[c];
    for (size_t e = 0; e < cl.size(); ++e) {
      for (int code = 0; code < max_status; ++code) {
        uint64_t n = 0;
        for (const auto& w : srv.workers())
          n += rt.stats[w->id()].endpoints[c][e]->by_status[code].get();
        if (n)
          fmt::format_to(
              std::back_inserter(out),
              "spillway_upstream_requests_total{{cluster=\"{}\",endpoint=\"{}\",code=\"{}\"}} {}\n",
              escape_label(cl.name()), escape_label(cl.at(e).address), code, n);
      }
    }
  }
  out.append(
      "# HELP spillway_upstream_active_requests In-flight requests per endpoint.\n"
      "# TYPE spillway_upstream_active_requests gauge\n");
  for (const auto& cl : rt.clusters)
    for (size_t e = 0; e < cl->size(); ++e)
      fmt::format_to(std::back_inserter(out),
                     "spillway_upstream_active_requests{{cluster=\"{}\",endpoint=\"{}\"}} {}\n",
                     escape_label(cl->name()), escape_label(cl->at(e).address),
                     cl->at(e).active.load(std::memory_order_relaxed));

  out.append(
      "# HELP spillway_upstream_request_duration_seconds Time an endpoint held a request, per "
      "try.\n"
      "# TYPE spillway_upstream_request_duration_seconds histogram\n");
  for (size_t c = 0; c < rt.clusters.size(); ++c) {
    const auto& cl = *rt.clusters[c];
    for (size_t e = 0; e < cl.size(); ++e) {
      std::vector<const histogram*> parts;
      for (const auto& w : srv.workers())
        parts.push_back(&rt.stats[w->id()].endpoints[c][e]->duration);
      render_histogram(out, "spillway_upstream_request_duration_seconds",
                       fmt::format("cluster=\"{}\",endpoint=\"{}\"", escape_label(cl.name()),
                                   escape_label(cl.at(e).address)),
                       parts);
    }
  }

  // Retries made, by what failed; retries wanted but refused (budget, attempts) are counted
  // apart so the first metric is exactly the extra load sent upstream.
  for (const bool made : {true, false}) {
    const char* name = made ? "spillway_retries_total" : "spillway_retries_denied_total";
    fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} counter\n", name,
                   made ? "Retries sent, by route and the failure that caused them."
                        : "Retries not made because the budget or the attempts ran out.",
                   name);
    for (size_t r = 0; r < routes.size(); ++r) {
      const auto& st = *rt.route_states[r];
      for (size_t k = 0; k < retry::retry_reason_count; ++k) {
        const auto reason = static_cast<retry::retry_reason>(k);
        const bool denied = reason == retry::retry_reason::budget_exhausted ||
                            reason == retry::retry_reason::attempts_exhausted;
        if (denied == made) continue;
        fmt::format_to(std::back_inserter(out), "{}{{route=\"{}\",reason=\"{}\"}} {}\n", name,
                       escape_label(routes[r].name), retry::to_string(reason),
                       st.retries.get(reason));
      }
    }
  }
  out.append(
      "# HELP spillway_shed_total Requests refused without reaching an endpoint.\n"
      "# TYPE spillway_shed_total counter\n");
  for (size_t r = 0; r < routes.size(); ++r) {
    const auto& st = *rt.route_states[r];
    for (size_t k = 0; k < static_cast<size_t>(server::shed_reason::count); ++k)
      fmt::format_to(
          std::back_inserter(out), "spillway_shed_total{{route=\"{}\",reason=\"{}\"}} {}\n",
          escape_label(routes[r].name), server::to_string(static_cast<server::shed_reason>(k)),
          st.shed[k].load(std::memory_order_relaxed));
  }
  out.append(
      "# HELP spillway_queue_depth Requests waiting in the cluster queue.\n"
      "# TYPE spillway_queue_depth gauge\n");
  for (const auto& cl : rt.clusters)
    fmt::format_to(std::back_inserter(out), "spillway_queue_depth{{cluster=\"{}\"}} {}\n",
                   escape_label(cl->name()), cl->queue().size());
  out.append(
      "# HELP spillway_circuit_breaker_state 0 closed, 1 open, 2 half-open.\n"
      "# TYPE spillway_circuit_breaker_state gauge\n");
  for (const auto& cl : rt.clusters)
    for (size_t e = 0; e < cl->size(); ++e)
      fmt::format_to(std::back_inserter(out),
                     "spillway_circuit_breaker_state{{cluster=\"{}\",endpoint=\"{}\"}} {}\n",
                     escape_label(cl->name()), escape_label(cl->at(e).address),
                     static_cast<int>(cl->breaker_state(e)));
  out.append(
      "# HELP spillway_endpoint_healthy 1 when active health checks pass (or are off).\n"
      "# TYPE spillway_endpoint_healthy gauge\n");
  for (const auto& cl : rt.clusters)
    for (size_t e = 0; e < cl->size(); ++e)
      fmt::format_to(std::back_inserter(out),
                     "spillway_endpoint_healthy{{cluster=\"{}\",endpoint=\"{}\"}} {}\n",
                     escape_label(cl->name()), escape_label(cl->at(e).address),
                     cl->health(e) == health::health_status::healthy ? 1 : 0);
  out.append(
      "# HELP spillway_endpoint_ejected 1 while outlier detection keeps the endpoint out.\n"
      "# TYPE spillway_endpoint_ejected gauge\n");
  for (const auto& cl : rt.clusters)
    for (size_t e = 0; e < cl->size(); ++e)
      fmt::format_to(std::back_inserter(out),
                     "spillway_endpoint_ejected{{cluster=\"{}\",endpoint=\"{}\"}} {}\n",
                     escape_label(cl->name()), escape_label(cl->at(e).address),
                     cl->ejected(e) ? 1 : 0);

  render_policy_metrics(out, rt);

  uint64_t accepted = 0, refused = 0;
  int64_t open = 0;
  for (const auto& w : srv.workers()) {
    accepted += w->stats().connections_accepted.get();
    refused += w->stats().connections_refused.get();
    open += w->stats().connections_open.load(std::memory_order_relaxed);
  }
  fmt::format_to(std::back_inserter(out),
                 "# TYPE spillway_downstream_connections_total counter\n"
                 "spillway_downstream_connections_total {}\n"
                 "# TYPE spillway_downstream_connections_refused_total counter\n"
                 "spillway_downstream_connections_refused_total {}\n"
                 "# TYPE spillway_downstream_connections_open gauge\n"
                 "spillway_downstream_connections_open {}\n",
                 accepted, refused, open);
  render_protocol_metrics(out, srv);
  fmt::format_to(std::back_inserter(out),
                 "# HELP spillway_config_reloads_total Configuration reloads (SIGHUP, POST "
                 "/admin/reload) by result.\n"
                 "# TYPE spillway_config_reloads_total counter\n"
                 "spillway_config_reloads_total{{result=\"ok\"}} {}\n"
                 "spillway_config_reloads_total{{result=\"error\"}} {}\n"
                 "# HELP spillway_config_retired_runtimes Configurations replaced by a reload "
                 "that requests in flight still use.\n"
                 "# TYPE spillway_config_retired_runtimes gauge\n"
                 "spillway_config_retired_runtimes {}\n",
                 srv.reloads(true), srv.reloads(false), srv.retired_runtimes());
  render_affinity_metrics(out, rt);
  out += render_cache_metrics(srv);
  return out;
}

std::string render_clusters(const server::server& srv) {
  boost::json::array clusters;
  for (const auto& cl : srv.rt().clusters) {
    boost::json::array endpoints;
    for (size_t e = 0; e < cl->size(); ++e) {
      const auto& ep = cl->at(e);
      const uint32_t bits = ep.unavailable.load(std::memory_order_relaxed);
      endpoints.push_back(boost::json::object{
          {"address", ep.address},
          {"weight", ep.weight.load(std::memory_order_relaxed)},
          {"effective_weight",
           static_cast<double>(ep.effective_weight.load(std::memory_order_relaxed)) /
               upstream::cluster::weight_scale},
          {"health", health::to_string(cl->health(e))},
          {"healthy", (bits & (upstream::health_unknown | upstream::unhealthy)) == 0},
          {"breaker", breaker::to_string(cl->breaker_state(e))},
          {"ejected", cl->ejected(e)},
          {"draining", (bits & upstream::draining) != 0},
          {"available", ep.available()},
          {"active", ep.active.load(std::memory_order_relaxed)},
          {"max_concurrent", ep.max_concurrent.load(std::memory_order_relaxed)},
          {"reported_load", reported_load(srv.rt(), cl->index(), e)},
      });
    }
    clusters.push_back(boost::json::object{{"name", cl->name()},
                                           {"balancer", config::to_string(cl->config().balancer)},
                                           {"queued", cl->queue().size()},
                                           {"endpoints", std::move(endpoints)}});
  }
  return boost::json::serialize(boost::json::object{{"clusters", std::move(clusters)}}) + "\n";
}

}  // namespace spillway::admin
