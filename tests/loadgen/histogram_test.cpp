#include "loadgen/histogram.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "common/random.hpp"

namespace spillway::loadgen {
namespace {

uint64_t nearest_rank(const std::vector<uint64_t>& sorted, double q) {
  auto rank = static_cast<size_t>(std::ceil(q / 100.0 * static_cast<double>(sorted.size())));
  rank = std::clamp<size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

/// Latency-like data over six orders of magnitude (log-uniform 1us .. 1s, in ns).
std::vector<uint64_t> wide_data(size_t n, uint64_t seed) {
  xoshiro256 rng(seed);
  std::vector<uint64_t> v;
  for (size_t i = 0; i < n; ++i)
    v.push_back(static_cast<uint64_t>(std::pow(10, 3 + 6 * rng.uniform())));
  return v;
}

TEST(Histogram, SmallValuesAreExact) {
  histogram h(10);
  for (uint64_t v = 0; v < 1024; ++v) h.record(v);
  EXPECT_EQ(h.count(), 1024u);
  EXPECT_EQ(h.percentile(50), 511u);
  EXPECT_EQ(h.percentile(100), 1023u);
  EXPECT_EQ(h.min(), 0u);
}

TEST(Histogram, PercentilesWithinPrecisionOfExact) {
  for (unsigned p : {7u, 10u, 12u}) {
    histogram h(p);
    auto data = wide_data(100'000, p);
    for (uint64_t v : data) h.record(v);
    std::sort(data.begin(), data.end());
    const double rel = std::ldexp(1.0, -static_cast<int>(p - 1));
    for (double q : {1.0, 25.0, 50.0, 90.0, 99.0, 99.9, 99.99, 100.0}) {
      const uint64_t exact = nearest_rank(data, q);
      const uint64_t got = h.percentile(q);
      EXPECT_GE(got, exact) << "p=" << p << " q=" << q;  // highest equivalent: never understated
      EXPECT_LE(static_cast<double>(got), static_cast<double>(exact) * (1 + rel))
          << "p=" << p << " q=" << q;
    }
    EXPECT_EQ(h.max(), data.back());
    EXPECT_EQ(h.min(), data.front());
  }
}

TEST(Histogram, MeanAndStddevAreExact) {
  histogram h;
  auto data = wide_data(10'000, 7);
  double sum = 0;
  for (uint64_t v : data) {
    h.record(v);
    sum += static_cast<double>(v);
  }
  const double mean = sum / static_cast<double>(data.size());
  double var = 0;
  for (uint64_t v : data) var += (static_cast<double>(v) - mean) * (static_cast<double>(v) - mean);
  var /= static_cast<double>(data.size());
  EXPECT_NEAR(h.mean(), mean, mean * 1e-9);
  EXPECT_NEAR(h.stddev(), std::sqrt(var), std::sqrt(var) * 1e-6);
}

TEST(Histogram, BucketsAreContiguousAndContainTheirValues) {
  histogram h(8, uint64_t{1} << 40);
  for (size_t i = 0; i + 1 < h.bucket_count(); ++i)
    ASSERT_EQ(h.highest_equivalent(i) + 1, h.lowest_equivalent(i + 1)) << i;
  xoshiro256 rng(3);
  for (int i = 0; i < 10000; ++i) {
    const uint64_t v = rng.below(uint64_t{1} << 40);
    const size_t idx = h.index_of(v);
    ASSERT_LE(h.lowest_equivalent(idx), v);
    ASSERT_GE(h.highest_equivalent(idx), v);
  }
}

TEST(Histogram, MergeEqualsRecordingEverything) {
  histogram a, b, all;
  auto d1 = wide_data(5000, 1), d2 = wide_data(7000, 2);
  for (uint64_t v : d1) a.record(v), all.record(v);
  for (uint64_t v : d2) b.record(v), all.record(v);
  a.merge(b);
  EXPECT_EQ(a.count(), all.count());
  for (double q : {10.0, 50.0, 99.0, 99.99}) EXPECT_EQ(a.percentile(q), all.percentile(q));
  EXPECT_DOUBLE_EQ(a.mean(), all.mean());
  EXPECT_EQ(a.max(), all.max());
}

TEST(Histogram, EmptyAndClamped) {
  histogram h(10, 1'000'000);
  EXPECT_EQ(h.percentile(99), 0u);
  EXPECT_EQ(h.mean(), 0.0);
  h.record(5'000'000);  // above the range: lands in the last bucket, max stays exact
  EXPECT_EQ(h.count(), 1u);
  EXPECT_EQ(h.max(), 5'000'000u);
  EXPECT_EQ(h.percentile(100), 5'000'000u);
  h.reset();
  EXPECT_EQ(h.count(), 0u);
}

}  // namespace
}  // namespace spillway::loadgen
