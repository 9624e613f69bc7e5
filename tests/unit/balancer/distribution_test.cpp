// Share of traffic per endpoint over many picks with weights 5:3:2.
#include <gtest/gtest.h>

#include <array>

#include "tests/unit/balancer/test_cluster.hpp"

namespace spillway::balancer::test {
namespace {

using config::balancer_kind;

constexpr int picks = 100'000;
constexpr std::array<double, 3> expected_share = {0.5, 0.3, 0.2};

void expect_shares(const std::array<int, 3>& counts) {
  for (std::size_t i = 0; i < counts.size(); ++i) {
    const double share = static_cast<double>(counts[i]) / picks;
    EXPECT_NEAR(share, expected_share[i], 0.02) << "endpoint " << i;
  }
}

class weighted_share : public ::testing::TestWithParam<balancer_kind> {};

// Each request ends before the next one starts: the weights alone decide.
TEST_P(weighted_share, release_immediately_follows_weights) {
  test_cluster c({5, 3, 2});
  auto b = make_balancer(GetParam(), c.set, 7);
  std::array<int, 3> counts{};
  for (int i = 0; i < picks; ++i) {
    const int p = b->pick({});
    ASSERT_GE(p, 0);
    ASSERT_TRUE(c[p].try_acquire());
    ++counts[p];
    c[p].release();
  }
  expect_shares(counts);
}

INSTANTIATE_TEST_SUITE_P(weighted_policies, weighted_share,
                         ::testing::Values(balancer_kind::round_robin, balancer_kind::random,
                                           balancer_kind::p2c),
                         [](const auto& info) { return std::string(kind_name(info.param)); });

// Every policy that reads in-flight counts, with requests held: the in-flight split follows the
// weights too.
class held_share : public ::testing::TestWithParam<balancer_kind> {};

TEST_P(held_share, held_requests_follow_weights) {
  test_cluster c({5, 3, 2});
  auto b = make_balancer(GetParam(), c.set, 11);
  std::array<int, 3> counts{};
  for (int i = 0; i < picks; ++i) {
    const int p = b->pick({});
    ASSERT_GE(p, 0);
    ASSERT_TRUE(c[p].try_acquire());
    ++counts[p];
  }
  expect_shares(counts);
}

INSTANTIATE_TEST_SUITE_P(all_policies, held_share,
                         ::testing::Values(balancer_kind::least_conn, balancer_kind::round_robin,
                                           balancer_kind::random, balancer_kind::p2c),
                         [](const auto& info) { return std::string(kind_name(info.param)); });

// least_conn holding requests keeps (active + 1) / weight level: after every pick the counts are
// within one request of the exact weighted split.
TEST(least_conn_share, held_counts_stay_level_at_every_step) {
  test_cluster c({5, 3, 2});
  auto b = make_balancer(balancer_kind::least_conn, c.set, 1);
  for (int i = 1; i <= 1000; ++i) {
    const int p = b->pick({});
    ASSERT_GE(p, 0);
    c[p].try_acquire();
    for (std::size_t k = 0; k < 3; ++k) {
      const double ideal = i * static_cast<double>(c[k].weight) / 10.0;
      ASSERT_NEAR(c[k].active.load(), ideal, 1.0) << "after " << i << " picks, endpoint " << k;
    }
  }
}

// With every endpoint idle, (0 + 1) / weight is lowest on the heaviest endpoint (SPEC 2.2).
TEST(least_conn_share, idle_cluster_goes_to_heaviest) {
  test_cluster c({3, 5, 2});
  auto b = make_balancer(balancer_kind::least_conn, c.set, 1);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(b->pick({}), 1);
}

// Slow start lowers effective_weight; the policies follow it instead of the configured weight.
TEST(weighted_share_slow_start, effective_weight_is_used) {
  for (auto kind : {balancer_kind::round_robin, balancer_kind::random, balancer_kind::p2c}) {
    test_cluster c({5, 5});
    c[0].effective_weight = 1;  // ramping up: 1:5
    auto b = make_balancer(kind, c.set, 3);
    int first = 0;
    for (int i = 0; i < 60'000; ++i) first += b->pick({}) == 0;
    EXPECT_NEAR(first / 60'000.0, 1.0 / 6, 0.02) << kind_name(kind);
  }
}

}  // namespace
}  // namespace spillway::balancer::test
