// least_conn: never a busier endpoint while a less busy one is eligible; ties by smooth WRR.
#include <gtest/gtest.h>

#include <string>

#include "common/random.hpp"
#include "tests/unit/balancer/test_cluster.hpp"

namespace spillway::balancer::test {
namespace {

using config::balancer_kind;

// (active + 1) / weight of endpoint i as an exact fraction comparison: true when a is lighter.
bool lighter(upstream::endpoint& a, upstream::endpoint& b) {
  const uint64_t wa = std::max<uint32_t>(a.effective_weight.load(), 1);
  const uint64_t wb = std::max<uint32_t>(b.effective_weight.load(), 1);
  return (a.active.load() + 1) * wb < (b.active.load() + 1) * wa;
}

TEST(least_conn, never_picks_busier_than_an_eligible_lighter_one) {
  xoshiro256 rng(2024);
  for (int round = 0; round < 5000; ++round) {
    std::vector<uint32_t> weights(2 + rng.below(10));
    for (auto& w : weights) w = 1 + static_cast<uint32_t>(rng.below(20));
    test_cluster c(weights);
    std::vector<int> excluded;
    for (std::size_t i = 0; i < c.size(); ++i) {
      c[i].active = static_cast<int32_t>(rng.below(rng.below(2) ? 5 : 200));
      if (rng.below(8) == 0) c[i].unavailable = upstream::ejected;
      if (rng.below(8) == 0) excluded.push_back(static_cast<int>(i));
    }
    auto b = make_balancer(balancer_kind::least_conn, c.set, round);
    const pick_context ctx{.excluded = excluded};
    // Several picks on one instance, holding each, so the tie-break state is exercised too.
    for (int k = 0; k < 5; ++k) {
      const int p = b->pick(ctx);
      if (p < 0) break;
      for (std::size_t j = 0; j < c.size(); ++j) {
        if (!eligible(c[j], static_cast<int>(j), ctx)) continue;
        ASSERT_FALSE(lighter(c[j], c[p]))
            << "round " << round << ": picked " << p << " (active " << c[p].active.load()
            << ", weight " << c[p].weight << ") over " << j << " (active " << c[j].active.load()
            << ", weight " << c[j].weight << ")";
      }
      c[p].try_acquire();
    }
  }
}

std::string sequence(balancer& b, int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += static_cast<char>('a' + b.pick({}));
  return s;
}

// Weights 5,1,1 with in-flight 4,0,0: every load is 1, so all three tie and the smooth WRR
// decides; requests end at once so the tie persists.
TEST(least_conn, ties_follow_smooth_weighted_round_robin) {
  test_cluster c({5, 1, 1});
  c[0].active = 4;
  auto b = make_balancer(balancer_kind::least_conn, c.set, 1);
  EXPECT_EQ(sequence(*b, 14), "aabacaaaabacaa");
}

// Equal weights, all idle: plain rotation, each endpoint once per turn.
TEST(least_conn, equal_idle_endpoints_rotate) {
  test_cluster c({1, 1, 1, 1});
  auto b = make_balancer(balancer_kind::least_conn, c.set, 1);
  EXPECT_EQ(sequence(*b, 8), "abcdabcd");
}

// Only the tied endpoints take part in the rotation: the heavily loaded one is never chosen.
TEST(least_conn, tie_break_ignores_non_tied_endpoints) {
  test_cluster c({1, 1, 1});
  c[1].active = 10;
  auto b = make_balancer(balancer_kind::least_conn, c.set, 1);
  EXPECT_EQ(sequence(*b, 6), "acacac");
}

// The count the policy reads is the shared one: load added by another worker's instance counts.
TEST(least_conn, sees_load_taken_through_another_instance) {
  test_cluster c({1, 1});
  auto worker_a = make_balancer(balancer_kind::least_conn, c.set, 1);
  auto worker_b = make_balancer(balancer_kind::least_conn, c.set, 2);
  const int first = worker_a->pick({});
  c[first].try_acquire();
  EXPECT_EQ(worker_b->pick({}), 1 - first);
}

// The fallbacks for hashing and load-report policies behave as least_conn for now.
TEST(least_conn, stands_in_for_policies_not_built_yet) {
  for (auto kind : {balancer_kind::ring_hash, balancer_kind::maglev, balancer_kind::least_load}) {
    test_cluster c({5, 1, 1});
    c[0].active = 4;
    auto b = make_balancer(kind, c.set, 9);
    EXPECT_EQ(sequence(*b, 7), "aabacaa") << kind_name(kind);
  }
}

}  // namespace
}  // namespace spillway::balancer::test
