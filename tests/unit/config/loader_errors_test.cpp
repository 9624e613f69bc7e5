// The loader on invalid input: each kind of error is reported at the right line and key, all
// errors of a file come back at once, and no error yields a config.
#include <gtest/gtest.h>

#include <cstdlib>

#include "config/loader.hpp"
#include "test_util.hpp"

namespace spillway::config {
namespace {

using testing::data_path;
using testing::dump;
using testing::find_error;
using testing::has_error;
using testing::minimal;

load_result load(const std::string& yaml) {
  return load_string(yaml, "test.yaml");
}

// A valid file whose cluster section is `cluster_lines` (starting at line 4).
std::string with_cluster(const std::string& cluster_lines) {
  return "listeners:\n"                                   // 1
         "  - {name: public, address: 127.0.0.1:8080}\n"  // 2
         "clusters:\n"                                    // 3
         + cluster_lines +                                // 4...
         "routes:\n"
         "  - {name: default, cluster: engines}\n";
}

TEST(Errors, UnknownKeySuggestsTheKnownOne) {
  auto r =
      load(with_cluster("  - name: engines\n"
                        "    balancr: p2c\n"  // 5
                        "    endpoints: [{address: 127.0.0.1:9001}]\n"));
  EXPECT_FALSE(r.ok());
  EXPECT_FALSE(r.config);
  ASSERT_TRUE(has_error(r, "clusters[0].balancr", 5, "unknown key; did you mean 'balancer'?"));
  EXPECT_EQ(find_error(r, "clusters[0].balancr")->where.column, 5);
  EXPECT_EQ(find_error(r, "clusters[0].balancr")->to_string(),
            "test.yaml:5:5: clusters[0].balancr: unknown key; did you mean 'balancer'?");
}

TEST(Errors, UnknownTopLevelKeyAndNoSuggestionWhenFar) {
  auto r =
      load(minimal("listner: 1\n"       // 9
                   "colour: blue\n"));  // 10
  EXPECT_TRUE(has_error(r, "listner", 9, "did you mean 'listeners'?"));
  ASSERT_TRUE(has_error(r, "colour", 10, "unknown key"));
  EXPECT_EQ(find_error(r, "colour")->message, "unknown key");
}

TEST(Errors, ListenerSendStallIsADurationOfAtLeastOneMillisecond) {
  auto r = load(
      "listeners:\n"
      "  - {name: public, address: 127.0.0.1:8080, timeouts: {send_stall: 0s}}\n"  // 2
      "clusters:\n"
      "  - {name: engines, endpoints: [{address: 127.0.0.1:9001}]}\n"
      "routes:\n"
      "  - {name: default, cluster: engines}\n");
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(find_error(r, "listeners[0].timeouts.send_stall") != nullptr) << dump(r.errors);
  EXPECT_EQ(find_error(r, "listeners[0].timeouts.send_stall")->where.line, 2);
}

TEST(Errors, Http2WindowsAreBoundedByTheProtocol) {
  auto r = load(
      "listeners:\n"
      "  - name: public\n"
      "    address: 127.0.0.1:8080\n"
      "    limits:\n"
      "      http2_stream_window: 2GiB\n"        // 5: past 2^31-1
      "      http2_max_concurrent_streams: 0\n"  // 6
      "      http2_connection_window: 1KiB\n"    // 7: below the initial 65,535
      "clusters:\n"
      "  - {name: engines, endpoints: [{address: 127.0.0.1:9001}]}\n"
      "routes:\n"
      "  - {name: default, cluster: engines}\n");
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(has_error(r, "listeners[0].limits.http2_stream_window", 5,
                        "must be at most 2147483647 bytes"))
      << dump(r.errors);
  EXPECT_TRUE(find_error(r, "listeners[0].limits.http2_max_concurrent_streams") != nullptr)
      << dump(r.errors);
  EXPECT_EQ(find_error(r, "listeners[0].limits.http2_max_concurrent_streams")->where.line, 6);
  EXPECT_TRUE(has_error(r, "listeners[0].limits.http2_connection_window", 7,
                        "must be at least 65535 bytes"))
      << dump(r.errors);
}

TEST(Errors, BadDurationNeedsAUnit) {
  auto r =
      load(with_cluster("  - name: engines\n"
                        "    connect_timeout: 5\n"  // 5
                        "    endpoints: [{address: 127.0.0.1:9001}]\n"));
  EXPECT_TRUE(has_error(r, "clusters[0].connect_timeout", 5, "missing unit"));
}

TEST(Errors, BadSizeUnit) {
  auto r = load(
      "listeners:\n"
      "  - name: public\n"
      "    address: 127.0.0.1:8080\n"
      "    limits: {max_body_bytes: 32MB}\n"  // 4
      "clusters: [{name: engines, endpoints: [{address: 127.0.0.1:9001}]}]\n"
      "routes: [{name: default, cluster: engines}]\n");
  EXPECT_TRUE(has_error(r, "listeners[0].limits.max_body_bytes", 4, "use B, KiB, MiB or GiB"));
}

TEST(Errors, BadPercentAndBalanceFactor) {
  auto r =
      load(with_cluster("  - name: engines\n"
                        "    endpoints: [{address: 127.0.0.1:9001}]\n"
                        "    circuit_breaker: {error_rate: 150%}\n"              // 6
                        "    outlier_detection: {max_ejection_percent: lots}\n"  // 7
                        "    affinity: {balance_factor: 1.0}\n"));               // 8
  EXPECT_TRUE(has_error(r, "clusters[0].circuit_breaker.error_rate", 6, "above 100%"));
  EXPECT_TRUE(
      has_error(r, "clusters[0].outlier_detection.max_ejection_percent", 7, "invalid percentage"));
  EXPECT_TRUE(has_error(r, "clusters[0].affinity.balance_factor", 8, "must be above 1"));
}

TEST(Errors, ZeroWeightAndZeroThreshold) {
  auto r =
      load(with_cluster("  - name: engines\n"
                        "    endpoints:\n"
                        "      - {address: 127.0.0.1:9001, weight: 1}\n"
                        "      - {address: 127.0.0.1:9002, weight: 0}\n"  // 7
                        "    health_check: {healthy_threshold: 0}\n"));   // 8
  EXPECT_TRUE(has_error(r, "clusters[0].endpoints[1].weight", 7, "out of range 1.."));
  EXPECT_TRUE(has_error(r, "clusters[0].health_check.healthy_threshold", 8, "out of range 1.."));
}

TEST(Errors, BadAddresses) {
  auto r = load(
      "listeners:\n"
      "  - {name: public, address: 127.0.0.1:70000}\n"  // 2
      "admin: {address: localhost}\n"                   // 3
      "clusters:\n"
      "  - name: engines\n"
      "    endpoints:\n"
      "      - {address: 127.0.0.1}\n"   // 7
      "      - {address: ':9001'}\n"     // 8
      "      - {address: '::1:9001'}\n"  // 9
      "routes: [{name: default, cluster: engines}]\n");
  EXPECT_TRUE(has_error(r, "listeners[0].address", 2, "invalid address"));
  EXPECT_TRUE(has_error(r, "admin.address", 3, "invalid address"));
  EXPECT_TRUE(has_error(r, "clusters[0].endpoints[0].address", 7, "invalid address"));
  EXPECT_TRUE(has_error(r, "clusters[0].endpoints[1].address", 8, "a host is required"));
  EXPECT_TRUE(has_error(r, "clusters[0].endpoints[2].address", 9, "invalid address"));
}

TEST(Errors, RouteNamingAMissingCluster) {
  auto r =
      load(minimal("  - name: split\n"                                              // 9
                   "    clusters: [{name: engines, weight: 9}, {name: enginez}]\n"  // 10
                   "    fallback_clusters: [nowhere]\n"));                          // 11
  EXPECT_TRUE(has_error(r, "routes[1].clusters[1].name", 10,
                        "no cluster named 'enginez'; did you mean 'engines'?"));
  EXPECT_TRUE(has_error(r, "routes[1].fallback_clusters[0]", 11, "no cluster named 'nowhere'"));
  auto single = load(with_cluster("  - {name: engine, endpoints: [{address: 127.0.0.1:9001}]}\n"));
  EXPECT_TRUE(has_error(single, "routes[0].cluster", 6,
                        "no cluster named 'engines'; did you mean 'engine'?"));
}

TEST(Errors, MissingEnvironmentVariableIsNamed) {
  ::unsetenv("SPILLWAY_TEST_NOT_SET");
  auto r = load(
      "listeners:\n"
      "  - name: public\n"
      "    address: ${SPILLWAY_TEST_NOT_SET}\n"  // 3
      "clusters: [{name: engines, endpoints: [{address: 127.0.0.1:9001}]}]\n"
      "routes: [{name: default, cluster: engines}]\n");
  EXPECT_TRUE(has_error(r, "listeners[0].address", 3,
                        "environment variable SPILLWAY_TEST_NOT_SET is not set"));
}

TEST(Errors, YamlSyntaxErrorHasItsLine) {
  auto r = load(
      "listeners:\n"
      "  - {name: public, address: 127.0.0.1:8080\n"  // 2: flow map not closed
      "clusters: []\n");
  ASSERT_EQ(r.errors.size(), 1u) << dump(r.errors);
  EXPECT_NE(r.errors[0].message.find("YAML syntax error"), std::string::npos);
  EXPECT_GE(r.errors[0].where.line, 2);
  EXPECT_LE(r.errors[0].where.line, 3);
  auto indent = load(
      "listeners:\n"
      "  - name: a\n"
      "   address: b\n");  // 3: bad indentation
  ASSERT_EQ(indent.errors.size(), 1u) << dump(indent.errors);
  EXPECT_EQ(indent.errors[0].where.line, 3);
}

TEST(Errors, DuplicateNamesKeysAndEndpoints) {
  auto r = load(
      "listeners:\n"
      "  - {name: public, address: 127.0.0.1:8080}\n"
      "  - {name: public, address: 127.0.0.1:8081}\n"  // 3
      "clusters:\n"
      "  - name: engines\n"
      "    endpoints: [{address: 127.0.0.1:9001}, {address: 127.0.0.1:9001}]\n"  // 6
      "  - name: engines\n"                                                      // 7
      "    endpoints: [{address: 127.0.0.1:9002}]\n"
      "    endpoints: [{address: 127.0.0.1:9003}]\n"  // 9
      "routes:\n"
      "  - {name: default, cluster: engines}\n"
      "  - {name: default, cluster: engines}\n");  // 12
  EXPECT_TRUE(
      has_error(r, "listeners[1].name", 3, "duplicate listener name 'public' (first at line 2)"));
  EXPECT_TRUE(has_error(r, "clusters[0].endpoints[1].address", 6, "listed twice"));
  EXPECT_TRUE(
      has_error(r, "clusters[1].name", 7, "duplicate cluster name 'engines' (first at line 5)"));
  EXPECT_TRUE(has_error(r, "clusters[1].endpoints", 9, "duplicate key"));
  EXPECT_TRUE(has_error(r, "routes[1].name", 12, "duplicate route name 'default'"));
}

TEST(Errors, ListenerAndAdminSocketsClash) {
  auto r = load(minimal("admin: {address: 0.0.0.0:8080}\n"));  // 9
  EXPECT_TRUE(has_error(r, "admin.address", 9, "clashes with listeners[0].address (line 2)"));
}

TEST(Errors, MissingRequiredPieces) {
  auto r = load(
      "listeners: []\n"  // 1
      "clusters:\n"
      "  - name: engines\n"  // 3
      "  - name: empty\n"
      "    endpoints: []\n"  // 5
      "routes:\n"
      "  - name: default\n"       // 7
      "  - cluster: engines\n");  // 8
  EXPECT_TRUE(has_error(r, "listeners", 1, "at least one listener"));
  EXPECT_TRUE(has_error(r, "clusters[0].endpoints", 3, "missing required key"));
  EXPECT_TRUE(has_error(r, "clusters[1].endpoints", 5, "at least one endpoint"));
  EXPECT_TRUE(has_error(r, "routes[0].cluster", 7, "missing required key"));
  EXPECT_TRUE(has_error(r, "routes[1].name", 8, "missing required key"));
  auto top = load("workers: 2\n");
  EXPECT_TRUE(has_error(top, "listeners", 1, "missing required key"));
  EXPECT_TRUE(has_error(top, "clusters", 1, "missing required key"));
  EXPECT_TRUE(has_error(top, "routes", 1, "missing required key"));
}

TEST(Errors, WrongTypes) {
  auto r = load(
      "workers: -3\n"                // 1
      "listeners: {name: public}\n"  // 2
      "clusters:\n"
      "  - name: engines\n"
      "    endpoints: 127.0.0.1:9001\n"  // 5
      "    pool: {max_idle: [1]}\n"      // 6
      "routes:\n"
      "  - {name: default, cluster: engines, websocket: maybe}\n"  // 8
      "access_log:\n");                                            // 9
  EXPECT_TRUE(has_error(r, "workers", 1, "expected auto or a number"));
  EXPECT_TRUE(has_error(r, "listeners", 2, "expected a list, got a mapping"));
  EXPECT_TRUE(has_error(r, "clusters[0].endpoints", 5, "expected a list"));
  EXPECT_TRUE(has_error(r, "clusters[0].pool.max_idle", 6, "expected a single value, got a list"));
  EXPECT_TRUE(has_error(r, "routes[0].websocket", 8, "expected true or false"));
  EXPECT_TRUE(has_error(r, "access_log", 9, "expected a mapping, got nothing"));
}

TEST(Errors, RouteOptionChecks) {
  auto r = load(
      minimal("  - name: api\n"                                                            // 9
              "    cluster: engines\n"                                                     // 10
              "    clusters: [{name: engines}]\n"                                          // 11
              "    match: {path: /a, path_prefix: /b, methods: [PSOT]}\n"                  // 12
              "    retry: {on: [connect_fail, 600, 503], backoff: {base: 2s, max: 1s}}\n"  // 13
              "    cache: {ttl: 1m}\n"                                                     // 14
              "    rate_limit: {key: client, rate: 50, shared: true}\n"                    // 15
              "    priority: {default: urgent}\n"                                          // 16
              "    compression: {response: [zstd]}\n"                                      // 17
              "    fallback_response: {status: 99, body_file: /nonexistent/x.json}\n"));   // 18
  EXPECT_TRUE(has_error(r, "routes[1].clusters", 11, "set cluster or clusters, not both"));
  EXPECT_TRUE(has_error(r, "routes[1].match.path", 12, "not both"));
  EXPECT_TRUE(has_error(r, "routes[1].match.methods[0]", 12, "did you mean 'POST'?"));
  EXPECT_TRUE(has_error(r, "routes[1].retry.on[0]", 13, "did you mean 'connect_failure'?"));
  EXPECT_TRUE(has_error(r, "routes[1].retry.on[1]", 13, "400..599"));
  EXPECT_TRUE(has_error(r, "routes[1].retry.backoff", 13, "below base"));
  EXPECT_TRUE(has_error(r, "routes[1].cache", 14, "top-level cache"));
  EXPECT_TRUE(has_error(r, "routes[1].rate_limit.key", 15,
                        "expected one of client_address, header:<name>"));
  EXPECT_TRUE(has_error(r, "routes[1].rate_limit.rate", 15, "invalid rate"));
  EXPECT_TRUE(has_error(r, "routes[1].rate_limit.shared", 15, "cache.redis"));
  EXPECT_TRUE(has_error(r, "routes[1].priority.default", 16, "expected one of high, normal, low"));
  EXPECT_TRUE(has_error(r, "routes[1].compression.response[0]", 17, "unknown value 'zstd'"));
  EXPECT_TRUE(has_error(r, "routes[1].fallback_response.status", 18, "out of range"));
  EXPECT_TRUE(has_error(r, "routes[1].fallback_response.body_file", 18, "cannot read file"));
}

TEST(Errors, AffinityKeySyntax) {
  auto r =
      load(with_cluster("  - name: engines\n"
                        "    endpoints: [{address: 127.0.0.1:9001}]\n"
                        "    affinity: {key: cookies}\n"  // 6
                        "  - name: b\n"
                        "    endpoints: [{address: 127.0.0.1:9002}]\n"
                        "    affinity: {key: 'header:'}\n"  // 9
                        "  - name: c\n"
                        "    endpoints: [{address: 127.0.0.1:9003}]\n"
                        "    affinity: {key: cookie, cookie: {secret: short}}\n"));  // 12
  EXPECT_TRUE(has_error(r, "clusters[0].affinity.key", 6, "did you mean 'cookie'?"));
  EXPECT_TRUE(has_error(r, "clusters[1].affinity.key", 9, "invalid header name ''"));
  EXPECT_TRUE(has_error(r, "clusters[2].affinity.cookie.secret", 12, "at least 16"));
}

TEST(Errors, TlsFilesMustExist) {
  auto r = load(
      "listeners:\n"
      "  - name: public\n"
      "    address: 127.0.0.1:8443\n"
      "    tls: {certificate: /nonexistent/cert.pem}\n"  // 4
      "clusters: [{name: engines, endpoints: [{address: 127.0.0.1:9001}]}]\n"
      "routes: [{name: default, cluster: engines}]\n");
  EXPECT_TRUE(
      has_error(r, "listeners[0].tls.certificate", 4, "cannot read file '/nonexistent/cert.pem'"));
  EXPECT_TRUE(has_error(r, "listeners[0].tls.private_key", 4, "missing required key"));
}

TEST(Errors, WholeFileProblems) {
  auto missing = load_file(data_path("does-not-exist.yaml"));
  ASSERT_EQ(missing.errors.size(), 1u);
  EXPECT_NE(missing.errors[0].to_string().find("does-not-exist.yaml: cannot open"),
            std::string::npos);
  auto empty = load("# nothing here\n");
  ASSERT_EQ(empty.errors.size(), 1u);
  EXPECT_NE(empty.errors[0].message.find("empty"), std::string::npos);
  auto two = load(minimal("---\nworkers: 2\n"));  // the second document starts on line 9
  ASSERT_EQ(two.errors.size(), 1u) << dump(two.errors);
  EXPECT_NE(two.errors[0].message.find("only one YAML document"), std::string::npos);
  EXPECT_EQ(two.errors[0].where.line, 9);
  auto trailing = load(minimal("---\n"));
  EXPECT_TRUE(trailing.ok()) << dump(trailing.errors);
  // Found by fuzzing: yaml-cpp 0.7 yields endless empty documents here; the loader must return.
  auto endless = load(", a(b: 1\n  0");
  EXPECT_FALSE(endless.ok());
  auto scalar = load("just text\n");
  ASSERT_EQ(scalar.errors.size(), 1u);
  EXPECT_NE(scalar.errors[0].message.find("expected a mapping"), std::string::npos);
}

TEST(Errors, SeveralErrorsAreAllReportedInFileOrder) {
  auto r = load_file(data_path("several_errors.yaml"));
  EXPECT_FALSE(r.config);
  const std::string file = data_path("several_errors.yaml");
  EXPECT_TRUE(has_error(r, "workers", 1, "expected auto"));
  EXPECT_TRUE(has_error(r, "listeners[0].address", 4, "invalid address"));
  EXPECT_TRUE(has_error(r, "clusters[0].balancr", 7, "did you mean 'balancer'?"));
  EXPECT_TRUE(has_error(r, "clusters[0].connect_timeout", 8, "missing unit"));
  EXPECT_TRUE(has_error(r, "clusters[0].endpoints[0].weight", 10, "out of range"));
  EXPECT_TRUE(has_error(r, "routes[0].cluster", 13, "did you mean 'engines'?"));
  ASSERT_EQ(r.errors.size(), 6u) << dump(r.errors);
  for (size_t i = 1; i < r.errors.size(); ++i)
    EXPECT_LE(r.errors[i - 1].where.line, r.errors[i].where.line);
  for (const auto& e : r.errors) EXPECT_EQ(e.where.file, file);
}

}  // namespace
}  // namespace spillway::config
