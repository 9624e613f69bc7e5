// location blocks → routes: the match (prefix, exact, literal regular expressions), the
// proxy_pass target (an upstream, or a one-endpoint cluster for host:port), and the route and
// cluster settings the location inherits (retries, timeouts, rate limits).
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <algorithm>
#include <cctype>

#include "config/nginx_importer.hpp"

namespace spillway::config::nginx {
namespace {

constexpr uint32_t max_attempts = 10;           // the loader's limit for retry.attempts
constexpr uint64_t no_body_limit = 1024 * GiB;  // the loader's largest size

enum class match_kind { prefix, exact, regex, regex_ci, named };

struct location_match {
  match_kind kind = match_kind::prefix;
  std::string path;
};

// location [=|~|~*|^~] uri, with the modifier written apart or stuck to the uri.
std::optional<location_match> read_match(const directive& d) {
  std::string_view mod, path;
  if (d.args.size() == 2) {
    mod = d.args[0];
    path = d.args[1];
  } else if (d.args.size() == 1) {
    path = d.args[0];
    for (std::string_view m : {"^~", "~*", "=", "~"})
      if (path.starts_with(m) && path.size() > m.size()) {
        mod = m;
        path.remove_prefix(m.size());
        break;
      }
  } else {
    return std::nullopt;
  }
  location_match m;
  m.path = std::string(path);
  if (mod.empty() || mod == "^~")
    m.kind = path.starts_with('@') && mod.empty() ? match_kind::named : match_kind::prefix;
  else if (mod == "=")
    m.kind = match_kind::exact;
  else if (mod == "~")
    m.kind = match_kind::regex;
  else if (mod == "~*")
    m.kind = match_kind::regex_ci;
  else
    return std::nullopt;
  return m;
}

// "^/literal/path" (a prefix) or "^/literal/path$" (exact) where the rest holds no regular
// expression operators except escaped ones ("\."); nullopt for anything else.
std::optional<std::pair<std::string, bool>> literal_regex(std::string_view re) {
  if (!re.starts_with("^/")) return std::nullopt;
  re.remove_prefix(1);
  bool exact = false;
  if (re.ends_with('$') && !re.ends_with("\\$")) {
    exact = true;
    re.remove_suffix(1);
  }
  std::string out;
  for (size_t i = 0; i < re.size(); ++i) {
    char c = re[i];
    if (c == '\\' && i + 1 < re.size() &&
        std::string_view(".-/_~").find(re[i + 1]) != std::string_view::npos) {
      out += re[++i];
      continue;
    }
    bool literal = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '/' || c == '_' || c == '-' || c == '~';
    if (!literal) return std::nullopt;
    out += c;
  }
  return std::pair{out, exact};
}

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return s;
}

}  // namespace

void importer::location(const directive& d, const scope& parent, server_ctx& srv) {
  auto m = read_match(d);
  if (!m) return diag_.warn(d, "cannot read the location; ignored");
  std::string path = m->path;
  bool exact = m->kind == match_kind::exact;
  switch (m->kind) {
    case match_kind::named:
      return diag_.untranslated(d, "named locations serve try_files and error_page fallbacks");
    case match_kind::regex_ci:
      return diag_.untranslated(d,
                                "case-insensitive regular expression; Spillway matches "
                                "paths exactly or by prefix");
    case match_kind::regex: {
      auto lit = literal_regex(path);
      if (!lit)
        return diag_.untranslated(d,
                                  "regular expression; Spillway matches paths exactly or by "
                                  "prefix: add a route with path or path_prefix by hand");
      path = lit->first;
      exact = lit->second;
      diag_.warn(d, fmt::format("regular expression translated to {} {}; it now takes its place "
                                "among the prefixes by length instead of nginx's regex order",
                                exact ? "path" : "path_prefix", path));
      break;
    }
    default:
      break;
  }
  if (!path.starts_with('/')) return diag_.warn(d, "the path does not start with '/'; ignored");
  if (std::any_of(path.begin(), path.end(), [](unsigned char c) { return c <= ' ' || c == 0x7f; }))
    return diag_.untranslated(d, "a path with spaces or control characters");

  const directive* pass = nullptr;
  const directive* limit_except = nullptr;
  bool nested = false;
  for (const auto& c : d.block) {
    if (c.name == "proxy_pass" && !pass) pass = &c;
    if (c.name == "limit_except" && c.has_block) limit_except = &c;
    if (c.name == "location" && c.has_block) nested = true;
  }
  if (!pass && !nested) return diag_.untranslated(d, "no proxy_pass here: Spillway only proxies");

  scope sc = parent.inner(d.block);
  for (const auto& c : d.block) {
    if (&c == pass || &c == limit_except) continue;
    if (c.name == "location" && c.has_block) {
      location(c, sc, srv);
    } else if (c.name == "keepalive_timeout") {
      diag_.untranslated(c, "per-location keep-alive; the listener's timeouts.idle applies");
    } else if (scope::inherited(c.name)) {
      continue;
    } else if (c.name == "proxy_pass") {
      diag_.warn(c, "a second proxy_pass; ignored");
    } else if (c.name == "proxy_set_header") {
      proxy_set_header(c);
    } else if (c.name == "access_log") {
      if (c.args.empty() || c.args[0] != "off")
        diag_.untranslated(c, "Spillway has one access log, not one per location");
    } else {
      other(c);
    }
  }
  if (pass) {
    body_limit(sc, srv);
    add_route(d, *pass, path, exact, sc, srv, limit_except);
  }
}

void importer::body_limit(const scope& sc, server_ctx& srv) {
  const directive* d = sc.get("client_max_body_size");
  if (!d) return;
  auto size = d->args.size() == 1 ? parse_size_value(d->args[0]) : std::nullopt;
  if (!size) return diag_.warn(*d, "invalid value; ignored");
  uint64_t bytes = *size == 0 ? no_body_limit : std::min(*size, no_body_limit);
  if (srv.max_body != 0 && bytes != srv.max_body)
    diag_.warn(*d,
               "max_body_bytes is per listener in Spillway; the listener keeps the larger value");
  if (bytes > srv.max_body) {
    srv.max_body = bytes;
    srv.max_body_note = diagnostics::origin(*d) + (*size == 0 ? " (0: no limit)" : "");
  }
}

void importer::add_route(const directive& loc, const directive& pass, std::string path, bool exact,
                         const scope& sc, server_ctx& srv, const directive* limit_except) {
  if (pass.args.size() != 1) return diag_.warn(pass, "expects one URL; location not translated");
  std::string_view url = pass.args[0];
  if (url.find('$') != std::string_view::npos)
    return diag_.untranslated(pass, "proxy_pass with variables; the location is left out");
  bool https = url.starts_with("https://");
  if (https) {
    url.remove_prefix(8);
    diag_.warn(pass,
               "Spillway connects to upstreams in plain HTTP; the route is translated but "
               "the upstream must accept plain HTTP");
  } else if (url.starts_with("http://")) {
    url.remove_prefix(7);
  } else {
    return diag_.untranslated(pass, "only http:// and https:// upstreams");
  }
  size_t slash = url.find('/');
  std::string_view host = url.substr(0, slash);
  std::string_view uri = slash == std::string_view::npos ? std::string_view{} : url.substr(slash);
  auto cluster = cluster_for(pass, host, https);
  if (!cluster) return;
  if (!uri.empty() && uri != path)
    diag_.warn(pass, fmt::format("nginx replaces the matched '{}' with '{}'; Spillway forwards the "
                                 "request path unchanged",
                                 path, uri));

  route_out r;
  r.exact = exact;
  r.path = std::move(path);
  r.line = loc.line;
  r.note = diagnostics::origin(loc);
  if (limit_except) {
    for (const auto& m : limit_except->args) {
      r.methods.push_back(upper(m));
      if (r.methods.back() == "GET") r.methods.push_back("HEAD");  // as nginx
    }
    std::sort(r.methods.begin(), r.methods.end());
    r.methods.erase(std::unique(r.methods.begin(), r.methods.end()), r.methods.end());
    r.methods_note = diagnostics::origin(*limit_except);
    diag_.warn(*limit_except,
               "translated to match.methods; other methods now fall through to "
               "the next matching route (or 404) instead of nginx's 403");
  }
  for (const auto& other_route : out_.routes)
    if (other_route.exact == r.exact && other_route.path == r.path &&
        other_route.methods == r.methods)
      return diag_.warn(loc, fmt::format("the same match as the location on line {} (routes "
                                         "apply to every listener); kept the first",
                                         other_route.line));

  cluster_out& c = out_.clusters[*cluster];
  c.used = true;
  r.cluster = c.name;
  if (!c.backup.empty()) r.fallback_clusters.push_back(c.backup);
  cluster_connect_timeout(c, sc);
  if (!c.backup.empty())
    for (auto& b : out_.clusters)
      if (b.name == c.backup) cluster_connect_timeout(b, sc);
  route_timeouts(r, sc);
  route_retry(r, sc, c);
  route_rate_limit(r, sc);
  route_notes(r, sc);
  r.name = unique_route_name(r.exact ? "exact_" + safe_name(r.path) : safe_name(r.path));
  out_.routes.push_back(std::move(r));
  ++srv.routes;
}

std::optional<size_t> importer::cluster_for(const directive& pass, std::string_view host,
                                            bool https) {
  if (auto it = upstreams_.find(host); it != upstreams_.end()) return it->second;
  if (std::find(dropped_upstreams_.begin(), dropped_upstreams_.end(), host) !=
      dropped_upstreams_.end()) {
    diag_.warn(pass, "its upstream has no usable server; location not translated");
    return std::nullopt;
  }
  if (host.starts_with("unix:")) {
    diag_.untranslated(pass, "Spillway connects to upstreams over TCP only");
    return std::nullopt;
  }
  auto hp = split_host_port(host, https ? 443 : 80);
  if (!hp) {
    diag_.warn(pass, "cannot read the upstream address; location not translated");
    return std::nullopt;
  }
  const std::string address = fmt::format("{}:{}", hp->first, hp->second);
  for (size_t i = 0; i < out_.clusters.size(); ++i) {
    const cluster_out& c = out_.clusters[i];
    if (c.balancer.value.empty() && c.endpoints.size() == 1 && c.endpoints[0].address == address)
      return i;
  }
  cluster_out c;
  std::string base = safe_name(fmt::format("{}_{}", hp->first, hp->second));
  if (hp->first.starts_with('[')) base = "ipv6_" + base;
  c.name = base;
  for (int n = 2; std::any_of(out_.clusters.begin(), out_.clusters.end(),
                              [&](const cluster_out& o) { return o.name == c.name; });
       ++n)
    c.name = fmt::format("{}-{}", base, n);
  c.note = diagnostics::origin(pass) + " (a cluster of one endpoint)";
  c.endpoints.push_back({address, 1, std::nullopt, ""});
  out_.clusters.push_back(std::move(c));
  return out_.clusters.size() - 1;
}

void importer::cluster_connect_timeout(cluster_out& c, const scope& sc) {
  const directive* d = sc.get("proxy_connect_timeout");
  if (!d) return;
  auto t = d->args.size() == 1 ? parse_duration_value(d->args[0]) : std::nullopt;
  if (!t || t->count() == 0) return diag_.warn(*d, "invalid value; ignored");
  if (!c.connect_timeout) {
    c.connect_timeout = noted{duration_text(*t), diagnostics::origin(*d), t->count()};
  } else if (c.connect_timeout->number != t->count()) {
    diag_.warn(*d, fmt::format("connect_timeout is per cluster in Spillway; cluster {} keeps the "
                               "larger value",
                               c.name));
    if (t->count() > c.connect_timeout->number)
      c.connect_timeout = noted{duration_text(*t), diagnostics::origin(*d), t->count()};
  }
}

// nginx's proxy_read_timeout bounds every wait for upstream data, including the wait for the
// response head: Spillway's first_byte and idle timeouts together.
void importer::route_timeouts(route_out& r, const scope& sc) {
  const directive* d = sc.get("proxy_read_timeout");
  if (!d) return;
  auto t = d->args.size() == 1 ? parse_duration_value(d->args[0]) : std::nullopt;
  if (!t || t->count() == 0) return diag_.warn(*d, "invalid value; ignored");
  r.first_byte = noted{duration_text(*t), diagnostics::origin(*d)};
  r.idle = r.first_byte;
  r.timeout_comments.push_back(
      "proxy_read_timeout bounds each wait for upstream data, the response head included");
}

void importer::route_retry(route_out& r, const scope& sc, const cluster_out& c) {
  const directive* next = sc.get("proxy_next_upstream");
  const directive* tries = sc.get("proxy_next_upstream_tries");
  if (!next && !tries) return;
  std::vector<std::string> on;
  auto add = [&](std::string v) {
    if (std::find(on.begin(), on.end(), v) == on.end()) on.push_back(std::move(v));
  };
  bool off = false;
  bool non_idempotent = false;
  const std::vector<std::string> nginx_default = {"error", "timeout"};
  for (const auto& a : next ? next->args : nginx_default) {
    if (a == "error") {
      add("connect_failure");
      add("reset");
    } else if (a == "timeout") {
      add("connect_failure");  // nginx's timeout covers the connect timeout too
      add("timeout");
    } else if (a.starts_with("http_") && a.size() == 8 && a[5] >= '4' && a[5] <= '5') {
      add(a.substr(5));
    } else if (a == "off") {
      off = true;
    } else if (a == "non_idempotent") {
      non_idempotent = true;
    } else {
      diag_.warn(*next, fmt::format("'{}' not translated", a));
    }
  }
  std::vector<std::string> notes;
  if (next) notes.push_back(diagnostics::origin(*next));
  if (tries) notes.push_back(diagnostics::origin(*tries));
  r.retry_note = fmt::format("{}", fmt::join(notes, "; "));
  if (off) {
    r.retry_attempts = 1;
    return;
  }
  r.retry_on = std::move(on);
  // nginx's tries 0 (the default) means "every server once".
  size_t servers = c.endpoints.size();
  if (!c.backup.empty())
    for (const auto& b : out_.clusters)
      if (b.name == c.backup) servers += b.endpoints.size();
  uint64_t n = servers;
  if (tries) {
    auto v = tries->args.size() == 1 ? parse_count_value(tries->args[0], 1'000'000) : std::nullopt;
    if (!v)
      diag_.warn(*tries, "invalid value; ignored");
    else if (*v != 0)
      n = *v;
  }
  if (n > max_attempts) {
    diag_.warn(tries ? *tries : *next,
               fmt::format("{} tries: Spillway allows at most {} attempts", n, max_attempts));
    n = max_attempts;
  }
  r.retry_attempts = static_cast<uint32_t>(std::max<uint64_t>(n, 1));
  if (!non_idempotent)
    r.retry_comments.push_back(
        "nginx retries POST and other non-idempotent requests only after a "
        "connect failure; Spillway retries them too while nothing has reached "
        "the client");
}

void importer::route_rate_limit(route_out& r, const scope& sc) {
  const directive* d = sc.get("limit_req");
  if (!d) return;
  std::string zone;
  std::optional<uint32_t> burst;
  bool nodelay = false;
  for (const auto& a : d->args) {
    if (a.starts_with("zone=")) zone = a.substr(5);
    if (a.starts_with("burst=")) {
      auto b = parse_count_value(std::string_view(a).substr(6), 1'000'000'000);
      if (b)
        burst = static_cast<uint32_t>(*b);
      else
        diag_.warn(*d, fmt::format("invalid '{}'; ignored", a));
    }
    if (a == "nodelay") nodelay = true;
  }
  auto it = zones_.find(zone);
  if (it == zones_.end()) return diag_.warn(*d, "no limit_req_zone by that name; not translated");
  if (it->second.key.empty())
    return diag_.untranslated(*it->second.where,
                              "Spillway keys rate limits on the client "
                              "address or a request header");
  rate_limit_out rl;
  rl.key = it->second.key;
  rl.rate = it->second.rate;
  if (burst && *burst > 0) rl.burst = burst;
  rl.note = fmt::format("{}; line {}: {}", diagnostics::origin(*d), it->second.where->line,
                        it->second.where->text());
  if (!nodelay)
    diag_.warn(*d,
               "nginx delays requests beyond the rate (no nodelay); Spillway refuses them "
               "with 429 and Retry-After");
  r.rate_limit = std::move(rl);
}

void importer::route_notes(route_out& r, const scope& sc) {
  for (const char* name : {"proxy_buffering", "proxy_request_buffering"})
    if (const directive* d = sc.get(name))
      r.comments.push_back(
          fmt::format("line {}: {}: Spillway always streams request and "
                      "response bodies",
                      d->line, d->text()));
  if (const directive* d = sc.get("proxy_http_version"))
    if (d->args.size() != 1 || d->args[0] != "1.1")
      diag_.untranslated(*d, "Spillway always speaks HTTP/1.1 with keep-alive to upstreams");
}

std::string importer::unique_route_name(std::string base) const {
  std::string name = base;
  for (int n = 2; std::any_of(out_.routes.begin(), out_.routes.end(),
                              [&](const route_out& r) { return r.name == name; });
       ++n)
    name = fmt::format("{}_{}", base, n);
  return name;
}

}  // namespace spillway::config::nginx
