// The HTTP API in process: OpenAI shapes, SSE framing, usage, errors, queue-full 429, loading
// 503, KV blocks freed on client abort (seen through /metrics), and the fault flags.
#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <sstream>
#include <thread>

#include "tests/engine/engine_harness.hpp"
#include "tests/engine/http_client.hpp"
#include "upstream-engine/api/http_server.hpp"

namespace spillway::engine::test {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;

class api_server {
 public:
  api_server(const harness_options& o, api::server_options so, bool start = true) {
    if (start) {
      eng_ = make_engine(o);
    } else {
      eng_ = std::make_unique<runtime::engine>(runtime::engine_config{});
    }
    so.model_id = "tiny";
    server_ = std::make_unique<api::http_server>(ioc_, *eng_, so);
    EXPECT_FALSE(server_->listen({asio::ip::make_address("127.0.0.1"), 0}));
    port_ = server_->local_endpoint().port();
    io_ = std::thread([this] { ioc_.run(); });
  }
  ~api_server() {
    server_->close();
    work_.reset();
    ioc_.stop();
    io_.join();
    eng_->stop();
  }
  int port() const { return port_; }
  runtime::engine& engine() { return *eng_; }

  /// One metric's value from GET /metrics (first sample whose name and labels start with `key`).
  double metric(const std::string& key) {
    http_client c(port_);
    auto r = c.request("GET", "/metrics");
    if (!r || r->status != 200) return -1;
    std::istringstream in(r->body);
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind(key, 0) == 0 && (line[key.size()] == ' ' || line[key.size()] == '{' ||
                                      key.back() == '}' || key.back() == ','))
        return std::stod(line.substr(line.rfind(' ') + 1));
    }
    return -2;
  }
  /// Polls /metrics until `pred` holds (bounded); the engine reacts on its own thread.
  template <class Pred>
  bool eventually(Pred pred, std::chrono::milliseconds limit = 10s) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
      if (pred()) return true;
      std::this_thread::sleep_for(5ms);
    }
    return pred();
  }

 private:
  asio::io_context ioc_;
  asio::executor_work_guard<asio::io_context::executor_type> work_{ioc_.get_executor()};
  std::unique_ptr<runtime::engine> eng_;
  std::unique_ptr<api::http_server> server_;
  std::thread io_;
  int port_ = 0;
};

api::server_options named(const std::string& name) {
  api::server_options so;
  so.name = name;
  return so;
}

json::value parse(const std::string& s) {
  boost::system::error_code ec;
  json::value v = json::parse(s, ec);
  EXPECT_FALSE(ec) << s;
  return v;
}

const std::string greedy_body =
    R"({"prompt": "once upon a time", "max_tokens": 7, "temperature": 0, "ignore_eos": true)";

TEST(Api, HealthModelsAndEngineName) {
  api_server s({}, named("engine-x"));
  http_client c(s.port());
  auto h = c.request("GET", "/health");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  EXPECT_EQ(h->header("x-engine-name"), "engine-x");
  EXPECT_EQ(parse(h->body).at("name").as_string(), "engine-x");
  EXPECT_EQ(parse(h->body).at("status").as_string(), "ok");
  auto m = c.request("GET", "/v1/models");  // same connection: keep-alive
  ASSERT_TRUE(m);
  EXPECT_EQ(m->status, 200);
  EXPECT_EQ(parse(m->body).at("data").at(0).at("id").as_string(), "tiny");
  EXPECT_EQ(m->header("x-engine-name"), "engine-x");
  auto nf = c.request("GET", "/nope");
  ASSERT_TRUE(nf);
  EXPECT_EQ(nf->status, 404);
  EXPECT_EQ(nf->header("x-engine-name"), "engine-x");
  auto wrong = c.request("GET", "/v1/completions");
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 405);
}

TEST(Api, CompletionCarriesUsageAndTheRequestedTokens) {
  api_server s({}, named("a"));
  http_client c(s.port());
  auto r = c.request("POST", "/v1/completions", greedy_body + "}");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const json::value v = parse(r->body);
  EXPECT_EQ(v.at("object").as_string(), "text_completion");
  EXPECT_EQ(v.at("choices").at(0).at("finish_reason").as_string(), "length");
  const auto& u = v.at("usage");
  const int prompt = static_cast<int>(test_model().tok.encode("once upon a time", true).size());
  EXPECT_EQ(u.at("prompt_tokens").as_int64(), prompt);
  EXPECT_EQ(u.at("completion_tokens").as_int64(), 7);
  EXPECT_EQ(u.at("total_tokens").as_int64(), prompt + 7);
  EXPECT_FALSE(v.at("choices").at(0).at("text").as_string().empty());
  EXPECT_EQ(r->header("x-engine-name"), "a");
  EXPECT_FALSE(r->header("x-request-id").empty());
}

TEST(Api, StreamIsFramedEndsWithDoneAndMatchesTheWholeAnswer) {
  api_server s({}, named("a"));
  http_client c(s.port());
  auto whole = c.request("POST", "/v1/completions", greedy_body + "}");
  ASSERT_TRUE(whole);
  const std::string want =
      std::string(parse(whole->body).at("choices").at(0).at("text").as_string());

  auto r =
      c.request("POST", "/v1/completions",
                greedy_body + R"(, "stream": true, "stream_options": {"include_usage": true}})");
  ASSERT_TRUE(r);  // read_response checked the chunk framing
  ASSERT_EQ(r->status, 200);
  EXPECT_TRUE(r->chunked);
  EXPECT_EQ(r->header("content-type"), "text/event-stream");
  std::vector<std::string> events;
  ASSERT_TRUE(split_sse(r->body, events)) << r->body;
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events.back(), "[DONE]");
  std::string text;
  int finish_chunks = 0;
  for (size_t i = 0; i + 1 < events.size(); ++i) {
    const json::value v = parse(events[i]);
    EXPECT_EQ(v.at("object").as_string(), "text_completion");
    const auto& choices = v.at("choices").as_array();
    if (choices.empty()) {  // the include_usage chunk
      EXPECT_EQ(i + 2, events.size());
      EXPECT_EQ(v.at("usage").at("completion_tokens").as_int64(), 7);
      continue;
    }
    text += choices[0].at("text").as_string();
    if (!choices[0].at("finish_reason").is_null()) {
      ++finish_chunks;
      EXPECT_EQ(choices[0].at("finish_reason").as_string(), "length");
      EXPECT_EQ(v.at("usage").at("completion_tokens").as_int64(), 7);
    }
  }
  EXPECT_EQ(finish_chunks, 1);
  EXPECT_EQ(text, want);
  // The connection is still usable after a stream.
  auto again = c.request("GET", "/health");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 200);
}

TEST(Api, ChatStreamOpensWithTheAssistantRole) {
  api_server s({}, named("a"));
  http_client c(s.port());
  auto r = c.request(
      "POST", "/v1/chat/completions",
      R"({"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello"}],
                         "max_tokens": 4, "temperature": 0, "stream": true, "ignore_eos": true})");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  std::vector<std::string> events;
  ASSERT_TRUE(split_sse(r->body, events));
  ASSERT_GE(events.size(), 3u);
  const json::value first = parse(events[0]);
  EXPECT_EQ(first.at("object").as_string(), "chat.completion.chunk");
  EXPECT_EQ(first.at("choices").at(0).at("delta").at("role").as_string(), "assistant");
  EXPECT_EQ(events.back(), "[DONE]");
  auto plain = c.request(
      "POST", "/v1/chat/completions",
      R"({"messages": [{"role": "user", "content": "hello"}], "max_tokens": 3, "temperature": 0, "ignore_eos": true})");
  ASSERT_TRUE(plain);
  ASSERT_EQ(plain->status, 200);
  const json::value v = parse(plain->body);
  EXPECT_EQ(v.at("choices").at(0).at("message").at("role").as_string(), "assistant");
  EXPECT_EQ(v.at("usage").at("completion_tokens").as_int64(), 3);
}

TEST(Api, BadInputIsRefusedWithA400AndAClearMessage) {
  api_server s({}, named("a"));
  http_client c(s.port());
  std::string long_prompt;
  for (int i = 0; i < 300; ++i) long_prompt += " the";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"prompt": "x", )", "not valid JSON"},
      {R"([1, 2])", "JSON object"},
      {R"({"max_tokens": 3})", "'prompt' is required"},
      {R"({"prompt": 5})", "'prompt' must be"},
      {R"({"prompt": "x", "max_tokens": "many"})", "'max_tokens' must be an integer"},
      {R"({"prompt": "x", "max_tokens": 0})", "at least 1"},
      {R"({"prompt": "x", "temperature": "hot"})", "'temperature' must be a number"},
      {R"({"prompt": "x", "temperature": 3})", "between 0 and 2"},
      {R"({"prompt": "x", "top_p": 0})", "top_p"},
      {R"({"prompt": "x", "stream": "yes"})", "'stream' must be a boolean"},
      {R"({"prompt": "x", "stop": 4})", "'stop'"},
      {R"({"prompt": "x", "n": 2})", "'n': 1"},
      {R"({"prompt": [1, 99999]})", "outside the vocabulary"},
      {R"({"prompt": ")" + long_prompt + R"("})", "maximum context length"},
      {R"({"prompt": "x", "max_tokens": 1000})", "maximum context length"},
  };
  for (const auto& [body, needle] : cases) {
    auto r = c.request("POST", "/v1/completions", body);
    ASSERT_TRUE(r) << body;
    EXPECT_EQ(r->status, 400) << body;
    const json::value v = parse(r->body);
    const std::string msg(v.at("error").at("message").as_string());
    EXPECT_NE(msg.find(needle), std::string::npos) << body << " -> " << msg;
    EXPECT_EQ(v.at("error").at("type").as_string(), "invalid_request_error");
  }
  auto chat = c.request("POST", "/v1/chat/completions",
                        R"({"messages": [{"role": "user", "content": 3}]})");
  ASSERT_TRUE(chat);
  EXPECT_EQ(chat->status, 400);
  EXPECT_EQ(s.engine().metrics().prompt_tokens.load(), 0u);  // nothing reached the engine
}

TEST(Api, FullQueueAnswers429WithRetryAfter) {
  harness_options o;
  o.max_queue = 1;
  api_server s(o, named("a"));
  s.engine().set_paused(true);
  http_client first(s.port());
  ASSERT_TRUE(first.send("POST", "/v1/completions", greedy_body + "}"));
  ASSERT_TRUE(s.eventually([&] { return s.metric("vllm:num_requests_waiting") == 1; }));
  http_client second(s.port());
  auto r = second.request("POST", "/v1/completions", greedy_body + "}");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 429);
  EXPECT_EQ(r->header("retry-after"), "1");
  const json::value v = parse(r->body);
  EXPECT_EQ(v.at("error").at("code").as_string(), "queue_full");
  EXPECT_FALSE(v.at("error").at("message").as_string().empty());
  EXPECT_EQ(
      s.metric(
          "spillway_engine_requests_rejected_total{model_name=\"tiny\",reason=\"queue_full\"}"),
      1);
  s.engine().set_paused(false);
  auto ok = first.read_response();
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
}

TEST(Api, LoadingAnswers503) {
  api_server s({}, named("a"), /*start=*/false);
  http_client c(s.port());
  auto h = c.request("GET", "/health");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 503);
  EXPECT_EQ(parse(h->body).at("status").as_string(), "loading");
  auto r = c.request("POST", "/v1/completions", greedy_body + "}");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_FALSE(r->header("retry-after").empty());
  EXPECT_EQ(parse(r->body).at("error").at("code").as_string(), "loading");
}

TEST(Api, ClientAbortFreesTheSequenceAndItsBlocks) {
  api_server s({}, named("a"));
  {
    http_client c(s.port());
    ASSERT_TRUE(c.send(
        "POST", "/v1/completions",
        R"({"prompt": "once upon a time there was", "max_tokens": 200, "temperature": 0, "ignore_eos": true, "stream": true})"));
    http_response head;
    ASSERT_TRUE(c.read_head(head));
    ASSERT_EQ(head.status, 200);
    std::string chunk;
    ASSERT_TRUE(c.read_chunk(chunk));
    s.engine().set_paused(true);  // hold the sequence mid-generation
    EXPECT_GT(s.metric("spillway_engine_kv_blocks_used"), 0);
    EXPECT_EQ(s.metric("vllm:num_requests_running"), 1);
    EXPECT_GT(s.metric("vllm:kv_cache_usage_perc"), 0);
  }  // the client disconnects
  EXPECT_TRUE(s.eventually([&] {
    return s.metric("spillway_engine_kv_blocks_used") == 0 &&
           s.metric("vllm:num_requests_running") == 0;
  }));
  EXPECT_EQ(s.metric("vllm:kv_cache_usage_perc"), 0);
  EXPECT_EQ(s.metric("vllm:request_success_total{model_name=\"tiny\",finished_reason=\"abort\"}"),
            1);
  EXPECT_LT(s.metric("vllm:generation_tokens_total"), 200);
}

TEST(Api, MetricsUseTheVllmNamesAndCountPrefixHits) {
  api_server s({}, named("a"));
  http_client c(s.port());
  const std::string body =
      R"({"prompt": "once upon a time there was a little girl named lily she loved to play", "max_tokens": 2, "temperature": 0, "ignore_eos": true})";
  ASSERT_EQ(c.request("POST", "/v1/completions", body)->status, 200);
  ASSERT_EQ(c.request("POST", "/v1/completions", body)->status, 200);
  for (const char* name :
       {"vllm:num_requests_waiting", "vllm:num_requests_running", "vllm:kv_cache_usage_perc",
        "vllm:time_to_first_token_seconds_count", "vllm:generation_tokens_total",
        "vllm:prefix_cache_queries_total", "vllm:prefix_cache_hits_total"})
    EXPECT_GE(s.metric(name), 0) << name;
  EXPECT_EQ(s.metric("vllm:generation_tokens_total"), 4);
  EXPECT_EQ(s.metric("vllm:time_to_first_token_seconds_count"), 2);
  EXPECT_GT(s.metric("vllm:prefix_cache_hits_total"), 0);
  EXPECT_GT(s.metric("vllm:prefix_cache_queries_total"), s.metric("vllm:prefix_cache_hits_total"));
}

TEST(Api, FaultErrorRateFailsRequestsWithTheGivenStatus) {
  api::server_options so = named("faulty");
  so.fault_error_rate = 1.0;
  so.fault_status = 500;
  api_server s({}, so);
  http_client c(s.port());
  auto r = c.request("POST", "/v1/completions", greedy_body + "}");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(parse(r->body).at("error").at("code").as_string(), "injected_fault");
  EXPECT_EQ(r->header("x-engine-name"), "faulty");
  EXPECT_EQ(c.request("GET", "/health")->status, 200);  // health is not faulted
}

TEST(Api, FaultStallStopsTheStreamAndHoldsTheConnection) {
  api::server_options so = named("stall");
  so.fault_stall_after = 3;
  api_server s({}, so);
  http_client c(s.port());
  ASSERT_TRUE(c.send(
      "POST", "/v1/completions",
      R"({"prompt": "hello", "max_tokens": 200, "temperature": 0, "ignore_eos": true, "stream": true})"));
  http_response head;
  ASSERT_TRUE(c.read_head(head));
  ASSERT_EQ(head.status, 200);
  for (int i = 0; i < 3; ++i) {
    std::string chunk;
    ASSERT_TRUE(c.read_chunk(chunk));
    EXPECT_EQ(chunk.rfind("data: {", 0), 0u) << chunk;
  }
  EXPECT_TRUE(c.silent_for(300ms));
  // The engine dropped the sequence; the connection stays open.
  EXPECT_TRUE(s.eventually([&] { return s.metric("vllm:num_requests_running") == 0; }));
  EXPECT_EQ(s.metric("vllm:request_success_total{model_name=\"tiny\",finished_reason=\"abort\"}"),
            1);
  EXPECT_TRUE(c.silent_for(50ms));
}

TEST(Api, FaultDelayHoldsTheRequest) {
  api::server_options so = named("slow");
  so.fault_delay = 150ms;
  api_server s({}, so);
  http_client c(s.port());
  const auto start = std::chrono::steady_clock::now();
  auto r = c.request("POST", "/v1/completions", greedy_body + "}");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 150ms);
}

TEST(Api, ExpectContinueIsAnswered) {
  api_server s({}, named("a"));
  http_client c(s.port());
  const std::string body = greedy_body + "}";
  ASSERT_TRUE(
      c.send_raw("POST /v1/completions HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                 "Content-Type: application/json\r\nContent-Length: " +
                 std::to_string(body.size()) + "\r\n\r\n"));
  auto cont = c.read_response(5s);
  ASSERT_TRUE(cont);
  EXPECT_EQ(cont->status, 100);
  ASSERT_TRUE(c.send_raw(body));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST(Api, OversizedBodyIsRefused) {
  api::server_options so = named("a");
  so.max_body_bytes = 1024;
  api_server s({}, so);
  http_client c(s.port());
  auto r =
      c.request("POST", "/v1/completions", R"({"prompt": ")" + std::string(4000, 'a') + R"("})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
}

}  // namespace
}  // namespace spillway::engine::test
