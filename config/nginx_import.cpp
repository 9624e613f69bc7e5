// import_nginx: parse → walk main/http/server (this file) and locations (nginx_location.cpp)
// → write YAML (nginx_emit.cpp) → validate the result with the configuration loader.
#include "config/nginx_import.hpp"

#include <fmt/format.h>
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <span>
#include <sstream>

#include "config/loader.hpp"
#include "config/nginx_importer.hpp"

namespace spillway::config {
namespace nginx {
namespace {

constexpr std::string_view inherited_names[] = {
    "proxy_next_upstream",
    "proxy_next_upstream_tries",
    "proxy_connect_timeout",
    "proxy_read_timeout",
    "proxy_buffering",
    "proxy_request_buffering",
    "client_max_body_size",
    "large_client_header_buffers",
    "client_header_timeout",
    "keepalive_timeout",
    "http2",
    "http2_max_concurrent_streams",
    "ssl_certificate",
    "ssl_certificate_key",
    "limit_req",
    "proxy_http_version",
};

// Main-context settings of the nginx process that mean nothing to Spillway.
constexpr std::string_view process_settings[] = {
    "user",
    "pid",
    "worker_rlimit_nofile",
    "load_module",
    "daemon",
    "master_process",
    "pcre_jit",
    "thread_pool",
    "env",
    "worker_cpu_affinity",
    "worker_priority",
    "lock_file",
    "timer_resolution",
    "working_directory",
    "worker_rlimit_core",
    "ssl_engine",
    "debug_points",
};

struct reason {
  std::string_view name;
  bool prefix;
  std::string_view why;
};

constexpr std::string_view no_static =
    "Spillway only proxies: it does not serve files, rewrite or answer requests itself";
constexpr std::string_view tuning = "buffer and socket tuning with no Spillway equivalent";

constexpr reason reasons[] = {
    {"gzip", true,
     "compression is set per route (routes[].compression) and never applies to event streams"},
    {"proxy_cache", true,
     "Spillway's cache is set per route (routes[].cache) and keyed on the request body"},
    {"add_header", false, "Spillway does not add response headers"},
    {"proxy_hide_header", false, "Spillway forwards upstream headers except hop-by-hop ones"},
    {"proxy_pass_header", false, "Spillway forwards upstream headers except hop-by-hop ones"},
    {"proxy_ignore_headers", false, "Spillway forwards upstream headers except hop-by-hop ones"},
    {"rewrite", false, no_static},
    {"return", false, no_static},
    {"try_files", false, no_static},
    {"root", false, no_static},
    {"alias", false, no_static},
    {"index", false, no_static},
    {"autoindex", false, no_static},
    {"error_page", false,
     "Spillway answers proxy errors itself (JSON with Retry-After); see "
     "routes[].fallback_response"},
    {"if", false, "conditions are not translated"},
    {"set", false, "variables are not translated"},
    {"map", false, "variables are not translated"},
    {"geo", false, "variables are not translated"},
    {"split_clients", false,
     "variables are not translated; routes[].clusters splits traffic by weight"},
    {"allow", false, "Spillway has no access control"},
    {"deny", false, "Spillway has no access control"},
    {"satisfy", false, "Spillway has no access control"},
    {"auth_", true, "Spillway has no access control"},
    {"proxy_ssl_", true, "Spillway connects to upstreams in plaintext"},
    {"ssl_", true, "TLS settings other than the certificate and key are not translated"},
    {"resolver", true, "Spillway uses the system resolver and re-resolves host names every 30 s"},
    {"proxy_send_timeout", false, "Spillway has no upstream send timeout"},
    {"client_body_timeout", false, "Spillway has no request-body read timeout"},
    {"send_timeout", false, "Spillway has no client send timeout"},
    {"proxy_next_upstream_timeout", false,
     "retries have no deadline of their own; routes[].timeouts.total bounds the whole exchange"},
    {"keepalive_requests", false, "Spillway does not cap requests per client connection"},
    {"limit_conn", true,
     "per-key connection limits are not translated; see listeners[].limits.max_connections and "
     "clusters[].max_concurrent"},
    {"limit_req_status", false, "Spillway refuses with 429 and Retry-After"},
    {"grpc_", true, "Spillway proxies HTTP only"},
    {"fastcgi_", true, "Spillway proxies HTTP only"},
    {"uwsgi_", true, "Spillway proxies HTTP only"},
    {"scgi_", true, "Spillway proxies HTTP only"},
    {"memcached_", true, "Spillway proxies HTTP only"},
    {"log_format", false, "Spillway's access log format is json or text"},
    {"error_log", false, "Spillway logs to stderr"},
    {"proxy_redirect", false, "Spillway does not rewrite Location headers"},
    {"proxy_cookie_", true, "Spillway does not rewrite cookies"},
    {"sub_filter", true, "Spillway does not rewrite response bodies"},
    {"real_ip_", true,
     "Spillway takes the client address from the connection and appends it to X-Forwarded-For"},
    {"set_real_ip_from", false,
     "Spillway takes the client address from the connection and appends it to X-Forwarded-For"},
    {"stub_status", false, "Spillway's metrics are on the admin listener (GET /metrics)"},
    {"proxy_temp", true, "Spillway streams bodies and never buffers them to disk"},
    {"proxy_max_temp_file_size", false, "Spillway streams bodies and never buffers them to disk"},
    {"sendfile", false, tuning},
    {"tcp_nopush", false, tuning},
    {"tcp_nodelay", false, tuning},
    {"types", false, no_static},
    {"default_type", false, no_static},
    {"charset", false, no_static},
    {"server_tokens", false, "Spillway adds a Via header naming itself"},
    {"open_file_cache", true, no_static},
    {"types_hash", true, tuning},
    {"server_names_hash", true, tuning},
    {"proxy_buffer", true, tuning},
    {"proxy_busy_buffers_size", false, tuning},
    {"client_body_buffer_size", false, tuning},
    {"client_header_buffer_size", false, tuning},
    {"output_buffers", false, tuning},
    {"postpone_output", false, tuning},
    {"reset_timedout_connection", false, tuning},
    {"lingering_", true, tuning},
    {"underscores_in_headers", false, "Spillway accepts any RFC 9110 header name"},
    {"ignore_invalid_headers", false, "Spillway rejects malformed headers"},
    {"worker_connections", false,
     "Spillway has no per-worker connection cap; listeners[].limits.max_connections caps client "
     "connections"},
    {"multi_accept", false, tuning},
    {"use", false, tuning},
    {"accept_mutex", true, "each Spillway worker has its own SO_REUSEPORT socket"},
};

std::string_view reason_for(std::string_view name) {
  for (const auto& r : reasons)
    if (r.prefix ? name.starts_with(r.name) : name == r.name) return r.why;
  return "no Spillway equivalent";
}

bool contains(std::span<const std::string_view> list, std::string_view name) {
  return std::find(list.begin(), list.end(), name) != list.end();
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Keeps the larger of two settings (a listener shared by server blocks, or a per-location
// value on a per-listener key), so nothing nginx accepted is refused.
void merge_larger(opt_noted& slot, noted value, diagnostics& diag, const directive& d,
                  std::string_view key) {
  if (!slot) {
    slot = std::move(value);
    return;
  }
  if (slot->number == value.number) return;
  diag.warn(
      d, fmt::format("{} is per listener in Spillway; the listener keeps the larger value", key));
  if (value.number > slot->number) slot = std::move(value);
}

}  // namespace

// ---------------------------------------------------------------- scope

bool scope::inherited(std::string_view name) {
  return contains(inherited_names, name);
}

scope scope::inner(const std::vector<directive>& block) const {
  scope s = *this;
  std::vector<std::string_view> own;
  for (const auto& d : block) {
    if (!inherited(d.name) || contains(own, d.name)) continue;  // the first one counts
    own.push_back(d.name);
    auto it = std::find_if(s.set_.begin(), s.set_.end(),
                           [&](const auto& e) { return e.first == d.name; });
    if (it != s.set_.end())
      it->second = &d;
    else
      s.set_.emplace_back(d.name, &d);
  }
  return s;
}

const directive* scope::get(std::string_view name) const {
  for (const auto& [n, d] : set_)
    if (n == name) return d;
  return nullptr;
}

// ---------------------------------------------------------------- importer: outer contexts

config_out importer::run(const std::vector<directive>& main) {
  main_context(main);
  finish();
  return std::move(out_);
}

void importer::main_context(const std::vector<directive>& block) {
  std::vector<directive> http_level;  // a file of http-level directives (conf.d/*.conf)
  for (const auto& d : block) {
    if (d.name == "http" && d.has_block) {
      http(d.block, scope{});
    } else if (d.name == "worker_processes" && d.args.size() == 1 &&
               (d.args[0] == "auto" || all_digits(d.args[0]))) {
      out_.workers = noted{d.args[0], diagnostics::origin(d)};
    } else if (d.name == "worker_shutdown_timeout" && d.args.size() == 1 &&
               parse_duration_value(d.args[0])) {
      auto t = *parse_duration_value(d.args[0]);
      out_.drain_timeout = noted{duration_text(t), diagnostics::origin(d)};
    } else if (d.name == "events" && d.has_block) {
      for (const auto& e : d.block) diag_.untranslated(e, reason_for(e.name));
    } else if ((d.name == "stream" || d.name == "mail") && d.has_block) {
      diag_.untranslated(d, "Spillway proxies HTTP only; the whole block is left out");
    } else if (d.name == "include") {
      diag_.warn(d, "not followed: translate the included file on its own, or paste it in");
    } else if (contains(process_settings, d.name) || d.name == "error_log") {
      diag_.untranslated(d, d.name == "error_log" ? reason_for(d.name) : "nginx process setting");
    } else {
      http_level.push_back(d);
    }
  }
  if (!http_level.empty()) http(http_level, scope{});
}

void importer::http(const std::vector<directive>& block, const scope& parent) {
  scope sc = parent.inner(block);
  for (const auto& d : block)
    if (d.name == "limit_req_zone") limit_req_zone(d);
  for (const auto& d : block)
    if (d.name == "upstream" && d.has_block) add_upstream(d);
  for (const auto& d : block)
    if (d.name == "server" && d.has_block) server(d, sc);
  for (const auto& d : block) {
    if (d.name == "limit_req_zone" || (d.has_block && (d.name == "upstream" || d.name == "server")))
      continue;
    http_directive(d);
  }
}

void importer::http_directive(const directive& d) {
  if (scope::inherited(d.name)) return;  // read where it applies
  if (d.name == "access_log") return access_log(d);
  if (d.name == "proxy_set_header") return proxy_set_header(d);
  other(d);
}

void importer::other(const directive& d) {
  if (d.name == "include")
    return diag_.warn(d, "not followed: translate the included file on its own, or paste it in");
  if (d.name == "location" || d.name == "server" || d.name == "upstream")
    return diag_.warn(d, "not allowed here; ignored");
  diag_.untranslated(d, reason_for(d.name));
}

void importer::proxy_set_header(const directive& d) {
  if (d.args.size() != 2) return diag_.warn(d, "expects a name and a value; ignored");
  std::string name = d.args[0];
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const std::string& value = d.args[1];
  // What Spillway does anyway: keep-alive upstream connections, the client's Host,
  // X-Forwarded-For with the client appended, X-Forwarded-Proto.
  bool same = (name == "connection" && value.empty()) ||
              (name == "host" && (value == "$host" || value == "$http_host")) ||
              (name == "x-forwarded-for" && value == "$proxy_add_x_forwarded_for") ||
              (name == "x-forwarded-proto" && value == "$scheme");
  if (same) return;
  if (name == "x-real-ip")
    return diag_.untranslated(d, "Spillway sends the client address in X-Forwarded-For");
  diag_.untranslated(d,
                     "Spillway forwards the client's headers (Host included) and adds "
                     "X-Forwarded-For, X-Forwarded-Proto and Via; it sets no others");
}

void importer::access_log(const directive& d) {
  if (d.args.empty()) return diag_.warn(d, "expects a path; ignored");
  if (d.args[0] == "off") return;
  if (!first_access_log_.empty()) {
    if (d.args[0] != first_access_log_)
      diag_.untranslated(d, "Spillway has one access log; the first one is kept");
    return;
  }
  first_access_log_ = d.args[0];
  std::string path = d.args[0];
  if (path.starts_with("syslog:"))
    return diag_.untranslated(d, "Spillway logs to stdout, stderr or a file");
  if (path == "/dev/stdout") path = "stdout";
  if (path == "/dev/stderr") path = "stderr";
  out_.access_log_path = noted{path, diagnostics::origin(d)};
  if (d.args.size() > 1)
    out_.access_log_path->note +=
        fmt::format(" (log_format {} becomes Spillway's text format)", d.args[1]);
}

void importer::limit_req_zone(const directive& d) {
  limit_zone z;
  z.where = &d;
  std::string name;
  for (size_t i = 0; i < d.args.size(); ++i) {
    std::string_view a = d.args[i];
    if (i == 0) {
      if (a == "$binary_remote_addr" || a == "$remote_addr")
        z.key = "client_address";
      else if (a.starts_with("$http_") && a.size() > 6) {
        std::string h(a.substr(6));
        std::replace(h.begin(), h.end(), '_', '-');
        z.key = "header:" + h;
      }
    } else if (a.starts_with("zone=")) {
      std::string_view zone = a.substr(5);
      name = std::string(zone.substr(0, zone.find(':')));
    } else if (a.starts_with("rate=") && (a.ends_with("r/s") || a.ends_with("r/m"))) {
      std::string_view n = a.substr(5, a.size() - 8);
      if (all_digits(n)) z.rate = fmt::format("{}/{}", n, a.back());
    }
  }
  if (name.empty() || z.rate.empty()) return diag_.warn(d, "cannot read zone= and rate=; ignored");
  zones_[name] = std::move(z);
}

void importer::add_upstream(const directive& d) {
  upstream_out u = read_upstream(d, diag_);
  const std::string nginx_name = d.args.empty() ? std::string() : d.args[0];
  if (upstreams_.count(nginx_name)) return diag_.warn(d, "duplicate upstream name; ignored");
  if (u.primary.endpoints.empty()) {
    diag_.warn(d, "has no usable server; routes to it are not translated");
    dropped_upstreams_.push_back(nginx_name);
    return;
  }
  upstreams_[nginx_name] = out_.clusters.size();
  out_.clusters.push_back(std::move(u.primary));
  if (u.backup) out_.clusters.push_back(std::move(*u.backup));
}

void importer::server(const directive& d, const scope& parent) {
  scope sc = parent.inner(d.block);
  server_ctx srv;
  srv.block = &d;
  const size_t routes_before = out_.routes.size();
  std::vector<const directive*> listens;
  bool tls_on = false;
  body_limit(sc, srv);
  for (const auto& c : d.block) {
    if (c.name == "listen") {
      listens.push_back(&c);
    } else if (c.name == "location" && c.has_block) {
      location(c, sc, srv);
    } else if (c.name == "ssl" && c.args.size() == 1) {
      tls_on = c.args[0] == "on";
    } else if (c.name == "server_name") {
      // Only matters when server blocks share a listener; reported in finish().
    } else if (scope::inherited(c.name)) {
      continue;
    } else if (c.name == "access_log") {
      access_log(c);
    } else if (c.name == "proxy_set_header") {
      proxy_set_header(c);
    } else {
      other(c);
    }
  }
  srv.routes = out_.routes.size() - routes_before;
  if (srv.routes == 0) {
    diag_.warn_line(d.line, "server",
                    "has no location with proxy_pass; its listen addresses are not translated");
    return;
  }
  if (listens.empty()) {
    diag_.warn_line(d.line, "server", "has no listen directive; using nginx's default 0.0.0.0:80");
    directive implicit;
    implicit.name = "listen";
    implicit.args = {"80"};
    implicit.line = d.line;
    listen(implicit, sc, srv, tls_on);
  }
  for (const directive* l : listens) listen(*l, sc, srv, tls_on);
  servers_with_routes_.push_back(srv);
}

void importer::listen(const directive& d, const scope& sc, const server_ctx& srv, bool tls_on) {
  if (d.args.empty()) return diag_.warn(d, "expects an address; ignored");
  std::string_view addr = d.args[0];
  if (addr.starts_with("unix:"))
    return diag_.untranslated(d, "Spillway listens on TCP addresses only");
  std::string host;
  uint16_t port = 0;
  if (all_digits(addr)) {
    auto hp = split_host_port(fmt::format("*:{}", addr), 80);
    if (!hp) return diag_.warn(d, "invalid port; ignored");
    port = hp->second;
  } else {
    auto hp = split_host_port(addr, 80);
    if (!hp) return diag_.warn(d, "cannot read the address; ignored");
    host = hp->first == "*" || hp->first == "0.0.0.0" ? "" : hp->first;
    port = hp->second;
  }
  bool v6_wildcard = host == "[::]";
  if (v6_wildcard) host.clear();
  bool http2 = false;
  for (size_t i = 1; i < d.args.size(); ++i) {
    std::string_view p = d.args[i];
    if (p == "ssl") {
      tls_on = true;
    } else if (p == "http2") {
      http2 = true;
    } else if (p == "default_server" || p == "default" || p == "reuseport" ||
               p.starts_with("ipv6only=")) {
      // default_server: Spillway's routes apply on every listener. reuseport: always on.
    } else {
      diag_.warn(d, fmt::format("listen parameter '{}' not translated", p));
    }
  }
  listener_out& l = out_.listeners[listener_for(d, host, port, v6_wildcard)];
  if (std::find(l.server_lines.begin(), l.server_lines.end(), srv.block->line) ==
      l.server_lines.end())
    l.server_lines.push_back(srv.block->line);
  if (http2) l.http2 = noted{"true", diagnostics::origin(d)};
  if (const directive* h = sc.get("http2"); h && h->args.size() == 1 && h->args[0] == "on")
    l.http2 = noted{"true", diagnostics::origin(*h)};
  if (tls_on) {
    const directive* cert = sc.get("ssl_certificate");
    const directive* key = sc.get("ssl_certificate_key");
    if (!cert || !key || cert->args.size() != 1 || key->args.size() != 1) {
      diag_.warn(d, "TLS without ssl_certificate and ssl_certificate_key; TLS not translated");
    } else {
      l.tls_certificate = noted{cert->args[0], diagnostics::origin(*cert)};
      l.tls_private_key = noted{key->args[0], diagnostics::origin(*key)};
    }
  }
  listener_settings(l, sc, srv);
}

// The listener on host:port, made on first use. nginx may bind a wildcard and a specific
// address on one port (it then listens on the wildcard only); Spillway rejects the pair, so
// they become one wildcard listener. "[::]:80" beside "*:80" becomes one "[::]:80", which on
// Linux (net.ipv6.bindv6only=0) accepts IPv4 as well.
size_t importer::listener_for(const directive& d, std::string host, uint16_t port,
                              bool v6_wildcard) {
  for (size_t i = 0; i < out_.listeners.size(); ++i) {
    listener_out& l = out_.listeners[i];
    if (l.port != port) continue;
    if (l.host == host) {
      if (host.empty() && v6_wildcard != l.ipv6_wildcard && !l.ipv6_wildcard) {
        l.ipv6_wildcard = true;
        l.note += fmt::format("; line {}: {} (one [::] socket takes IPv4 and IPv6 on Linux)",
                              d.line, d.text());
      }
      return i;
    }
    if (l.host.empty() || host.empty()) {
      diag_.warn(d, fmt::format("shares port {} with a wildcard listen; Spillway listens on the "
                                "wildcard address only",
                                port));
      if (host.empty()) {
        l.host.clear();
        l.ipv6_wildcard = v6_wildcard;
        l.note = diagnostics::origin(d);
      }
      return i;
    }
  }
  listener_out l;
  l.host = std::move(host);
  l.port = port;
  l.ipv6_wildcard = v6_wildcard;
  l.note = diagnostics::origin(d);
  l.name = l.host.empty() ? fmt::format("listen_{}", port)
                          : safe_name(fmt::format("listen_{}_{}", l.host, port));
  out_.listeners.push_back(std::move(l));
  return out_.listeners.size() - 1;
}

void importer::listener_settings(listener_out& l, const scope& sc, const server_ctx& srv) {
  if (srv.max_body > l.max_body_bytes) {
    if (l.max_body_bytes != 0)
      diag_.warn_line(srv.block->line, "client_max_body_size",
                      "differs between server blocks on one listener; the larger one is kept");
    l.max_body_bytes = srv.max_body;
    l.max_body_note = srv.max_body_note;
  }
  if (const directive* d = sc.get("large_client_header_buffers")) {
    uint64_t n = d->args.size() == 2 ? parse_count_value(d->args[0], 1024).value_or(0) : 0;
    auto size = d->args.size() == 2 ? parse_size_value(d->args[1]) : std::nullopt;
    if (n == 0 || n > 1024 || !size) {
      diag_.warn(*d, "invalid value; ignored");
    } else {
      uint64_t total = std::max<uint64_t>(n * *size, KiB);
      merge_larger(
          l.max_header_bytes,
          {size_text(total), diagnostics::origin(*d) + " (Spillway limits the whole request head)",
           static_cast<int64_t>(total)},
          diag_, *d, "max_header_bytes");
    }
  }
  if (const directive* d = sc.get("http2_max_concurrent_streams")) {
    auto n = d->args.size() == 1 ? parse_count_value(d->args[0], 10'000) : std::nullopt;
    if (!n || *n == 0)
      diag_.warn(*d, "invalid value (Spillway takes 1..10000); ignored");
    else
      merge_larger(l.http2_max_concurrent_streams,
                   {std::to_string(*n), diagnostics::origin(*d), static_cast<int64_t>(*n)}, diag_,
                   *d, "http2_max_concurrent_streams");
  }
  if (const directive* d = sc.get("client_header_timeout")) {
    auto t = d->args.size() == 1 ? parse_duration_value(d->args[0]) : std::nullopt;
    if (!t || t->count() == 0)
      diag_.warn(*d, "invalid value; ignored");
    else
      merge_larger(l.header_timeout, {duration_text(*t), diagnostics::origin(*d), t->count()},
                   diag_, *d, "timeouts.header");
  }
  if (const directive* d = sc.get("keepalive_timeout")) {
    auto t = d->args.empty() ? std::nullopt : parse_duration_value(d->args[0]);
    if (!t) {
      diag_.warn(*d, "invalid value; ignored");
    } else if (t->count() == 0) {
      diag_.untranslated(*d, "Spillway always keeps client connections alive");
    } else {
      merge_larger(l.idle_timeout, {duration_text(*t), diagnostics::origin(*d), t->count()}, diag_,
                   *d, "timeouts.idle");
      if (d->args.size() > 1)
        diag_.warn(*d, "the Keep-Alive header timeout (second value) is not translated");
    }
  }
}

// ---------------------------------------------------------------- finishing

void importer::finish() {
  for (const auto& l : out_.listeners)
    if (l.server_lines.size() > 1)
      for (int line : l.server_lines)
        diag_.warn_line(line, "server",
                        fmt::format("shares {} with another server block: Spillway routes do "
                                    "not match server_name; their routes are merged (add "
                                    "match.headers {{host: ...}} by hand to separate them)",
                                    l.address()));
  if (out_.listeners.size() > 1 && servers_with_routes_.size() > 1)
    for (const auto& s : servers_with_routes_)
      diag_.warn_line(s.block->line, "server",
                      "Spillway's routes apply to every listener: this server's locations "
                      "also answer on the other servers' ports");
  order_routes();
  // The admin listener: the first free port from 9901 on loopback.
  uint16_t port = 9901;
  while (std::any_of(out_.listeners.begin(), out_.listeners.end(), [&](const listener_out& l) {
    return l.port == port &&
           (l.host.empty() || l.host.starts_with("127.") || l.host == "localhost");
  }))
    ++port;
  out_.admin_address = fmt::format("127.0.0.1:{}", port);
}

// nginx picks an exact location first, then the longest matching prefix; Spillway takes the
// first route that matches, so exact paths go first and prefixes longest first.
void importer::order_routes() {
  std::stable_sort(out_.routes.begin(), out_.routes.end(),
                   [](const route_out& a, const route_out& b) {
                     if (a.exact != b.exact) return a.exact;
                     return a.path.size() > b.path.size();
                   });
}

}  // namespace nginx

// ---------------------------------------------------------------- entry points

namespace {

import_result translate(std::string_view text, const std::string& file_name) {
  import_result result;
  nginx::parse_result parsed = nginx::parse(text, file_name);
  if (!parsed.ok()) {
    result.errors.push_back(parsed.error);
    return result;
  }
  nginx::importer imp(file_name);
  nginx::config_out out = imp.run(parsed.directives);
  result.warnings = imp.diag().take();
  if (out.routes.empty() || out.listeners.empty()) {
    result.errors.push_back(fmt::format(
        "{}: nothing to translate: no server block has a location with proxy_pass", file_name));
    return result;
  }
  std::vector<std::string> header = {
      fmt::format("Spillway configuration translated from {} by `spillway import-nginx`.",
                  file_name),
      "Each value notes the nginx line it came from. What nginx did not set keeps Spillway's",
      "defaults (docs/configuration.md), which differ from nginx's: connect_timeout 2s (nginx "
      "60s),",
      "listeners' max_body_bytes 32MiB (nginx 1m), retries on connect failures, 2 attempts.",
      "Check it with: spillway --check-config FILE",
      "",
  };
  result.yaml = nginx::write_yaml(nginx::to_yaml(out), header);

  // The translation must load; a failure here is a bug in the importer or a value that only
  // the target machine can satisfy (TLS files), which is reported as a warning.
  const std::string generated = "generated configuration";
  load_result check = load_string(result.yaml, generated);
  for (const auto& e : check.errors) {
    if (e.where.key.find(".tls.") != std::string::npos)
      result.warnings.push_back(e.to_string() + " (the file must exist where Spillway runs)");
    else
      result.errors.push_back(e.to_string());
  }
  for (const auto& w : check.warnings) result.warnings.push_back(w.to_string());
  return result;
}

}  // namespace

import_result import_nginx(std::string_view text, const std::string& file_name) {
  try {
    return translate(text, file_name);
  } catch (const std::exception& e) {  // out of memory; nothing else throws here
    import_result r;
    r.errors.push_back(
        fmt::format("{}: internal error while translating: {}", file_name, e.what()));
    return r;
  }
}

import_result import_nginx_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    import_result r;
    r.errors.push_back(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
    return r;
  }
  std::ostringstream text;
  text << in.rdbuf();
  return import_nginx(text.str(), path);
}

}  // namespace spillway::config
