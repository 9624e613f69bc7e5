// p2c: the less loaded of two distinct weighted draws.
#include <gtest/gtest.h>

#include <array>

#include "tests/unit/balancer/test_cluster.hpp"

namespace spillway::balancer::test {
namespace {

using config::balancer_kind;

TEST(p2c, two_endpoints_avoid_the_busy_one) {
  test_cluster c({5, 3});
  c[0].active = 60;
  auto b = make_balancer(balancer_kind::p2c, c.set, 5);
  int busy = 0;
  for (int i = 0; i < 10'000; ++i) busy += b->pick({}) == 0;
  EXPECT_LT(busy, 10);  // both are always drawn, so the idle one always wins
}

TEST(p2c, most_loaded_of_three_never_wins) {
  test_cluster c({1, 1, 1});
  c[1].active = 3;
  c[2].active = 50;
  auto b = make_balancer(balancer_kind::p2c, c.set, 6);
  std::array<int, 3> counts{};
  for (int i = 0; i < 30'000; ++i) ++counts[b->pick({})];
  EXPECT_EQ(counts[2], 0);
  // 0 is drawn in two of the three pairs and wins both: about 2/3 of the picks.
  EXPECT_NEAR(counts[0] / 30'000.0, 2.0 / 3, 0.02);
  EXPECT_NEAR(counts[1] / 30'000.0, 1.0 / 3, 0.02);
}

TEST(p2c, compares_load_per_weight) {
  // 8 / 4 = 2 in flight per weight unit against 3 / 1 = 3: the heavier endpoint is lighter.
  test_cluster c({4, 1});
  c[0].active = 8;
  c[1].active = 3;
  auto b = make_balancer(balancer_kind::p2c, c.set, 8);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(b->pick({}), 0);
}

TEST(p2c, same_seed_same_choices) {
  test_cluster c({5, 3, 2, 1});
  auto x = make_balancer(balancer_kind::p2c, c.set, 77);
  auto y = make_balancer(balancer_kind::p2c, c.set, 77);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(x->pick({}), y->pick({}));
}

}  // namespace
}  // namespace spillway::balancer::test
