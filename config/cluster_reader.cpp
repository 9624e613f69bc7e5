// clusters[]: endpoints, balancer, limits, health, outlier detection, breaker, affinity and
// load reports (SPEC §2.1).
#include <fmt/format.h>

#include "config/sections.hpp"

namespace spillway::config::detail {
namespace {

constexpr uint32_t max_weight = 1'000'000;
constexpr uint32_t max_concurrency = 1'000'000;
constexpr uint32_t max_threshold = 1'000;
constexpr size_t min_secret_bytes = 16;

// An endpoint is {address, weight, max_concurrent} or, as a shorthand, just its address.
void read_endpoint(reader& r, const node_ref& n, endpoint_config& out) {
  if (n.node.IsScalar()) {
    r.read_address(n, out.address, true);
    return;
  }
  auto seen = r.fields(
      n, {
             {"address", [&](auto& v) { r.read_address(v, out.address, true); }},
             {"weight", [&](auto& v) { r.read(v, out.weight, 1, max_weight); }},
             {"max_concurrent",
              [&](auto& v) { r.read(v, out.max_concurrent.emplace(), 1, max_concurrency); }},
         });
  r.require(n, seen, {"address"});
}

void read_endpoints(reader& r, const node_ref& n, std::vector<endpoint_config>& out) {
  r.items(n, [&](const node_ref& item) { read_endpoint(r, item, out.emplace_back()); });
  if (n.node.IsSequence() && out.empty()) r.error(n, "a cluster needs at least one endpoint");
}

void read_health_check(reader& r, const node_ref& n, health_check_config& out) {
  auto seen =
      r.fields(n, {
                      {"path", [&](auto& v) { r.read_url_path(v, out.path); }},
                      {"interval", [&](auto& v) { r.read_duration(v, out.interval); }},
                      {"timeout", [&](auto& v) { r.read_duration(v, out.timeout); }},
                      {"healthy_threshold",
                       [&](auto& v) { r.read(v, out.healthy_threshold, 1, max_threshold); }},
                      {"unhealthy_threshold",
                       [&](auto& v) { r.read(v, out.unhealthy_threshold, 1, max_threshold); }},
                  });
  if (out.timeout > out.interval)
    r.error(n.path + (seen.has("timeout") ? ".timeout" : ".interval"),
            fmt::format("timeout ({}) must not exceed interval ({})", format_duration(out.timeout),
                        format_duration(out.interval)));
}

void read_outlier_detection(reader& r, const node_ref& n, outlier_detection_config& out) {
  auto seen = r.fields(
      n,
      {
          {"consecutive_5xx", [&](auto& v) { r.read(v, out.consecutive_5xx, 1, max_threshold); }},
          {"interval", [&](auto& v) { r.read_duration(v, out.interval); }},
          {"base_ejection_time", [&](auto& v) { r.read_duration(v, out.base_ejection_time); }},
          {"max_ejection_time", [&](auto& v) { r.read_duration(v, out.max_ejection_time); }},
          {"max_ejection_percent", [&](auto& v) { r.read_percent(v, out.max_ejection_percent); }},
      });
  if (out.max_ejection_time < out.base_ejection_time)
    r.error(n.path + (seen.has("max_ejection_time") ? ".max_ejection_time" : ".base_ejection_time"),
            fmt::format("max_ejection_time ({}) is below base_ejection_time ({})",
                        format_duration(out.max_ejection_time),
                        format_duration(out.base_ejection_time)));
}

void read_circuit_breaker(reader& r, const node_ref& n, circuit_breaker_config& out) {
  r.fields(n,
           {
               {"window", [&](auto& v) { r.read_duration(v, out.window); }},
               {"min_requests", [&](auto& v) { r.read(v, out.min_requests, 1, max_concurrency); }},
               {"error_rate",
                [&](auto& v) {
                  r.read_percent(v, out.error_rate);
                  if (out.error_rate == 0) r.error(v, "must be above 0%");
                }},
               {"open_duration", [&](auto& v) { r.read_duration(v, out.open_duration); }},
               {"half_open_requests",
                [&](auto& v) { r.read(v, out.half_open_requests, 1, max_concurrency); }},
           });
}

void read_affinity_key(reader& r, const node_ref& v, affinity_config& out) {
  auto spec = r.read_key_spec(v, {"cookie", "prefix", "none"});
  if (!spec) return;
  out.key_arg = spec->arg;
  if (spec->kind == "cookie") out.key = affinity_key_kind::cookie;
  if (spec->kind == "prefix") out.key = affinity_key_kind::prefix;
  if (spec->kind == "none") out.key = affinity_key_kind::none;
  if (spec->kind == "header") out.key = affinity_key_kind::header;
  if (spec->kind == "jwt") out.key = affinity_key_kind::jwt;
}

void read_cookie(reader& r, const node_ref& n, affinity_cookie_config& out) {
  r.fields(n, {
                  {"name",
                   [&](auto& v) {
                     auto t = r.text(v);
                     if (t && is_token(*t))
                       out.name = *t;
                     else if (t)
                       r.error(v, fmt::format("invalid cookie name '{}'", *t));
                   }},
                  {"ttl", [&](auto& v) { r.read_duration(v, out.ttl, duration{1000}); }},
                  {"secure", [&](auto& v) { r.read(v, out.secure); }},
                  {"http_only", [&](auto& v) { r.read(v, out.http_only); }},
                  {"secret",
                   [&](auto& v) {
                     r.read(v, out.secret);
                     if (!out.secret.empty() && out.secret.size() < min_secret_bytes)
                       r.error(v, fmt::format(
                                      "secret is {} bytes; use at least {} (or leave it empty for "
                                      "a random secret per process)",
                                      out.secret.size(), min_secret_bytes));
                   }},
              });
}

void read_affinity(reader& r, const node_ref& n, affinity_config& out) {
  auto seen = r.fields(
      n, {
             {"key", [&](auto& v) { read_affinity_key(r, v, out); }},
             {"cookie", [&](auto& v) { read_cookie(r, v, out.cookie); }},
             {"balance_factor", [&](auto& v) { r.read_above(v, out.balance_factor, 1.0); }},
             {"balance_floor", [&](auto& v) { r.read(v, out.balance_floor, 0, 1'000'000); }},
             {"on_unavailable",
              [&](auto& v) {
                r.read_enum(v, out.on_unavailable,
                            {{"rebalance", on_unavailable_action::rebalance},
                             {"fail", on_unavailable_action::fail}});
              }},
         });
  if (seen.has("cookie") && out.key != affinity_key_kind::cookie)
    r.warning(n.path + ".cookie", "cookie settings are ignored unless key is cookie");
}

void read_metric_name(reader& r, const node_ref& v, std::string& out) {
  auto t = r.text(v);
  if (!t) return;
  auto head = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
  };
  bool ok = !t->empty() && head((*t)[0]);
  for (char c : *t) ok = ok && (head(c) || (c >= '0' && c <= '9'));
  if (ok)
    out = std::move(*t);
  else
    r.error(v, fmt::format("invalid Prometheus metric name '{}'", *t));
}

void read_load_report(reader& r, const node_ref& n, load_report_config& out) {
  r.fields(n,
           {
               {"path", [&](auto& v) { r.read_url_path(v, out.path); }},
               {"interval", [&](auto& v) { r.read_duration(v, out.interval); }},
               {"waiting_metric", [&](auto& v) { read_metric_name(r, v, out.waiting_metric); }},
               {"running_metric", [&](auto& v) { read_metric_name(r, v, out.running_metric); }},
               {"kv_usage_metric", [&](auto& v) { read_metric_name(r, v, out.kv_usage_metric); }},
           });
}

void read_queue(reader& r, const node_ref& n, queue_config& out) {
  r.fields(n, {
                  {"max_size", [&](auto& v) { r.read(v, out.max_size, 0, max_concurrency); }},
                  {"timeout", [&](auto& v) { r.read_duration(v, out.timeout); }},
              });
}

void read_pool(reader& r, const node_ref& n, pool_config& out) {
  r.fields(n, {
                  {"max_idle", [&](auto& v) { r.read(v, out.max_idle, 0, max_concurrency); }},
                  {"idle_timeout", [&](auto& v) { r.read_duration(v, out.idle_timeout); }},
              });
}

void read_balancer(reader& r, const node_ref& v, balancer_kind& out) {
  r.read_enum(v, out,
              {{"least_conn", balancer_kind::least_conn},
               {"round_robin", balancer_kind::round_robin},
               {"random", balancer_kind::random},
               {"p2c", balancer_kind::p2c},
               {"ring_hash", balancer_kind::ring_hash},
               {"maglev", balancer_kind::maglev},
               {"least_load", balancer_kind::least_load}});
}

}  // namespace

void read_cluster(reader& r, const node_ref& n, cluster_config& out) {
  auto seen = r.fields(
      n,
      {
          {"name", [&](auto& v) { r.read_name(v, out.name); }},
          {"balancer", [&](auto& v) { read_balancer(r, v, out.balancer); }},
          {"endpoints", [&](auto& v) { read_endpoints(r, v, out.endpoints); }},
          {"max_concurrent",
           [&](auto& v) { r.read(v, out.max_concurrent.emplace(), 1, max_concurrency); }},
          {"queue", [&](auto& v) { read_queue(r, v, out.queue); }},
          {"connect_timeout", [&](auto& v) { r.read_duration(v, out.connect_timeout); }},
          {"pool", [&](auto& v) { read_pool(r, v, out.pool); }},
          {"slow_start", [&](auto& v) { r.read_duration(v, out.slow_start, duration{0}); }},
          {"health_check", [&](auto& v) { read_health_check(r, v, out.health_check.emplace()); }},
          {"outlier_detection",
           [&](auto& v) { read_outlier_detection(r, v, out.outlier_detection.emplace()); }},
          {"circuit_breaker",
           [&](auto& v) { read_circuit_breaker(r, v, out.circuit_breaker.emplace()); }},
          {"affinity", [&](auto& v) { read_affinity(r, v, out.affinity); }},
          {"load_report", [&](auto& v) { read_load_report(r, v, out.load_report.emplace()); }},
      });
  r.require(n, seen, {"name", "endpoints"});
}

}  // namespace spillway::config::detail
