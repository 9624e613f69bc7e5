#include "loadgen/schedule.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

namespace spillway::loadgen {
namespace {

using namespace std::chrono_literals;

schedule_spec one_phase(double rate, std::chrono::nanoseconds d, arrival_kind k,
                        double burstiness = 1, uint64_t seed = 1) {
  schedule_spec s;
  s.arrival = k;
  s.burstiness = burstiness;
  s.seed = seed;
  s.phases.push_back(phase{d, rate, std::nullopt, std::nullopt, std::nullopt, 0});
  return s;
}

struct gap_stats {
  double mean, cv;
};

gap_stats gaps(const std::vector<int64_t>& t) {
  std::vector<double> g;
  for (size_t i = 1; i < t.size(); ++i) g.push_back(static_cast<double>(t[i] - t[i - 1]));
  const double mean = std::accumulate(g.begin(), g.end(), 0.0) / static_cast<double>(g.size());
  double var = 0;
  for (double x : g) var += (x - mean) * (x - mean);
  var /= static_cast<double>(g.size());
  return {mean, std::sqrt(var) / mean};
}

size_t count_between(const std::vector<int64_t>& t, double from_s, double to_s) {
  size_t n = 0;
  for (int64_t x : t)
    if (x >= from_s * 1e9 && x < to_s * 1e9) ++n;
  return n;
}

TEST(Schedule, ConstantRateIsEvenlySpaced) {
  const auto t = build_schedule(one_phase(200, 5s, arrival_kind::constant));
  ASSERT_EQ(t.size(), 1000u);
  EXPECT_EQ(t.front(), 0);
  for (size_t i = 1; i < t.size(); ++i) ASSERT_NEAR(t[i] - t[i - 1], 5'000'000, 1);
}

TEST(Schedule, PoissonHasTheMeanRateAndUnitCv) {
  const auto t = build_schedule(one_phase(1000, 100s, arrival_kind::poisson));
  // Count ~ Poisson(100000): 4 sigma is about 1265.
  EXPECT_NEAR(static_cast<double>(t.size()), 100'000, 1300);
  const auto g = gaps(t);
  EXPECT_NEAR(g.mean, 1e6, 1e6 * 0.02);
  EXPECT_NEAR(g.cv, 1.0, 0.02);
  EXPECT_TRUE(std::is_sorted(t.begin(), t.end()));
}

TEST(Schedule, GammaBurstinessSetsTheCoefficientOfVariation) {
  for (double k : {0.25, 0.5, 4.0}) {
    const auto t = build_schedule(one_phase(1000, 100s, arrival_kind::gamma, k, 9));
    const auto g = gaps(t);
    EXPECT_NEAR(g.mean, 1e6, 1e6 * 0.03) << k;
    EXPECT_NEAR(g.cv, 1 / std::sqrt(k), 0.05 / std::sqrt(k)) << k;
  }
}

TEST(Schedule, GammaSamplerMoments) {
  xoshiro256 rng(5);
  for (double shape : {0.3, 1.0, 2.5}) {
    double sum = 0, sq = 0;
    const int n = 200'000;
    for (int i = 0; i < n; ++i) {
      const double x = sample_gamma(rng, shape);
      ASSERT_GT(x, 0);
      sum += x;
      sq += x * x;
    }
    const double mean = sum / n, var = sq / n - mean * mean;
    EXPECT_NEAR(mean, shape, shape * 0.02) << shape;
    EXPECT_NEAR(var, shape, shape * 0.05) << shape;
  }
}

TEST(Schedule, LinearRampFollowsTheIntegratedRate) {
  schedule_spec s;
  s.phases.push_back(phase{10s, 0, 200.0, std::nullopt, std::nullopt, 0});
  const auto t = build_schedule(s);
  // ∫0..10 20t dt = 1000 arrivals; the first half holds a quarter of them.
  EXPECT_NEAR(static_cast<double>(t.size()), 1000, 1);
  EXPECT_NEAR(static_cast<double>(count_between(t, 0, 5)), 250, 1);
  EXPECT_NEAR(static_cast<double>(count_between(t, 9, 10)), 190, 1);
}

TEST(Schedule, StepsBurstsAndPauses) {
  schedule_spec s;
  s.phases.push_back(phase{1s, 100, std::nullopt, std::nullopt, std::nullopt, 0});
  s.phases.push_back(phase{1s, 0, std::nullopt, std::nullopt, std::nullopt, 0});
  s.phases.push_back(phase{1s, 300, std::nullopt, std::nullopt, std::nullopt, 50});
  const auto t = build_schedule(s);
  EXPECT_EQ(count_between(t, 0, 1), 100u);
  EXPECT_EQ(count_between(t, 1, 2), 0u);
  EXPECT_EQ(count_between(t, 2, 3), 350u);
  EXPECT_EQ(std::count(t.begin(), t.end(), 2'000'000'000), 51);  // the burst, and the first step
  EXPECT_EQ(schedule_length(s), 3s);
}

TEST(Schedule, SeededAndTruncated) {
  const auto a = build_schedule(one_phase(100, 10s, arrival_kind::poisson, 1, 42));
  const auto b = build_schedule(one_phase(100, 10s, arrival_kind::poisson, 1, 42));
  const auto c = build_schedule(one_phase(100, 10s, arrival_kind::poisson, 1, 43));
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  auto spec = one_phase(100, std::chrono::nanoseconds::max() / 2, arrival_kind::poisson);
  spec.max_requests = 123;
  EXPECT_EQ(build_schedule(spec).size(), 123u);
}

TEST(Schedule, ParsesArrivalNames) {
  EXPECT_EQ(parse_arrival("poisson"), arrival_kind::poisson);
  EXPECT_EQ(parse_arrival("gamma"), arrival_kind::gamma);
  EXPECT_EQ(parse_arrival("constant"), arrival_kind::constant);
  EXPECT_FALSE(parse_arrival("bursty"));
}

}  // namespace
}  // namespace spillway::loadgen
