// proxy/admin/status: latency quantiles from histogram buckets (interpolation inside a bucket,
// the +Inf bucket, empty histograms) and windowed rates between two totals.
#include <gtest/gtest.h>

#include "proxy/admin/status.hpp"

namespace spillway::admin {
namespace {

size_t index_of(double bound) {
  for (size_t i = 0; i < latency_buckets.size(); ++i)
    if (latency_buckets[i] == bound) return i;
  ADD_FAILURE() << bound << " is not a bucket bound";
  return 0;
}

TEST(BucketQuantile, EmptyHasNone) {
  EXPECT_FALSE(bucket_quantile(bucket_counts{}, 0.5));
}

TEST(BucketQuantile, InterpolatesInsideTheBucket) {
  bucket_counts c{};
  c[index_of(0.5)] = 100;  // all in (0.25, 0.5]
  EXPECT_DOUBLE_EQ(*bucket_quantile(c, 0.5), 0.375);
  EXPECT_DOUBLE_EQ(*bucket_quantile(c, 1.0), 0.5);
  EXPECT_NEAR(*bucket_quantile(c, 0.99), 0.25 + 0.25 * 0.99, 1e-12);
}

TEST(BucketQuantile, FirstBucketStartsAtZero) {
  bucket_counts c{};
  c[0] = 10;
  EXPECT_DOUBLE_EQ(*bucket_quantile(c, 0.5), latency_buckets[0] / 2);
}

TEST(BucketQuantile, PicksTheBucketHoldingTheRank) {
  bucket_counts c{};
  c[index_of(0.01)] = 98;
  c[index_of(10)] = 2;
  EXPECT_LE(*bucket_quantile(c, 0.5), 0.01);
  EXPECT_GT(*bucket_quantile(c, 0.5), 0.005);
  const double p99 = *bucket_quantile(c, 0.99);
  EXPECT_GT(p99, 5);
  EXPECT_LE(p99, 10);
}

TEST(BucketQuantile, InfBucketAnswersLargestBound) {
  bucket_counts c{};
  c[latency_buckets.size()] = 5;
  EXPECT_DOUBLE_EQ(*bucket_quantile(c, 0.5), latency_buckets.back());
}

TEST(Compare, RatesErrorsAndQuantilesOfTheDifference) {
  status_totals::series older, newer;
  older.requests = 100;
  older.errors = 10;
  older.latency[index_of(10)] = 100;  // slow requests before the window: not in its quantiles
  newer = older;
  newer.requests += 50;
  newer.errors += 5;
  newer.latency[index_of(0.1)] += 50;
  const auto v = compare(older, newer, 10.0);
  EXPECT_DOUBLE_EQ(v.rate, 5.0);
  ASSERT_TRUE(v.error_rate);
  EXPECT_DOUBLE_EQ(*v.error_rate, 0.1);
  ASSERT_TRUE(v.p50 && v.p99);
  EXPECT_GT(*v.p50, 0.05);
  EXPECT_LE(*v.p99, 0.1);
}

TEST(Compare, NoTrafficHasNoRatioNorLatency) {
  status_totals::series s;
  s.requests = 7;
  s.latency[3] = 7;
  const auto v = compare(s, s, 10.0);
  EXPECT_EQ(v.rate, 0);
  EXPECT_FALSE(v.error_rate);
  EXPECT_FALSE(v.p50);
  EXPECT_FALSE(v.p99);
}

TEST(Compare, CounterGoingBackIsNotNegative) {
  status_totals::series older, newer;
  older.requests = 10;
  const auto v = compare(older, newer, 1.0);
  EXPECT_EQ(v.rate, 0);
}

TEST(Compare, ZeroSecondsGivesNoRate) {
  status_totals::series older, newer;
  newer.requests = 3;
  EXPECT_EQ(compare(older, newer, 0).rate, 0);
}

}  // namespace
}  // namespace spillway::admin
