#include <gtest/gtest.h>

#include <map>

#include "common/random.hpp"
#include "proxy/split/cluster_split.hpp"

namespace spillway::split {
namespace {

TEST(ClusterSplit, ProportionsFollowWeights) {
  const cluster_split s({3, 5, 9}, {70, 20, 10});
  ASSERT_TRUE(s.splits());
  xoshiro256 rng(7);
  std::map<int, int> n;
  const int total = 200'000;
  for (int i = 0; i < total; ++i) ++n[s.pick(std::nullopt, rng.next())];
  EXPECT_NEAR(n[3] / double(total), 0.70, 0.01);
  EXPECT_NEAR(n[5] / double(total), 0.20, 0.01);
  EXPECT_NEAR(n[9] / double(total), 0.10, 0.01);
}

TEST(ClusterSplit, KeysSpreadByWeightAndStick) {
  const cluster_split s({0, 1}, {80, 20});
  xoshiro256 rng(1);
  int main = 0;
  const int keys = 100'000;
  for (uint64_t k = 0; k < keys; ++k) {
    const int c = s.pick(k, rng.next());
    main += c == 0;
    EXPECT_EQ(c, s.pick(k, rng.next()));  // the random draw does not matter with a key
  }
  EXPECT_NEAR(main / double(keys), 0.80, 0.01);
}

TEST(ClusterSplit, ZeroWeightAndSingleCluster) {
  const cluster_split s({0, 1}, {1, 0});
  EXPECT_FALSE(s.splits());
  xoshiro256 rng(3);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(s.pick(std::nullopt, rng.next()), 0);
  EXPECT_EQ(cluster_split().pick(std::nullopt, 1), -1);
}

}  // namespace
}  // namespace spillway::split
