#include "cache/cache_key.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace spillway::cache {
namespace {

using opt_view = std::optional<std::string_view>;

struct key_fixture : ::testing::Test {
  config::route_cache_config route;  // defaults: only_deterministic, vary on authorization
  std::vector<opt_view> vary{opt_view("Bearer tenant-a")};

  key_result key(std::string_view body, std::string_view target = "/v1/chat/completions",
                 std::string_view method = "POST") {
    return make_key({method, target, body, vary}, route, "chat:");
  }
};

TEST(canonical_number, equal_decimals_share_one_spelling) {
  EXPECT_EQ(canonical_number("1"), canonical_number("1.0"));
  EXPECT_EQ(canonical_number("1"), canonical_number("1e0"));
  EXPECT_EQ(canonical_number("1"), canonical_number("10e-1"));
  EXPECT_EQ(canonical_number("1"), canonical_number("0.1E1"));
  EXPECT_EQ(canonical_number("0.5"), canonical_number("5e-1"));
  EXPECT_EQ(canonical_number("0"), canonical_number("-0.0"));
  EXPECT_EQ(canonical_number("0"), canonical_number("0e10"));
  EXPECT_EQ(canonical_number("120e30"), canonical_number("1.2e32"));
  EXPECT_EQ(canonical_number("-2.50"), canonical_number("-25e-1"));
}

TEST(canonical_number, different_values_stay_apart) {
  EXPECT_NE(canonical_number("1"), canonical_number("1.0000000000000001"));
  EXPECT_NE(canonical_number("0.1"), canonical_number("0.10000000000000001"));
  EXPECT_NE(canonical_number("1"), canonical_number("-1"));
  EXPECT_NE(canonical_number("1e-9"), canonical_number("1e-10"));
  EXPECT_NE(canonical_number("12345678901234567890"), canonical_number("12345678901234567891"));
}

TEST(canonical_number, spellings) {
  EXPECT_EQ(canonical_number("1.50"), "1.5");
  EXPECT_EQ(canonical_number("1e2"), "100");
  EXPECT_EQ(canonical_number("0.001"), "0.001");
  EXPECT_EQ(canonical_number("1e-9"), "1e-9");
  EXPECT_EQ(canonical_number("1.2e32"), "1.2e32");
  EXPECT_EQ(canonical_number("-7"), "-7");
}

TEST(canonical_json, key_order_whitespace_escapes_and_duplicates) {
  boost::system::error_code ec1, ec2;
  auto a = parse_canonical(R"({"b": [1, 2.0, {"y": null, "x": true}], "a": "\u00e9"})", ec1);
  auto b = parse_canonical("{\"a\":\"\xc3\xa9\",\n \"b\":[1e0,2,{\"x\":true,\"y\":null}]}", ec2);
  ASSERT_FALSE(ec1);
  ASSERT_FALSE(ec2);
  EXPECT_EQ(to_canonical(a), to_canonical(b));
  EXPECT_EQ(to_canonical(a), "{\"a\":\"\xc3\xa9\",\"b\":[1,2,{\"x\":true,\"y\":null}]}");

  boost::system::error_code ec3;
  auto dup = parse_canonical(R"({"k": 1, "k": 2})", ec3);
  ASSERT_FALSE(ec3);
  EXPECT_EQ(to_canonical(dup), R"({"k":2})");
}

TEST(canonical_json, rejects_what_is_not_json) {
  for (std::string_view bad :
       {"", "{", "{\"a\":1,}", "[1] x", "{'a':1}", "{\"a\":1} // c", "nul"}) {
    boost::system::error_code ec;
    parse_canonical(bad, ec);
    EXPECT_TRUE(ec) << bad;
  }
}

TEST(canonical_json, control_characters_escaped_one_way) {
  boost::system::error_code ec;
  auto n = parse_canonical(R"(["a\nb", "q\"\\", "\t"])", ec);
  ASSERT_FALSE(ec);
  EXPECT_EQ(to_canonical(n), R"(["a\u000ab","q\"\\","\u0009"])");
}

TEST_F(key_fixture, equivalent_bodies_give_one_key) {
  auto base = key(R"({"model":"m","temperature":0,"messages":[{"role":"user","content":"hi"}]})");
  ASSERT_TRUE(base) << to_string(base.reason);
  EXPECT_TRUE(base.key.starts_with("chat:"));
  EXPECT_EQ(base.key.size(), 5u + 64u);
  const char* same[] = {
      // key order and whitespace
      R"({ "messages" : [ { "content":"hi", "role":"user" } ], "temperature": 0, "model": "m" })",
      // number spelling
      R"({"model":"m","temperature":0.0,"messages":[{"role":"user","content":"hi"}]})",
      R"({"model":"m","temperature":0e5,"messages":[{"role":"user","content":"hi"}]})",
      // stream flag, stream options, user: how the answer is delivered, not what it says
      R"({"model":"m","temperature":0,"stream":true,"messages":[{"role":"user","content":"hi"}]})",
      R"({"model":"m","temperature":0,"stream":false,"user":"u1","messages":[{"role":"user","content":"hi"}]})",
      R"({"model":"m","temperature":0,"stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]})",
  };
  for (const char* body : same) {
    auto k = key(body);
    ASSERT_TRUE(k) << body;
    EXPECT_EQ(k.key, base.key) << body;
  }
}

TEST_F(key_fixture, stream_flags_are_reported) {
  auto k = key(R"({"temperature":0,"stream":true,"stream_options":{"include_usage":true}})");
  ASSERT_TRUE(k);
  EXPECT_TRUE(k.stream);
  EXPECT_TRUE(k.include_usage);
  auto j = key(R"({"temperature":0})");
  EXPECT_FALSE(j.stream);
  EXPECT_FALSE(j.include_usage);
}

TEST_F(key_fixture, what_changes_the_answer_changes_the_key) {
  auto base = key(R"({"model":"m","temperature":0,"prompt":"hi"})");
  ASSERT_TRUE(base);
  EXPECT_NE(key(R"({"model":"m","temperature":0,"prompt":"hi!"})").key, base.key);
  EXPECT_NE(key(R"({"model":"m2","temperature":0,"prompt":"hi"})").key, base.key);
  EXPECT_NE(key(R"({"model":"m","temperature":0,"prompt":"hi","max_tokens":5})").key, base.key);
  EXPECT_NE(key(R"({"model":"m","temperature":0,"prompt":"hi"})", "/v1/completions").key, base.key);
  EXPECT_NE(
      key(R"({"model":"m","temperature":0,"prompt":"hi"})", "/v1/chat/completions", "PUT").key,
      base.key);
  route.only_deterministic = false;
  EXPECT_NE(key(R"({"model":"m","temperature":0.7,"prompt":"hi"})").key,
            key(R"({"model":"m","temperature":0.8,"prompt":"hi"})").key);
}

TEST_F(key_fixture, tenants_never_share_a_key) {
  const char* body = R"({"temperature":0,"prompt":"hi"})";
  auto a = key(body);
  vary = {opt_view("Bearer tenant-b")};
  auto b = key(body);
  vary = {std::nullopt};
  auto none = key(body);
  vary = {opt_view("")};
  auto empty = key(body);
  ASSERT_TRUE(a && b && none && empty);
  EXPECT_NE(a.key, b.key);
  EXPECT_NE(a.key, none.key);
  EXPECT_NE(none.key, empty.key);
}

TEST_F(key_fixture, vary_headers_follow_the_route) {
  route.vary_headers = {"Authorization", "x-org"};
  const char* body = R"({"temperature":0})";
  vary = {opt_view("k"), opt_view("org1")};
  auto a = key(body);
  vary = {opt_view("k"), opt_view("org2")};
  auto b = key(body);
  EXPECT_NE(a.key, b.key);
  boost::system::error_code ec;
  auto parsed = parse_canonical(body, ec);
  EXPECT_EQ(canonical_request({"POST", "/x", body, vary}, parsed, route),
            "POST\n/x\nauthorization=k\nx-org=org2\n{\"temperature\":0}");
}

TEST_F(key_fixture, only_deterministic_rules) {
  EXPECT_TRUE(key(R"({"temperature":0})"));
  EXPECT_TRUE(key(R"({"temperature":0.00})"));
  EXPECT_TRUE(key(R"({"temperature":0.9,"seed":42})"));
  EXPECT_TRUE(key(R"({"seed":7})"));
  EXPECT_EQ(key(R"({"prompt":"hi"})").reason, not_cacheable::no_temperature);
  EXPECT_EQ(key(R"({"temperature":null})").reason, not_cacheable::no_temperature);
  EXPECT_EQ(key(R"({"temperature":0.2})").reason, not_cacheable::nonzero_temperature);
  EXPECT_EQ(key(R"({"temperature":0.2,"seed":null})").reason, not_cacheable::nonzero_temperature);
  EXPECT_EQ(key(R"({"temperature":"0"})").reason, not_cacheable::nonzero_temperature);
  EXPECT_EQ(key(R"([{"temperature":0}])").reason, not_cacheable::not_object);
  EXPECT_TRUE(key(R"({"temperature":0})").key.size() > 0);
  EXPECT_TRUE(key(R"({"temperature":0.2})").key.empty());

  route.only_deterministic = false;
  EXPECT_TRUE(key(R"({"temperature":0.2})"));
  EXPECT_TRUE(key(R"({"prompt":"hi"})"));
  EXPECT_TRUE(key(R"([1,2])"));
}

TEST_F(key_fixture, non_json_bodies_are_not_cacheable) {
  route.only_deterministic = false;
  EXPECT_EQ(key("").reason, not_cacheable::not_json);
  EXPECT_EQ(key("prompt=hi").reason, not_cacheable::not_json);
  EXPECT_EQ(key("{\"temperature\":0").reason, not_cacheable::not_json);
  EXPECT_EQ(key("\xff\xfe").reason, not_cacheable::not_json);
}

TEST(sha256, known_vector) {
  // FIPS 180-2 example "abc".
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace spillway::cache
