#include <gtest/gtest.h>

#include <algorithm>
#include <thread>
#include <vector>

#include "proxy/retry/backoff.hpp"
#include "proxy/retry/retry_after.hpp"
#include "proxy/retry/retry_budget.hpp"
#include "proxy/retry/retry_policy.hpp"

namespace spillway::retry {
namespace {

using namespace std::chrono;
using namespace std::chrono_literals;

config::retry_backoff_config backoff(milliseconds base, milliseconds max) {
  config::retry_backoff_config b;
  b.base = base;
  b.max = max;
  return b;
}

TEST(backoff, ceiling_doubles_then_caps) {
  const auto b = backoff(25ms, 2s);
  EXPECT_EQ(backoff_ceiling(b, 0), 25ms);
  EXPECT_EQ(backoff_ceiling(b, 1), 50ms);
  EXPECT_EQ(backoff_ceiling(b, 3), 200ms);
  EXPECT_EQ(backoff_ceiling(b, 6), 1600ms);
  EXPECT_EQ(backoff_ceiling(b, 7), 2s);
  EXPECT_EQ(backoff_ceiling(b, 1000), 2s);  // no overflow for absurd attempt numbers
  EXPECT_EQ(backoff_ceiling(b, UINT32_MAX), 2s);
}

TEST(backoff, full_jitter_spans_zero_to_ceiling_uniformly) {
  const auto b = backoff(25ms, 2s);
  xoshiro256 rng(5);
  for (uint32_t attempt : {0u, 2u, 9u}) {
    const auto ceiling = backoff_ceiling(b, attempt);
    constexpr int n = 20'000;
    micros lo = micros::max(), hi = micros::zero();
    double sum = 0;
    int below_quarter = 0;
    for (int i = 0; i < n; ++i) {
      const micros d = full_jitter_backoff(b, attempt, rng);
      ASSERT_GE(d, 0us);
      ASSERT_LE(d, ceiling);
      lo = std::min(lo, d);
      hi = std::max(hi, d);
      sum += static_cast<double>(d.count());
      below_quarter += d < ceiling / 4;
    }
    const double c = static_cast<double>(micros(ceiling).count());
    EXPECT_LT(static_cast<double>(lo.count()), c * 0.01) << attempt;
    EXPECT_GT(static_cast<double>(hi.count()), c * 0.99) << attempt;
    EXPECT_NEAR(sum / n / c, 0.5, 0.02) << attempt;
    EXPECT_NEAR(below_quarter / double(n), 0.25, 0.02) << attempt;
  }
}

TEST(backoff, zero_base_means_no_wait) {
  xoshiro256 rng(1);
  EXPECT_EQ(full_jitter_backoff(backoff(0ms, 2s), 3, rng), 0us);
}

// 2024-05-17 12:00:00 UTC, a Friday.
const wall_time now = sys_days{2024y / May / 17} + 12h;

TEST(retry_after, delay_seconds) {
  EXPECT_EQ(parse_retry_after("120", now), 120s);
  EXPECT_EQ(parse_retry_after("0", now), 0s);
  EXPECT_EQ(parse_retry_after(" 7 ", now), 7s);
  EXPECT_FALSE(parse_retry_after("", now));
  EXPECT_FALSE(parse_retry_after("-3", now));
  EXPECT_FALSE(parse_retry_after("1.5", now));
  EXPECT_FALSE(parse_retry_after("12abc", now));
  EXPECT_TRUE(parse_retry_after("99999999999999999999999", now));  // saturates, no overflow
}

TEST(retry_after, imf_fixdate) {
  EXPECT_EQ(parse_retry_after("Fri, 17 May 2024 12:00:30 GMT", now), 30s);
  EXPECT_EQ(parse_retry_after("Sat, 18 May 2024 12:00:00 GMT", now), 24h);
  EXPECT_EQ(parse_retry_after("Fri, 17 May 2024 11:00:00 GMT", now), 0s);  // in the past
  EXPECT_EQ(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT", now),
            sys_days{1994y / November / 6} + 8h + 49min + 37s);
}

TEST(retry_after, obsolete_forms) {
  const wall_time expected = sys_days{1994y / November / 6} + 8h + 49min + 37s;
  EXPECT_EQ(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT", now), expected);
  EXPECT_EQ(parse_http_date("Sun Nov  6 08:49:37 1994", now), expected);
  EXPECT_EQ(parse_http_date("Sun Nov 16 08:49:37 1994", now), expected + days{10});
  // Two-digit year: 24 is this century; 80 would be more than 50 years ahead, so 1980.
  EXPECT_EQ(parse_retry_after("Friday, 17-May-24 12:01:00 GMT", now), 60s);
  EXPECT_EQ(parse_http_date("Saturday, 17-May-80 12:00:00 GMT", now),
            sys_days{1980y / May / 17} + 12h);
}

TEST(retry_after, malformed_dates_are_refused) {
  for (const char* bad : {"Fri, 17 May 2024 12:00:30 UTC", "Fri, 17 Mai 2024 12:00:30 GMT",
                          "Fri, 31 Feb 2024 12:00:30 GMT", "Fri, 17 May 2024 25:00:00 GMT",
                          "Fri, 7 May 2024 12:00:30 GMT", "Fri 17 May 2024 12:00:30 GMT",
                          "Fri, 17 May 2024 12:00:30 GMT trailing", "Sun Nov 6 08:49:37 1994",
                          "tomorrow", "Fri, 17 May 2024"}) {
    EXPECT_FALSE(parse_retry_after(bad, now)) << bad;
  }
}

TEST(retry_after, capped_at_max_retry_after) {
  EXPECT_EQ(retry_after_delay("3", now, 10s), 3s);
  EXPECT_EQ(retry_after_delay("3600", now, 10s), 10s);
  EXPECT_EQ(retry_after_delay("Sat, 18 May 2024 12:00:00 GMT", now, 10s), 10s);
  EXPECT_FALSE(retry_after_delay("soon", now, 10s));
}

TEST(retry_budget, min_retries_when_idle) {
  retry_budget b(0.2, 3);
  EXPECT_EQ(b.limit(), 3u);
  EXPECT_TRUE(b.try_acquire_retry());
  EXPECT_TRUE(b.try_acquire_retry());
  EXPECT_TRUE(b.try_acquire_retry());
  EXPECT_FALSE(b.try_acquire_retry());
  b.release_retry();
  EXPECT_TRUE(b.try_acquire_retry());
}

TEST(retry_budget, share_of_active_requests) {
  retry_budget b(0.2, 3);
  for (int i = 0; i < 100; ++i) b.request_started();
  EXPECT_EQ(b.limit(), 20u);
  int granted = 0;
  while (b.try_acquire_retry()) ++granted;
  EXPECT_EQ(granted, 20);
  EXPECT_EQ(b.retries_in_flight(), 20u);
  for (int i = 0; i < 50; ++i) b.request_finished();
  EXPECT_EQ(b.limit(), 10u);
  EXPECT_FALSE(b.try_acquire_retry());  // over the new limit until retries end
  for (int i = 0; i < 10; ++i) b.release_retry();
  EXPECT_FALSE(b.try_acquire_retry());
  b.release_retry();
  EXPECT_TRUE(b.try_acquire_retry());
}

TEST(retry_budget, concurrent_acquires_never_exceed_the_limit) {
  retry_budget b(0.5, 0);
  for (int i = 0; i < 16; ++i) b.request_started();  // limit 8
  std::atomic<int> granted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 10; ++i) granted += b.try_acquire_retry();
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(granted.load(), 8);
  EXPECT_EQ(b.retries_in_flight(), 8u);
}

config::retry_config route_retry() {
  config::retry_config c;
  c.attempts = 3;
  c.conditions = static_cast<uint32_t>(config::retry_condition::connect_failure) |
                 static_cast<uint32_t>(config::retry_condition::reset);
  c.statuses = {429, 503};
  c.backoff = backoff(25ms, 2s);
  c.max_retry_after = 10s;
  return c;
}

TEST(retry_policy, retries_only_configured_conditions_and_statuses) {
  const retry_policy p(route_retry());
  EXPECT_EQ(p.retryable({failure_kind::connect_failure}), retry_reason::connect_failure);
  EXPECT_EQ(p.retryable({failure_kind::reset}), retry_reason::reset);
  EXPECT_FALSE(p.retryable({failure_kind::timeout}));
  EXPECT_EQ(p.retryable({failure_kind::status, 503}), retry_reason::status);
  EXPECT_EQ(p.retryable({failure_kind::status, 429}), retry_reason::status);
  EXPECT_FALSE(p.retryable({failure_kind::status, 500}));
  EXPECT_TRUE(p.attempts_left(2));
  EXPECT_FALSE(p.attempts_left(3));
}

TEST(retry_policy, delay_prefers_retry_after_when_respected) {
  xoshiro256 rng(3);
  const retry_policy p(route_retry());
  EXPECT_EQ(p.delay(0, "2", now, rng), 2s);
  EXPECT_EQ(p.delay(0, "60", now, rng), 10s);    // capped
  const auto jitter = p.delay(1, "", now, rng);  // no header: backoff
  EXPECT_LE(jitter, 50ms);
  EXPECT_LE(p.delay(1, "garbage", now, rng), 50ms);
  auto cfg = route_retry();
  cfg.respect_retry_after = false;
  EXPECT_LE(retry_policy(cfg).delay(0, "5", now, rng), 25ms);
}

TEST(retry_counters, count_per_reason) {
  retry_counters c;
  c.count(retry_reason::reset);
  c.count(retry_reason::reset);
  c.count(retry_reason::budget_exhausted);
  EXPECT_EQ(c.get(retry_reason::reset), 2u);
  EXPECT_EQ(c.get(retry_reason::budget_exhausted), 1u);
  EXPECT_EQ(c.get(retry_reason::status), 0u);
  EXPECT_EQ(to_string(retry_reason::connect_failure), "connect_failure");
}

}  // namespace
}  // namespace spillway::retry
