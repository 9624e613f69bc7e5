// import_nginx over the configurations in data/: each translation must load with the
// configuration loader, hold the values the nginx file meant, and warn (file, line, directive)
// about everything it could not carry over.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "config/loader.hpp"
#include "config/nginx_import.hpp"

namespace spillway::config {
namespace {

using namespace std::chrono_literals;

std::string read_data(const std::string& name) {
  std::ifstream in(std::string(SPILLWAY_NGINX_TEST_DATA) + "/" + name, std::ios::binary);
  EXPECT_TRUE(in) << name;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

struct translated {
  import_result result;
  std::shared_ptr<const proxy_config> config;

  bool warned(std::string_view needle) const {
    return std::any_of(result.warnings.begin(), result.warnings.end(),
                       [&](const std::string& w) { return w.find(needle) != std::string::npos; });
  }
  size_t count_warnings(std::string_view needle) const {
    return std::count_if(result.warnings.begin(), result.warnings.end(),
                         [&](const std::string& w) { return w.find(needle) != std::string::npos; });
  }
  const cluster_config& cluster(const std::string& name) const {
    const cluster_config* c = config->find_cluster(name);
    if (!c) throw std::runtime_error("no cluster " + name);
    return *c;
  }
  const route_config& route(const std::string& name) const {
    for (const auto& r : config->routes)
      if (r.name == name) return r;
    throw std::runtime_error("no route " + name);
  }
  std::vector<std::string> route_names() const {
    std::vector<std::string> out;
    for (const auto& r : config->routes) out.push_back(r.name);
    return out;
  }
};

// Translates `text` and loads the YAML back; fails the test when either step reports errors.
translated translate_text(const std::string& text, const std::string& name) {
  translated t;
  t.result = import_nginx(text, name);
  EXPECT_TRUE(t.result.errors.empty()) << ::testing::PrintToString(t.result.errors);
  load_result loaded = load_string(t.result.yaml, name + ".yaml");
  for (const auto& e : loaded.errors) ADD_FAILURE() << e.to_string() << "\n" << t.result.yaml;
  t.config = loaded.config;
  if (!t.config) throw std::runtime_error("translation does not load:\n" + t.result.yaml);
  return t;
}

translated translate(const std::string& name) {
  return translate_text(read_data(name), name);
}

uint32_t conditions(std::initializer_list<retry_condition> list) {
  uint32_t out = 0;
  for (auto c : list) out |= static_cast<uint32_t>(c);
  return out;
}

TEST(NginxImport, SimpleProxyPass) {
  auto t = translate("simple_proxy_pass.conf");
  EXPECT_TRUE(t.result.warnings.empty()) << ::testing::PrintToString(t.result.warnings);
  ASSERT_EQ(t.config->listeners.size(), 1u);
  EXPECT_EQ(t.config->listeners[0].address, "0.0.0.0:8080");
  ASSERT_TRUE(t.config->admin);
  EXPECT_EQ(t.config->admin->address, "127.0.0.1:9901");
  ASSERT_EQ(t.config->clusters.size(), 1u);
  ASSERT_EQ(t.config->clusters[0].endpoints.size(), 1u);
  EXPECT_EQ(t.config->clusters[0].endpoints[0].address, "127.0.0.1:9001");
  ASSERT_EQ(t.config->routes.size(), 1u);
  EXPECT_EQ(t.config->routes[0].match.path_prefix, "/");
  EXPECT_EQ(t.config->routes[0].clusters[0].name, t.config->clusters[0].name);
  EXPECT_FALSE(t.config->routes[0].retry_configured);
  // Each value names its origin.
  EXPECT_NE(t.result.yaml.find("# line 5: listen 8080"), std::string::npos) << t.result.yaml;
  EXPECT_NE(t.result.yaml.find("# line 7: proxy_pass http://127.0.0.1:9001"), std::string::npos);
}

TEST(NginxImport, UpstreamWeightsLeastConnFailuresBackupDown) {
  auto t = translate("upstream_least_conn.conf");
  EXPECT_EQ(t.config->workers, 0u);  // auto
  const auto& c = t.cluster("engines");
  EXPECT_EQ(c.balancer, balancer_kind::least_conn);
  ASSERT_EQ(c.endpoints.size(), 3u);
  EXPECT_EQ(c.endpoints[0].address, "10.0.0.1:9000");
  EXPECT_EQ(c.endpoints[0].weight, 5u);
  EXPECT_EQ(c.endpoints[1].weight, 3u);
  EXPECT_EQ(c.endpoints[1].max_concurrent, 32u);
  EXPECT_FALSE(c.endpoints[0].max_concurrent);
  EXPECT_EQ(c.endpoints[2].weight, 2u);
  EXPECT_EQ(c.connect_timeout, 3s);
  ASSERT_TRUE(c.outlier_detection);
  EXPECT_EQ(c.outlier_detection->consecutive_5xx, 3u);
  EXPECT_EQ(c.outlier_detection->base_ejection_time, 20s);
  EXPECT_EQ(c.outlier_detection->max_ejection_time, 20s);
  // backup → a fallback cluster; down → left out, with a warning.
  const auto& backup = t.cluster("engines-backup");
  ASSERT_EQ(backup.endpoints.size(), 1u);
  EXPECT_EQ(backup.endpoints[0].address, "10.0.0.4:9000");
  EXPECT_EQ(backup.balancer, balancer_kind::round_robin);
  EXPECT_EQ(backup.connect_timeout, 3s);
  const auto& r = t.route("v1");
  EXPECT_EQ(r.clusters[0].name, "engines");
  EXPECT_EQ(r.fallback_clusters, std::vector<std::string>{"engines-backup"});
  EXPECT_TRUE(t.warned("upstream_least_conn.conf:12: server 10.0.0.5:9000 down: marked down"));
  for (const auto& e : c.endpoints) EXPECT_NE(e.address, "10.0.0.5:9000");
  ASSERT_EQ(t.config->listeners.size(), 1u);
  EXPECT_EQ(t.config->listeners[0].limits.max_body_bytes, 16 * MiB);
  EXPECT_EQ(t.config->listeners[0].limits.max_header_bytes, 64 * KiB);  // 4 × 16k
}

TEST(NginxImport, HashConsistentAndOtherMethods) {
  auto t = translate("hash_consistent.conf");
  const auto& session = t.cluster("by_session");
  EXPECT_EQ(session.balancer, balancer_kind::ring_hash);
  EXPECT_EQ(session.affinity.key, affinity_key_kind::header);
  EXPECT_EQ(session.affinity.key_arg, "x-session-id");

  const auto& cookie = t.cluster("by_cookie");
  EXPECT_EQ(cookie.balancer, balancer_kind::ring_hash);
  EXPECT_EQ(cookie.affinity.key, affinity_key_kind::cookie);
  EXPECT_EQ(cookie.affinity.cookie.name, "spillway_affinity");  // never the application's
  EXPECT_TRUE(t.warned("hash_consistent.conf:10: hash $cookie_user consistent: translated"));

  EXPECT_EQ(t.cluster("by_uri").balancer, balancer_kind::round_robin);
  EXPECT_EQ(t.cluster("by_uri").affinity.key, affinity_key_kind::none);
  EXPECT_TRUE(t.warned("hash_consistent.conf:15: hash $request_uri consistent: not translated"));
  EXPECT_EQ(t.cluster("by_ip").balancer, balancer_kind::round_robin);
  EXPECT_TRUE(t.warned("hash_consistent.conf:19: ip_hash: not translated"));
  EXPECT_EQ(t.cluster("two_choices").balancer, balancer_kind::p2c);
  EXPECT_EQ(t.result.warnings.size(), 3u) << ::testing::PrintToString(t.result.warnings);
}

TEST(NginxImport, KeepalivePoolsAndClientTimeouts) {
  auto t = translate("keepalive.conf");
  const auto& c = t.cluster("pooled");
  EXPECT_EQ(c.balancer, balancer_kind::round_robin);
  EXPECT_EQ(c.pool.max_idle, 32u);  // keepalive 64 shared by 2 endpoints
  EXPECT_EQ(c.pool.idle_timeout, 120s);
  ASSERT_EQ(t.config->listeners.size(), 1u);
  EXPECT_EQ(t.config->listeners[0].address, "127.0.0.1:8080");
  EXPECT_EQ(t.config->listeners[0].timeouts.idle, 75s);
  EXPECT_EQ(t.config->listeners[0].timeouts.header, 15s);
  EXPECT_TRUE(t.warned("keepalive.conf:10: keepalive_requests 1000: not translated"));
  // The keep-alive idiom (HTTP/1.1, empty Connection) is what Spillway does anyway.
  EXPECT_FALSE(t.warned("proxy_set_header"));
  EXPECT_FALSE(t.warned("proxy_http_version"));
  EXPECT_EQ(t.result.warnings.size(), 1u) << ::testing::PrintToString(t.result.warnings);
}

TEST(NginxImport, NextUpstreamRetriesAndTimeouts) {
  auto t = translate("next_upstream.conf");
  const auto& c = t.cluster("engines");
  EXPECT_EQ(c.connect_timeout, 2500ms);

  const auto& chat = t.route("v1_chat_completions");
  ASSERT_TRUE(chat.retry_configured);
  EXPECT_EQ(chat.retry.attempts, 2u);
  EXPECT_EQ(chat.retry.conditions, conditions({retry_condition::connect_failure,
                                               retry_condition::reset, retry_condition::timeout}));
  EXPECT_EQ(chat.retry.statuses, (std::vector<int>{502, 503, 504}));
  EXPECT_EQ(chat.timeouts.idle, 300s);
  EXPECT_EQ(chat.timeouts.first_byte, 300s);
  EXPECT_NE(t.result.yaml.find("proxy_buffering off: Spillway always streams"), std::string::npos);

  const auto& emb = t.route("v1_embeddings");
  EXPECT_EQ(emb.retry.attempts, 3u);  // tries unset: every server once
  EXPECT_EQ(emb.retry.conditions,
            conditions({retry_condition::connect_failure, retry_condition::reset}));
  EXPECT_EQ(emb.retry.statuses, std::vector<int>{429});
  EXPECT_EQ(emb.timeouts.idle, 30s);
  EXPECT_TRUE(
      t.warned("next_upstream.conf:20: proxy_next_upstream error http_429 non_idempotent "
               "invalid_header: 'invalid_header' not translated"));

  const auto& batch = t.route("v1_batch");
  EXPECT_EQ(batch.retry.attempts, 1u);
  EXPECT_EQ(batch.retry.conditions, 0u);
  EXPECT_TRUE(batch.retry.statuses.empty());

  const auto& root = t.route("root");
  EXPECT_EQ(root.retry.attempts, 3u);
  EXPECT_EQ(root.retry.statuses, (std::vector<int>{502, 503, 504}));
  EXPECT_EQ(root.timeouts.idle, 300s);
  EXPECT_EQ(t.route_names().back(), "root");  // the shortest prefix last
}

TEST(NginxImport, MultipleServersAndLocations) {
  auto t = translate("multiple_servers.conf");
  ASSERT_EQ(t.config->listeners.size(), 2u);
  EXPECT_EQ(t.config->listeners[0].address, "[::]:8080");  // listen 8080 + [::]:8080
  EXPECT_EQ(t.config->listeners[1].address, "0.0.0.0:8081");
  EXPECT_TRUE(t.warned("multiple_servers.conf:8: server: has no location with proxy_pass"));
  EXPECT_TRUE(t.warned("multiple_servers.conf:11: return 301"));
  EXPECT_EQ(t.route_names(), (std::vector<std::string>{"exact_v1_models", "admin", "v1", "root"}));
  EXPECT_EQ(t.route("exact_v1_models").match.path, "/v1/models");
  EXPECT_EQ(t.route("admin").match.methods, (std::vector<std::string>{"GET", "HEAD", "POST"}));
  EXPECT_TRUE(t.warned("multiple_servers.conf:26: limit_except GET POST: translated"));
  EXPECT_TRUE(
      t.warned("multiple_servers.conf:28: location /v1/: the same match as the location "
               "on line 18"));
  EXPECT_TRUE(
      t.warned("multiple_servers.conf:21: server: Spillway's routes apply to every "
               "listener"));
  // One cluster per upstream and one per host:port, reused by every location naming it.
  ASSERT_EQ(t.config->clusters.size(), 2u);
  EXPECT_EQ(t.cluster("api").endpoints.size(), 2u);
  EXPECT_EQ(t.cluster("frontend.internal_3000").endpoints[0].address, "frontend.internal:3000");
  EXPECT_EQ(t.route("admin").clusters[0].name, "frontend.internal_3000");
  EXPECT_EQ(t.route("root").clusters[0].name, "frontend.internal_3000");
}

TEST(NginxImport, RegexLocations) {
  auto t = translate("regex_location.conf");
  EXPECT_EQ(t.route_names(), (std::vector<std::string>{"exact_health", "v1_completions", "root"}));
  EXPECT_EQ(t.route("exact_health").match.path, "/health");
  EXPECT_EQ(t.route("v1_completions").match.path_prefix, "/v1/completions");
  EXPECT_TRUE(
      t.warned("regex_location.conf:5: location ~ ^/v1/completions: regular expression "
               "translated to path_prefix"));
  EXPECT_TRUE(t.warned("regex_location.conf:11: location ~ ^/v[0-9]+/models: not translated"));
  EXPECT_TRUE(t.warned("regex_location.conf:14: location ~* \\.(png|jpg)$: not translated"));
  EXPECT_TRUE(t.warned("regex_location.conf:17: location @fallback: not translated"));
  // Left-out locations take their clusters with them.
  EXPECT_EQ(t.config->clusters.size(), 1u);
}

TEST(NginxImport, IncludeIsReportedNotFollowed) {
  auto t = translate("include.conf");
  EXPECT_EQ(t.count_warnings("not followed"), 4u);
  EXPECT_TRUE(t.warned("include.conf:8: include /etc/nginx/snippets/proxy.conf: not followed"));
  ASSERT_EQ(t.config->routes.size(), 1u);
}

TEST(NginxImport, SyntaxErrorStopsWithFileAndLine) {
  auto r = import_nginx(read_data("syntax_error.conf"), "syntax_error.conf");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0],
            "syntax_error.conf:6: unexpected '}' (is the ';' after 'http://127.0.0.1:9001' "
            "missing?)");
  EXPECT_TRUE(r.yaml.empty());
  EXPECT_FALSE(r.ok());
}

TEST(NginxImport, RateLimitsAndAccessLog) {
  auto t = translate("rate_limit.conf");
  const auto& v1 = t.route("v1");
  ASSERT_TRUE(v1.rate_limit);
  EXPECT_EQ(v1.rate_limit->key, rate_limit_key_kind::header);
  EXPECT_EQ(v1.rate_limit->key_arg, "authorization");
  EXPECT_DOUBLE_EQ(v1.rate_limit->rate_per_second, 10.0);  // 600r/m
  EXPECT_EQ(v1.rate_limit->burst, 50u);
  const auto& root = t.route("root");
  ASSERT_TRUE(root.rate_limit);
  EXPECT_EQ(root.rate_limit->key, rate_limit_key_kind::client_address);
  EXPECT_DOUBLE_EQ(root.rate_limit->rate_per_second, 10.0);
  EXPECT_EQ(root.rate_limit->burst, 0u);
  EXPECT_TRUE(t.warned("rate_limit.conf:14: limit_req zone=per_ip: nginx delays requests"));
  EXPECT_FALSE(t.warned("rate_limit.conf:10:"));  // nodelay: the same behaviour
  ASSERT_TRUE(t.config->access_log);
  EXPECT_EQ(t.config->access_log->path, "stdout");
  EXPECT_EQ(t.config->access_log->format, access_log_format::text);
}

TEST(NginxImport, HttpLevelSnippetWithoutHttpBlock) {
  auto t = translate("snippet.conf");
  const auto& c = t.cluster("backend");
  ASSERT_EQ(c.endpoints.size(), 2u);
  EXPECT_EQ(c.endpoints[0].weight, 2u);
  EXPECT_EQ(c.endpoints[1].weight, 1u);
  EXPECT_EQ(t.config->listeners[0].address, "0.0.0.0:9090");
  EXPECT_TRUE(
      t.result.warnings.empty());  // proxy_pass http://backend/ on location / keeps the path
}

TEST(NginxImport, NothingToTranslateIsAnError) {
  auto r =
      import_nginx("events {}\nhttp { server { listen 80; root /var/www; } }\n", "static.conf");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_NE(r.errors[0].find("nothing to translate"), std::string::npos);
  EXPECT_TRUE(r.yaml.empty());
}

TEST(NginxImport, VariablesInProxyPassAreLeftOut) {
  auto t = translate_text(
      "server { listen 80;\n"
      "  location /a { proxy_pass http://$backend; }\n"
      "  location /b { proxy_pass http://10.0.0.9:81; }\n}\n",
      "vars.conf");
  EXPECT_TRUE(t.warned("vars.conf:2: proxy_pass http://$backend: not translated"));
  EXPECT_EQ(t.route_names(), std::vector<std::string>{"b"});
}

TEST(NginxImport, PathRewritingIsReported) {
  auto t = translate_text("server { listen 80;\n location /api/ { proxy_pass http://b:81/; } }\n",
                          "rewrite.conf");
  EXPECT_TRUE(
      t.warned("rewrite.conf:2: proxy_pass http://b:81/: nginx replaces the matched "
               "'/api/' with '/'"));
  EXPECT_EQ(t.cluster("b_81").endpoints[0].address, "b:81");
}

TEST(NginxImport, AdminPortAvoidsListeners) {
  auto t = translate_text("server { listen 9901; location / { proxy_pass http://127.0.0.1:7; } }",
                          "admin.conf");
  EXPECT_EQ(t.config->admin->address, "127.0.0.1:9902");
}

TEST(NginxImport, UpstreamWithNoUsableServer) {
  auto t = translate_text(
      "upstream dead { server 10.0.0.1 down; server unix:/tmp/x.sock; }\n"
      "server { listen 80;\n location /dead { proxy_pass http://dead; }\n"
      " location / { proxy_pass http://10.0.0.2; } }\n",
      "dead.conf");
  EXPECT_TRUE(t.warned("dead.conf:1: upstream dead: has no usable server"));
  EXPECT_TRUE(t.warned("dead.conf:1: server unix:/tmp/x.sock: not translated"));
  EXPECT_TRUE(t.warned("dead.conf:3: proxy_pass http://dead: its upstream has no usable server"));
  EXPECT_EQ(t.route_names(), std::vector<std::string>{"root"});
  EXPECT_EQ(t.cluster("10.0.0.2_80").endpoints[0].address, "10.0.0.2:80");
}

TEST(NginxImport, ConflictingPerClusterSettingsKeepTheLarger) {
  auto t = translate_text(
      "upstream u { server 10.0.0.1:1 max_fails=2 fail_timeout=5s; "
      "server 10.0.0.2:1 max_fails=4; }\n"
      "server { listen 80;\n"
      " location /a { proxy_pass http://u; proxy_connect_timeout 1s; client_max_body_size 1m; }\n"
      " location /b { proxy_pass http://u; proxy_connect_timeout 4s; client_max_body_size 8m; }\n"
      "}\n",
      "conflict.conf");
  const auto& c = t.cluster("u");
  EXPECT_EQ(c.connect_timeout, 4s);
  EXPECT_TRUE(
      t.warned("conflict.conf:4: proxy_connect_timeout 4s: connect_timeout is per cluster"));
  ASSERT_TRUE(c.outlier_detection);
  EXPECT_EQ(c.outlier_detection->consecutive_5xx, 2u);  // the first server's
  EXPECT_EQ(c.outlier_detection->base_ejection_time, 5s);
  EXPECT_TRUE(t.warned("conflict.conf:1: max_fails/fail_timeout: differs between servers"));
  EXPECT_EQ(t.config->listeners[0].limits.max_body_bytes, 8 * MiB);
  EXPECT_TRUE(t.warned("conflict.conf:4: client_max_body_size 8m: max_body_bytes is per listener"));
}

TEST(NginxImport, TlsFilesMustExistWhereSpillwayRuns) {
  const std::string conf =
      "server { listen 443 ssl http2; ssl_certificate /nonexistent/c.pem;\n"
      " ssl_certificate_key /nonexistent/k.pem; location / { proxy_pass http://10.0.0.1:80; } }\n";
  auto r = import_nginx(conf, "tls.conf");
  EXPECT_TRUE(r.errors.empty()) << ::testing::PrintToString(r.errors);
  EXPECT_NE(r.yaml.find("certificate: /nonexistent/c.pem"), std::string::npos) << r.yaml;
  EXPECT_NE(r.yaml.find("http2: true"), std::string::npos);
  bool warned = std::any_of(r.warnings.begin(), r.warnings.end(), [](const std::string& w) {
    return w.find("tls.certificate") != std::string::npos &&
           w.find("must exist where Spillway runs") != std::string::npos;
  });
  EXPECT_TRUE(warned) << ::testing::PrintToString(r.warnings);

  // With the files present, the translation loads as is.
  auto dir =
      std::filesystem::temp_directory_path() /
      ("spillway_nginx_tls_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "c.pem") << "cert";
  std::ofstream(dir / "k.pem") << "key";
  std::string with_files = conf;
  for (std::string name : {"c.pem", "k.pem"}) {
    auto at = with_files.find("/nonexistent/" + name);
    with_files.replace(at, 13 + name.size(), (dir / name).string());
  }
  auto t = translate_text(with_files, "tls.conf");
  ASSERT_TRUE(t.config->listeners[0].tls);
  EXPECT_EQ(t.config->listeners[0].tls->certificate, (dir / "c.pem").string());
  EXPECT_TRUE(t.config->listeners[0].http2);
  std::filesystem::remove_all(dir);
}

TEST(NginxImport, Http2MaxConcurrentStreamsBecomesTheListenerLimit) {
  auto t = translate_text(
      "http { http2_max_concurrent_streams 32;\n"
      "server { listen 8443 http2; location / { proxy_pass http://10.0.0.1:80; } }\n"
      "server { listen 8444 http2; http2_max_concurrent_streams 0;\n"
      "  location /b/ { proxy_pass http://10.0.0.2:80; } } }\n",
      "h2.conf");
  ASSERT_EQ(t.config->listeners.size(), 2u) << t.result.yaml;
  EXPECT_EQ(t.config->listeners[0].limits.http2_max_concurrent_streams, 32u) << t.result.yaml;
  EXPECT_NE(t.result.yaml.find(
                "http2_max_concurrent_streams: 32  # line 1: http2_max_concurrent_streams 32"),
            std::string::npos)
      << t.result.yaml;
  EXPECT_TRUE(t.warned("h2.conf:3: http2_max_concurrent_streams 0: invalid value"));
  EXPECT_EQ(t.config->listeners[1].limits.http2_max_concurrent_streams, 128u);
}

TEST(NginxImport, OutOfRangeNumbersAreWarnings) {
  auto t = translate_text(
      "http { limit_req_zone $remote_addr zone=z:1m rate=5r/s;\n"
      "large_client_header_buffers 99999999999999999999 8k;\n"
      "upstream u { server 10.0.0.1:1 weight=99999999999 max_conns=-1; keepalive 0; }\n"
      "server { listen 80; location / { proxy_pass http://u;\n"
      "  proxy_next_upstream error; proxy_next_upstream_tries 99999999999999999999;\n"
      "  limit_req zone=z burst=abc nodelay; proxy_read_timeout 5x; } } }\n",
      "numbers.conf");
  EXPECT_TRUE(t.warned("numbers.conf:2: large_client_header_buffers"));
  EXPECT_TRUE(
      t.warned("numbers.conf:3: server 10.0.0.1:1 weight=99999999999 max_conns=-1: "
               "invalid 'weight=99999999999'"));
  EXPECT_TRUE(t.warned("invalid 'max_conns=-1'"));
  EXPECT_TRUE(t.warned("numbers.conf:3: keepalive 0: invalid value"));
  EXPECT_TRUE(t.warned("numbers.conf:5: proxy_next_upstream_tries 99999999999999999999: invalid"));
  EXPECT_TRUE(t.warned("numbers.conf:6: limit_req zone=z burst=abc nodelay: invalid 'burst=abc'"));
  EXPECT_TRUE(t.warned("numbers.conf:6: proxy_read_timeout 5x: invalid value"));
  const auto& r = t.route("root");
  EXPECT_EQ(r.retry.attempts, 1u);  // one server: every server once
  ASSERT_TRUE(r.rate_limit);
  EXPECT_EQ(r.rate_limit->burst, 0u);
  EXPECT_EQ(t.cluster("u").endpoints[0].weight, 1u);
}

TEST(NginxImport, ImportFileReportsUnreadableFiles) {
  auto r = import_nginx_file("/nonexistent/nginx.conf");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_NE(r.errors[0].find("/nonexistent/nginx.conf: cannot open"), std::string::npos);
}

}  // namespace
}  // namespace spillway::config
