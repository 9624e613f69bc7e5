// Prometheus text parsing on vLLM-like metrics, and the shared report store.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "proxy/health/load_report.hpp"

namespace spillway::health {
namespace {

using namespace std::chrono_literals;

// Shaped like vLLM's /metrics: HELP/TYPE comments, labels, histograms, two engines (data parallel)
// and one model with a label value holding braces, commas, quotes and escapes.
const char* const vllm_text =
    R"(# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="meta-llama/Llama-3.1-8B"} 3.0
vllm:num_requests_running{engine="1",model_name="meta-llama/Llama-3.1-8B"} 2.0
# HELP vllm:num_requests_waiting Number of requests waiting to be processed.
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{engine="0",model_name="meta-llama/Llama-3.1-8B"} 1.5e1
vllm:num_requests_waiting{engine="1",model_name="odd \"name\" {a,b} \\ x"} 4 1712345678901
# HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.
# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc{engine="0",model_name="meta-llama/Llama-3.1-8B"} 0.42
vllm:kv_cache_usage_perc{engine="1",model_name="meta-llama/Llama-3.1-8B"} 6.1E-1
vllm:num_requests_waiting_by_reason{reason="capacity"} 99
vllm:time_to_first_token_seconds_bucket{le="+Inf",model_name="m"} 17
vllm:time_to_first_token_seconds_sum{model_name="m"} NaN
vllm:e2e_request_latency_seconds_count -Inf
process_start_time_seconds 1.712345678e+09
)";

TEST(prometheus_text, sample_lines) {
  metric_line m;
  ASSERT_TRUE(parse_sample_line("up 1", m));
  EXPECT_EQ(m.name, "up");
  EXPECT_EQ(m.labels, "");
  EXPECT_EQ(m.value, 1);

  ASSERT_TRUE(parse_sample_line(R"(a:b_c{x="1",y="}\"{"} -2.5e-3 123)", m));
  EXPECT_EQ(m.name, "a:b_c");
  EXPECT_EQ(m.labels, R"(x="1",y="}\"{")");
  EXPECT_DOUBLE_EQ(m.value, -2.5e-3);

  ASSERT_TRUE(parse_sample_line("x NaN", m));
  EXPECT_TRUE(std::isnan(m.value));
  ASSERT_TRUE(parse_sample_line("x +Inf", m));
  EXPECT_TRUE(std::isinf(m.value) && m.value > 0);
  ASSERT_TRUE(parse_sample_line("x -Inf", m));
  EXPECT_TRUE(std::isinf(m.value) && m.value < 0);
  ASSERT_TRUE(parse_sample_line("x\t7\r", m));
  EXPECT_EQ(m.value, 7);
  ASSERT_TRUE(parse_sample_line("  x{} 1E3  ", m));
  EXPECT_EQ(m.value, 1000);

  for (const char* bad : {"", "# HELP x y", "#x 1", "x", "x{a=\"1\" 2", "1x 2", "x 1 2 3", "x abc",
                          "x 1 1.5", "x{a=\"1\"}2", "x ++1", "x 1e", "{a=\"1\"} 2"})
    EXPECT_FALSE(parse_sample_line(bad, m)) << bad;
}

TEST(prometheus_text, for_each_sample_counts_malformed_lines_only) {
  std::vector<std::string> names;
  const std::size_t bad = for_each_sample(
      "# comment\n\nok 1\nbroken line here\r\n  # indented comment\nok2{a=\"b\"} 2\nlast 3",
      [&](const metric_line& m) { names.emplace_back(m.name); });
  EXPECT_EQ(bad, 1u);
  EXPECT_EQ(names, (std::vector<std::string>{"ok", "ok2", "last"}));
}

TEST(load_report, vllm_metrics_are_summed_and_kv_is_the_maximum) {
  const config::load_report_config cfg;
  const auto s = parse_load_report(vllm_text, cfg);
  ASSERT_TRUE(s);
  EXPECT_DOUBLE_EQ(s->running, 5);
  EXPECT_DOUBLE_EQ(s->waiting, 19);  // 15 + 4; the _by_reason series is another metric
  EXPECT_DOUBLE_EQ(s->kv_usage, 0.61);
}

TEST(load_report, configured_names_nan_negative_and_missing_metrics) {
  config::load_report_config cfg;
  cfg.waiting_metric = "sglang:num_queue_reqs";
  cfg.running_metric = "sglang:num_running_reqs";
  cfg.kv_usage_metric = "sglang:token_usage";
  EXPECT_FALSE(parse_load_report(vllm_text, cfg));  // none of these names: no report
  const auto s = parse_load_report(
      "sglang:num_queue_reqs NaN\nsglang:num_running_reqs 7\nsglang:num_running_reqs -3\n"
      "sglang:token_usage 1.7\n",
      cfg);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->waiting, 0);
  EXPECT_EQ(s->running, 7);
  EXPECT_EQ(s->kv_usage, 1.0);  // clamped
  EXPECT_FALSE(parse_load_report("", cfg));
  EXPECT_FALSE(parse_load_report("sglang:token_usage 0.5\n", cfg));
}

TEST(load_report_store, fresh_until_deadline_and_dropped_on_failure) {
  manual_clock clock;
  load_report_store store(2);
  EXPECT_FALSE(store.read(0, clock.now()).fresh);
  store.record(0, {.waiting = 3, .running = 70000, .kv_usage = 0.4567}, 5, clock.now() + 1500ms);
  load_view v = store.read(0, clock.now());
  ASSERT_TRUE(v.fresh);
  EXPECT_EQ(v.waiting, 3u);
  EXPECT_EQ(v.running, 0xffffu);  // clamped to 16 bits
  EXPECT_EQ(v.kv_permille, 457u);
  EXPECT_EQ(v.active_at_scrape, 5u);
  EXPECT_FALSE(store.read(1, clock.now()).fresh);
  clock.advance(1499ms);
  EXPECT_TRUE(store.read(0, clock.now()).fresh);
  clock.advance(1ms);
  EXPECT_FALSE(store.read(0, clock.now()).fresh);

  store.record(0, {.waiting = 1}, 0, clock.now() + 1s);
  EXPECT_TRUE(store.read(0, clock.now()).fresh);
  store.invalidate(0);
  EXPECT_FALSE(store.read(0, clock.now()).fresh);
  EXPECT_EQ(store.scrapes_ok(0), 2u);
  EXPECT_EQ(store.scrapes_failed(0), 1u);
  const double inf = std::numeric_limits<double>::infinity();
  store.record(1, {.waiting = inf, .running = std::nan(""), .kv_usage = inf}, 0, clock.now() + 1s);
  v = store.read(1, clock.now());
  EXPECT_EQ(v.waiting, 0xffffu);
  EXPECT_EQ(v.running, 0u);
  EXPECT_EQ(v.kv_permille, 1000u);
}

}  // namespace
}  // namespace spillway::health
