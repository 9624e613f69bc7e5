// Cross-checks over the whole configuration, after every section was read on its own:
// names unique and referring to defined clusters, sockets that do not clash, endpoints listed
// once, features whose backing store is configured; and warnings for what is legal but likely
// unintended (unused clusters, unreachable routes, an open admin API).
#include <fmt/format.h>
#include <algorithm>
#include <cctype>
#include <unordered_map>
#include <unordered_set>

#include "config/address.hpp"
#include "config/sections.hpp"
#include "config/suggest.hpp"

namespace spillway::config::detail {
namespace {

std::string item_path(std::string_view list, size_t i, std::string_view key = {}) {
  return key.empty() ? fmt::format("{}[{}]", list, i) : fmt::format("{}[{}].{}", list, i, key);
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

template <class T>
void check_unique_names(reader& r, const std::vector<T>& items, std::string_view list,
                        std::string_view what) {
  std::unordered_map<std::string, size_t> first;
  for (size_t i = 0; i < items.size(); ++i) {
    if (items[i].name.empty()) continue;  // missing or invalid: reported already
    auto [it, inserted] = first.emplace(items[i].name, i);
    if (!inserted)
      r.error(item_path(list, i, "name"),
              fmt::format("duplicate {} name '{}' (first at line {})", what, items[i].name,
                          r.mark(item_path(list, it->second, "name")).line));
  }
}

bool is_wildcard(const std::string& host) {
  return host.empty() || host == "0.0.0.0" || host == "::";
}

// Two listening sockets clash when their ports match and their hosts match or either is a
// wildcard (binding 0.0.0.0 or [::] takes the port on every address).
bool clash(const host_port& a, const host_port& b) {
  return a.port == b.port &&
         (is_wildcard(a.host) || is_wildcard(b.host) || lower(a.host) == lower(b.host));
}

void check_sockets(reader& r, const proxy_config& c) {
  std::vector<std::pair<std::string, host_port>> bound;  // key path, address
  for (size_t i = 0; i < c.listeners.size(); ++i)
    if (auto hp = parse_host_port(c.listeners[i].address))
      bound.emplace_back(item_path("listeners", i, "address"), *hp);
  if (c.admin)
    if (auto hp = parse_host_port(c.admin->address)) bound.emplace_back("admin.address", *hp);
  for (size_t i = 0; i < bound.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (clash(bound[i].second, bound[j].second)) {
        r.error(bound[i].first, fmt::format("address clashes with {} (line {})", bound[j].first,
                                            r.mark(bound[j].first).line));
        break;
      }
}

void check_endpoints(reader& r, const cluster_config& cluster, size_t index) {
  std::unordered_set<std::string> seen;
  for (size_t j = 0; j < cluster.endpoints.size(); ++j) {
    auto hp = parse_host_port(cluster.endpoints[j].address);
    if (!hp) continue;
    std::string key = fmt::format("{}:{}", lower(hp->host), hp->port);
    if (!seen.insert(key).second)
      r.error(fmt::format("{}.endpoints[{}].address", item_path("clusters", index), j),
              fmt::format("endpoint {} is listed twice in cluster '{}'",
                          cluster.endpoints[j].address, cluster.name));
  }
}

void check_cluster_ref(reader& r, const proxy_config& c, const std::string& name,
                       const std::string& path) {
  if (name.empty() || c.find_cluster(name)) return;
  std::vector<std::string_view> names;
  for (const auto& cl : c.clusters) names.push_back(cl.name);
  r.error(path, fmt::format("no cluster named '{}'{}", name, did_you_mean(name, names)));
}

void check_route_clusters(reader& r, const proxy_config& c, const route_config& route, size_t i) {
  const std::string base = item_path("routes", i);
  const bool single = r.present(base + ".cluster");
  std::unordered_set<std::string> targets;
  for (size_t j = 0; j < route.clusters.size(); ++j) {
    std::string path = single ? base + ".cluster" : fmt::format("{}.clusters[{}].name", base, j);
    check_cluster_ref(r, c, route.clusters[j].name, path);
    if (!route.clusters[j].name.empty() && !targets.insert(route.clusters[j].name).second)
      r.error(path, fmt::format("cluster '{}' is listed twice", route.clusters[j].name));
  }
  std::unordered_set<std::string> fallbacks;
  for (size_t j = 0; j < route.fallback_clusters.size(); ++j) {
    std::string path = fmt::format("{}.fallback_clusters[{}]", base, j);
    check_cluster_ref(r, c, route.fallback_clusters[j], path);
    if (!route.fallback_clusters[j].empty() && !fallbacks.insert(route.fallback_clusters[j]).second)
      r.error(path, fmt::format("cluster '{}' is listed twice", route.fallback_clusters[j]));
  }
}

void check_route_stores(reader& r, const proxy_config& c, const route_config& route, size_t i) {
  if (route.cache && !c.cache)
    r.error(item_path("routes", i, "cache"),
            "route caching needs the top-level cache section (cache: {} for memory only)");
  if (route.rate_limit && route.rate_limit->shared && !(c.cache && c.cache->redis))
    r.error(item_path("routes", i, "rate_limit.shared"), "shared rate limits need cache.redis");
}

// Route `a` takes every request route `b` could match when `a` constrains only the path and
// its path covers b's.
bool shadows(const route_match& a, const route_match& b) {
  if (!a.methods.empty() || !a.headers.empty()) return false;
  if (!a.path.empty()) return b.path == a.path;
  const std::string& b_path = b.path.empty() ? b.path_prefix : b.path;
  return b_path.starts_with(a.path_prefix);
}

void warn_unreachable_routes(reader& r, const proxy_config& c) {
  for (size_t i = 0; i < c.routes.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (shadows(c.routes[j].match, c.routes[i].match)) {
        r.warning(item_path("routes", i),
                  fmt::format("route '{}' is never used: route '{}' above matches all its requests",
                              c.routes[i].name, c.routes[j].name));
        break;
      }
}

void warn_unused_clusters(reader& r, const proxy_config& c) {
  std::unordered_set<std::string> used;
  for (const auto& route : c.routes) {
    for (const auto& w : route.clusters) used.insert(w.name);
    used.insert(route.fallback_clusters.begin(), route.fallback_clusters.end());
  }
  for (size_t i = 0; i < c.clusters.size(); ++i)
    if (!c.clusters[i].name.empty() && !used.count(c.clusters[i].name))
      r.warning(item_path("clusters", i, "name"),
                fmt::format("cluster '{}' is not used by any route", c.clusters[i].name));
}

void warn_open_admin(reader& r, const proxy_config& c) {
  if (!c.admin || !c.admin->token.empty()) return;
  auto hp = parse_host_port(c.admin->address);
  if (!hp) return;
  const std::string host = lower(hp->host);
  bool loopback = host == "localhost" || host == "::1" || host.starts_with("127.");
  if (!loopback)
    r.warning("admin.address",
              "the admin API listens beyond loopback without a token; anyone who can reach it can "
              "reload, drain and purge");
}

}  // namespace

void cross_check(reader& r, const proxy_config& c) {
  check_unique_names(r, c.listeners, "listeners", "listener");
  check_unique_names(r, c.clusters, "clusters", "cluster");
  check_unique_names(r, c.routes, "routes", "route");
  check_sockets(r, c);
  for (size_t i = 0; i < c.clusters.size(); ++i) check_endpoints(r, c.clusters[i], i);
  for (size_t i = 0; i < c.routes.size(); ++i) {
    check_route_clusters(r, c, c.routes[i], i);
    check_route_stores(r, c, c.routes[i], i);
  }
  warn_unreachable_routes(r, c);
  warn_unused_clusters(r, c);
  warn_open_admin(r, c);
}

}  // namespace spillway::config::detail
