#include "loadgen/collector.hpp"

#include <gtest/gtest.h>

#include "loadgen/report.hpp"

namespace spillway::loadgen {
namespace {

constexpr int64_t ms = 1'000'000;

request_ctx streamed(uint64_t index, int64_t scheduled, int64_t ttft, int64_t e2e,
                     uint32_t tokens) {
  request_ctx r;
  r.index = index;
  r.scheduled = scheduled;
  r.sent = scheduled;
  r.first_byte = scheduled + ttft / 2;
  r.first_token = scheduled + ttft;
  r.done = scheduled + e2e;
  r.status = 200;
  r.tokens = tokens;
  for (uint32_t i = 1; i < tokens; ++i) r.itl.push_back((e2e - ttft) / (tokens - 1));
  return r;
}

TEST(Collector, VllmDefinitions) {
  options o;
  o.openai = o.stream = true;
  o.slo.ttft = std::chrono::milliseconds(150);
  o.slo.tpot = std::chrono::milliseconds(60);
  collector c(o);
  c.on_done(streamed(0, 0, 100 * ms, 500 * ms, 5));   // TPOT (500-100)/4 = 100ms: misses tpot
  c.on_done(streamed(1, 0, 100 * ms, 300 * ms, 5));   // TPOT 50ms: good
  c.on_done(streamed(2, 0, 200 * ms, 300 * ms, 3));   // TTFT too slow
  auto usage = streamed(3, 0, 50 * ms, 250 * ms, 4);  // usage overrides the chunk count
  usage.usage_completion = 9;
  usage.usage_prompt = 20;
  c.on_done(usage);
  EXPECT_EQ(c.completed, 4u);
  EXPECT_EQ(c.good, 2u);  // requests 1 and 3 (TPOT 200/8 = 25ms)
  EXPECT_EQ(c.output_tokens, 5u + 5 + 3 + 9);
  EXPECT_EQ(c.input_tokens, 20u);
  EXPECT_EQ(c.tpot.count(), 4u);
  EXPECT_NEAR(static_cast<double>(c.tpot.max()), 100.0 * ms, 0.1 * ms);
  EXPECT_NEAR(static_cast<double>(c.ttft.percentile(100)), 200.0 * ms, 0.2 * ms);
  EXPECT_EQ(c.itl.count(), 4u + 4 + 2 + 3);
  EXPECT_EQ(c.usage_reported, 1u);
}

TEST(Collector, LatencyFromScheduleServiceFromSend) {
  options o;
  collector c(o);
  request_ctx r;
  r.scheduled = 0;
  r.sent = 40 * ms;  // waited 40ms for a connection
  r.done = 50 * ms;
  r.status = 200;
  c.on_sent(r);
  c.on_done(r);
  EXPECT_NEAR(static_cast<double>(c.latency.max()), 50.0 * ms, 0.05 * ms);
  EXPECT_NEAR(static_cast<double>(c.service.max()), 10.0 * ms, 0.01 * ms);
  EXPECT_EQ(c.late_sends, 1u);
}

TEST(Collector, ErrorsWarmupAndCancellations) {
  options o;
  o.warmup = std::chrono::seconds(1);
  collector c(o);
  request_ctx warm;
  warm.scheduled = 10 * ms;
  warm.measured = false;
  warm.done = 20 * ms;
  c.on_done(warm);
  request_ctx failed;
  failed.scheduled = 1100 * ms;
  failed.done = 1200 * ms;
  failed.status = 503;
  failed.error = error_class::http_status;
  c.on_done(failed);
  request_ctx cancelled;
  cancelled.scheduled = 1100 * ms;
  cancelled.done = 1150 * ms;
  cancelled.error = error_class::cancelled;
  c.on_done(cancelled);
  EXPECT_EQ(c.warmup_requests, 1u);
  EXPECT_EQ(c.failed, 1u);
  EXPECT_EQ(c.cancelled, 1u);
  EXPECT_EQ(c.completed, 0u);
  EXPECT_EQ(c.latency.count(), 0u);
  EXPECT_EQ(c.errors[static_cast<size_t>(error_class::http_status)], 1u);
  EXPECT_EQ(c.status_counts.at(503), 1u);
  ASSERT_GE(c.series().size(), 2u);
  EXPECT_EQ(c.series()[1].errors, 1u);
}

TEST(Collector, SessionStickinessAndMerge) {
  options o;
  collector a(o), b(o);
  const auto served = [](uint32_t session, const char* engine) {
    request_ctx r;
    r.scheduled = 0;
    r.done = ms;
    r.status = 200;
    r.session_index = session;
    r.engine = engine;
    return r;
  };
  for (int i = 0; i < 9; ++i) a.on_done(served(1, "a"));
  b.on_done(served(1, "b"));
  for (int i = 0; i < 10; ++i) b.on_done(served(2, "b"));
  EXPECT_DOUBLE_EQ(a.session_stickiness(), 1.0);
  a.merge(b);
  EXPECT_DOUBLE_EQ(a.session_stickiness(), 19.0 / 20.0);
  EXPECT_EQ(a.engines.at("b"), 11u);
  EXPECT_EQ(a.completed, 20u);
}

TEST(Collector, UnreachableOnlyWhenEveryRequestFailedToConnect) {
  options o;
  run_result r;
  r.stats = std::make_unique<collector>(o);
  request_ctx x;
  x.scheduled = 0;
  x.done = ms;
  x.error = error_class::connect;
  r.stats->on_done(x);
  EXPECT_TRUE(summarize(o, r).unreachable);
  x.error = error_class::none;
  x.status = 200;
  r.stats->on_done(x);
  EXPECT_FALSE(summarize(o, r).unreachable);
}

}  // namespace
}  // namespace spillway::loadgen
