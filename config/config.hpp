// Typed configuration of the spillway proxy (SPEC §2.1). One struct per component, every field
// with its default. Produced by config/loader (parse → validate → cross-check); immutable once
// loaded and shared between threads as std::shared_ptr<const proxy_config>.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace spillway::config {

using duration = std::chrono::milliseconds;
using namespace std::chrono_literals;

constexpr uint64_t KiB = 1024;
constexpr uint64_t MiB = 1024 * KiB;
constexpr uint64_t GiB = 1024 * MiB;

/// Where a value came from, for messages that name file, line and key.
struct source_mark {
  std::string file;
  int line = 0;     // 1-based; 0 when unknown
  int column = 0;   // 1-based
  std::string key;  // dotted path, e.g. clusters[0].endpoints[1].weight
};

// ---------------------------------------------------------------- listeners

struct tls_config {
  std::string certificate;
  std::string private_key;
};

struct listener_limits {
  uint64_t max_connections = 10000;
  uint64_t max_header_bytes = 64 * KiB;
  uint64_t max_body_bytes = 32 * MiB;
  // HTTP/2 (SETTINGS_MAX_CONCURRENT_STREAMS and the receive windows, RFC 9113 §6.5.2, §6.9).
  uint32_t http2_max_concurrent_streams = 128;
  uint64_t http2_stream_window = 64 * KiB;
  uint64_t http2_connection_window = 1 * MiB;
};

struct listener_timeouts {
  duration header = 10s;      // whole request head must arrive within this
  duration idle = 120s;       // keep-alive connection with no request in progress
  duration send_stall = 30s;  // HTTP/2: answer bytes held by a window the client never opens
};

struct listener_config {
  std::string name;
  std::string address;  // host:port, [v6]:port
  bool http2 = false;
  std::optional<tls_config> tls;
  listener_limits limits;
  listener_timeouts timeouts;
};

struct admin_config {
  std::string address = "127.0.0.1:9901";
  std::string token;  // optional bearer token required for mutating admin calls
};

// ---------------------------------------------------------------- clusters

enum class balancer_kind { least_conn, round_robin, random, p2c, ring_hash, maglev, least_load };

/// The YAML name of a balancer (as `clusters[].balancer` spells it).
inline const char* to_string(balancer_kind k) noexcept {
  switch (k) {
    case balancer_kind::least_conn:
      return "least_conn";
    case balancer_kind::round_robin:
      return "round_robin";
    case balancer_kind::random:
      return "random";
    case balancer_kind::p2c:
      return "p2c";
    case balancer_kind::ring_hash:
      return "ring_hash";
    case balancer_kind::maglev:
      return "maglev";
    case balancer_kind::least_load:
      return "least_load";
  }
  return "least_conn";
}

struct endpoint_config {
  std::string address;  // host:port; host names resolve
  uint32_t weight = 1;
  std::optional<uint32_t> max_concurrent;  // overrides the cluster's
};

struct queue_config {
  uint32_t max_size = 1024;
  duration timeout = 30s;
};

struct pool_config {
  uint32_t max_idle = 64;  // idle keep-alive connections per endpoint and worker
  duration idle_timeout = 60s;
};

struct health_check_config {
  std::string path = "/health";
  duration interval = 2s;
  duration timeout = 1s;
  uint32_t healthy_threshold = 2;
  uint32_t unhealthy_threshold = 3;
};

struct outlier_detection_config {
  uint32_t consecutive_5xx = 5;
  duration interval = 10s;
  duration base_ejection_time = 30s;
  duration max_ejection_time = 300s;
  double max_ejection_percent = 0.5;  // fraction 0..1 (YAML: 50 or 50%)
};

struct circuit_breaker_config {
  duration window = 10s;
  uint32_t min_requests = 10;
  double error_rate = 0.5;  // fraction 0..1 (YAML: 50%)
  duration open_duration = 5s;
  uint32_t half_open_requests = 1;
};

enum class affinity_key_kind { none, cookie, header, jwt, prefix };
enum class on_unavailable_action { rebalance, fail };

struct affinity_cookie_config {
  std::string name = "spillway_affinity";
  duration ttl = 1h;
  bool secure = false;
  bool http_only = true;
  std::string secret;  // empty: a random secret per process
};

struct affinity_config {
  affinity_key_kind key = affinity_key_kind::none;
  std::string key_arg;  // header name for header:<name>, claim for jwt:<claim>
  affinity_cookie_config cookie;
  double balance_factor = 1.25;
  // An endpoint with fewer requests in flight than this takes its keys whatever the bound: an
  // engine batches, so its first few concurrent requests cost little and keep their KV cache.
  uint32_t balance_floor = 0;
  on_unavailable_action on_unavailable = on_unavailable_action::rebalance;
};

struct load_report_config {
  std::string path = "/metrics";
  duration interval = 500ms;
  std::string waiting_metric = "vllm:num_requests_waiting";
  std::string running_metric = "vllm:num_requests_running";
  std::string kv_usage_metric = "vllm:kv_cache_usage_perc";
};

struct cluster_config {
  std::string name;
  balancer_kind balancer = balancer_kind::least_conn;
  std::vector<endpoint_config> endpoints;
  std::optional<uint32_t> max_concurrent;  // per endpoint; unset = unlimited
  queue_config queue;
  duration connect_timeout = 2s;
  pool_config pool;
  duration slow_start = 0s;
  std::optional<health_check_config> health_check;  // unset: no active checks
  std::optional<outlier_detection_config> outlier_detection;
  std::optional<circuit_breaker_config> circuit_breaker;
  affinity_config affinity;
  std::optional<load_report_config> load_report;
};

// ---------------------------------------------------------------- routes

struct route_match {
  std::string path_prefix;           // empty with path empty: matches everything
  std::string path;                  // exact path; wins over path_prefix when set
  std::vector<std::string> methods;  // upper-case; empty = any
  std::vector<std::pair<std::string, std::string>> headers;  // lower-case name, exact value
};

struct route_timeouts {
  duration first_byte = 120s;  // request sent → first response byte
  duration idle = 60s;         // gap between two reads of the response
  duration total = 0s;         // whole exchange; 0 = unlimited (long streams)
};

enum class retry_condition : uint32_t {
  connect_failure = 1u << 0,
  reset = 1u << 1,
  timeout = 1u << 2,  // first-byte timeout
};

struct retry_backoff_config {
  duration base = 25ms;
  duration max = 2s;
};

struct retry_config {
  uint32_t attempts = 2;  // total tries including the first
  uint32_t conditions = static_cast<uint32_t>(retry_condition::connect_failure);
  std::vector<int> statuses;  // HTTP statuses that trigger a retry (e.g. 429, 502, 503, 504)
  retry_backoff_config backoff;
  bool respect_retry_after = true;
  duration max_retry_after = 10s;
  double budget = 0.2;       // fraction of active requests that may be retries
  uint32_t min_retries = 3;  // the budget never drops below this many concurrent retries
};

struct route_cache_config {
  duration ttl = 5min;
  bool only_deterministic = true;
  duration stale_if_error = 0s;
  std::vector<std::string> vary_headers{"authorization"};
};

enum class rate_limit_key_kind { client_address, header, jwt };

struct rate_limit_config {
  rate_limit_key_kind key = rate_limit_key_kind::client_address;
  std::string key_arg;
  double rate_per_second = 0;      // YAML: 50/s, 600/m, 3600/h
  uint32_t burst = 0;              // 0: equal to one second of rate
  uint64_t tokens_per_minute = 0;  // 0: no token budget
  bool shared = false;
};

enum class priority_class { high = 0, normal = 1, low = 2 };

struct priority_config {
  std::string header = "x-priority";
  priority_class default_class = priority_class::normal;
};

struct compression_config {
  std::vector<std::string> request;   // accepted request content-encodings: br, gzip
  std::vector<std::string> response;  // offered response encodings, in preference order
  uint64_t min_bytes = 1 * KiB;
  uint64_t max_decoded_bytes = 0;  // 0: the listener's max_body_bytes
};

struct idempotency_config {
  std::string header = "idempotency-key";
  duration ttl = 24h;
};

struct fallback_response_config {
  int status = 503;
  std::string content_type = "application/json";
  std::string body_file;
  std::string body;  // loaded from body_file at load time
};

struct weighted_cluster {
  std::string name;
  uint32_t weight = 1;
};

struct route_config {
  std::string name;
  route_match match;
  std::vector<weighted_cluster> clusters;  // `cluster: x` becomes one entry of weight 1
  std::vector<std::string> fallback_clusters;
  route_timeouts timeouts;
  retry_config retry;
  bool retry_configured = false;  // false: the defaults above apply
  std::optional<route_cache_config> cache;
  std::optional<rate_limit_config> rate_limit;
  priority_config priority;
  std::optional<compression_config> compression;
  std::optional<idempotency_config> idempotency;
  std::optional<fallback_response_config> fallback_response;
  bool websocket = false;
};

// ---------------------------------------------------------------- cache, logs

struct memory_cache_config {
  uint64_t max_bytes = 256 * MiB;
};

struct redis_config {
  std::string address = "127.0.0.1:6379";
  std::string password;
  uint32_t db = 0;
  duration timeout = 50ms;
  std::string key_prefix = "spillway:";
};

struct cache_config {
  memory_cache_config memory;
  std::optional<redis_config> redis;
  uint64_t max_object_bytes = 8 * MiB;
};

enum class access_log_format { json, text };

struct access_log_config {
  std::string path = "stdout";  // stdout, stderr or a file path
  access_log_format format = access_log_format::json;
};

// ---------------------------------------------------------------- whole file

struct proxy_config {
  std::string source_file;
  uint32_t workers = 0;  // 0 = auto (number of cores)
  duration drain_timeout = 30s;
  std::vector<listener_config> listeners;
  std::optional<admin_config> admin;
  std::vector<cluster_config> clusters;
  std::vector<route_config> routes;
  std::optional<cache_config> cache;
  std::optional<access_log_config> access_log;

  const cluster_config* find_cluster(const std::string& name) const {
    for (const auto& c : clusters)
      if (c.name == name) return &c;
    return nullptr;
  }
};

}  // namespace spillway::config
