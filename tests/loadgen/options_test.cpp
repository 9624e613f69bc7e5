#include "loadgen/options.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace spillway::loadgen {
namespace {

using namespace std::chrono_literals;

parse_result parse(std::vector<const char*> args) {
  args.insert(args.begin(), "spillway-loadgen");
  return parse_command_line(static_cast<int>(args.size()), args.data());
}

TEST(Options, SpecOpenLoopCommandLine) {
  auto r = parse({"http://127.0.0.1:8080/v1/completions",
                  "--rate",
                  "200",
                  "--arrival",
                  "poisson",
                  "--duration",
                  "30s",
                  "--openai",
                  "--stream",
                  "--max-tokens",
                  "64",
                  "--prompts",
                  "prompts.jsonl",
                  "--sessions",
                  "50",
                  "--slo",
                  "ttft=500ms,tpot=50ms",
                  "--json",
                  "out.json",
                  "--html",
                  "report.html"});
  ASSERT_TRUE(r.ok()) << r.errors.front();
  const options& o = r.opts;
  EXPECT_TRUE(o.open_loop());
  EXPECT_EQ(*o.rate, 200);
  EXPECT_EQ(o.arrival, arrival_kind::poisson);
  EXPECT_EQ(o.duration, 30s);
  EXPECT_TRUE(o.openai && o.stream);
  EXPECT_EQ(o.max_tokens, 64u);
  EXPECT_EQ(o.sessions, 50u);
  EXPECT_EQ(*o.slo.ttft, 500ms);
  EXPECT_EQ(*o.slo.tpot, 50ms);
  EXPECT_FALSE(o.slo.e2e);
  EXPECT_EQ(o.method, "POST");
  EXPECT_EQ(o.target.port, 8080);
  EXPECT_EQ(o.target.target, "/v1/completions");
  EXPECT_FALSE(o.chat());
}

TEST(Options, SpecClosedLoopCommandLine) {
  auto r = parse({"http://127.0.0.1:8080/", "--concurrency", "64", "--duration", "10s"});
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r.opts.open_loop());
  EXPECT_EQ(r.opts.concurrency, 64u);
  EXPECT_EQ(r.opts.method, "GET");
}

TEST(Options, DefaultsToAShortClosedLoop) {
  auto r = parse({"https://example.test/x"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.opts.concurrency, 10u);
  EXPECT_EQ(r.opts.duration, 10s);
  EXPECT_TRUE(r.opts.target.tls);
  EXPECT_EQ(r.opts.target.port, 443);
}

TEST(Options, ReportsEveryError) {
  auto r = parse({"ftp://x", "--rate", "-1", "--bogus", "--stream", "--duration"});
  EXPECT_GE(r.errors.size(), 4u);
}

TEST(Options, HeadersAndEqualsForm) {
  auto r = parse(
      {"http://h/", "--header", "X-A: 1", "--header=Authorization: Bearer t", "--body", "{}"});
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r.opts.headers.size(), 2u);
  EXPECT_EQ(r.opts.headers[1].first, "Authorization");
  EXPECT_EQ(r.opts.headers[1].second, "Bearer t");
  EXPECT_EQ(r.opts.method, "POST");
}

TEST(Options, CompareTakesTwoUrls) {
  auto r = parse({"compare", "http://127.0.0.1:9001/v1/completions",
                  "http://127.0.0.1:8080/v1/completions", "--rate", "10"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.opts.compare_target.port, 9001);
  EXPECT_EQ(r.opts.target.port, 8080);
  EXPECT_FALSE(parse({"compare", "http://a/"}).ok());
}

TEST(Options, Durations) {
  EXPECT_EQ(parse_duration("250ms"), 250ms);
  EXPECT_EQ(parse_duration("1.5s"), 1500ms);
  EXPECT_EQ(parse_duration("2m"), 120s);
  EXPECT_EQ(parse_duration("3"), 3s);
  EXPECT_EQ(parse_duration("500us"), 500us);
  EXPECT_FALSE(parse_duration("5 parsecs"));
  EXPECT_FALSE(parse_duration(""));
  EXPECT_FALSE(parse_slo("ttft"));
  EXPECT_FALSE(parse_slo("latency=5ms"));
  EXPECT_EQ(*parse_slo("e2el=2s")->e2e, 2s);
}

TEST(Options, ScenarioPhasesAndFlags) {
  options o;
  const char* yaml = R"(
url: http://127.0.0.1:8080/v1/chat/completions
openai: true
stream: true
max_tokens: 32
arrival: poisson
headers: {X-Tenant: a}
slo: {ttft: 300ms}
phases:
  - {duration: 10s, rate: 50}
  - {duration: 10s, rate: 50, to: 200}
  - {burst: 100}
  - {duration: 5s, rate: 20, arrival: gamma, burstiness: 0.5}
  - {steps: [10, 20, 30], step_duration: 2s}
)";
  auto errors = apply_scenario(yaml, "s.yaml", {}, o);
  ASSERT_TRUE(errors.empty()) << errors.front();
  EXPECT_EQ(o.url_text, "http://127.0.0.1:8080/v1/chat/completions");
  EXPECT_TRUE(o.openai && o.stream);
  EXPECT_EQ(o.max_tokens, 32u);
  EXPECT_EQ(o.headers.at(0).first, "X-Tenant");
  EXPECT_EQ(*o.slo.ttft, 300ms);
  ASSERT_EQ(o.phases.size(), 7u);
  EXPECT_EQ(*o.phases[1].rate_end, 200);
  EXPECT_EQ(o.phases[2].burst, 100u);
  EXPECT_EQ(*o.phases[3].arrival, arrival_kind::gamma);
  EXPECT_EQ(*o.phases[3].burstiness, 0.5);
  EXPECT_EQ(o.phases[6].rate, 30);
  EXPECT_EQ(o.phases[6].duration, 2s);
}

TEST(Options, ScenarioErrorsNameTheLine) {
  options o;
  auto errors =
      apply_scenario("rate: 5\nphases:\n  - {duration: 1s, rat: 5}\nbogus: 1\n", "f.yaml", {}, o);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_NE(errors[0].find("f.yaml:3"), std::string::npos) << errors[0];
  EXPECT_NE(errors[1].find("f.yaml:4"), std::string::npos) << errors[1];
  EXPECT_FALSE(apply_scenario("phases: [", "g.yaml", {}, o).empty());
}

TEST(Options, CommandLineWinsOverScenario) {
  options o;
  o.max_tokens = 7;
  auto errors = apply_scenario("max_tokens: 99\nseed: 5\n", "s.yaml", {"max-tokens"}, o);
  EXPECT_TRUE(errors.empty());
  EXPECT_EQ(o.max_tokens, 7u);
  EXPECT_EQ(o.seed, 5u);
}

TEST(Options, ScheduleIncludesWarmup) {
  auto r = parse({"http://h/", "--rate", "100", "--duration", "2s", "--warmup", "1s"});
  ASSERT_TRUE(r.ok());
  const auto spec = make_schedule_spec(r.opts);
  ASSERT_EQ(spec.phases.size(), 1u);
  EXPECT_EQ(spec.phases[0].duration, 3s);
  EXPECT_EQ(build_schedule(spec).size(), 300u);
}

TEST(Options, Urls) {
  auto u = parse_url("http://[::1]:9000/a?b=c");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, 9000);
  EXPECT_EQ(u->target, "/a?b=c");
  EXPECT_EQ(u->authority(), "[::1]:9000");
  EXPECT_EQ(parse_url("http://h")->target, "/");
  EXPECT_EQ(parse_url("http://h")->authority(), "h");
  EXPECT_FALSE(parse_url("http://h:0/"));
  EXPECT_FALSE(parse_url("http://:80/"));
  EXPECT_FALSE(parse_url("h:80"));
}

}  // namespace
}  // namespace spillway::loadgen
