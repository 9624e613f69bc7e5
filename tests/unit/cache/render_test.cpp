#include "cache/render.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace spillway::cache {
namespace {

namespace json = boost::json;

entry sse_entry(std::vector<std::string> events) {
  entry e;
  e.content_type = "text/event-stream";
  e.kind = body_kind::sse;
  e.events = std::move(events);
  return e;
}

entry json_entry(std::string body) {
  entry e;
  e.content_type = "application/json; charset=utf-8";
  e.body = std::move(body);
  return e;
}

json::value parse(std::string_view s) {
  return json::parse(json::string_view(s.data(), s.size()));
}

const std::vector<std::string> chat_chunks = {
    R"({"id":"c1","object":"chat.completion.chunk","created":7,"model":"m","system_fingerprint":"fp","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]})",
    R"({"id":"c1","object":"chat.completion.chunk","created":7,"model":"m","choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}]})",
    R"({"id":"c1","object":"chat.completion.chunk","created":7,"model":"m","choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":null}]})",
    R"({"id":"c1","object":"chat.completion.chunk","created":7,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]})",
    R"({"id":"c1","object":"chat.completion.chunk","created":7,"model":"m","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}})",
    "[DONE]"};

TEST(render, chat_stream_reassembled_as_completion) {
  std::string body;
  ASSERT_FALSE(render_json(sse_entry(chat_chunks), body));
  auto v = parse(body).as_object();
  EXPECT_EQ(v["id"], "c1");
  EXPECT_EQ(v["object"], "chat.completion");
  EXPECT_EQ(v["created"], 7);
  EXPECT_EQ(v["model"], "m");
  EXPECT_EQ(v["system_fingerprint"], "fp");
  auto& choice = v["choices"].as_array().at(0).as_object();
  EXPECT_EQ(choice["index"], 0);
  EXPECT_EQ(choice["message"].as_object()["role"], "assistant");
  EXPECT_EQ(choice["message"].as_object()["content"], "Hello");
  EXPECT_EQ(choice["finish_reason"], "stop");
  EXPECT_EQ(v["usage"].as_object()["total_tokens"], 5);
  EXPECT_EQ(json_content_type(sse_entry(chat_chunks)), "application/json");
}

TEST(render, text_stream_with_two_choices) {
  std::vector<std::string> chunks = {
      R"({"id":"t","object":"text_completion","created":1,"model":"m","choices":[{"index":0,"text":"a","finish_reason":null},{"index":1,"text":"x","finish_reason":null}]})",
      R"({"id":"t","object":"text_completion","created":1,"model":"m","choices":[{"index":1,"text":"y","finish_reason":"length"}]})",
      R"({"id":"t","object":"text_completion","created":1,"model":"m","choices":[{"index":0,"text":"b","finish_reason":"stop"}]})",
      "[DONE]"};
  std::string body;
  ASSERT_FALSE(render_json(sse_entry(chunks), body));
  auto v = parse(body).as_object();
  EXPECT_EQ(v["object"], "text_completion");
  auto& choices = v["choices"].as_array();
  ASSERT_EQ(choices.size(), 2u);
  EXPECT_EQ(choices[0].as_object()["text"], "ab");
  EXPECT_EQ(choices[0].as_object()["finish_reason"], "stop");
  EXPECT_EQ(choices[1].as_object()["index"], 1);
  EXPECT_EQ(choices[1].as_object()["text"], "xy");
  EXPECT_EQ(choices[1].as_object()["finish_reason"], "length");
  EXPECT_FALSE(v.contains("usage"));
}

TEST(render, tool_call_arguments_concatenated) {
  std::vector<std::string> chunks = {
      R"({"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"f","arguments":"{\"a\""}}]},"finish_reason":null}]})",
      R"({"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":":1}"}}]},"finish_reason":"tool_calls"}]})",
      "[DONE]"};
  std::string body;
  ASSERT_FALSE(render_json(sse_entry(chunks), body));
  auto v = parse(body).as_object();
  auto& msg = v["choices"].as_array()[0].as_object()["message"].as_object();
  EXPECT_TRUE(msg["content"].is_null());
  auto& call = msg["tool_calls"].as_array()[0].as_object();
  EXPECT_EQ(call["id"], "call_1");
  EXPECT_EQ(call["function"].as_object()["name"], "f");
  EXPECT_EQ(call["function"].as_object()["arguments"], R"({"a":1})");
}

TEST(render, stream_that_is_not_openai_shaped_cannot_be_json) {
  std::string body;
  EXPECT_EQ(render_json(sse_entry({"plain text", "[DONE]"}), body), cache_errc::render_failed);
  EXPECT_EQ(render_json(sse_entry({R"({"error":{"message":"x"}})"}), body),
            cache_errc::render_failed);
  EXPECT_EQ(render_json(sse_entry({"[DONE]"}), body), cache_errc::render_failed);
}

TEST(render, stream_replayed_as_stored) {
  entry e = sse_entry(chat_chunks);
  std::string out;
  ASSERT_FALSE(render_sse(e, {}, out));
  std::string expected;
  for (const auto& c : chat_chunks) expected += "data: " + c + "\n\n";
  EXPECT_EQ(out, expected);
  EXPECT_EQ(sse_content_type(e), "text/event-stream");
}

const char* chat_completion =
    R"({"id":"c9","object":"chat.completion","created":5,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"Hi there"},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}})";

TEST(render, json_completion_synthesised_as_chunks) {
  std::vector<std::string> payloads;
  ASSERT_FALSE(sse_payloads(json_entry(chat_completion), {}, payloads));
  ASSERT_EQ(payloads.size(), 3u);  // content, finish, [DONE]: no usage unless asked
  EXPECT_EQ(payloads.back(), "[DONE]");
  auto first = parse(payloads[0]).as_object();
  EXPECT_EQ(first["object"], "chat.completion.chunk");
  EXPECT_EQ(first["id"], "c9");
  EXPECT_EQ(first["model"], "m");
  auto& d0 = first["choices"].as_array()[0].as_object();
  EXPECT_EQ(d0["delta"].as_object()["content"], "Hi there");
  EXPECT_EQ(d0["delta"].as_object()["role"], "assistant");
  EXPECT_TRUE(d0["finish_reason"].is_null());
  auto last = parse(payloads[1]).as_object();
  EXPECT_EQ(last["choices"].as_array()[0].as_object()["finish_reason"], "stop");
  EXPECT_TRUE(last["choices"].as_array()[0].as_object()["delta"].as_object().empty());

  ASSERT_FALSE(sse_payloads(json_entry(chat_completion), {.include_usage = true}, payloads));
  ASSERT_EQ(payloads.size(), 4u);
  auto usage = parse(payloads[2]).as_object();
  EXPECT_TRUE(usage["choices"].as_array().empty());
  EXPECT_EQ(usage["usage"].as_object()["total_tokens"], 3);

  std::string wire;
  ASSERT_FALSE(render_sse(json_entry(chat_completion), {}, wire));
  EXPECT_TRUE(wire.starts_with("data: {"));
  EXPECT_TRUE(wire.ends_with("data: [DONE]\n\n"));
  EXPECT_EQ(sse_content_type(json_entry(chat_completion)), "text/event-stream");
}

TEST(render, json_to_stream_to_json_keeps_the_answer) {
  std::vector<std::string> payloads;
  ASSERT_FALSE(sse_payloads(json_entry(chat_completion), {.include_usage = true}, payloads));
  std::string body;
  ASSERT_FALSE(render_json(sse_entry(payloads), body));
  auto a = parse(chat_completion).as_object();
  auto b = parse(body).as_object();
  for (auto f : {"id", "object", "created", "model", "usage", "choices"})
    EXPECT_EQ(a[f], b[f]) << f;
}

TEST(render, text_completion_synthesised) {
  const char* body =
      R"({"id":"t1","object":"text_completion","created":2,"model":"m","choices":[{"index":0,"text":"abc","finish_reason":"length"}]})";
  std::vector<std::string> payloads;
  ASSERT_FALSE(sse_payloads(json_entry(body), {.include_usage = true}, payloads));
  ASSERT_EQ(payloads.size(), 3u);  // no usage in the body: no usage chunk
  auto first = parse(payloads[0]).as_object();
  EXPECT_EQ(first["object"], "text_completion");
  EXPECT_EQ(first["choices"].as_array()[0].as_object()["text"], "abc");
  auto last = parse(payloads[1]).as_object();
  EXPECT_EQ(last["choices"].as_array()[0].as_object()["finish_reason"], "length");
  std::string back;
  ASSERT_FALSE(render_json(sse_entry(payloads), back));
  EXPECT_EQ(parse(back).as_object()["choices"].as_array()[0].as_object()["finish_reason"],
            "length");
  EXPECT_EQ(parse(back).as_object()["choices"].as_array()[0].as_object()["text"], "abc");
}

TEST(render, error_answers_are_never_streamed) {
  entry ok = json_entry(chat_completion);
  EXPECT_TRUE(answer_as_stream(ok, true));
  EXPECT_FALSE(answer_as_stream(ok, false));
  entry err = json_entry(R"({"error":{"message":"busy"}})");
  err.status = 429;
  EXPECT_FALSE(answer_as_stream(err, true));
}

TEST(render, other_json_goes_out_as_one_event) {
  const char* body = R"({"object":"list","data":[{"embedding":[0.1]}]})";
  std::vector<std::string> payloads;
  ASSERT_FALSE(sse_payloads(json_entry(body), {}, payloads));
  EXPECT_EQ(payloads, (std::vector<std::string>{body, "[DONE]"}));
  std::string out;
  EXPECT_EQ(render_sse(json_entry("not json"), {}, out), cache_errc::render_failed);
  ASSERT_FALSE(render_json(json_entry(body), out));
  EXPECT_EQ(out, body);
  EXPECT_EQ(json_content_type(json_entry(body)), "application/json; charset=utf-8");
}

}  // namespace
}  // namespace spillway::cache
