// proxy/admin stats: latency histogram bucket placement (Prometheus `le`: a value equal to a
// bound belongs to that bucket), counts and sums; counters; worker_stats.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "proxy/admin/stats.hpp"

namespace spillway::admin {
namespace {

constexpr size_t inf_bucket = latency_buckets.size();

/// The only bucket of a fresh histogram that counts `seconds`.
size_t bucket_of(double seconds) {
  histogram h;
  h.observe(seconds);
  size_t found = inf_bucket + 1;
  for (size_t i = 0; i <= inf_bucket; ++i) {
    if (h.bucket(i) == 0) continue;
    EXPECT_EQ(found, inf_bucket + 1) << seconds << " counted twice";
    EXPECT_EQ(h.bucket(i), 1u);
    found = i;
  }
  return found;
}

TEST(Histogram, BoundsAreIncreasing) {
  for (size_t i = 1; i < latency_buckets.size(); ++i)
    EXPECT_LT(latency_buckets[i - 1], latency_buckets[i]);
}

TEST(Histogram, ValueOnABoundGoesToThatBucket) {
  for (size_t i = 0; i < latency_buckets.size(); ++i)
    EXPECT_EQ(bucket_of(latency_buckets[i]), i) << latency_buckets[i];
}

TEST(Histogram, ValueJustAboveABoundGoesToTheNextBucket) {
  for (size_t i = 0; i < latency_buckets.size(); ++i) {
    const double above = std::nextafter(latency_buckets[i], 1e9);
    EXPECT_EQ(bucket_of(above), i + 1) << latency_buckets[i];
  }
}

TEST(Histogram, ValueJustBelowABoundStaysInIt) {
  for (size_t i = 0; i < latency_buckets.size(); ++i) {
    const double below = std::nextafter(latency_buckets[i], 0.0);
    EXPECT_EQ(bucket_of(below), i) << latency_buckets[i];
  }
}

TEST(Histogram, ZeroAndHugeValues) {
  EXPECT_EQ(bucket_of(0.0), 0u);
  EXPECT_EQ(bucket_of(0.0004), 0u);
  EXPECT_EQ(bucket_of(601.0), inf_bucket);
  EXPECT_EQ(bucket_of(86400.0), inf_bucket);
}

TEST(Histogram, CountsAndSumAccumulate) {
  histogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.sum(), 0.0);
  h.observe(0.002);  // bucket 1 (0.005)
  h.observe(0.004);  // bucket 1
  h.observe(0.3);    // bucket 7 (0.5)
  h.observe(1.0);    // bucket 8 (1)
  h.observe(700.0);  // +Inf
  EXPECT_EQ(h.count(), 5u);
  EXPECT_EQ(h.bucket(0), 0u);
  EXPECT_EQ(h.bucket(1), 2u);
  EXPECT_EQ(h.bucket(7), 1u);
  EXPECT_EQ(h.bucket(8), 1u);
  EXPECT_EQ(h.bucket(inf_bucket), 1u);
  uint64_t total = 0;
  for (size_t i = 0; i <= inf_bucket; ++i) total += h.bucket(i);
  EXPECT_EQ(total, h.count());
  // The sum is kept in whole microseconds.
  EXPECT_NEAR(h.sum(), 0.002 + 0.004 + 0.3 + 1.0 + 700.0, 5e-6);
}

TEST(Histogram, SumTruncatesToMicroseconds) {
  histogram h;
  h.observe(0.0000019);  // 1.9 µs
  EXPECT_DOUBLE_EQ(h.sum(), 0.000001);
}

TEST(Counter, AddsAndReads) {
  counter c;
  EXPECT_EQ(c.get(), 0u);
  c.add();
  c.add(41);
  EXPECT_EQ(c.get(), 42u);
}

TEST(WorkerStats, StartsAtZero) {
  worker_stats w;  // per-route and per-endpoint blocks live in server::runtime::stats
  EXPECT_EQ(w.unrouted.duration.count(), 0u);
  EXPECT_EQ(w.connections_accepted.get(), 0u);
  EXPECT_EQ(w.connections_open.load(), 0);
}

}  // namespace
}  // namespace spillway::admin
