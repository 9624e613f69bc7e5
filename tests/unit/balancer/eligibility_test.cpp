// Every policy: excluded, unavailable and at-capacity endpoints are never chosen; -1 when none is
// eligible.
#include <gtest/gtest.h>

#include <algorithm>

#include "common/random.hpp"
#include "tests/unit/balancer/test_cluster.hpp"

namespace spillway::balancer::test {
namespace {

using config::balancer_kind;

class eligibility : public ::testing::TestWithParam<balancer_kind> {
 protected:
  std::unique_ptr<balancer> make(const test_cluster& c, uint64_t seed = 1) {
    return make_balancer(GetParam(), c.set, seed);
  }
};

TEST_P(eligibility, empty_set_gives_minus_one) {
  test_cluster c({});
  EXPECT_EQ(make(c)->pick({}), -1);
}

TEST_P(eligibility, none_eligible_gives_minus_one) {
  test_cluster c({5, 3, 2}, 4);
  c[0].unavailable = upstream::unhealthy;
  c[1].active = 4;  // at max_concurrent
  const int excluded[] = {2};
  auto b = make(c);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(b->pick({.excluded = excluded}), -1);
}

TEST_P(eligibility, never_picks_excluded) {
  test_cluster c({5, 3, 2});
  const int excluded[] = {0, 2};
  auto b = make(c);
  for (int i = 0; i < 1000; ++i) {
    const int p = b->pick({.excluded = excluded});
    ASSERT_EQ(p, 1);
    c[p].try_acquire();  // load must not steer least_conn/p2c back to an excluded one
  }
}

TEST_P(eligibility, never_picks_unavailable_for_any_reason) {
  for (uint32_t reason : {upstream::health_unknown, upstream::unhealthy, upstream::ejected,
                          upstream::breaker_open, upstream::draining}) {
    test_cluster c({5, 3, 2});
    c[0].unavailable = reason;
    c[2].unavailable = reason | upstream::draining;
    auto b = make(c);
    for (int i = 0; i < 1000; ++i) {
      const int p = b->pick({});
      ASSERT_EQ(p, 1) << "reason " << reason;
      c[p].try_acquire();
    }
  }
}

TEST_P(eligibility, never_picks_endpoint_at_capacity) {
  test_cluster c({5, 3, 2}, 3);
  auto b = make(c);
  int picked[3] = {0, 0, 0};
  // Hold every request: once all three are full the policy must answer -1.
  for (int i = 0; i < 9; ++i) {
    const int p = b->pick({});
    ASSERT_GE(p, 0);
    ASSERT_TRUE(c[p].try_acquire()) << "picked a full endpoint " << p;
    ++picked[p];
  }
  EXPECT_EQ(picked[0], 3);
  EXPECT_EQ(picked[1], 3);
  EXPECT_EQ(picked[2], 3);
  EXPECT_EQ(b->pick({}), -1);
  c[1].release();
  EXPECT_EQ(b->pick({}), 1);
}

TEST_P(eligibility, single_eligible_is_always_picked) {
  test_cluster c({1, 100, 7});
  c[1].unavailable = upstream::ejected;
  const int excluded[] = {0};
  auto b = make(c);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(b->pick({.excluded = excluded}), 2);
}

// Random clusters, states and exclusions: the answer is eligible, or -1 exactly when nothing is.
TEST_P(eligibility, random_states_property) {
  xoshiro256 rng(42);
  for (int round = 0; round < 2000; ++round) {
    std::vector<uint32_t> weights(1 + rng.below(8));
    for (auto& w : weights) w = 1 + static_cast<uint32_t>(rng.below(10));
    test_cluster c(weights, static_cast<uint32_t>(rng.below(4)));
    std::vector<int> excluded;
    for (std::size_t i = 0; i < c.size(); ++i) {
      c[i].active = static_cast<int32_t>(rng.below(4));
      if (rng.below(4) == 0) c[i].unavailable = 1u << rng.below(5);
      if (rng.below(5) == 0) excluded.push_back(static_cast<int>(i));
      if (rng.below(6) == 0) c[i].effective_weight = 0;  // slow start at its floor
    }
    auto b = make(c, round);
    const pick_context ctx{.excluded = excluded};
    bool any = false;
    for (std::size_t i = 0; i < c.size(); ++i) any |= eligible(c[i], static_cast<int>(i), ctx);
    for (int k = 0; k < 4; ++k) {
      const int p = b->pick(ctx);
      if (!any) {
        ASSERT_EQ(p, -1);
        continue;
      }
      ASSERT_GE(p, 0);
      ASSERT_LT(p, static_cast<int>(c.size()));
      ASSERT_TRUE(eligible(c[p], p, ctx)) << "round " << round;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(all_policies, eligibility,
                         ::testing::Values(balancer_kind::least_conn, balancer_kind::round_robin,
                                           balancer_kind::random, balancer_kind::p2c,
                                           balancer_kind::ring_hash, balancer_kind::maglev,
                                           balancer_kind::least_load),
                         [](const auto& info) { return std::string(kind_name(info.param)); });

}  // namespace
}  // namespace spillway::balancer::test
