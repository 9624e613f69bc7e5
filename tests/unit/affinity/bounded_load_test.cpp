// Consistent hashing with bounded loads: in a simulation with random session keys (some of them
// hot) and random request durations, no endpoint ever takes a request beyond
// ceil(c * (A + 1) * w / W); without the bound the same traffic overloads the hot keys' homes.
#include <gtest/gtest.h>

#include <queue>
#include <vector>

#include "common/random.hpp"
#include "proxy/balancer/balancer_options.hpp"
#include "proxy/balancer/key_hash.hpp"
#include "tests/unit/affinity/fixture.hpp"

namespace spillway::affinity::test {
namespace {

using config::balancer_kind;

struct sim_result {
  int picks = 0;
  int spills = 0;      // picks that did not go to the key's home while it was available
  int violations = 0;  // picks beyond the bound
};

/// Event-driven simulation: each step may start a request (key drawn with a hot set) lasting a
/// random number of steps; requests end when their time comes.
sim_result simulate(balancer_kind kind, double factor, uint64_t seed) {
  endpoints c({1, 1, 2, 1, 3, 1, 1, 2});
  auto b = balancer::make_hashing_balancer(kind, c.set, factor);
  xoshiro256 rng(seed);
  struct ending {
    int at;
    int endpoint;
    bool operator>(const ending& o) const { return at > o.at; }
  };
  std::priority_queue<ending, std::vector<ending>, std::greater<>> running;
  sim_result r;
  constexpr uint64_t c_milli = 1250;
  for (int step = 0; step < 20000; ++step) {
    while (!running.empty() && running.top().at <= step) {
      c[running.top().endpoint].release();
      running.pop();
    }
    // Now and then an endpoint goes away or comes back.
    if (rng.below(500) == 0) {
      auto& e = c[rng.below(c.size())];
      e.unavailable = e.unavailable ? 0u : uint32_t{upstream::unhealthy};
    }
    if (rng.below(10) >= 7) continue;  // ~30% of steps start a request
    // A third of the traffic comes from 5 hot sessions.
    const uint64_t session = rng.below(3) == 0 ? rng.below(5) : 5 + rng.below(5000);
    const uint64_t key = balancer::hash64(std::to_string(session));

    uint64_t total = 0, weight = 0;
    for (std::size_t i = 0; i < c.size(); ++i) {
      if (!c[i].available()) continue;
      total += c[i].active.load();
      weight += c[i].effective_weight.load();
    }
    const balancer::hash_pick p = b->pick_hash(key, {});
    if (weight == 0) {
      EXPECT_EQ(p.index, -1);
      continue;
    }
    EXPECT_GE(p.index, 0);
    if (p.index < 0) continue;
    upstream::endpoint& e = c[p.index];
    EXPECT_TRUE(e.try_acquire());
    ++r.picks;
    r.spills += p.index != p.home && c[p.home].available();
    const uint64_t w = e.effective_weight.load();
    const uint64_t num = c_milli * (total + 1) * w, den = 1000 * weight;
    const uint64_t bound = (num + den - 1) / den;
    if (static_cast<uint64_t>(e.active.load()) > bound) ++r.violations;
    running.push({step + 1 + static_cast<int>(rng.below(rng.below(4) == 0 ? 400 : 40)), p.index});
  }
  return r;
}

class bounded_load : public ::testing::TestWithParam<balancer_kind> {};

// The floor: below it an endpoint takes its keys whatever the mean load; at it, the bound
// applies again.
TEST(load_bound_floor, admits_below_the_floor_then_bounds_again) {
  endpoints c({1, 1, 1});
  c[0].active.store(3);  // A = 3: bound ceil(1.25 * 4 / 3) = 2
  EXPECT_FALSE(balancer::load_bound::measure(c.set, 1.25).admits(c[0]));
  EXPECT_TRUE(balancer::load_bound::measure(c.set, 1.25, 4).admits(c[0]));
  c[0].active.store(4);  // A = 4: bound ceil(1.25 * 5 / 3) = 3, floor reached
  EXPECT_FALSE(balancer::load_bound::measure(c.set, 1.25, 4).admits(c[0]));
  EXPECT_TRUE(balancer::load_bound::measure(c.set, 1.25, 4).admits(c[1]));
  EXPECT_TRUE(balancer::load_bound::measure(c.set, 0.0, 0).admits(c[0])) << "no bound";
}

// A key's second and third concurrent requests stay home under a floor of 4, and spill without.
TEST(load_bound_floor, keeps_a_sessions_concurrent_requests_home) {
  for (const uint32_t floor : {0u, 4u}) {
    endpoints c({1, 1, 1});
    auto b = balancer::make_hashing_balancer(balancer_kind::ring_hash, c.set, 1.25, floor);
    const uint64_t key = balancer::hash64("tenant-7");
    const int home = b->pick_hash(key, {}).index;
    ASSERT_GE(home, 0);
    int at_home = 0;
    for (int i = 0; i < 3; ++i) {
      const int p = b->pick_hash(key, {}).index;
      ASSERT_GE(p, 0);
      at_home += p == home;
      c[static_cast<std::size_t>(p)].active.fetch_add(1);
    }
    if (floor == 0)
      EXPECT_LT(at_home, 3) << "the bound should have spilled a concurrent request";
    else
      EXPECT_EQ(at_home, 3) << "below the floor every request should stay home";
  }
}

TEST_P(bounded_load, never_exceeds_the_bound) {
  for (uint64_t seed : {1, 2, 3}) {
    const sim_result r = simulate(GetParam(), 1.25, seed);
    EXPECT_EQ(r.violations, 0) << "seed " << seed;
    EXPECT_GT(r.picks, 5000);
    // The hot sessions do overflow: the bound was exercised, not idle.
    EXPECT_GT(r.spills, r.picks / 50) << "seed " << seed;
  }
}

TEST_P(bounded_load, without_the_bound_hot_keys_overload_their_home) {
  const sim_result r = simulate(GetParam(), 0, 1);
  EXPECT_EQ(r.spills, 0);  // only availability moves keys
  EXPECT_GT(r.violations, 0);
}

// A retry excludes the endpoint that failed; the next one in hash order still respects the bound.
TEST_P(bounded_load, bound_holds_with_exclusions) {
  endpoints c({1, 1, 1, 1});
  auto b = balancer::make_hashing_balancer(GetParam(), c.set, 1.25);
  const uint64_t key = balancer::hash64("one-hot-key");
  const int home = b->home(key);
  for (int i = 0; i < 40; ++i) {
    const int excluded[] = {home};
    const auto p = b->pick_hash(key, excluded);
    ASSERT_GE(p.index, 0);
    ASSERT_NE(p.index, home);
    EXPECT_EQ(p.home, home);
    c[p.index].try_acquire();
  }
  // 40 requests over the 3 others: each within ceil(1.25 * (A + 1) / 4) at its pick, so the
  // spread is even rather than all on home's successor.
  for (std::size_t i = 0; i < c.size(); ++i)
    if (static_cast<int>(i) != home) {
      EXPECT_GE(c[i].active.load(), 10) << i;
    }
}

INSTANTIATE_TEST_SUITE_P(policies, bounded_load,
                         ::testing::Values(balancer_kind::ring_hash, balancer_kind::maglev),
                         [](const auto& info) {
                           return std::string(info.param == balancer_kind::maglev ? "maglev"
                                                                                  : "ring_hash");
                         });

}  // namespace
}  // namespace spillway::affinity::test
