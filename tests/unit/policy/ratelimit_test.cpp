#include <gtest/gtest.h>

#include "proxy/http/message.hpp"
#include "proxy/ratelimit/local_limiter.hpp"
#include "proxy/ratelimit/route_limiter.hpp"
#include "proxy/ratelimit/shared_limiter.hpp"
#include "proxy/ratelimit/token_bucket.hpp"
#include "proxy/ratelimit/usage_meter.hpp"

namespace spillway::ratelimit {
namespace {

using namespace std::chrono_literals;

steady_time at(std::chrono::milliseconds ms) {
  return steady_time(1h + ms);
}

TEST(TokenBucket, StartsFullAndRefillsAtRate) {
  bucket b;
  const bucket_params p{10, 5};  // 10/s, burst 5
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(take(b, p, at(0ms)).allowed) << i;
  auto r = take(b, p, at(0ms));
  EXPECT_FALSE(r.allowed);
  EXPECT_EQ(r.retry_after, 100ms);  // one token at 10/s
  EXPECT_EQ(r.reset, 500ms);        // five tokens
  EXPECT_FALSE(take(b, p, at(99ms)).allowed);
  r = take(b, p, at(100ms));
  EXPECT_TRUE(r.allowed);
  EXPECT_NEAR(r.remaining, 0, 1e-9);
  // a long pause refills to the burst, no further
  EXPECT_NEAR(level_at(b, p, at(60'000ms)), 5, 1e-9);
}

TEST(TokenBucket, RefusalTakesNothing) {
  bucket b;
  const bucket_params p{1, 2};
  take(b, p, at(0ms));
  take(b, p, at(0ms));
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(take(b, p, at(500ms)).allowed);
  EXPECT_TRUE(take(b, p, at(1000ms)).allowed);  // refused takes did not dig a debt
}

TEST(TokenBucket, BudgetAdmitsWhilePositiveAndChargesDebt) {
  bucket b;
  const bucket_params p{100.0 / 60, 100};  // 100 tokens per minute
  EXPECT_TRUE(check_positive(b, p, at(0ms)).allowed);
  charge(b, p, at(0ms), 80);
  EXPECT_TRUE(check_positive(b, p, at(0ms)).allowed);
  charge(b, p, at(0ms), 80);
  auto r = check_positive(b, p, at(0ms));
  EXPECT_FALSE(r.allowed);
  // a debt of 60 at 100/min is paid back in 36 s
  EXPECT_GE(r.retry_after, 36000ms);
  EXPECT_LE(r.retry_after, 36002ms);
  EXPECT_FALSE(check_positive(b, p, at(35'900ms)).allowed);
  EXPECT_TRUE(check_positive(b, p, at(36'100ms)).allowed);
}

TEST(TokenBucket, DebtIsBoundedByCapacity) {
  bucket b;
  const bucket_params p{1, 10};
  charge(b, p, at(0ms), 1'000'000);
  EXPECT_NEAR(level_at(b, p, at(0ms)), -10, 1e-9);
  EXPECT_TRUE(check_positive(b, p, at(10'001ms)).allowed);
}

config::rate_limit_config rate(double per_second, uint32_t burst, uint64_t tpm = 0) {
  config::rate_limit_config c;
  c.rate_per_second = per_second;
  c.burst = burst;
  c.tokens_per_minute = tpm;
  return c;
}

TEST(LocalLimiter, KeysHaveTheirOwnBuckets) {
  manual_clock clock;
  const auto cfg = rate(2, 3);
  local_limiter l(cfg, 1000, clock);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(l.check(1).allowed);
  const auto d = l.check(1);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason, limit_reason::requests);
  EXPECT_EQ(d.limit, 3u);
  EXPECT_EQ(d.remaining, 0u);
  EXPECT_EQ(d.retry_after, 500ms);
  EXPECT_TRUE(l.check(2).allowed);
  clock.advance(500ms);
  EXPECT_TRUE(l.check(1).allowed);
  EXPECT_FALSE(l.check(1).allowed);
}

TEST(LocalLimiter, BurstDefaultsToOneSecondOfRate) {
  const auto l = limits::from_config(rate(7.5, 0));
  EXPECT_DOUBLE_EQ(l.requests.capacity, 8);
  const auto t = limits::from_config(rate(0, 0, 600));
  EXPECT_FALSE(t.limits_requests());
  EXPECT_DOUBLE_EQ(t.tokens.rate, 10);
}

TEST(LocalLimiter, TokenBudgetRefusesUpFront) {
  manual_clock clock;
  const auto cfg = rate(0, 0, 1000);
  local_limiter l(cfg, 1000, clock);
  EXPECT_TRUE(l.check(7).allowed);
  l.charge(7, 1500);
  const auto d = l.check(7);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason, limit_reason::tokens);
  EXPECT_EQ(d.limit, 1000u);
  clock.advance(std::chrono::seconds(31));  // 500 debt at 1000/min: 30 s
  EXPECT_TRUE(l.check(7).allowed);
}

TEST(LocalLimiter, KeyFloodIsBounded) {
  manual_clock clock;
  const auto cfg = rate(1, 1);
  local_limiter l(cfg, 1600, clock);
  for (uint64_t k = 0; k < 100'000; ++k) l.check(k * 0x9e3779b97f4a7c15ULL);
  EXPECT_LE(l.size(), 1600u);
  EXPECT_GE(l.size(), 1500u);
}

TEST(LocalLimiter, RecentlyUsedKeysSurviveEviction) {
  manual_clock clock;
  const auto cfg = rate(1, 1);
  local_limiter l(cfg, 16 * 4, clock);
  const uint64_t hot = 42;
  EXPECT_TRUE(l.check(hot).allowed);
  for (uint64_t k = 1; k < 10'000; ++k) {
    l.check(k << 56 | k);  // floods every shard
    if (k % 2 == 0) {
      EXPECT_FALSE(l.check(hot).allowed) << k;  // still remembered: still empty
    }
  }
}

TEST(RouteLimiter, KeysFromHeaderElseClientAddress) {
  auto cfg = rate(1, 1);
  cfg.key = config::rate_limit_key_kind::header;
  cfg.key_arg = "x-tenant";
  route_limiter rl(cfg, "r", nullptr);
  http::request_head a, b;
  a.headers.add("x-tenant", "acme");
  EXPECT_NE(rl.key_of(a, "10.0.0.1"), rl.key_of(b, "10.0.0.1"));
  EXPECT_EQ(rl.key_of(a, "10.0.0.1"), rl.key_of(a, "10.0.0.2"));
  EXPECT_EQ(rl.key_of(b, "10.0.0.1"), rl.key_of(b, "10.0.0.1"));
  EXPECT_NE(rl.key_of(b, "10.0.0.1"), rl.key_of(b, "10.0.0.2"));
  EXPECT_FALSE(rl.shared());
}

TEST(SharedLimiter, DecodesScriptReplies) {
  auto d = shared_limiter::decode({0, 2, 1000, 0, 36001, 96000});
  ASSERT_TRUE(d);
  EXPECT_FALSE(d->allowed);
  EXPECT_EQ(d->reason, limit_reason::tokens);
  EXPECT_EQ(d->retry_after, 36001ms);
  d = shared_limiter::decode({1, 0, 10, 9, 0, 100});
  ASSERT_TRUE(d);
  EXPECT_TRUE(d->allowed);
  EXPECT_EQ(d->remaining, 9u);
  EXPECT_FALSE(shared_limiter::decode({1, 0}));
  EXPECT_FALSE(shared_limiter::decode({1, 7, 0, 0, 0, 0}));
}

TEST(UsageMeter, ReadsUsageOfAJsonAnswer) {
  usage_meter m;
  m.feed(R"({"choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": 30,)");
  m.feed(R"( "total_tokens" : 42}})");
  EXPECT_EQ(m.tokens(), 42u);
  m.reset();
  m.feed(R"({"usage": {"prompt_tokens": 5, "completion_tokens": 6}})");
  EXPECT_EQ(m.tokens(), 11u);
}

TEST(UsageMeter, CountsStreamEventsSplitAnywhere) {
  std::string stream;
  for (int i = 0; i < 50; ++i) stream += "data: {\"choices\": [{\"text\": \"t\"}]}\n\n";
  stream += "data: [DONE]\n\n";
  for (size_t step : {1u, 3u, 7u, 4096u}) {
    usage_meter m;
    for (size_t i = 0; i < stream.size(); i += step)
      m.feed(std::string_view(stream).substr(i, step));
    EXPECT_EQ(m.tokens(), 50u) << "step " << step;
  }
}

TEST(UsageMeter, StreamWithUsagePrefersUsage) {
  usage_meter m;
  m.feed("data: {\"x\":1}\n\ndata: {\"x\":2}\n\n");
  m.feed("data: {\"usage\": {\"total_tokens\": 17}}\n\ndata: [DONE]\n\n");
  EXPECT_EQ(m.tokens(), 17u);
}

TEST(UsageMeter, TailIsBounded) {
  usage_meter m;
  std::string big(1 << 20, 'x');
  m.feed(big);
  m.feed(R"("total_tokens": 9)");
  EXPECT_EQ(m.tokens(), 9u);
  EXPECT_EQ(last_json_integer("\"a\": 1, \"a\": 2", "a"), 2);
  EXPECT_EQ(last_json_integer("\"a\": x", "a"), -1);
}

}  // namespace
}  // namespace spillway::ratelimit
