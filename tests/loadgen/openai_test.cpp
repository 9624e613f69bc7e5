#include "loadgen/openai.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <set>

#include "loadgen/prompts.hpp"
#include "loadgen/request_factory.hpp"

namespace spillway::loadgen {
namespace {

namespace json = boost::json;

TEST(OpenAi, StreamEvents) {
  auto c = interpret_stream_event(R"({"choices":[{"index":0,"text":"Hi"}]})");
  EXPECT_TRUE(c.has_text);
  EXPECT_FALSE(c.error || c.done);
  c = interpret_stream_event(R"({"choices":[{"index":0,"delta":{"content":"x"}}]})");
  EXPECT_TRUE(c.has_text);
  c = interpret_stream_event(R"({"choices":[{"index":0,"delta":{"role":"assistant"}}]})");
  EXPECT_FALSE(c.has_text);
  c = interpret_stream_event(R"({"choices":[{"index":0,"text":""}]})");
  EXPECT_FALSE(c.has_text);
  c = interpret_stream_event(
      R"({"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":34}})");
  EXPECT_EQ(c.completion_tokens, 34);
  EXPECT_EQ(c.prompt_tokens, 12);
  EXPECT_FALSE(c.has_text);
  EXPECT_TRUE(interpret_stream_event("[DONE]").done);
  EXPECT_TRUE(interpret_stream_event(R"({"error":{"message":"boom"}})").error);
  EXPECT_TRUE(interpret_stream_event("not json").error);
}

TEST(OpenAi, WholeAnswer) {
  auto c = interpret_completion(
      R"({"choices":[{"message":{"role":"assistant","content":"hello"}}],"usage":{"completion_tokens":3}})");
  EXPECT_TRUE(c.has_text);
  EXPECT_EQ(c.completion_tokens, 3);
}

options openai_options(const std::string& url) {
  options o;
  o.openai = true;
  o.stream = true;
  o.max_tokens = 17;
  o.method = "POST";
  o.model = "m";
  o.url_text = url;
  o.target = *parse_url(url);
  return o;
}

TEST(OpenAi, CompletionBody) {
  auto o = openai_options("http://h/v1/completions");
  prompt_parts p;
  p.system = "sys \"quoted\"";
  p.user = "tail";
  const auto v = json::parse(build_openai_body(o, p)).as_object();
  EXPECT_EQ(v.at("prompt").as_string(), "sys \"quoted\"\ntail");
  EXPECT_EQ(v.at("max_tokens").as_int64(), 17);
  EXPECT_TRUE(v.at("stream").as_bool());
  EXPECT_TRUE(v.at("stream_options").at("include_usage").as_bool());
  EXPECT_EQ(v.at("model").as_string(), "m");
}

TEST(OpenAi, ChatBody) {
  auto o = openai_options("http://h/v1/chat/completions");
  o.stream = false;
  o.temperature = 0;
  prompt_parts p;
  p.system = "sys";
  p.context = "ctx";
  p.user = "q";
  p.max_tokens = 5;
  const auto v = json::parse(build_openai_body(o, p)).as_object();
  const auto& msgs = v.at("messages").as_array();
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(msgs[0].at("role").as_string(), "system");
  EXPECT_EQ(msgs[1].at("content").as_string(), "ctx\nq");
  EXPECT_EQ(v.at("max_tokens").as_int64(), 5);
  EXPECT_FALSE(v.contains("stream"));
  EXPECT_EQ(v.at("temperature").as_double(), 0.0);
}

TEST(Prompts, Jsonl) {
  std::string err;
  auto e = parse_prompts_jsonl(
      "{\"prompt\":\"a\"}\n\n{\"messages\":[{\"role\":\"user\",\"content\":\"b\"}],\"max_tokens\":"
      "3}\n",
      err);
  ASSERT_TRUE(e) << err;
  ASSERT_EQ(e->size(), 2u);
  EXPECT_EQ((*e)[1].text, "b");
  EXPECT_EQ(*(*e)[1].max_tokens, 3u);
  EXPECT_FALSE((*e)[1].messages_json.empty());
  EXPECT_FALSE(parse_prompts_jsonl("{\"prompt\":\"a\"}\n{\"other\":1}\n", err));
  EXPECT_NE(err.find("line 2"), std::string::npos);
  auto src = prompt_source::from_entries(std::move(*e));
  EXPECT_EQ(src.get(2, UINT32_MAX).user, "a");  // cycles
}

TEST(Prompts, SyntheticSharedPrefixes) {
  synthetic_prompts cfg;
  cfg.tenants = 3;
  cfg.system_words = 50;
  cfg.session_words = 10;
  cfg.tail_words = 5;
  auto src = prompt_source::synthetic(cfg, 1);
  std::set<std::string> systems, tails;
  for (uint64_t i = 0; i < 60; ++i) {
    const auto p = src.get(i, UINT32_MAX);
    systems.insert(p.system);
    tails.insert(p.user);
    EXPECT_TRUE(p.context.empty());
  }
  EXPECT_EQ(systems.size(), 3u);  // one per tenant
  EXPECT_EQ(tails.size(), 60u);   // unique per request
  // Requests of one session share system prompt and context; other sessions differ.
  const auto a = src.get(1, 4), b = src.get(2, 4), c = src.get(3, 5);
  EXPECT_EQ(a.system, b.system);
  EXPECT_EQ(a.context, b.context);
  EXPECT_NE(a.user, b.user);
  EXPECT_NE(a.context, c.context);
  // Deterministic by seed.
  EXPECT_EQ(prompt_source::synthetic(cfg, 1).get(9, 2).user, src.get(9, 2).user);
  EXPECT_NE(prompt_source::synthetic(cfg, 2).get(9, 2).user, src.get(9, 2).user);
}

TEST(RequestFactory, SessionsAndWire) {
  auto o = openai_options("http://h:81/v1/completions");
  o.sessions = 4;
  o.session_header = "X-Session-ID";
  request_factory f(o, o.target, prompt_source::synthetic(o.synthetic, o.seed));
  std::set<std::string> sessions;
  for (uint64_t i = 0; i < 200; ++i) {
    request_ctx r;
    r.index = i;
    f.fill(r);
    sessions.insert(r.session);
    ASSERT_NE(r.wire.find("X-Session-ID: " + r.session + "\r\n"), std::string_view::npos);
    ASSERT_NE(r.wire.find("Host: h:81\r\n"), std::string_view::npos);
    ASSERT_NE(r.wire.find("Content-Length: " + std::to_string(r.body.size()) + "\r\n"),
              std::string_view::npos);
    ASSERT_TRUE(r.wire.starts_with("POST /v1/completions HTTP/1.1\r\n"));
    ASSERT_TRUE(r.wire.ends_with(r.body));
    request_ctx again;
    again.index = i;
    f.fill(again);
    ASSERT_EQ(again.session, r.session);
  }
  EXPECT_EQ(sessions.size(), 4u);
}

TEST(RequestFactory, CancelRate) {
  options o;
  o.method = "GET";
  o.target = *parse_url("http://h/");
  o.cancel_rate = 0.25;
  o.cancel_after = std::chrono::milliseconds(100);
  request_factory f(o, o.target, std::nullopt);
  int cancelled = 0;
  for (uint64_t i = 0; i < 20000; ++i) {
    const int64_t d = f.cancel_delay(i);
    if (d < 0) continue;
    ++cancelled;
    ASSERT_LE(d, 100'000'000);
  }
  EXPECT_NEAR(cancelled, 5000, 300);
}

}  // namespace
}  // namespace spillway::loadgen
