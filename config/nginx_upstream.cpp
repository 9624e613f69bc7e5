// `upstream name { ... }` → a Spillway cluster (ngx_http_upstream_module and its balancing
// modules: round robin, least_conn, random, hash, ip_hash, keepalive).
#include <fmt/format.h>
#include <algorithm>
#include <charconv>

#include "config/nginx_model.hpp"

namespace spillway::config::nginx {
namespace {

constexpr uint32_t max_weight = 1'000'000;
constexpr uint32_t nginx_default_max_fails = 1;
constexpr duration nginx_default_fail_timeout{10'000};

std::optional<uint32_t> parse_count(std::string_view text, uint32_t max) {
  auto v = parse_count_value(text, max);
  if (!v) return std::nullopt;
  return static_cast<uint32_t>(*v);
}

struct failure_params {
  uint32_t max_fails = nginx_default_max_fails;
  duration fail_timeout = nginx_default_fail_timeout;
  bool set = false;
  int line = 0;
};

struct server_params {
  endpoint_out endpoint;
  bool backup = false;
  bool down = false;
  failure_params failures;
  std::optional<duration> slow_start;
};

class upstream_reader {
 public:
  upstream_reader(const directive& block, diagnostics& diag) : block_(block), diag_(diag) {}

  upstream_out run() {
    cluster_out& c = out_.primary;
    c.name = safe_name(block_.args.empty() ? "upstream" : block_.args[0]);
    c.note = diagnostics::origin(block_);
    c.balancer = {"round_robin", "nginx's default, weighted round robin"};
    if (block_.args.size() != 1) diag_.warn(block_, "expected one name; using '" + c.name + "'");
    for (const auto& d : block_.block)
      if (d.name == "server") server(d);
    for (const auto& d : block_.block)
      if (d.name != "server") setting(d);
    finish_failures();
    if (!backups_.empty()) make_backup();
    return std::move(out_);
  }

 private:
  void server(const directive& d) {
    if (d.args.empty()) return diag_.warn(d, "server without an address; ignored");
    if (d.args[0].starts_with("unix:"))
      return diag_.untranslated(d, "Spillway connects to upstreams over TCP only");
    auto hp = split_host_port(d.args[0], 80);
    if (!hp) return diag_.warn(d, "cannot read the address; server ignored");
    server_params p;
    p.endpoint.address = fmt::format("{}:{}", hp->first, hp->second);
    p.endpoint.note = diagnostics::origin(d);
    for (size_t i = 1; i < d.args.size(); ++i) parameter(d, d.args[i], p);
    if (p.down) return diag_.warn(d, "marked down; left out of the cluster");
    auto& list = p.backup ? backups_ : out_.primary.endpoints;
    bool duplicate = std::any_of(list.begin(), list.end(), [&](const endpoint_out& e) {
      return e.address == p.endpoint.address;
    });
    if (duplicate) return diag_.warn(d, "the same address is listed twice; kept once");
    if (p.failures.set) failures_.push_back(p.failures);
    if (p.slow_start) take_slow_start(d, *p.slow_start);
    list.push_back(std::move(p.endpoint));
  }

  void parameter(const directive& d, std::string_view arg, server_params& p) {
    size_t eq = arg.find('=');
    std::string_view key = arg.substr(0, eq);
    std::string_view value = eq == std::string_view::npos ? std::string_view{} : arg.substr(eq + 1);
    auto bad = [&] { diag_.warn(d, fmt::format("invalid '{}'; ignored", arg)); };
    if (key == "weight") {
      auto w = parse_count(value, max_weight);
      if (!w || *w == 0) return bad();
      p.endpoint.weight = *w;
    } else if (key == "max_conns") {
      auto n = parse_count(value, 1'000'000);
      if (!n) return bad();
      if (*n > 0) p.endpoint.max_concurrent = *n;  // 0 is nginx's "no limit"
    } else if (key == "max_fails") {
      auto n = parse_count(value, 1'000);
      if (!n) return bad();
      p.failures.max_fails = *n;
      p.failures.set = true;
      p.failures.line = d.line;
    } else if (key == "fail_timeout") {
      auto t = parse_duration_value(value);
      if (!t || t->count() == 0) return bad();
      p.failures.fail_timeout = *t;
      p.failures.set = true;
      p.failures.line = d.line;
    } else if (key == "slow_start") {
      auto t = parse_duration_value(value);
      if (!t) return bad();
      p.slow_start = *t;
    } else if (key == "backup" && value.empty()) {
      p.backup = true;
    } else if (key == "down" && value.empty()) {
      p.down = true;
    } else if (key == "resolve" && value.empty()) {
      // Spillway re-resolves host names on its own (every 30 s).
    } else {
      diag_.warn(d, fmt::format("server parameter '{}' not translated", arg));
    }
  }

  void take_slow_start(const directive& d, duration t) {
    cluster_out& c = out_.primary;
    if (!c.slow_start)
      c.slow_start = noted{duration_text(t), diagnostics::origin(d)};
    else if (c.slow_start->value != duration_text(t))
      diag_.warn(d, fmt::format("slow_start differs between servers; Spillway's is per cluster "
                                "and keeps {}",
                                c.slow_start->value));
  }

  // max_fails/fail_timeout: nginx takes a server out for fail_timeout after max_fails failed
  // tries (errors and timeouts) within fail_timeout. Spillway's outlier detection ejects after
  // consecutive_5xx failures (5xx or connect failures) for base_ejection_time; with
  // max_ejection_time equal to it the ejection does not grow, as in nginx.
  void finish_failures() {
    if (failures_.empty()) return;
    const failure_params& first = failures_.front();
    for (const auto& f : failures_)
      if (f.max_fails != first.max_fails || f.fail_timeout != first.fail_timeout)
        diag_.warn_line(f.line, "max_fails/fail_timeout",
                        fmt::format("differs between servers of upstream '{}'; Spillway's outlier "
                                    "detection is per cluster and uses the values from line {}",
                                    out_.primary.name, first.line));
    if (first.max_fails == 0) return;  // nginx: failure accounting off
    outlier_out o;
    o.consecutive_5xx = first.max_fails;
    o.base_ejection_time = first.fail_timeout;
    o.note = fmt::format("line {}: max_fails={} fail_timeout={}", first.line, first.max_fails,
                         duration_text(first.fail_timeout));
    out_.primary.outlier = o;
  }

  void setting(const directive& d) {
    cluster_out& c = out_.primary;
    if (d.name == "least_conn") {
      c.balancer = {"least_conn", diagnostics::origin(d)};
    } else if (d.name == "random") {
      random(d);
    } else if (d.name == "hash") {
      hash(d);
    } else if (d.name == "ip_hash") {
      diag_.untranslated(d,
                         "Spillway has no client-address affinity; use affinity key "
                         "cookie or header:<name>; balancing stays round_robin");
    } else if (d.name == "keepalive") {
      keepalive(d);
    } else if (d.name == "keepalive_timeout") {
      auto t = d.args.size() == 1 ? parse_duration_value(d.args[0]) : std::nullopt;
      if (!t || t->count() == 0) return diag_.warn(d, "invalid value; ignored");
      c.pool_idle_timeout = noted{duration_text(*t), diagnostics::origin(d)};
    } else if (d.name == "queue") {
      queue(d);
    } else if (d.name == "sticky") {
      sticky(d);
    } else if (d.name == "zone") {
      c.comments.push_back(fmt::format(
          "line {}: {}: not needed, endpoint state is shared by every worker", d.line, d.text()));
    } else if (d.name == "keepalive_requests" || d.name == "keepalive_time") {
      diag_.untranslated(d, "Spillway keeps pooled connections until pool.idle_timeout");
    } else {
      diag_.untranslated(d, "no Spillway equivalent in a cluster");
    }
  }

  void random(const directive& d) {
    cluster_out& c = out_.primary;
    if (d.args.empty()) {
      c.balancer = {"random", diagnostics::origin(d)};
      return;
    }
    if (d.args[0] != "two") return diag_.warn(d, "invalid arguments; ignored");
    // "random two" picks the less loaded of two random servers (least_conn by default):
    // power of two choices.
    c.balancer = {"p2c", diagnostics::origin(d)};
    if (d.args.size() > 1 && d.args[1] != "least_conn")
      diag_.warn(d, fmt::format("'{}' not translated; p2c compares in-flight requests", d.args[1]));
  }

  void hash(const directive& d) {
    cluster_out& c = out_.primary;
    if (d.args.empty() || d.args.size() > 2 || (d.args.size() == 2 && d.args[1] != "consistent"))
      return diag_.warn(d, "invalid arguments; ignored");
    const std::string& key = d.args[0];
    auto variable = [&](std::string_view prefix) -> std::optional<std::string> {
      if (!key.starts_with(prefix) || key.size() == prefix.size()) return std::nullopt;
      std::string name = key.substr(prefix.size());
      bool plain = std::all_of(name.begin(), name.end(), [](char ch) {
        return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_';
      });
      if (!plain) return std::nullopt;
      return name;
    };
    if (auto header = variable("$http_")) {
      // nginx names $http_x_session_id after the header X-Session-Id.
      std::replace(header->begin(), header->end(), '_', '-');
      c.balancer = {"ring_hash", diagnostics::origin(d)};
      c.affinity_key = noted{"header:" + *header, diagnostics::origin(d)};
    } else if (auto cookie = variable("$cookie_")) {
      c.balancer = {"ring_hash", diagnostics::origin(d)};
      c.affinity_key = noted{"cookie", diagnostics::origin(d)};
      diag_.warn(d, fmt::format("translated to affinity key cookie: Spillway pins clients with its "
                                "own signed cookie 'spillway_affinity' rather than hashing the "
                                "application's cookie '{}'",
                                *cookie));
    } else {
      return diag_.untranslated(d,
                                "Spillway hashes a request header (header:<name>), its own "
                                "cookie, a JWT claim or the prompt prefix; balancing stays "
                                "round_robin");
    }
    if (d.args.size() == 1)
      c.comments.push_back(
          fmt::format("line {}: {}: without 'consistent' nginx remaps most keys "
                      "when servers change; ring_hash remaps few",
                      d.line, d.text()));
  }

  // nginx keeps up to N idle connections per worker for the whole upstream; Spillway's
  // max_idle counts per endpoint and worker, so N is shared out over the endpoints.
  void keepalive(const directive& d) {
    auto n = d.args.size() == 1 ? parse_count(d.args[0], 1'000'000) : std::nullopt;
    if (!n || *n == 0) return diag_.warn(d, "invalid value; ignored");
    size_t endpoints = std::max<size_t>(1, out_.primary.endpoints.size());
    auto per_endpoint = static_cast<uint32_t>((*n + endpoints - 1) / endpoints);
    out_.primary.pool_max_idle =
        noted{std::to_string(per_endpoint),
              endpoints == 1 ? diagnostics::origin(d)
                             : fmt::format("{} (per worker for {} endpoints; Spillway counts "
                                           "per endpoint and worker)",
                                           diagnostics::origin(d), endpoints)};
  }

  // NGINX Plus: queue N [timeout=T].
  void queue(const directive& d) {
    cluster_out& c = out_.primary;
    auto n = d.args.empty() ? std::nullopt : parse_count(d.args[0], 1'000'000);
    if (!n) return diag_.warn(d, "invalid value; ignored");
    c.queue_max_size = noted{std::to_string(*n), diagnostics::origin(d)};
    for (size_t i = 1; i < d.args.size(); ++i) {
      auto t = d.args[i].starts_with("timeout=") ? parse_duration_value(d.args[i].substr(8))
                                                 : std::nullopt;
      if (!t || t->count() == 0)
        diag_.warn(d, fmt::format("'{}' not translated", d.args[i]));
      else
        c.queue_timeout = noted{duration_text(*t), diagnostics::origin(d)};
    }
  }

  // NGINX Plus: sticky cookie name [expires=T] ...
  void sticky(const directive& d) {
    cluster_out& c = out_.primary;
    if (d.args.size() < 2 || d.args[0] != "cookie")
      return diag_.untranslated(d, "only 'sticky cookie' has a Spillway equivalent");
    c.affinity_key = noted{"cookie", diagnostics::origin(d)};
    c.balancer = {"ring_hash", diagnostics::origin(d)};
    c.affinity_cookie_name = noted{d.args[1], diagnostics::origin(d)};
    for (size_t i = 2; i < d.args.size(); ++i) {
      std::string_view a = d.args[i];
      auto t = a.starts_with("expires=") ? parse_duration_value(a.substr(8)) : std::nullopt;
      if (t && t->count() >= 1000)
        c.affinity_cookie_ttl = noted{duration_text(*t), diagnostics::origin(d)};
      else
        diag_.warn(d, fmt::format("sticky parameter '{}' not translated", a));
    }
  }

  void make_backup() {
    const cluster_out& primary = out_.primary;
    cluster_out b;
    b.name = primary.name + "-backup";
    b.note = fmt::format("the 'backup' servers of upstream {}", primary.name);
    b.comments.push_back("used by the routes of " + primary.name +
                         " as fallback_clusters when none of its endpoints is available");
    b.balancer = {"round_robin", "nginx balances backup servers by weighted round robin"};
    b.endpoints = std::move(backups_);
    b.pool_max_idle = primary.pool_max_idle;
    b.pool_idle_timeout = primary.pool_idle_timeout;
    out_.primary.backup = b.name;
    out_.backup = std::move(b);
  }

  const directive& block_;
  diagnostics& diag_;
  upstream_out out_;
  std::vector<endpoint_out> backups_;
  std::vector<failure_params> failures_;
};

}  // namespace

upstream_out read_upstream(const directive& block, diagnostics& diag) {
  return upstream_reader(block, diag).run();
}

}  // namespace spillway::config::nginx
