#include "proxy/server/restart_check.hpp"

#include <fmt/format.h>

namespace spillway::server {

namespace {

std::string workers_text(uint32_t n) {
  return n == 0 ? "auto" : std::to_string(n);
}

// Certificate and key files reload; turning TLS on or off needs a restart.
std::string tls_text(const std::optional<config::tls_config>& t) {
  return t ? "on" : "none";
}

void compare_listener(std::vector<std::string>& out, size_t i, const config::listener_config& a,
                      const config::listener_config& b) {
  auto differs = [&](std::string_view key, const std::string& before, const std::string& after) {
    if (before != after)
      out.push_back(
          fmt::format("listeners[{}].{}: {} -> {} needs a restart", i, key, before, after));
  };
  differs("name", a.name, b.name);
  differs("address", a.address, b.address);
  differs("http2", a.http2 ? "true" : "false", b.http2 ? "true" : "false");
  differs("tls", tls_text(a.tls), tls_text(b.tls));
  differs("limits.max_connections", std::to_string(a.limits.max_connections),
          std::to_string(b.limits.max_connections));
  differs("limits.max_header_bytes", std::to_string(a.limits.max_header_bytes),
          std::to_string(b.limits.max_header_bytes));
  differs("limits.max_body_bytes", std::to_string(a.limits.max_body_bytes),
          std::to_string(b.limits.max_body_bytes));
  differs("limits.http2_max_concurrent_streams",
          std::to_string(a.limits.http2_max_concurrent_streams),
          std::to_string(b.limits.http2_max_concurrent_streams));
  differs("limits.http2_stream_window", std::to_string(a.limits.http2_stream_window),
          std::to_string(b.limits.http2_stream_window));
  differs("limits.http2_connection_window", std::to_string(a.limits.http2_connection_window),
          std::to_string(b.limits.http2_connection_window));
  differs("timeouts.header", fmt::format("{}ms", a.timeouts.header.count()),
          fmt::format("{}ms", b.timeouts.header.count()));
  differs("timeouts.idle", fmt::format("{}ms", a.timeouts.idle.count()),
          fmt::format("{}ms", b.timeouts.idle.count()));
}

}  // namespace

std::vector<std::string> needs_restart(const config::proxy_config& running,
                                       const config::proxy_config& loaded) {
  std::vector<std::string> out;
  if (running.workers != loaded.workers)
    out.push_back(fmt::format("workers: {} -> {} needs a restart", workers_text(running.workers),
                              workers_text(loaded.workers)));
  const size_t common = std::min(running.listeners.size(), loaded.listeners.size());
  for (size_t i = 0; i < common; ++i)
    compare_listener(out, i, running.listeners[i], loaded.listeners[i]);
  for (size_t i = common; i < loaded.listeners.size(); ++i)
    out.push_back(fmt::format("listeners[{}]: new listener {} on {} needs a restart", i,
                              loaded.listeners[i].name, loaded.listeners[i].address));
  for (size_t i = common; i < running.listeners.size(); ++i)
    out.push_back(fmt::format("listeners[{}]: removing listener {} on {} needs a restart", i,
                              running.listeners[i].name, running.listeners[i].address));
  const std::string admin_before = running.admin ? running.admin->address : "none";
  const std::string admin_after = loaded.admin ? loaded.admin->address : "none";
  if (admin_before != admin_after)
    out.push_back(
        fmt::format("admin.address: {} -> {} needs a restart", admin_before, admin_after));
  auto log_text = [](const std::optional<config::access_log_config>& l) {
    return l ? fmt::format("{} ({})", l->path,
                           l->format == config::access_log_format::json ? "json" : "text")
             : std::string("none");
  };
  if (log_text(running.access_log) != log_text(loaded.access_log))
    out.push_back(fmt::format("access_log: {} -> {} needs a restart", log_text(running.access_log),
                              log_text(loaded.access_log)));
  return out;
}

}  // namespace spillway::server
