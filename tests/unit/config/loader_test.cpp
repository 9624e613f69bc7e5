// The loader on valid input: every key of SPEC §2.1 read into the right field, defaults where
// keys are absent, ${VAR} expansion, relative paths, warnings.
#include <gtest/gtest.h>

#include <cstdlib>

#include "config/loader.hpp"
#include "test_util.hpp"

namespace spillway::config {
namespace {

using namespace std::chrono_literals;
using testing::data_path;
using testing::dump;
using testing::minimal;

class FullFile : public ::testing::Test {
 protected:
  void SetUp() override {
    result_ = load_file(data_path("full.yaml"));
    ASSERT_TRUE(result_.ok()) << dump(result_.errors);
    c_ = result_.config.get();
  }
  load_result result_;
  const proxy_config* c_ = nullptr;
};

TEST_F(FullFile, TopLevelAndListeners) {
  EXPECT_EQ(c_->source_file, data_path("full.yaml"));
  EXPECT_EQ(c_->workers, 4u);
  EXPECT_EQ(c_->drain_timeout, 90s);
  ASSERT_EQ(c_->listeners.size(), 2u);
  const auto& l = c_->listeners[0];
  EXPECT_EQ(l.name, "public");
  EXPECT_EQ(l.address, "0.0.0.0:8443");
  EXPECT_TRUE(l.http2);
  ASSERT_TRUE(l.tls);
  EXPECT_EQ(l.tls->certificate, data_path("tls/server.pem"));  // resolved against the file's folder
  EXPECT_EQ(l.tls->private_key, data_path("tls/server.key"));
  EXPECT_EQ(l.limits.max_connections, 500u);
  EXPECT_EQ(l.limits.max_header_bytes, 16 * KiB);
  EXPECT_EQ(l.limits.max_body_bytes, 2 * MiB);
  EXPECT_EQ(l.limits.http2_max_concurrent_streams, 64u);
  EXPECT_EQ(l.limits.http2_stream_window, 256 * KiB);
  EXPECT_EQ(l.limits.http2_connection_window, 4 * MiB);
  EXPECT_EQ(c_->listeners[1].limits.http2_max_concurrent_streams, 128u);
  EXPECT_EQ(l.timeouts.header, 5s);
  EXPECT_EQ(l.timeouts.idle, 2min);
  EXPECT_EQ(l.timeouts.send_stall, 45s);
  EXPECT_EQ(c_->listeners[1].timeouts.send_stall, 30s);
  EXPECT_EQ(c_->listeners[1].address, "[::1]:8081");
  EXPECT_FALSE(c_->listeners[1].tls);
  ASSERT_TRUE(c_->admin);
  EXPECT_EQ(c_->admin->address, "127.0.0.1:9902");
  EXPECT_EQ(c_->admin->token, "s3cret");
}

TEST_F(FullFile, ClusterLimitsAndHealth) {
  ASSERT_EQ(c_->clusters.size(), 3u);
  const auto& e = c_->clusters[0];
  EXPECT_EQ(e.name, "engines");
  EXPECT_EQ(e.balancer, balancer_kind::least_load);
  ASSERT_EQ(e.endpoints.size(), 3u);
  EXPECT_EQ(e.endpoints[0].address, "127.0.0.1:9001");
  EXPECT_EQ(e.endpoints[0].weight, 5u);
  EXPECT_FALSE(e.endpoints[0].max_concurrent);
  EXPECT_EQ(e.endpoints[1].address, "[::1]:9002");
  EXPECT_EQ(e.endpoints[1].max_concurrent, 8u);
  EXPECT_EQ(e.endpoints[2].weight, 1u);
  EXPECT_EQ(e.max_concurrent, 32u);
  EXPECT_EQ(e.queue.max_size, 100u);
  EXPECT_EQ(e.queue.timeout, 2s);
  EXPECT_EQ(e.connect_timeout, 750ms);
  EXPECT_EQ(e.pool.max_idle, 8u);
  EXPECT_EQ(e.pool.idle_timeout, 15s);
  EXPECT_EQ(e.slow_start, 20s);
  ASSERT_TRUE(e.health_check);
  EXPECT_EQ(e.health_check->path, "/healthz");
  EXPECT_EQ(e.health_check->interval, 3s);
  EXPECT_EQ(e.health_check->timeout, 500ms);
  EXPECT_EQ(e.health_check->healthy_threshold, 4u);
  EXPECT_EQ(e.health_check->unhealthy_threshold, 6u);
  ASSERT_TRUE(e.outlier_detection);
  EXPECT_EQ(e.outlier_detection->consecutive_5xx, 7u);
  EXPECT_EQ(e.outlier_detection->interval, 5s);
  EXPECT_EQ(e.outlier_detection->base_ejection_time, 10s);
  EXPECT_EQ(e.outlier_detection->max_ejection_time, 1h);
  EXPECT_DOUBLE_EQ(e.outlier_detection->max_ejection_percent, 0.25);
  ASSERT_TRUE(e.circuit_breaker);
  EXPECT_EQ(e.circuit_breaker->window, 20s);
  EXPECT_EQ(e.circuit_breaker->min_requests, 40u);
  EXPECT_DOUBLE_EQ(e.circuit_breaker->error_rate, 0.125);
  EXPECT_EQ(e.circuit_breaker->open_duration, 7s);
  EXPECT_EQ(e.circuit_breaker->half_open_requests, 3u);
  ASSERT_TRUE(e.load_report);
  EXPECT_EQ(e.load_report->path, "/stats");
  EXPECT_EQ(e.load_report->interval, 250ms);
  EXPECT_EQ(e.load_report->waiting_metric, "w");
  EXPECT_EQ(e.load_report->running_metric, "r");
  EXPECT_EQ(e.load_report->kv_usage_metric, "kv");
}

TEST_F(FullFile, ClusterAffinity) {
  const auto& header = c_->clusters[0].affinity;
  EXPECT_EQ(header.key, affinity_key_kind::header);
  EXPECT_EQ(header.key_arg, "x-session-id");  // lower-cased
  EXPECT_DOUBLE_EQ(header.balance_factor, 1.5);
  EXPECT_EQ(header.on_unavailable, on_unavailable_action::fail);
  const auto& cookie = c_->clusters[1].affinity;
  EXPECT_EQ(c_->clusters[1].balancer, balancer_kind::maglev);
  ASSERT_EQ(c_->clusters[1].endpoints.size(), 1u);
  EXPECT_EQ(c_->clusters[1].endpoints[0].address, "10.0.0.7:80");
  EXPECT_EQ(c_->clusters[1].endpoints[0].weight, 1u);
  EXPECT_EQ(cookie.key, affinity_key_kind::cookie);
  EXPECT_EQ(cookie.cookie.name, "sticky");
  EXPECT_EQ(cookie.cookie.ttl, 2h);
  EXPECT_TRUE(cookie.cookie.secure);
  EXPECT_FALSE(cookie.cookie.http_only);
  EXPECT_EQ(cookie.cookie.secret, "0123456789abcdef0123");
  EXPECT_EQ(c_->clusters[2].balancer, balancer_kind::ring_hash);
  EXPECT_EQ(c_->clusters[2].affinity.key, affinity_key_kind::jwt);
  EXPECT_EQ(c_->clusters[2].affinity.key_arg, "sub");
}

TEST_F(FullFile, RouteMatchTargetsAndTimeouts) {
  ASSERT_EQ(c_->routes.size(), 3u);
  const auto& r = c_->routes[0];
  EXPECT_EQ(r.name, "chat");
  EXPECT_EQ(r.match.path, "/v1/chat/completions");
  EXPECT_EQ(r.match.path_prefix, "");
  EXPECT_EQ(r.match.methods, (std::vector<std::string>{"POST", "GET"}));
  using header = std::pair<std::string, std::string>;
  EXPECT_EQ(r.match.headers, (std::vector<header>{{"x-model", "llama"}, {"x-tier", "gold"}}));
  ASSERT_EQ(r.clusters.size(), 1u);
  EXPECT_EQ(r.clusters[0].name, "engines");
  EXPECT_EQ(r.clusters[0].weight, 1u);
  EXPECT_EQ(r.fallback_clusters, (std::vector<std::string>{"small", "jwt"}));
  EXPECT_EQ(r.timeouts.first_byte, 30s);
  EXPECT_EQ(r.timeouts.idle, 10s);
  EXPECT_EQ(r.timeouts.total, 5min);
  const auto& split = c_->routes[1];
  EXPECT_EQ(split.match.path_prefix, "/v1/embeddings");
  ASSERT_EQ(split.clusters.size(), 2u);
  EXPECT_EQ(split.clusters[0].name, "engines");
  EXPECT_EQ(split.clusters[0].weight, 80u);
  EXPECT_EQ(split.clusters[1].name, "small");
  EXPECT_EQ(split.clusters[1].weight, 20u);
  EXPECT_TRUE(split.websocket);
  EXPECT_FALSE(r.websocket);
}

TEST_F(FullFile, RouteRetryAndCache) {
  const auto& r = c_->routes[0];
  EXPECT_TRUE(r.retry_configured);
  EXPECT_EQ(r.retry.attempts, 4u);
  EXPECT_EQ(r.retry.conditions, static_cast<uint32_t>(retry_condition::reset) |
                                    static_cast<uint32_t>(retry_condition::timeout));
  EXPECT_EQ(r.retry.statuses, (std::vector<int>{503, 429}));
  EXPECT_EQ(r.retry.backoff.base, 10ms);
  EXPECT_EQ(r.retry.backoff.max, 1s);
  EXPECT_FALSE(r.retry.respect_retry_after);
  EXPECT_EQ(r.retry.max_retry_after, 3s);
  EXPECT_DOUBLE_EQ(r.retry.budget, 0.35);
  EXPECT_EQ(r.retry.min_retries, 5u);
  ASSERT_TRUE(r.cache);
  EXPECT_EQ(r.cache->ttl, 10min);
  EXPECT_FALSE(r.cache->only_deterministic);
  EXPECT_EQ(r.cache->stale_if_error, 30min);
  EXPECT_EQ(r.cache->vary_headers, (std::vector<std::string>{"authorization", "x-tenant"}));
}

TEST_F(FullFile, RouteTrafficPolicies) {
  const auto& r = c_->routes[0];
  ASSERT_TRUE(r.rate_limit);
  EXPECT_EQ(r.rate_limit->key, rate_limit_key_kind::jwt);
  EXPECT_EQ(r.rate_limit->key_arg, "org");
  EXPECT_DOUBLE_EQ(r.rate_limit->rate_per_second, 10.0);
  EXPECT_EQ(r.rate_limit->burst, 20u);
  EXPECT_EQ(r.rate_limit->tokens_per_minute, 5000u);
  EXPECT_TRUE(r.rate_limit->shared);
  EXPECT_EQ(r.priority.header, "x-prio");
  EXPECT_EQ(r.priority.default_class, priority_class::low);
  ASSERT_TRUE(r.compression);
  EXPECT_EQ(r.compression->request, (std::vector<std::string>{"gzip"}));
  EXPECT_EQ(r.compression->response, (std::vector<std::string>{"br", "gzip"}));
  EXPECT_EQ(r.compression->min_bytes, 2 * KiB);
  EXPECT_EQ(r.compression->max_decoded_bytes, 4 * MiB);
  ASSERT_TRUE(r.idempotency);
  EXPECT_EQ(r.idempotency->header, "x-idem");
  EXPECT_EQ(r.idempotency->ttl, 12h);
  ASSERT_TRUE(r.fallback_response);
  EXPECT_EQ(r.fallback_response->status, 503);
  EXPECT_EQ(r.fallback_response->content_type, "application/json");
  EXPECT_EQ(r.fallback_response->body_file, data_path("fallback.json"));
  EXPECT_EQ(r.fallback_response->body, "{\"degraded\": true}\n");  // read at load time
  const auto& split = c_->routes[1];
  ASSERT_TRUE(split.rate_limit);
  EXPECT_EQ(split.rate_limit->key, rate_limit_key_kind::client_address);
  EXPECT_DOUBLE_EQ(split.rate_limit->rate_per_second, 1.0);
  EXPECT_EQ(split.fallback_response->body, "slow down");
  EXPECT_EQ(split.fallback_response->status, 429);
}

TEST_F(FullFile, CacheAndAccessLog) {
  ASSERT_TRUE(c_->cache);
  EXPECT_EQ(c_->cache->memory.max_bytes, 64 * MiB);
  EXPECT_EQ(c_->cache->max_object_bytes, 1 * MiB);
  ASSERT_TRUE(c_->cache->redis);
  EXPECT_EQ(c_->cache->redis->address, "redis.local:6380");
  EXPECT_EQ(c_->cache->redis->password, "pw");
  EXPECT_EQ(c_->cache->redis->db, 2u);
  EXPECT_EQ(c_->cache->redis->timeout, 80ms);
  EXPECT_EQ(c_->cache->redis->key_prefix, "sw:");
  ASSERT_TRUE(c_->access_log);
  EXPECT_EQ(c_->access_log->path, "/var/log/spillway.log");
  EXPECT_EQ(c_->access_log->format, access_log_format::text);
  EXPECT_TRUE(c_->find_cluster("small"));
}

TEST(Defaults, AbsentKeysKeepTheirDefaults) {
  auto r = load_string(minimal(), "min.yaml");
  ASSERT_TRUE(r.ok()) << dump(r.errors);
  const auto& c = *r.config;
  const proxy_config defaults;
  EXPECT_EQ(c.workers, defaults.workers);
  EXPECT_EQ(c.drain_timeout, 30s);
  EXPECT_FALSE(c.admin);
  EXPECT_FALSE(c.cache);
  EXPECT_FALSE(c.access_log);
  const auto& l = c.listeners.at(0);
  EXPECT_FALSE(l.http2);
  EXPECT_FALSE(l.tls);
  EXPECT_EQ(l.limits.max_header_bytes, listener_limits{}.max_header_bytes);
  EXPECT_EQ(l.timeouts.idle, listener_timeouts{}.idle);
  const auto& cl = c.clusters.at(0);
  EXPECT_EQ(cl.balancer, balancer_kind::least_conn);
  EXPECT_EQ(cl.endpoints.at(0).weight, 1u);
  EXPECT_FALSE(cl.max_concurrent);
  EXPECT_FALSE(cl.health_check);
  EXPECT_FALSE(cl.outlier_detection);
  EXPECT_FALSE(cl.circuit_breaker);
  EXPECT_FALSE(cl.load_report);
  EXPECT_EQ(cl.affinity.key, affinity_key_kind::none);
  EXPECT_EQ(cl.connect_timeout, cluster_config{}.connect_timeout);
  const auto& rt = c.routes.at(0);
  EXPECT_TRUE(rt.match.path_prefix.empty());
  EXPECT_TRUE(rt.match.methods.empty());
  EXPECT_FALSE(rt.retry_configured);
  EXPECT_EQ(rt.retry.attempts, retry_config{}.attempts);
  EXPECT_EQ(rt.priority.default_class, priority_class::normal);
  EXPECT_FALSE(rt.cache);
  EXPECT_FALSE(rt.rate_limit);
  EXPECT_TRUE(r.warnings.empty()) << dump(r.warnings);
}

TEST(Defaults, EmptySectionsTakeStructDefaults) {
  auto r = load_string(minimal("    retry: {}\n"
                               "    cache: {}\n"
                               "cache: {}\n"
                               "admin: {}\n"),
                       "empty.yaml");
  ASSERT_TRUE(r.ok()) << dump(r.errors);
  const auto& c = *r.config;
  ASSERT_TRUE(c.admin);
  EXPECT_EQ(c.admin->address, "127.0.0.1:9901");
  ASSERT_TRUE(c.cache);
  EXPECT_EQ(c.cache->memory.max_bytes, 256 * MiB);
  EXPECT_FALSE(c.cache->redis);
  const auto& rt = c.routes.at(0);
  EXPECT_TRUE(rt.retry_configured);
  EXPECT_EQ(rt.retry.conditions, static_cast<uint32_t>(retry_condition::connect_failure));
  ASSERT_TRUE(rt.cache);
  EXPECT_EQ(rt.cache->vary_headers, (std::vector<std::string>{"authorization"}));
}

TEST(EnvExpansion, ExpandsBeforeTypingWithDefaults) {
  ::setenv("SPILLWAY_TEST_PORT", "9555", 1);
  ::setenv("SPILLWAY_TEST_WEIGHT", "7", 1);
  ::unsetenv("SPILLWAY_TEST_UNSET");
  auto r = load_string(
      "listeners:\n"
      "  - {name: public, address: \"127.0.0.1:${SPILLWAY_TEST_PORT}\"}\n"
      "clusters:\n"
      "  - name: engines\n"
      "    connect_timeout: ${SPILLWAY_TEST_UNSET:-3s}\n"
      "    endpoints:\n"
      "      - address: ${SPILLWAY_TEST_UNSET:-localhost}:9001\n"
      "        weight: ${SPILLWAY_TEST_WEIGHT}\n"  // unquoted is fine outside {...} flow style
      "routes:\n"
      "  - {name: default, cluster: engines}\n",
      "env.yaml");
  ASSERT_TRUE(r.ok()) << dump(r.errors);
  EXPECT_EQ(r.config->listeners[0].address, "127.0.0.1:9555");
  EXPECT_EQ(r.config->clusters[0].connect_timeout, 3s);
  EXPECT_EQ(r.config->clusters[0].endpoints[0].address, "localhost:9001");
  EXPECT_EQ(r.config->clusters[0].endpoints[0].weight, 7u);
}

TEST(Warnings, UnusedClusterUnreachableRouteOpenAdmin) {
  std::string text = minimal(
      "  - name: never\n"
      "    match: {path_prefix: /v1}\n"
      "    cluster: engines\n"
      "admin: {address: 0.0.0.0:9901}\n");
  text.replace(text.find("routes:"), 0,
               "  - name: spare\n    endpoints: [{address: 127.0.0.1:9009}]\n");
  auto r = load_string(text, "warn.yaml");
  ASSERT_TRUE(r.ok()) << dump(r.errors);
  ASSERT_EQ(r.warnings.size(), 3u) << dump(r.warnings);
  EXPECT_EQ(r.warnings[0].where.key, "clusters[1].name");
  EXPECT_NE(r.warnings[0].message.find("'spare'"), std::string::npos);
  EXPECT_EQ(r.warnings[1].where.key, "routes[1]");
  EXPECT_NE(r.warnings[1].message.find("'default'"), std::string::npos);
  EXPECT_EQ(r.warnings[2].where.key, "admin.address");
}

TEST(ErrorFormat, ReportListsErrorsThenWarnings) {
  load_result r;
  r.errors.push_back({{"a.yaml", 5, 3, "workers"}, "bad"});
  r.errors.push_back({{"a.yaml", 9, 1, ""}, "worse"});
  r.warnings.push_back({{"a.yaml", 2, 1, "clusters[0].name"}, "unused"});
  EXPECT_EQ(format_report(r),
            "a.yaml:5:3: workers: bad\n"
            "a.yaml:9:1: worse\n"
            "warning: a.yaml:2:1: clusters[0].name: unused\n");
}

TEST(ErrorFormat, FileLineColumnKeyMessage) {
  config_error e{{"a.yaml", 3, 7, "clusters[0].name"}, "missing required key"};
  EXPECT_EQ(e.to_string(), "a.yaml:3:7: clusters[0].name: missing required key");
  config_error whole{{"a.yaml", 0, 0, ""}, "cannot open"};
  EXPECT_EQ(whole.to_string(), "a.yaml: cannot open");
}

}  // namespace
}  // namespace spillway::config
