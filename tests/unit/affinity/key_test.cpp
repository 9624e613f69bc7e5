// Affinity keys: header, JWT claim (read, not verified) and prompt prefix.
#include <gtest/gtest.h>

#include <string>

#include "proxy/affinity/base64url.hpp"
#include "proxy/affinity/key.hpp"

namespace spillway::affinity {
namespace {

std::string jwt(std::string_view payload_json) {
  return base64url_encode(R"({"alg":"HS256","typ":"JWT"})") + "." + base64url_encode(payload_json) +
         ".c2lnbmF0dXJl";
}

http::request_head with_header(std::string_view name, std::string_view value) {
  http::request_head h;
  h.method = "POST";
  h.target = "/v1/chat/completions";
  h.headers.add(name, value,
                http::iequals(name, "authorization") ? http::field_id::authorization
                                                     : http::field_id::unknown);
  return h;
}

config::affinity_config cfg_of(config::affinity_key_kind kind, std::string arg = {}) {
  config::affinity_config c;
  c.key = kind;
  c.key_arg = std::move(arg);
  return c;
}

TEST(header_key, value_hash_trimmed_and_absent) {
  const auto c = cfg_of(config::affinity_key_kind::header, "X-Session-ID");
  const auto a = affinity_key(c, with_header("x-session-id", "abc"), {});
  const auto b = affinity_key(c, with_header("X-Session-Id", "  abc\t"), {});
  ASSERT_TRUE(a);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, affinity_key(c, with_header("X-Session-ID", "abd"), {}));
  EXPECT_FALSE(affinity_key(c, with_header("X-Other", "abc"), {}));
  EXPECT_FALSE(affinity_key(c, with_header("X-Session-ID", "  "), {}));
}

TEST(jwt_claim, string_and_number_claims) {
  EXPECT_EQ(jwt_claim(jwt(R"({"sub":"user-17","tenant":42,"ratio":1.5})"), "sub"), "user-17");
  EXPECT_EQ(jwt_claim(jwt(R"({"sub":"user-17","tenant":42})"), "tenant"), "42");
  EXPECT_EQ(jwt_claim(jwt(R"({"n":-3})"), "n"), "-3");
  EXPECT_FALSE(jwt_claim(jwt(R"({"sub":"user-17"})"), "tenant"));
  EXPECT_FALSE(jwt_claim(jwt(R"({"sub":{"id":1}})"), "sub"));
  EXPECT_FALSE(jwt_claim(jwt(R"({"sub":true})"), "sub"));
  // Padded segments, as some producers send them.
  const std::string padded = "e30=." + base64url_encode(R"({"sub":"x"})") + "==.sig";
  EXPECT_EQ(jwt_claim(padded, "sub"), "x");
}

TEST(jwt_claim, malformed_tokens_give_no_key) {
  EXPECT_FALSE(jwt_claim("no-dots-at-all", "sub"));
  EXPECT_FALSE(jwt_claim("a.b*d.c", "sub"));                                    // not base64url
  EXPECT_FALSE(jwt_claim("a." + base64url_encode("{\"sub\":") + ".c", "sub"));  // cut JSON
  EXPECT_FALSE(jwt_claim("a." + base64url_encode("[1,2]") + ".c", "sub"));      // not an object
  EXPECT_FALSE(jwt_claim("a." + base64url_encode("\xff\xfe") + ".c", "sub"));   // not text
  EXPECT_FALSE(jwt_claim("a..c", "sub"));
  EXPECT_FALSE(jwt_claim(std::string(20000, 'a') + ".e30.c", "sub"));
}

TEST(jwt_key, bearer_tokens_only_and_the_request_still_gets_no_key_when_bad) {
  const auto c = cfg_of(config::affinity_key_kind::jwt, "sub");
  const auto a =
      affinity_key(c, with_header("Authorization", "Bearer " + jwt(R"({"sub":"u1"})")), {});
  const auto b =
      affinity_key(c, with_header("authorization", "bearer  " + jwt(R"({"sub":"u1","x":2})")), {});
  ASSERT_TRUE(a);
  EXPECT_EQ(a, b);  // same claim, different token
  EXPECT_NE(a,
            affinity_key(c, with_header("Authorization", "Bearer " + jwt(R"({"sub":"u2"})")), {}));
  EXPECT_FALSE(affinity_key(c, with_header("Authorization", "Basic dXNlcjpwYXNz"), {}));
  EXPECT_FALSE(affinity_key(c, with_header("Authorization", "Bearer not.a-token!.x"), {}));
  EXPECT_FALSE(affinity_key(c, with_header("Authorization", "Bearer"), {}));
  EXPECT_FALSE(affinity_key(c, with_header("X-Token", jwt(R"({"sub":"u1"})")), {}));
}

std::string chat(std::string_view system, std::string_view user, std::string_view model = "m") {
  return R"({"model":")" + std::string(model) + R"(","messages":[{"role":"system","content":")" +
         std::string(system) + R"("},{"role":"user","content":")" + std::string(user) + R"("}]})";
}

TEST(prefix_key, same_full_blocks_same_key_whatever_the_tail) {
  const std::string system(600, 's');  // two full 256-byte blocks and change
  const auto a = prefix_key(chat(system, "first question"));
  const auto b = prefix_key(chat(system, "a different, longer question about something else"));
  ASSERT_TRUE(a);
  EXPECT_EQ(a, b);
  // A change inside the hashed blocks changes the key.
  std::string other = system;
  other[100] = 'x';
  EXPECT_NE(a, prefix_key(chat(other, "first question")));
  // So does the role, and the model.
  EXPECT_NE(a, prefix_key(R"({"model":"m","messages":[{"role":"user","content":")" + system +
                          R"("},{"role":"user","content":"first question"}]})"));
  EXPECT_NE(a, prefix_key(chat(system, "first question", "other-model")));
}

TEST(prefix_key, stable_across_json_spelling_and_capped_at_max_blocks) {
  const std::string system(3000, 'q');
  const auto a = prefix_key(chat(system, "x"));
  const auto b = prefix_key("{ \"messages\" : [ {\"content\": \"" + system +
                            "\", \"role\": \"system\"}, {\"role\":\"user\",\"content\":\"y\"} ],"
                            " \"stream\": true, \"model\": \"m\" }");
  EXPECT_EQ(a, b);  // key order, whitespace and other fields do not matter; only 8 blocks count
  const prefix_options small{.block_bytes = 16, .max_blocks = 2};
  EXPECT_EQ(prefix_key(chat(std::string(33, 'z'), "1"), small),
            prefix_key(chat(std::string(60, 'z'), "2"), small));
}

TEST(prefix_key, content_parts_completions_and_no_key_cases) {
  const std::string text(300, 't');
  const auto parts = prefix_key(
      R"({"messages":[{"role":"user","content":[{"type":"text","text":")" + text + R"("}]}]})");
  const auto plain = prefix_key(R"({"messages":[{"role":"user","content":")" + text + R"("}]})");
  EXPECT_TRUE(parts);
  EXPECT_EQ(parts, plain);

  const auto p1 = prefix_key(R"({"model":"m","prompt":")" + text + R"(tail one"})");
  const auto p2 = prefix_key(R"({"model":"m","prompt":")" + text + R"(tail two"})");
  ASSERT_TRUE(p1);
  EXPECT_EQ(p1, p2);
  std::string ids = "[";
  for (int i = 0; i < 200; ++i) ids += std::to_string(1000 + i) + ",";
  ids.back() = ']';
  EXPECT_TRUE(prefix_key(R"({"prompt":[)" + ids + "]}"));

  EXPECT_FALSE(prefix_key(chat("short", "prompt")));  // under one block
  EXPECT_FALSE(prefix_key("not json"));
  EXPECT_FALSE(prefix_key(R"({"input":"embeddings have no prompt"})"));
  EXPECT_FALSE(prefix_key(R"({"messages":"not a list"})"));
  EXPECT_FALSE(prefix_key(""));
}

TEST(prompt_text, chat_layout) {
  EXPECT_EQ(prompt_text(chat("S", "U"), 100), "system\x1fS\x1euser\x1fU\x1e");
  EXPECT_EQ(prompt_text(chat("S", "U"), 9), "system\x1fS\x1e");
}

TEST(affinity_key, dispatch_by_kind) {
  const auto head = with_header("X-Session-ID", "abc");
  EXPECT_FALSE(affinity_key(cfg_of(config::affinity_key_kind::none), head, {}));
  EXPECT_FALSE(affinity_key(cfg_of(config::affinity_key_kind::cookie), head, {}));
  EXPECT_TRUE(affinity_key(cfg_of(config::affinity_key_kind::prefix), head,
                           chat(std::string(300, 'a'), "b")));
}

}  // namespace
}  // namespace spillway::affinity
