// The spillway-loadgen binary against the scripted upstream on loopback: known delays must be
// reported as such, a stall must show up as coordinated-omission-corrected latency, streamed
// answers must give the right TTFT/ITL/TPOT and token counts, and every error class must land
// where it belongs. Each run is short (about a second).
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>

#include "process.hpp"
#include "test_upstream.hpp"

namespace spillway::loadgen::test {
namespace {

namespace json = boost::json;

struct loadgen_run {
  int exit_code = -1;
  json::object summary;
  std::string out, err;
};

loadgen_run run_loadgen(std::vector<std::string> args, const temp_dir& dir) {
  const std::string json_path = dir.file("out.json");
  std::filesystem::remove(json_path);
  args.insert(args.begin(), SPILLWAY_LOADGEN_BIN);
  args.push_back("--json");
  args.push_back(json_path);
  args.push_back("--no-progress");
  auto p = run_process(args, std::chrono::seconds(60));
  loadgen_run r;
  r.exit_code = p.exit_code;
  r.out = p.out;
  r.err = p.err;
  json::error_code ec;
  auto v = json::parse(read_text(json_path), ec);
  if (!ec && v.is_object()) r.summary = v.as_object();
  return r;
}

double num(const json::value& v) {
  if (v.is_double()) return v.as_double();
  if (v.is_int64()) return static_cast<double>(v.as_int64());
  if (v.is_uint64()) return static_cast<double>(v.as_uint64());
  return -1;
}

double get(const json::object& o, std::initializer_list<std::string_view> path) {
  const json::value* v = nullptr;
  const json::object* cur = &o;
  for (auto key : path) {
    v = cur->if_contains(key);
    if (!v) return -1;
    if (v->is_object()) cur = &v->as_object();
  }
  return v ? num(*v) : -1;
}

std::string url(const upstream& u, const std::string& path = "/") {
  return "http://127.0.0.1:" + std::to_string(u.port()) + path;
}

class LoadgenIntegration : public ::testing::Test {
 protected:
  temp_dir dir;
};

TEST_F(LoadgenIntegration, ClosedLoopReportsAKnownFixedDelay) {
  upstream up({.delay_ms = 20});
  ASSERT_NE(up.start(), 0);
  auto r = run_loadgen({url(up), "--concurrency", "4", "--duration", "1500ms"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const double p50 = get(r.summary, {"latency", "p50_ms"});
  EXPECT_GE(p50, 20.0);
  EXPECT_LE(p50, 35.0);  // loopback and a loaded CI machine add a little, never less
  EXPECT_GE(get(r.summary, {"latency", "min_ms"}), 20.0);
  // Four requests in flight, 20 ms each: 200 req/s at most.
  const double rps = get(r.summary, {"request_throughput"});
  EXPECT_GT(rps, 120.0);
  EXPECT_LE(rps, 201.0);
  EXPECT_EQ(get(r.summary, {"failed"}), 0);
  EXPECT_EQ(get(r.summary, {"connections", "opened"}), 4);  // keep-alive: no reconnects
  EXPECT_NE(r.out.find("latency"), std::string::npos);
}

TEST_F(LoadgenIntegration, OpenLoopSendsTheWholeScheduleOnTime) {
  upstream up({.delay_ms = 10});
  ASSERT_NE(up.start(), 0);
  auto r = run_loadgen({url(up), "--rate", "100", "--duration", "1500ms"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(get(r.summary, {"completed"}), 150);
  EXPECT_EQ(up.requests(), 150u);
  const double p50 = get(r.summary, {"latency", "p50_ms"});
  EXPECT_GE(p50, 10.0);
  EXPECT_LE(p50, 25.0);
  // Mostly on time; a loaded CI machine may wake the timer late now and then.
  EXPECT_LT(get(r.summary, {"send_lag", "p50_ms"}), 5.0);
  EXPECT_EQ(get(r.summary, {"waited_for_connection"}), 0);
}

TEST_F(LoadgenIntegration, StallShowsUpAsCorrectedLatencyNotHidden) {
  // Request 40 stalls 500 ms. Open loop at 200 req/s on one connection: the ~100 requests
  // scheduled during the stall queue behind it and their latency counts from their schedule.
  upstream up({.delay_ms = 1, .stall_after = 40, .stall_ms = 500});
  ASSERT_NE(up.start(), 0);
  auto open =
      run_loadgen({url(up), "--rate", "200", "--duration", "2s", "--connections", "1"}, dir);
  ASSERT_EQ(open.exit_code, 0) << open.err;
  EXPECT_GE(get(open.summary, {"latency", "max_ms"}), 500.0);
  EXPECT_GE(get(open.summary, {"latency", "p90_ms"}), 100.0);
  EXPECT_LT(get(open.summary, {"service_time", "p50_ms"}), 20.0);
  EXPECT_GE(get(open.summary, {"late_sends"}), 50);
  EXPECT_GE(get(open.summary, {"waited_for_connection"}), 50);

  // The same stall in a closed loop hides behind a single slow sample: that is the omission.
  upstream up2({.delay_ms = 1, .stall_after = 40, .stall_ms = 500});
  ASSERT_NE(up2.start(), 0);
  auto closed = run_loadgen({url(up2), "--concurrency", "1", "--duration", "2s"}, dir);
  ASSERT_EQ(closed.exit_code, 0) << closed.err;
  EXPECT_GE(get(closed.summary, {"latency", "max_ms"}), 500.0);
  EXPECT_LT(get(closed.summary, {"latency", "p90_ms"}), 50.0);
}

TEST_F(LoadgenIntegration, StreamingMetrics) {
  upstream up({.name = "engine-x",
               .delay_ms = 50,
               .itl_ms = 20,
               .tokens = 10,
               .cache_status = "spillway; fwd=miss; stored"});
  ASSERT_NE(up.start(), 0);
  auto r = run_loadgen({url(up, "/v1/completions"), "--rate", "20", "--duration", "1s", "--openai",
                        "--stream", "--max-tokens", "10", "--slo", "ttft=500ms,tpot=100ms"},
                       dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto& s = r.summary;
  const double done = get(s, {"completed"});
  EXPECT_EQ(done, 20);
  EXPECT_EQ(get(s, {"total_output_tokens"}), 10 * done);
  EXPECT_GE(get(s, {"median_ttft_ms"}), 50.0);
  EXPECT_LE(get(s, {"median_ttft_ms"}), 75.0);
  EXPECT_GE(get(s, {"median_itl_ms"}), 19.0);
  EXPECT_LE(get(s, {"median_itl_ms"}), 35.0);
  EXPECT_GE(get(s, {"median_tpot_ms"}), 19.0);
  EXPECT_LE(get(s, {"median_tpot_ms"}), 35.0);
  EXPECT_GE(get(s, {"median_e2el_ms"}), 230.0);
  EXPECT_LE(get(s, {"median_e2el_ms"}), 330.0);
  EXPECT_GT(get(s, {"p99_itl_ms"}), 0);
  EXPECT_NEAR(get(s, {"request_goodput"}), get(s, {"request_throughput"}), 1e-9);
  EXPECT_EQ(get(s, {"engines", "engine-x"}), done);
  EXPECT_EQ(get(s, {"cache_status", "spillway; fwd=miss; stored"}), done);
  EXPECT_EQ(get(s, {"usage_reported"}), done);
  // 10 tokens + usage + [DONE] = 12 events per answer, each written on its own.
  EXPECT_EQ(get(s, {"sse_events"}), 12 * done);
  EXPECT_GE(get(s, {"body_chunks"}), 10 * done);

  auto strict = run_loadgen({url(up, "/v1/completions"), "--rate", "20", "--duration", "500ms",
                             "--openai", "--stream", "--slo", "ttft=10ms"},
                            dir);
  ASSERT_EQ(strict.exit_code, 0) << strict.err;
  EXPECT_EQ(get(strict.summary, {"request_goodput"}), 0);
  EXPECT_EQ(get(strict.summary, {"good_requests"}), 0);
}

TEST_F(LoadgenIntegration, ChatNonStreamedUsesUsage) {
  upstream up({.tokens = 7});
  ASSERT_NE(up.start(), 0);
  auto r = run_loadgen(
      {url(up, "/v1/chat/completions"), "--concurrency", "2", "--max-requests", "10", "--openai"},
      dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(get(r.summary, {"completed"}), 10);
  EXPECT_EQ(get(r.summary, {"total_output_tokens"}), 70);
  EXPECT_GT(get(r.summary, {"total_input_tokens"}), 0);
}

TEST_F(LoadgenIntegration, SessionsUseTheSessionHeader) {
  upstream up({.tokens = 2, .session_header = "x-conversation"});
  ASSERT_NE(up.start(), 0);
  auto r = run_loadgen({url(up, "/v1/completions"), "--rate", "100", "--duration", "1s", "--openai",
                        "--stream", "--sessions", "5", "--session-header", "X-Conversation"},
                       dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(up.session_requests(), up.requests());
  EXPECT_EQ(up.distinct_sessions(), 5u);
  EXPECT_EQ(get(r.summary, {"session_stickiness"}), 1.0);
}

TEST_F(LoadgenIntegration, PromptsFromJsonl) {
  upstream up({.tokens = 3});
  ASSERT_NE(up.start(), 0);
  write_text(dir.file("prompts.jsonl"),
             "{\"prompt\":\"one\"}\n{\"prompt\":\"two\",\"max_tokens\":5}\n");
  auto r = run_loadgen({url(up, "/v1/completions"), "--concurrency", "1", "--max-requests", "4",
                        "--openai", "--stream", "--prompts", dir.file("prompts.jsonl")},
                       dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(get(r.summary, {"completed"}), 4);
  write_text(dir.file("bad.jsonl"), "{\"nope\":1}\n");
  auto bad = run_loadgen(
      {url(up, "/v1/completions"), "--openai", "--prompts", dir.file("bad.jsonl")}, dir);
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("line 1"), std::string::npos);
}

TEST_F(LoadgenIntegration, ErrorClasses) {
  upstream up({.tokens = 6, .cut_after = 3});
  ASSERT_NE(up.start(), 0);
  auto cut = run_loadgen({url(up, "/v1/completions"), "--concurrency", "2", "--max-requests", "6",
                          "--openai", "--stream"},
                         dir);
  ASSERT_EQ(cut.exit_code, 0) << cut.err;
  EXPECT_EQ(get(cut.summary, {"errors", "stream_cut"}), 6);
  EXPECT_EQ(get(cut.summary, {"completed"}), 0);

  auto status =
      run_loadgen({url(up, "/?status=503"), "--concurrency", "2", "--max-requests", "8"}, dir);
  ASSERT_EQ(status.exit_code, 0) << status.err;
  EXPECT_EQ(get(status.summary, {"errors", "http_status"}), 8);
  EXPECT_EQ(get(status.summary, {"status_codes", "503"}), 8);
  EXPECT_EQ(status.summary.at("error_examples").at("503").as_string(), "ok");  // the body

  auto slow = run_loadgen(
      {url(up, "/?delay_ms=3000"), "--rate", "10", "--duration", "500ms", "--timeout", "300ms"},
      dir);
  ASSERT_EQ(slow.exit_code, 0) << slow.err;
  EXPECT_EQ(get(slow.summary, {"errors", "timeout"}), 5);
}

TEST_F(LoadgenIntegration, UnreachableTargetExitsNonZero) {
  uint16_t port = 0;
  {
    upstream probe({});
    port = probe.start();
  }  // closed again: nothing listens there now
  ASSERT_NE(port, 0);
  auto r = run_loadgen({"http://127.0.0.1:" + std::to_string(port) + "/", "--concurrency", "2",
                        "--duration", "300ms"},
                       dir);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_GT(get(r.summary, {"errors", "connect"}), 0);
  EXPECT_EQ(get(r.summary, {"completed"}), 0);
}

TEST_F(LoadgenIntegration, ServerClosedConnectionsAreCounted) {
  upstream up({.delay_ms = 1});
  ASSERT_NE(up.start(), 0);
  auto r = run_loadgen({url(up, "/?close=1"), "--concurrency", "2", "--max-requests", "20"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(get(r.summary, {"completed"}), 20);
  EXPECT_EQ(get(r.summary, {"connections", "server_closed"}), 20);
  EXPECT_GE(get(r.summary, {"connections", "reconnects"}), 18);
}

TEST_F(LoadgenIntegration, IdleConnectionsClosedByTheServerAreReopened) {
  // The server drops keep-alive connections idle for 20 ms; arrivals come every 100 ms.
  upstream up({.delay_ms = 1, .idle_timeout_ms = 20});
  ASSERT_NE(up.start(), 0);
  auto r = run_loadgen({url(up), "--rate", "10", "--duration", "1s"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(get(r.summary, {"completed"}), 10);
  EXPECT_EQ(get(r.summary, {"failed"}), 0);
  EXPECT_GE(get(r.summary, {"connections", "server_closed"}), 6);
  EXPECT_GE(get(r.summary, {"connections", "reconnects"}), 6);
}

TEST_F(LoadgenIntegration, Http2ClosedAndStreamed) {
  upstream up({.delay_ms = 10, .itl_ms = 5, .tokens = 5});
  ASSERT_NE(up.start(), 0);
  auto r = run_loadgen({url(up), "--http2", "--concurrency", "8", "--duration", "1s"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.summary.at("protocol").as_string(), "h2");
  EXPECT_EQ(get(r.summary, {"connections", "opened"}), 1);
  EXPECT_EQ(up.connections(), 1u);
  EXPECT_EQ(up.h2_requests(), up.requests());
  EXPECT_GT(get(r.summary, {"completed"}), 300);  // 8 streams of 10 ms for a second
  EXPECT_GE(get(r.summary, {"latency", "p50_ms"}), 10.0);
  EXPECT_LE(get(r.summary, {"latency", "p50_ms"}), 25.0);

  auto s = run_loadgen({url(up, "/v1/completions"), "--http2", "--rate", "20", "--duration",
                        "500ms", "--openai", "--stream"},
                       dir);
  ASSERT_EQ(s.exit_code, 0) << s.err;
  EXPECT_EQ(get(s.summary, {"completed"}), 10);
  EXPECT_EQ(get(s.summary, {"total_output_tokens"}), 50);
  EXPECT_GE(get(s.summary, {"median_itl_ms"}), 4.5);

  upstream cut({.tokens = 6, .cut_after = 2});
  ASSERT_NE(cut.start(), 0);
  auto c = run_loadgen({url(cut, "/v1/completions"), "--http2", "--concurrency", "3",
                        "--max-requests", "6", "--openai", "--stream"},
                       dir);
  ASSERT_EQ(c.exit_code, 0) << c.err;
  EXPECT_EQ(get(c.summary, {"errors", "stream_cut"}), 6);
}

TEST_F(LoadgenIntegration, CancellationAndTimeoutOverHttp2) {
  upstream up({.delay_ms = 300});
  ASSERT_NE(up.start(), 0);
  auto r = run_loadgen({url(up), "--http2", "--rate", "40", "--duration", "1s", "--cancel-rate",
                        "0.5", "--cancel-after", "100ms"},
                       dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const double cancelled = get(r.summary, {"cancelled"});
  EXPECT_GE(cancelled, 10);
  EXPECT_LE(cancelled, 30);
  EXPECT_EQ(cancelled + get(r.summary, {"completed"}), 40);
}

TEST_F(LoadgenIntegration, WarmupAndMaxRequests) {
  upstream up({});
  ASSERT_NE(up.start(), 0);
  auto r = run_loadgen({url(up), "--rate", "100", "--duration", "1s", "--warmup", "500ms"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(get(r.summary, {"warmup_requests"}), 50);
  EXPECT_EQ(get(r.summary, {"completed"}), 100);
  auto m = run_loadgen({url(up), "--concurrency", "3", "--max-requests", "57"}, dir);
  ASSERT_EQ(m.exit_code, 0) << m.err;
  EXPECT_EQ(get(m.summary, {"completed"}), 57);
}

TEST_F(LoadgenIntegration, ScenarioFile) {
  upstream up({});
  ASSERT_NE(up.start(), 0);
  write_text(dir.file("s.yaml"), "url: " + url(up) +
                                     "\nphases:\n  - {steps: [50, 100], step_duration: 500ms}\n"
                                     "  - {burst: 10}\n");
  auto r = run_loadgen({"--scenario", dir.file("s.yaml")}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(get(r.summary, {"completed"}), 25 + 50 + 10);
  write_text(dir.file("bad.yaml"), "phases:\n  - {duration: 1s, rte: 5}\n");
  auto bad = run_loadgen({url(up), "--scenario", dir.file("bad.yaml")}, dir);
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("bad.yaml:2"), std::string::npos) << bad.err;
}

TEST_F(LoadgenIntegration, ReportFiles) {
  upstream up({.tokens = 4});
  ASSERT_NE(up.start(), 0);
  auto r = run_loadgen({url(up, "/v1/completions"), "--rate", "30", "--duration", "1s", "--openai",
                        "--stream", "--html", dir.file("r.html"), "--requests-out",
                        dir.file("r.jsonl"), "--timeseries", dir.file("r.csv")},
                       dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string html = read_text(dir.file("r.html"));
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_NE(html.find("TTFT"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("src="), std::string::npos);  // nothing external
  EXPECT_EQ(html.find("href="), std::string::npos);
  std::ifstream lines(dir.file("r.jsonl"));
  std::string line;
  int n = 0;
  while (std::getline(lines, line)) {
    auto v = json::parse(line).as_object();
    EXPECT_EQ(num(v.at("output_tokens")), 4);
    EXPECT_EQ(v.at("itl_us").as_array().size(), 3u);
    EXPECT_GT(num(v.at("tpot_us")), 0);
    EXPECT_EQ(v.at("engine").as_string(), "test-upstream");
    ++n;
  }
  EXPECT_EQ(n, 30);
  const std::string csv = read_text(dir.file("r.csv"));
  EXPECT_EQ(csv.rfind("second,scheduled,sent,completed", 0), 0u);
}

TEST_F(LoadgenIntegration, CompareDirectAndProxied) {
  // Two upstreams stand in for "direct" and "through a proxy that adds 100 ms" (large enough
  // to stand out of the noise of a loaded machine between the two runs).
  upstream direct({.delay_ms = 5, .itl_ms = 10, .tokens = 4});
  upstream proxied({.delay_ms = 105, .itl_ms = 10, .tokens = 4});
  ASSERT_NE(direct.start(), 0);
  ASSERT_NE(proxied.start(), 0);
  const std::string json_path = dir.file("cmp.json");
  auto p = run_process({SPILLWAY_LOADGEN_BIN, "compare", url(direct, "/v1/completions"),
                        url(proxied, "/v1/completions"), "--rate", "40", "--duration", "1s",
                        "--openai", "--stream", "--json", json_path, "--no-progress"},
                       std::chrono::seconds(60));
  ASSERT_EQ(p.exit_code, 0) << p.err;
  EXPECT_NE(p.out.find("added"), std::string::npos);
  auto j = json::parse(read_text(json_path)).as_object();
  const double added = get(j, {"added_latency", "ttft", "p50_ms"});
  EXPECT_GE(added, 85.0);
  EXPECT_LE(added, 130.0);
  // Events 10 ms apart arrive one per read on both sides.
  EXPECT_NEAR(get(j, {"sse_chunk_ratio"}), 1.0, 0.15);
  EXPECT_EQ(direct.requests(), proxied.requests());
}

TEST_F(LoadgenIntegration, TlsHttp1AndHttp2ViaAlpn) {
  const std::string cert = dir.file("cert.pem"), key = dir.file("key.pem");
  auto gen = run_process(
      {"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
       "-nodes", "-subj", "/CN=localhost", "-days", "1", "-keyout", key, "-out", cert},
      std::chrono::seconds(30));
  if (gen.exit_code != 0) GTEST_SKIP() << "openssl cannot make a certificate: " << gen.err;
  upstream up({.delay_ms = 2, .tokens = 3, .tls_cert = cert, .tls_key = key});
  ASSERT_NE(up.start(), 0);
  const std::string base = "https://localhost:" + std::to_string(up.port());
  auto h1 = run_loadgen({base + "/v1/completions", "--concurrency", "2", "--max-requests", "10",
                         "--openai", "--stream"},
                        dir);
  ASSERT_EQ(h1.exit_code, 0) << h1.err;
  EXPECT_EQ(get(h1.summary, {"completed"}), 10);
  EXPECT_EQ(get(h1.summary, {"total_output_tokens"}), 30);
  EXPECT_EQ(up.h2_requests(), 0u);
  auto h2 = run_loadgen({base + "/", "--http2", "--concurrency", "4", "--max-requests", "20"}, dir);
  ASSERT_EQ(h2.exit_code, 0) << h2.err;
  EXPECT_EQ(get(h2.summary, {"completed"}), 20);
  EXPECT_EQ(up.h2_requests(), 20u);
  // A certificate nobody vouches for fails verification when asked for.
  auto strict =
      run_loadgen({base + "/", "--concurrency", "1", "--max-requests", "2", "--tls-verify"}, dir);
  EXPECT_EQ(get(strict.summary, {"errors", "tls"}), 2);
}

TEST_F(LoadgenIntegration, SeveralThreadsShareTheScheduleAndTheLoop) {
  upstream up({.delay_ms = 5});
  ASSERT_NE(up.start(), 0);
  auto open = run_loadgen({url(up), "--rate", "200", "--duration", "1s", "--threads", "2"}, dir);
  ASSERT_EQ(open.exit_code, 0) << open.err;
  EXPECT_EQ(get(open.summary, {"completed"}), 200);
  EXPECT_EQ(up.requests(), 200u);
  auto closed =
      run_loadgen({url(up), "--concurrency", "5", "--max-requests", "101", "--threads", "2"}, dir);
  ASSERT_EQ(closed.exit_code, 0) << closed.err;
  EXPECT_EQ(get(closed.summary, {"completed"}), 101);
  EXPECT_EQ(get(closed.summary, {"connections", "opened"}), 5);
}

TEST_F(LoadgenIntegration, UsageErrors) {
  auto r = run_process({SPILLWAY_LOADGEN_BIN, "http://127.0.0.1:1/", "--rate", "x", "--nope"},
                       std::chrono::seconds(10));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--rate"), std::string::npos);
  EXPECT_NE(r.err.find("--nope"), std::string::npos);
  auto h = run_process({SPILLWAY_LOADGEN_BIN, "--help"}, std::chrono::seconds(10));
  EXPECT_EQ(h.exit_code, 0);
  EXPECT_NE(h.out.find("--concurrency"), std::string::npos);
}

}  // namespace
}  // namespace spillway::loadgen::test
