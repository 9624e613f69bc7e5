// Cross-check against wrk and h2load: against the same upstream, closed-loop throughput of
// spillway-loadgen must be within 10% of theirs. The upstream answers after a fixed 5 ms, so
// the ceiling is set by the delay (concurrency / 5 ms), not by whichever client is fastest;
// what is checked is that the closed loop really keeps N requests in flight and counts them
// right. Medians of three alternating 2-second runs. Label "bench": timing-based.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <regex>

#include "process.hpp"
#include "test_upstream.hpp"

namespace spillway::loadgen::test {
namespace {

constexpr int concurrency = 16;
constexpr int rounds = 3;

bool have(const std::string& tool) {
  return run_process({"sh", "-c", "command -v " + tool}, std::chrono::seconds(5)).exit_code == 0;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double loadgen_rps(const std::string& url, bool h2, temp_dir& dir) {
  const std::string out = dir.file("x.json");
  std::vector<std::string> args = {SPILLWAY_LOADGEN_BIN,
                                   url,
                                   "--concurrency",
                                   std::to_string(concurrency),
                                   "--duration",
                                   "2s",
                                   "--quiet",
                                   "--json",
                                   out};
  if (h2) {
    args.push_back("--http2");
    args.push_back("--connections");
    args.push_back("1");
  }
  auto p = run_process(args, std::chrono::seconds(30));
  if (p.exit_code != 0) return -1;
  auto j = boost::json::parse(read_text(out)).as_object();
  return j.at("request_throughput").to_number<double>();
}

double parse_rps(const std::string& text, const std::regex& re) {
  std::smatch m;
  if (!std::regex_search(text, m, re)) return -1;
  return std::stod(m[1]);
}

double wrk_rps(const std::string& url) {
  auto p = run_process({"wrk", "-t1", "-c" + std::to_string(concurrency), "-d2s", url},
                       std::chrono::seconds(30));
  return parse_rps(p.out, std::regex(R"(Requests/sec:\s+([0-9.]+))"));
}

double h2load_rps(const std::string& url, bool h2) {
  std::vector<std::string> args = {"h2load", "-D", "2"};
  if (h2) {
    args.insert(args.end(), {"-c1", "-m" + std::to_string(concurrency)});
  } else {
    args.insert(args.end(), {"--h1", "-c" + std::to_string(concurrency), "-m1"});
  }
  args.push_back(url);
  auto p = run_process(args, std::chrono::seconds(30));
  return parse_rps(p.out, std::regex(R"(finished in [0-9.]+m?s, ([0-9.]+) req/s)"));
}

TEST(LoadgenCrossCheck, Http1ClosedLoopMatchesWrkAndH2load) {
  if (!have("wrk") || !have("h2load")) GTEST_SKIP() << "wrk or h2load not installed";
  upstream up({.delay_ms = 5});
  ASSERT_NE(up.start(), 0);
  const std::string url = "http://127.0.0.1:" + std::to_string(up.port()) + "/";
  temp_dir dir;
  std::vector<double> ours, wrk, h2l;
  for (int i = 0; i < rounds; ++i) {
    ours.push_back(loadgen_rps(url, false, dir));
    wrk.push_back(wrk_rps(url));
    h2l.push_back(h2load_rps(url, false));
  }
  const double a = median(ours), b = median(wrk), c = median(h2l);
  RecordProperty("loadgen_rps", std::to_string(a));
  RecordProperty("wrk_rps", std::to_string(b));
  RecordProperty("h2load_rps", std::to_string(c));
  ASSERT_GT(a, 0);
  ASSERT_GT(b, 0);
  ASSERT_GT(c, 0);
  EXPECT_NEAR(a / b, 1.0, 0.10) << "loadgen " << a << " wrk " << b;
  EXPECT_NEAR(a / c, 1.0, 0.10) << "loadgen " << a << " h2load " << c;
}

TEST(LoadgenCrossCheck, Http2ClosedLoopMatchesH2load) {
  if (!have("h2load")) GTEST_SKIP() << "h2load not installed";
  upstream up({.delay_ms = 5});
  ASSERT_NE(up.start(), 0);
  const std::string url = "http://127.0.0.1:" + std::to_string(up.port()) + "/";
  temp_dir dir;
  std::vector<double> ours, h2l;
  for (int i = 0; i < rounds; ++i) {
    ours.push_back(loadgen_rps(url, true, dir));
    h2l.push_back(h2load_rps(url, true));
  }
  const double a = median(ours), c = median(h2l);
  RecordProperty("loadgen_rps", std::to_string(a));
  RecordProperty("h2load_rps", std::to_string(c));
  ASSERT_GT(a, 0);
  ASSERT_GT(c, 0);
  EXPECT_NEAR(a / c, 1.0, 0.10) << "loadgen " << a << " h2load " << c;
}

}  // namespace
}  // namespace spillway::loadgen::test
