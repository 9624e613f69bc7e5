// Internals of the nginx importer: the translated configuration before it is written as YAML
// (only what was set; everything else keeps Spillway's defaults), nginx value syntax
// (durations, sizes), warnings with file and line, and the upstream-block translation.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "config/nginx_parser.hpp"
#include "config/nginx_yaml.hpp"

namespace spillway::config::nginx {

/// A translated value and where it came from (written as a YAML comment).
struct noted {
  std::string value;
  std::string note;
  int64_t number = 0;  // the value as a number (bytes, ms), where one is compared
};
using opt_noted = std::optional<noted>;

struct endpoint_out {
  std::string address;
  uint32_t weight = 1;
  std::optional<uint32_t> max_concurrent;
  std::string note;
};

struct outlier_out {
  uint32_t consecutive_5xx = 1;
  duration base_ejection_time{10'000};
  std::string note;
};

struct cluster_out {
  std::string name;
  std::string note;                   // origin, on the name line
  std::vector<std::string> comments;  // lines above the cluster
  noted balancer;                     // empty value: not written (one-endpoint clusters)
  opt_noted affinity_key;             // header:<name> or cookie
  opt_noted affinity_cookie_name;
  opt_noted affinity_cookie_ttl;
  std::vector<endpoint_out> endpoints;
  opt_noted connect_timeout;
  duration connect_timeout_value{0};
  opt_noted pool_max_idle;
  opt_noted pool_idle_timeout;
  opt_noted slow_start;
  opt_noted queue_max_size;
  opt_noted queue_timeout;
  std::optional<outlier_out> outlier;
  std::string backup;  // name of the cluster holding this upstream's `backup` servers
  bool used = false;   // some route targets it
};

struct listener_out {
  std::string name;
  std::string note;
  std::string host;  // empty for a wildcard
  uint16_t port = 0;
  bool ipv6_wildcard = false;
  opt_noted http2;
  opt_noted tls_certificate;
  opt_noted tls_private_key;
  uint64_t max_body_bytes = 0;  // 0: not set
  std::string max_body_note;
  opt_noted max_header_bytes;
  opt_noted http2_max_concurrent_streams;
  opt_noted header_timeout;
  opt_noted idle_timeout;
  std::vector<int> server_lines;  // server blocks listening here
  std::string address() const;
};

struct rate_limit_out {
  std::string key;
  std::string rate;
  std::optional<uint32_t> burst;
  std::string note;
};

struct route_out {
  std::string name;
  std::string note;
  int line = 0;                               // of the nginx location
  std::vector<std::string> comments;          // above the route
  std::vector<std::string> timeout_comments;  // above timeouts
  std::vector<std::string> retry_comments;    // above retry
  bool exact = false;
  std::string path;
  std::vector<std::string> methods;
  std::string methods_note;
  std::string cluster;
  std::vector<std::string> fallback_clusters;
  opt_noted first_byte;
  opt_noted idle;
  std::optional<uint32_t> retry_attempts;
  std::vector<std::string> retry_on;
  std::string retry_note;
  std::optional<rate_limit_out> rate_limit;
};

struct config_out {
  opt_noted workers;
  opt_noted drain_timeout;
  std::vector<listener_out> listeners;
  std::string admin_address;
  std::vector<cluster_out> clusters;
  std::vector<route_out> routes;
  opt_noted access_log_path;
  std::string access_log_format = "text";
};

/// Turns the model into the YAML document (nginx_emit.cpp).
ynode to_yaml(const config_out& c);

// ---------------------------------------------------------------- nginx values

/// "30s", "500ms", "1h30m", "2d"; a bare number is seconds.
std::optional<duration> parse_duration_value(std::string_view text);
/// "512", "8k", "10m", "1g" (1024-based).
std::optional<uint64_t> parse_size_value(std::string_view text);
/// A whole number 0..max written in decimal digits only.
std::optional<uint64_t> parse_count_value(std::string_view text, uint64_t max);
/// 10 MiB → "10MiB", 1500 → "1500".
std::string size_text(uint64_t bytes);
/// A Spillway duration string ("1m30s").
std::string duration_text(duration d);
/// Letters, digits, '_', '-', '.' only (cluster, route and listener names).
std::string safe_name(std::string_view text);
/// "host:port" with a default port; IPv6 hosts keep their brackets. nullopt when malformed.
std::optional<std::pair<std::string, uint16_t>> split_host_port(std::string_view text,
                                                                uint16_t default_port);

// ---------------------------------------------------------------- messages

class diagnostics {
 public:
  explicit diagnostics(std::string file) : file_(std::move(file)) {}

  const std::string& file() const { return file_; }
  /// "file:line: <directive text>: message"; repeated messages are kept once.
  void warn(const directive& d, std::string_view message);
  /// "... : not translated (why)".
  void untranslated(const directive& d, std::string_view why);
  void warn_line(int line, std::string_view what, std::string_view message);
  /// The note written next to a value: "line 12: proxy_read_timeout 300s".
  static std::string origin(const directive& d);

  /// The warnings in line order.
  std::vector<std::string> take();

 private:
  std::string file_;
  std::vector<std::pair<int, std::string>> warnings_;
  std::set<std::string> seen_;
};

// ---------------------------------------------------------------- upstream blocks

/// Translates one `upstream name { ... }` block (nginx_upstream.cpp). Returns the cluster and,
/// when some servers are marked `backup`, the fallback cluster holding them (backup non-empty).
struct upstream_out {
  cluster_out primary;
  std::optional<cluster_out> backup;
};
upstream_out read_upstream(const directive& block, diagnostics& diag);

}  // namespace spillway::config::nginx
