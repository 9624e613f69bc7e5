// Top level of the configuration file, listeners, admin, cache and access log (SPEC §2.1).
#include <fmt/format.h>

#include "config/sections.hpp"
#include "config/values.hpp"

namespace spillway::config::detail {
namespace {

constexpr uint32_t max_workers = 1024;

void read_workers(reader& r, const node_ref& v, uint32_t& out) {
  auto t = r.text(v);
  if (!t) return;
  if (*t == "auto") {
    out = 0;
    return;
  }
  auto n = parse_uint(*t);
  if (!n || *n.value < 1 || *n.value > max_workers)
    r.error(v,
            fmt::format("expected auto or a number of threads 1..{}, got '{}'", max_workers, *t));
  else
    out = static_cast<uint32_t>(*n.value);
}

void read_tls(reader& r, const node_ref& n, tls_config& out) {
  auto seen =
      r.fields(n, {
                      {"certificate", [&](auto& v) { r.read_file_path(v, out.certificate); }},
                      {"private_key", [&](auto& v) { r.read_file_path(v, out.private_key); }},
                  });
  r.require(n, seen, {"certificate", "private_key"});
}

void read_limits(reader& r, const node_ref& n, listener_limits& out) {
  r.fields(n,
           {
               {"max_connections", [&](auto& v) { r.read(v, out.max_connections, 1, 10'000'000); }},
               {"max_header_bytes", [&](auto& v) { r.read_size(v, out.max_header_bytes, 1024); }},
               {"max_body_bytes", [&](auto& v) { r.read_size(v, out.max_body_bytes); }},
               {"http2_max_concurrent_streams",
                [&](auto& v) { r.read(v, out.http2_max_concurrent_streams, 1, 10'000); }},
               // RFC 9113 §6.9.1: a window is at most 2^31-1.
               {"http2_stream_window",
                [&](auto& v) { r.read_size(v, out.http2_stream_window, 1024, 0x7fffffff); }},
               {"http2_connection_window",
                [&](auto& v) { r.read_size(v, out.http2_connection_window, 65535, 0x7fffffff); }},
           });
}

void read_listener_timeouts(reader& r, const node_ref& n, listener_timeouts& out) {
  r.fields(n, {
                  {"header", [&](auto& v) { r.read_duration(v, out.header); }},
                  {"idle", [&](auto& v) { r.read_duration(v, out.idle); }},
                  {"send_stall", [&](auto& v) { r.read_duration(v, out.send_stall); }},
              });
}

void read_listener(reader& r, const node_ref& n, listener_config& out) {
  auto seen =
      r.fields(n, {
                      {"name", [&](auto& v) { r.read_name(v, out.name); }},
                      {"address", [&](auto& v) { r.read_address(v, out.address, false); }},
                      {"http2", [&](auto& v) { r.read(v, out.http2); }},
                      {"tls", [&](auto& v) { read_tls(r, v, out.tls.emplace()); }},
                      {"limits", [&](auto& v) { read_limits(r, v, out.limits); }},
                      {"timeouts", [&](auto& v) { read_listener_timeouts(r, v, out.timeouts); }},
                  });
  r.require(n, seen, {"name", "address"});
}

void read_admin(reader& r, const node_ref& n, admin_config& out) {
  r.fields(n, {
                  {"address", [&](auto& v) { r.read_address(v, out.address, false); }},
                  {"token", [&](auto& v) { r.read(v, out.token); }},
              });
}

void read_redis(reader& r, const node_ref& n, redis_config& out) {
  r.fields(n, {
                  {"address", [&](auto& v) { r.read_address(v, out.address, true); }},
                  {"password", [&](auto& v) { r.read(v, out.password); }},
                  {"db", [&](auto& v) { r.read(v, out.db, 0, 1'000'000); }},
                  {"timeout", [&](auto& v) { r.read_duration(v, out.timeout); }},
                  {"key_prefix", [&](auto& v) { r.read(v, out.key_prefix); }},
              });
}

void read_memory_cache(reader& r, const node_ref& n, memory_cache_config& out) {
  r.fields(n, {{"max_bytes", [&](auto& v) { r.read_size(v, out.max_bytes); }}});
}

void read_cache(reader& r, const node_ref& n, cache_config& out) {
  auto seen =
      r.fields(n, {
                      {"memory", [&](auto& v) { read_memory_cache(r, v, out.memory); }},
                      {"redis", [&](auto& v) { read_redis(r, v, out.redis.emplace()); }},
                      {"max_object_bytes", [&](auto& v) { r.read_size(v, out.max_object_bytes); }},
                  });
  if (out.max_object_bytes > out.memory.max_bytes)
    r.error(n.path + (seen.has("max_object_bytes") ? ".max_object_bytes" : ".memory.max_bytes"),
            fmt::format("max_object_bytes ({}) exceeds memory.max_bytes ({})", out.max_object_bytes,
                        out.memory.max_bytes));
}

void read_access_log(reader& r, const node_ref& n, access_log_config& out) {
  r.fields(n, {
                  {"path",
                   [&](auto& v) {
                     r.read(v, out.path);
                     if (out.path.empty())
                       r.error(v, "empty path: use stdout, stderr or a file name");
                   }},
                  {"format",
                   [&](auto& v) {
                     r.read_enum(
                         v, out.format,
                         {{"json", access_log_format::json}, {"text", access_log_format::text}});
                   }},
              });
}

template <class T, class Fn>
void read_each(reader& r, const node_ref& v, std::vector<T>& out, Fn read_one,
               std::string_view what) {
  r.items(v, [&](const node_ref& item) { read_one(r, item, out.emplace_back()); });
  if (v.node.IsSequence() && out.empty())
    r.error(v, fmt::format("at least one {} is required", what));
}

}  // namespace

void read_proxy(reader& r, const node_ref& root, proxy_config& out) {
  auto seen = r.fields(
      root,
      {
          {"workers", [&](auto& v) { read_workers(r, v, out.workers); }},
          {"drain_timeout", [&](auto& v) { r.read_duration(v, out.drain_timeout, duration{0}); }},
          {"listeners",
           [&](auto& v) { read_each(r, v, out.listeners, read_listener, "listener"); }},
          {"admin", [&](auto& v) { read_admin(r, v, out.admin.emplace()); }},
          {"clusters", [&](auto& v) { read_each(r, v, out.clusters, read_cluster, "cluster"); }},
          {"routes", [&](auto& v) { read_each(r, v, out.routes, read_route, "route"); }},
          {"cache", [&](auto& v) { read_cache(r, v, out.cache.emplace()); }},
          {"access_log", [&](auto& v) { read_access_log(r, v, out.access_log.emplace()); }},
      });
  r.require(root, seen, {"listeners", "clusters", "routes"});
}

}  // namespace spillway::config::detail
