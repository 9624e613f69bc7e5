#include "proxy/admin/status.hpp"

#include <algorithm>
#include <boost/json.hpp>

#include "proxy/admin/admin_server.hpp"
#include "proxy/health/load_report.hpp"  // for_each_sample
#include "proxy/server/server.hpp"

#ifndef SPILLWAY_VERSION
#define SPILLWAY_VERSION "unknown"
#endif

namespace spillway::admin {

namespace json = boost::json;

std::optional<double> bucket_quantile(const bucket_counts& counts, double q) noexcept {
  uint64_t total = 0;
  for (uint64_t c : counts) total += c;
  if (total == 0) return std::nullopt;
  const double rank = std::clamp(q, 0.0, 1.0) * static_cast<double>(total);
  uint64_t below = 0;
  for (size_t b = 0; b < counts.size(); ++b) {
    if (counts[b] == 0 || static_cast<double>(below + counts[b]) < rank) {
      below += counts[b];
      continue;
    }
    if (b == latency_buckets.size()) return latency_buckets.back();
    const double lo = b == 0 ? 0.0 : latency_buckets[b - 1];
    const double hi = latency_buckets[b];
    const double inside = (rank - static_cast<double>(below)) / static_cast<double>(counts[b]);
    return lo + (hi - lo) * std::clamp(inside, 0.0, 1.0);
  }
  return latency_buckets.back();
}

window_view compare(const status_totals::series& older, const status_totals::series& newer,
                    double seconds) noexcept {
  window_view v;
  v.seconds = seconds;
  // A counter never goes down; a smaller newer value can only come from a different runtime.
  const auto delta = [](uint64_t a, uint64_t b) { return b >= a ? b - a : 0; };
  const uint64_t requests = delta(older.requests, newer.requests);
  const uint64_t errors = delta(older.errors, newer.errors);
  if (seconds > 0) v.rate = static_cast<double>(requests) / seconds;
  if (requests > 0)
    v.error_rate = std::min(1.0, static_cast<double>(errors) / static_cast<double>(requests));
  bucket_counts d{};
  for (size_t b = 0; b < d.size(); ++b) d[b] = delta(older.latency[b], newer.latency[b]);
  v.p50 = bucket_quantile(d, 0.5);
  v.p99 = bucket_quantile(d, 0.99);
  return v;
}

namespace {

status_totals::series sum_series(const std::array<counter, max_status>& by_status,
                                 const histogram& h, status_totals::series acc) {
  for (int code = 0; code < max_status; ++code) {
    const uint64_t n = by_status[code].get();
    acc.requests += n;
    if (code == 0 || code >= 500) acc.errors += n;
  }
  for (size_t b = 0; b < acc.latency.size(); ++b) acc.latency[b] += h.bucket(b);
  return acc;
}

/// Totals of the same runtime, so every series lines up (a reload may reshape everything).
bool comparable(const status_totals& a, const status_totals& b) {
  if (a.runtime != b.runtime || a.routes.size() != b.routes.size() ||
      a.endpoints.size() != b.endpoints.size())
    return false;
  for (size_t c = 0; c < a.endpoints.size(); ++c)
    if (a.endpoints[c].size() != b.endpoints[c].size()) return false;
  return true;
}

/// `result` label value of a spillway_cache_requests_total sample.
std::string result_label(std::string_view labels) {
  const auto at = labels.find("result=\"");
  if (at == std::string_view::npos) return "";
  labels.remove_prefix(at + 8);
  return std::string(labels.substr(0, labels.find('"')));
}

json::value opt(const std::optional<double>& v) {
  return v ? json::value(*v) : json::value(nullptr);
}

/// Each endpoint's `reported_load` as /admin/clusters shows it ([cluster][endpoint]; null when
/// absent), so the page follows whatever the load scraper reports without a second reader.
std::vector<std::vector<json::value>> reported_loads(const server::server& srv) {
  std::vector<std::vector<json::value>> out(srv.rt().clusters.size());
  for (size_t c = 0; c < out.size(); ++c) out[c].resize(srv.rt().clusters[c]->size());
  boost::system::error_code ec;
  const json::value doc = json::parse(render_clusters(srv), ec);
  if (ec || !doc.is_object()) return out;
  const auto* clusters = doc.as_object().if_contains("clusters");
  if (!clusters || !clusters->is_array()) return out;
  for (size_t c = 0; c < out.size() && c < clusters->as_array().size(); ++c) {
    const auto& cl = clusters->as_array()[c];
    const auto* eps = cl.is_object() ? cl.as_object().if_contains("endpoints") : nullptr;
    if (!eps || !eps->is_array()) continue;
    for (size_t e = 0; e < out[c].size() && e < eps->as_array().size(); ++e) {
      const auto& ep = eps->as_array()[e];
      if (const auto* load = ep.is_object() ? ep.as_object().if_contains("reported_load") : nullptr)
        out[c][e] = *load;
    }
  }
  return out;
}

json::object view_json(const window_view& v) {
  return json::object{{"rate", v.rate},
                      {"error_rate", opt(v.error_rate)},
                      {"p50", opt(v.p50)},
                      {"p99", opt(v.p99)}};
}

}  // namespace

status_tracker::status_tracker(boost::asio::io_context& ioc, const server::server& srv,
                               const clock_source& clock)
    : server_(srv), clock_(clock), started_(clock.now()), timer_(ioc) {}

void status_tracker::start() {
  running_ = true;
  ring_.push_back(take());
  timer_.expires_after(sample_every);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) tick();
  });
}

void status_tracker::stop() {
  running_ = false;
  timer_.cancel();
}

void status_tracker::tick() {
  if (!running_) return;
  ring_.push_back(take());
  if (!comparable(ring_.front(), ring_.back())) ring_.erase(ring_.begin(), ring_.end() - 1);
  // Keep one sample at or beyond the window's start, so a full window is always available.
  while (ring_.size() > 2 && ring_.back().at - ring_[1].at >= window) ring_.pop_front();
  timer_.expires_after(sample_every);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) tick();
  });
}

status_totals status_tracker::take() const {
  status_totals t;
  t.at = clock_.now();
  const auto& rt = server_.rt();
  t.runtime = &rt;
  t.routes.resize(rt.config->routes.size());
  t.endpoints.resize(rt.clusters.size());
  for (size_t c = 0; c < rt.clusters.size(); ++c) t.endpoints[c].resize(rt.clusters[c]->size());
  for (const auto& w : server_.workers()) {
    const auto& st = rt.stats[w->id()];
    for (size_t r = 0; r < t.routes.size() && r < st.routes.size(); ++r)
      t.routes[r] = sum_series(st.routes[r]->by_status, st.routes[r]->duration, t.routes[r]);
    for (size_t c = 0; c < t.endpoints.size() && c < st.endpoints.size(); ++c)
      for (size_t e = 0; e < t.endpoints[c].size() && e < st.endpoints[c].size(); ++e)
        t.endpoints[c][e] = sum_series(st.endpoints[c][e]->by_status, st.endpoints[c][e]->duration,
                                       t.endpoints[c][e]);
  }
  // The cache counts whatever way it exports them: read back from the exposition itself (its
  // cache part only: the whole exposition costs far more than the rest of a sample).
  const std::string metrics = render_cache_metrics(server_);
  if (metrics.find("spillway_cache_requests_total") != std::string::npos) {
    health::for_each_sample(metrics, [&t](const health::metric_line& m) {
      if (m.name != "spillway_cache_requests_total") return;
      t.cache_present = true;
      if (m.value > 0) t.cache[result_label(m.labels)] += static_cast<uint64_t>(m.value);
    });
  }
  return t;
}

std::string status_tracker::render_json() {
  const status_totals now = take();
  const status_totals* base = nullptr;
  for (const auto& s : ring_) {  // the newest sample at least `window` old, else the oldest
    if (!comparable(s, now)) continue;
    if (!base || now.at - s.at >= window) base = &s;
  }
  const double seconds = base ? std::chrono::duration<double>(now.at - base->at).count() : 0;
  const auto view = [&](const status_totals::series& newer,
                        const status_totals::series* older) -> window_view {
    static const status_totals::series zero{};
    return compare(older ? *older : zero, newer, seconds);
  };

  const auto& rt = server_.rt();
  auto loads = reported_loads(server_);
  json::array clusters;
  for (size_t c = 0; c < rt.clusters.size(); ++c) {
    auto& cl = *rt.clusters[c];  // queue() has no const overload
    status_totals::series cluster_now, cluster_base;
    json::array endpoints;
    for (size_t e = 0; e < cl.size(); ++e) {
      const auto& ep = cl.at(e);
      const auto& cur = now.endpoints[c][e];
      const auto* old = base ? &base->endpoints[c][e] : nullptr;
      cluster_now.requests += cur.requests;
      cluster_now.errors += cur.errors;
      for (size_t b = 0; b < cur.latency.size(); ++b) cluster_now.latency[b] += cur.latency[b];
      if (old) {
        cluster_base.requests += old->requests;
        cluster_base.errors += old->errors;
        for (size_t b = 0; b < old->latency.size(); ++b) cluster_base.latency[b] += old->latency[b];
      }
      const uint32_t bits = ep.unavailable.load(std::memory_order_relaxed);
      json::object o{
          {"address", ep.address},
          {"weight", ep.weight},
          {"effective_weight",
           static_cast<double>(ep.effective_weight.load(std::memory_order_relaxed)) /
               upstream::cluster::weight_scale},
          {"health", health::to_string(cl.health(e))},
          {"breaker", breaker::to_string(cl.breaker_state(e))},
          {"ejected", cl.ejected(e)},
          {"draining", (bits & upstream::draining) != 0},
          {"available", ep.available()},
          {"active", ep.active.load(std::memory_order_relaxed)},
          {"max_concurrent", ep.max_concurrent},
          {"reported_load", std::move(loads[c][e])},
          {"requests_total", cur.requests},
          {"errors_total", cur.errors},
      };
      for (auto& [k, v] : view_json(view(cur, old))) o[k] = v;
      endpoints.push_back(std::move(o));
    }
    json::object co{{"name", cl.name()},
                    {"balancer", config::to_string(cl.config().balancer)},
                    {"queued", cl.queue().size()},
                    {"requests_total", cluster_now.requests},
                    {"endpoints", std::move(endpoints)}};
    for (auto& [k, v] : view_json(view(cluster_now, base ? &cluster_base : nullptr))) co[k] = v;
    clusters.push_back(std::move(co));
  }

  json::array routes;
  for (size_t r = 0; r < now.routes.size(); ++r) {
    json::object ro{
        {"name", rt.config->routes[r].name},
        {"cluster", rt.route_cluster[r] >= 0 ? json::value(rt.clusters[rt.route_cluster[r]]->name())
                                             : json::value(nullptr)},
        {"requests_total", now.routes[r].requests}};
    for (auto& [k, v] : view_json(view(now.routes[r], base ? &base->routes[r] : nullptr)))
      ro[k] = v;
    routes.push_back(std::move(ro));
  }

  json::value cache = nullptr;
  if (now.cache_present) {
    const auto count = [](const status_totals* t, const char* k) -> uint64_t {
      if (!t) return 0;
      const auto it = t->cache.find(k);
      return it == t->cache.end() ? 0 : it->second;
    };
    const auto ratio = [&](const status_totals* older) -> json::value {
      uint64_t hits = count(&now, "hit") - std::min(count(&now, "hit"), count(older, "hit"));
      uint64_t looked = hits;
      for (const char* k : {"miss", "stale"})
        looked += count(&now, k) - std::min(count(&now, k), count(older, k));
      if (looked == 0) return nullptr;
      return static_cast<double>(hits) / static_cast<double>(looked);
    };
    json::object counts;
    for (const auto& [k, v] : now.cache) counts[k] = v;
    cache = json::object{
        {"hit_ratio", ratio(base)}, {"hit_ratio_total", ratio(nullptr)}, {"requests", counts}};
  }

  json::object doc{
      {"version", SPILLWAY_VERSION},
      {"uptime_s", std::chrono::duration<double>(now.at - started_).count()},
      {"window_s", seconds},
      {"ready", server_.ready()},
      {"cache", std::move(cache)},
      {"routes", std::move(routes)},
      {"clusters", std::move(clusters)},
  };
  return json::serialize(doc) + "\n";
}

}  // namespace spillway::admin
