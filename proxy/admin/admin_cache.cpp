// Admin side of the response cache (SPEC §2.4): POST /admin/cache/purge and the cache metrics.
//
// Purge scope, from the query string or a JSON body (the query wins):
//   (nothing)          every entry, memory and Redis
//   prefix=<p>         keys starting with <p> (keys are "<route>:<sha256 hex>")
//   route=<name>       one route's entries (prefix "<name>:")
#include <fmt/format.h>

#include <boost/json.hpp>

#include "cache/redis_client.hpp"
#include "cache/response_cache.hpp"
#include "proxy/admin/admin_server.hpp"
#include "proxy/server/server.hpp"

namespace spillway::admin {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      const int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i] == '+' ? ' ' : s[i]);
  }
  return out;
}

std::optional<std::string> query_param(std::string_view target, std::string_view name) {
  const auto q = target.find('?');
  if (q == std::string_view::npos) return std::nullopt;
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const auto pair = rest.substr(0, amp);
    const auto eq = pair.find('=');
    if (pair.substr(0, eq) == name)
      return percent_decode(eq == std::string_view::npos ? std::string_view{}
                                                         : pair.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    rest.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

std::string error_body(std::string_view code, std::string_view message) {
  return boost::json::serialize(
             boost::json::object{{"error", boost::json::object{{"message", message},
                                                               {"type", "invalid_request_error"},
                                                               {"code", code}}}}) +
         "\n";
}

}  // namespace

void purge_cache(const server::server& srv, std::string_view target, std::string_view body,
                 boost::asio::io_context& ioc, std::function<void(int, std::string)> reply) {
  cache::response_cache* rc = srv.cache();
  if (rc == nullptr)
    return reply(404, error_body("no_cache", "no cache is configured (top-level `cache`)"));
  auto prefix = query_param(target, "prefix");
  auto route = query_param(target, "route");
  if (!prefix && !route && !body.empty()) {
    boost::system::error_code ec;
    auto v = boost::json::parse(body, ec);
    if (ec || !v.is_object())
      return reply(400, error_body("bad_request", "body must be a JSON object"));
    const auto& o = v.as_object();
    if (auto* p = o.if_contains("prefix"); p && p->is_string())
      prefix = std::string(p->as_string());
    if (auto* r = o.if_contains("route"); r && r->is_string()) route = std::string(r->as_string());
  }
  if (prefix && route)
    return reply(400, error_body("bad_request", "give either prefix or route, not both"));
  std::string scope;
  if (route) {
    bool known = false;
    for (const auto& r : srv.rt().config->routes) known = known || r.name == *route;
    if (!known) return reply(404, error_body("no_route", "no route named " + *route));
    scope = *route + ":";
  } else if (prefix) {
    scope = *prefix;
  }
  rc->purge(
      scope, cache::post_to(ioc.get_executor()),
      [scope, reply = std::move(reply)](cache::error_code ec, uint64_t memory, uint64_t remote) {
        boost::json::object o{
            {"prefix", scope},
            {"purged", boost::json::object{{"memory", memory}, {"redis", remote}}}};
        if (ec) o["redis_error"] = ec.message();
        reply(200, boost::json::serialize(o) + "\n");
      });
}

std::string render_cache_metrics(const server::server& srv) {
  cache::response_cache* rc = srv.cache();
  if (rc == nullptr) return {};
  std::string out;
  auto it = std::back_inserter(out);
  if (auto rows = rc->idempotency().snapshot(); !rows.empty()) {
    out.append(
        "# HELP spillway_idempotency_total Requests carrying an idempotency key, by outcome.\n"
        "# TYPE spillway_idempotency_total counter\n");
    for (const auto& [route, row] : rows)
      for (size_t i = 0; i < row.size(); ++i)
        fmt::format_to(it, "spillway_idempotency_total{{route=\"{}\",result=\"{}\"}} {}\n", route,
                       cache::to_string(static_cast<cache::idempotency_result>(i)), row[i]);
  }
  // Without a top-level `cache` the tiers hold idempotency records only.
  if (!srv.rt().config->cache) return out;
  auto& c = rc->counters();
  fmt::format_to(it,
                 "# HELP spillway_cache_requests_total Requests on cached routes by cache result.\n"
                 "# TYPE spillway_cache_requests_total counter\n"
                 "spillway_cache_requests_total{{result=\"hit\"}} {}\n"
                 "spillway_cache_requests_total{{result=\"miss\"}} {}\n"
                 "spillway_cache_requests_total{{result=\"stale\"}} {}\n"
                 "spillway_cache_requests_total{{result=\"bypass\"}} {}\n",
                 c.hit.load(std::memory_order_relaxed), c.miss.load(std::memory_order_relaxed),
                 c.stale.load(std::memory_order_relaxed), c.bypass.load(std::memory_order_relaxed));
  fmt::format_to(it,
                 "# HELP spillway_cache_memory_bytes Bytes held by the in-process cache tier.\n"
                 "# TYPE spillway_cache_memory_bytes gauge\n"
                 "spillway_cache_memory_bytes {}\n"
                 "# TYPE spillway_cache_memory_entries gauge\n"
                 "spillway_cache_memory_entries {}\n"
                 "# TYPE spillway_cache_memory_evictions_total counter\n"
                 "spillway_cache_memory_evictions_total {}\n",
                 rc->memory().bytes(), rc->memory().size(), rc->memory().evictions());
  const auto km = rc->keys().stats();
  fmt::format_to(it,
                 "# HELP spillway_cache_key_memo_total Cache keys by source: memo (a repeat of "
                 "the raw request) or computed.\n"
                 "# TYPE spillway_cache_key_memo_total counter\n"
                 "spillway_cache_key_memo_total{{result=\"hit\"}} {}\n"
                 "spillway_cache_key_memo_total{{result=\"miss\"}} {}\n"
                 "# TYPE spillway_cache_key_memo_bytes gauge\n"
                 "spillway_cache_key_memo_bytes {}\n"
                 "# TYPE spillway_cache_key_memo_entries gauge\n"
                 "spillway_cache_key_memo_entries {}\n"
                 "# TYPE spillway_cache_key_memo_evictions_total counter\n"
                 "spillway_cache_key_memo_evictions_total {}\n",
                 km.hits, km.misses, km.bytes, km.entries, km.evictions);
  if (const auto* redis = srv.redis()) {
    const auto s = redis->stats();
    fmt::format_to(it,
                   "# HELP spillway_cache_redis_up Whether the Redis tier is connected.\n"
                   "# TYPE spillway_cache_redis_up gauge\n"
                   "spillway_cache_redis_up {}\n"
                   "# HELP spillway_cache_redis_operations_total Redis operations by outcome.\n"
                   "# TYPE spillway_cache_redis_operations_total counter\n"
                   "spillway_cache_redis_operations_total{{outcome=\"hit\"}} {}\n"
                   "spillway_cache_redis_operations_total{{outcome=\"miss\"}} {}\n"
                   "spillway_cache_redis_operations_total{{outcome=\"error\"}} {}\n"
                   "spillway_cache_redis_operations_total{{outcome=\"timeout\"}} {}\n"
                   "spillway_cache_redis_operations_total{{outcome=\"skipped\"}} {}\n"
                   "# TYPE spillway_cache_redis_reconnects_total counter\n"
                   "spillway_cache_redis_reconnects_total {}\n",
                   s.connected ? 1 : 0, s.hits, s.misses, s.errors, s.timeouts, s.skipped,
                   s.reconnects);
  }
  return out;
}

}  // namespace spillway::admin
