// Discrete-time simulation: requests of random durations arrive at a steady rate; after each
// step we record how far apart the endpoints' in-flight counts are. Load-aware policies must
// keep them closer than blind random choice.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <vector>

#include "common/random.hpp"
#include "tests/unit/balancer/test_cluster.hpp"

namespace spillway::balancer::test {
namespace {

using config::balancer_kind;

struct spread_stats {
  double mean = 0;
  int max = 0;
};

spread_stats simulate(balancer_kind kind) {
  constexpr int endpoints = 4;
  constexpr int steps = 20'000;
  constexpr int warmup = 500;
  constexpr int arrivals_per_step = 2;
  constexpr int max_duration = 60;  // uniform 1..60 steps: about 61 requests in flight

  test_cluster c(std::vector<uint32_t>(endpoints, 1));
  auto b = make_balancer(kind, c.set, 99);
  xoshiro256 durations(1234);                              // same request stream for every policy
  std::vector<std::vector<int>> ending(max_duration + 1);  // ring of completions by step

  spread_stats s;
  long long sum = 0;
  for (int t = 0; t < steps; ++t) {
    auto& now = ending[t % ending.size()];
    for (int e : now) c[e].release();
    now.clear();
    for (int k = 0; k < arrivals_per_step; ++k) {
      const int p = b->pick({});
      if (p < 0 || !c[p].try_acquire()) continue;
      const int d = 1 + static_cast<int>(durations.below(max_duration));
      ending[(t + d) % ending.size()].push_back(p);
    }
    if (t < warmup) continue;
    int lo = c[0].active, hi = c[0].active;
    for (int e = 1; e < endpoints; ++e) {
      lo = std::min(lo, c[e].active.load());
      hi = std::max(hi, c[e].active.load());
    }
    sum += hi - lo;
    s.max = std::max(s.max, hi - lo);
  }
  s.mean = static_cast<double>(sum) / (steps - warmup);
  return s;
}

TEST(simulation, load_aware_policies_keep_in_flight_counts_closer_than_random) {
  const spread_stats lc = simulate(balancer_kind::least_conn);
  const spread_stats pc = simulate(balancer_kind::p2c);
  const spread_stats rnd = simulate(balancer_kind::random);
  const spread_stats rr = simulate(balancer_kind::round_robin);
  std::printf(
      "in-flight spread mean/max: least_conn %.2f/%d  p2c %.2f/%d  round_robin %.2f/%d  "
      "random %.2f/%d\n",
      lc.mean, lc.max, pc.mean, pc.max, rr.mean, rr.max, rnd.mean, rnd.max);
  EXPECT_LT(lc.mean, rnd.mean / 2);
  EXPECT_LT(lc.max, rnd.max);
  EXPECT_LT(lc.mean, rr.mean);
  EXPECT_LT(pc.mean, rnd.mean);
  EXPECT_LE(lc.mean, pc.mean);
}

}  // namespace
}  // namespace spillway::balancer::test
