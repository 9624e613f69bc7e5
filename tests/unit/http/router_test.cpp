// proxy/router route_table: first matching route wins (SPEC §2.2); exact path or string prefix,
// then methods, then exact header values.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "proxy/router/router.hpp"

namespace spillway::router {
namespace {

config::route_config prefix_route(std::string prefix, std::vector<std::string> methods = {},
                                  std::vector<std::pair<std::string, std::string>> headers = {}) {
  config::route_config r;
  r.match.path_prefix = std::move(prefix);
  r.match.methods = std::move(methods);
  r.match.headers = std::move(headers);
  return r;
}

config::route_config exact_route(std::string path) {
  config::route_config r;
  r.match.path = std::move(path);
  return r;
}

http::request_head request(std::string method, std::string target,
                           std::vector<std::pair<std::string, std::string>> headers = {}) {
  http::request_head h;
  h.method = std::move(method);
  h.target = std::move(target);
  for (const auto& [n, v] : headers) h.headers.add(n, v);
  return h;
}

TEST(RouteTable, EmptyTableMatchesNothing) {
  route_table t({});
  EXPECT_EQ(t.match(request("GET", "/")), -1);
}

TEST(RouteTable, PrefixIsAStringPrefixOfThePath) {
  route_table t({prefix_route("/v1/chat")});
  EXPECT_EQ(t.match(request("POST", "/v1/chat")), 0);
  EXPECT_EQ(t.match(request("POST", "/v1/chat/completions")), 0);
  EXPECT_EQ(t.match(request("POST", "/v1/chatter")), 0);  // a string prefix, as Envoy's `prefix`
  EXPECT_EQ(t.match(request("POST", "/v1/cha")), -1);
  EXPECT_EQ(t.match(request("POST", "/V1/chat")), -1);  // paths are case-sensitive
  EXPECT_EQ(t.match(request("POST", "/x/v1/chat")), -1);
}

TEST(RouteTable, QueryIsNotPartOfThePath) {
  route_table t({exact_route("/health"), prefix_route("/a?b")});
  EXPECT_EQ(t.match(request("GET", "/health?verbose=1")), 0);
  EXPECT_EQ(t.match(request("GET", "/a?b")), -1);  // the path is "/a"
}

TEST(RouteTable, ExactMatchesOnlyThePath) {
  route_table t({exact_route("/v1/models")});
  EXPECT_EQ(t.match(request("GET", "/v1/models")), 0);
  EXPECT_EQ(t.match(request("GET", "/v1/models/")), -1);
  EXPECT_EQ(t.match(request("GET", "/v1/models/x")), -1);
  EXPECT_EQ(t.match(request("GET", "/v1/model")), -1);
}

TEST(RouteTable, ExactPathWinsOverPrefixInTheSameRoute) {
  config::route_config r = exact_route("/exact");
  r.match.path_prefix = "/";
  route_table t({r});
  EXPECT_EQ(t.match(request("GET", "/exact")), 0);
  EXPECT_EQ(t.match(request("GET", "/other")), -1);
}

TEST(RouteTable, EmptyMatchIsACatchAll) {
  route_table t({config::route_config{}});
  EXPECT_EQ(t.match(request("GET", "/anything")), 0);
  EXPECT_EQ(t.match(request("DELETE", "")), 0);
}

TEST(RouteTable, MethodsListRestricts) {
  route_table t({prefix_route("/", {"POST", "PUT"})});
  EXPECT_EQ(t.match(request("POST", "/x")), 0);
  EXPECT_EQ(t.match(request("PUT", "/x")), 0);
  EXPECT_EQ(t.match(request("GET", "/x")), -1);
  EXPECT_EQ(t.match(request("post", "/x")), -1);  // methods are case-sensitive (RFC 9110 §9.1)
  EXPECT_EQ(t.match(request("POSTX", "/x")), -1);
}

TEST(RouteTable, HeadersMustAllMatchExactly) {
  route_table t({prefix_route("/", {}, {{"x-model", "llama"}, {"x-tier", "gold"}})});
  EXPECT_EQ(t.match(request("GET", "/", {{"X-Model", "llama"}, {"x-tier", "gold"}})), 0);
  EXPECT_EQ(t.match(request("GET", "/", {{"x-tier", "gold"}, {"X-MODEL", "llama"}})), 0);
  EXPECT_EQ(t.match(request("GET", "/", {{"x-model", "llama"}})), -1);
  EXPECT_EQ(t.match(request("GET", "/", {{"x-model", "Llama"}, {"x-tier", "gold"}})), -1);
  EXPECT_EQ(t.match(request("GET", "/", {{"x-model", "llama2"}, {"x-tier", "gold"}})), -1);
  EXPECT_EQ(t.match(request("GET", "/", {{"x-model", ""}, {"x-tier", "gold"}})), -1);
  EXPECT_EQ(t.match(request("GET", "/")), -1);
}

TEST(RouteTable, HeaderWithEmptyValueRequiresAnEmptyField) {
  route_table t({prefix_route("/", {}, {{"x-flag", ""}})});
  EXPECT_EQ(t.match(request("GET", "/", {{"x-flag", ""}})), 0);
  EXPECT_EQ(t.match(request("GET", "/", {{"x-flag", "1"}})), -1);
  EXPECT_EQ(t.match(request("GET", "/")), -1);
}

TEST(RouteTable, FirstMatchWins) {
  route_table t({
      prefix_route("/v1/chat", {"POST"}, {{"x-model", "llama"}}),  // 0
      prefix_route("/v1/chat", {"POST"}),                          // 1
      exact_route("/v1/embeddings"),                               // 2
      prefix_route("/v1"),                                         // 3
      prefix_route("/"),                                           // 4
      prefix_route("/v1/chat"),                                    // 5: shadowed by 3
  });
  EXPECT_EQ(t.match(request("POST", "/v1/chat/completions", {{"x-model", "llama"}})), 0);
  EXPECT_EQ(t.match(request("POST", "/v1/chat/completions", {{"x-model", "mistral"}})), 1);
  EXPECT_EQ(t.match(request("GET", "/v1/chat/completions")), 3);
  EXPECT_EQ(t.match(request("POST", "/v1/embeddings")), 2);
  EXPECT_EQ(t.match(request("POST", "/v1/embeddings/x")), 3);
  EXPECT_EQ(t.match(request("GET", "/metrics")), 4);
}

TEST(RouteTable, NoMatchWithoutACatchAll) {
  route_table t({prefix_route("/v1", {"POST"}), exact_route("/health")});
  EXPECT_EQ(t.match(request("GET", "/v1/chat")), -1);
  EXPECT_EQ(t.match(request("GET", "/healthz")), -1);
  EXPECT_EQ(t.match(request("GET", "/")), -1);
}

}  // namespace
}  // namespace spillway::router
