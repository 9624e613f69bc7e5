// round_robin: nginx's smooth weighted round robin sequence.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "tests/unit/balancer/test_cluster.hpp"

namespace spillway::balancer::test {
namespace {

using config::balancer_kind;

std::string sequence(balancer& b, int n, const pick_context& ctx = {}) {
  std::string s;
  for (int i = 0; i < n; ++i) s += static_cast<char>('a' + b.pick(ctx));
  return s;
}

TEST(round_robin, smooth_sequence_for_5_1_1) {
  test_cluster c({5, 1, 1});
  auto b = make_balancer(balancer_kind::round_robin, c.set, 1);
  const std::string s = sequence(*b, 700);
  EXPECT_EQ(s.substr(0, 7), "aabacaa");
  // Every window of one full turn (7 picks) holds exactly 5 a, 1 b and 1 c; b and c never
  // come back to back, and a never runs 5 in a row as plain weighted round robin would.
  for (std::size_t i = 0; i + 7 <= s.size(); ++i) {
    const std::string w = s.substr(i, 7);
    ASSERT_EQ(std::count(w.begin(), w.end(), 'a'), 5) << "window at " << i << ": " << w;
    ASSERT_EQ(std::count(w.begin(), w.end(), 'b'), 1) << "window at " << i << ": " << w;
  }
  EXPECT_EQ(s.find("aaaaa"), std::string::npos);
  EXPECT_EQ(s.find("bc"), std::string::npos);
  EXPECT_EQ(s.find("cb"), std::string::npos);
}

TEST(round_robin, ignores_in_flight_counts) {
  test_cluster c({1, 1});
  c[0].active = 100;
  auto b = make_balancer(balancer_kind::round_robin, c.set, 1);
  EXPECT_EQ(sequence(*b, 4), "abab");
}

TEST(round_robin, skipping_an_endpoint_keeps_the_others_interleaved) {
  test_cluster c({2, 1, 1});
  auto b = make_balancer(balancer_kind::round_robin, c.set, 1);
  const int excluded[] = {0};
  EXPECT_EQ(sequence(*b, 6, {.excluded = excluded}), "bcbcbc");
}

}  // namespace
}  // namespace spillway::balancer::test
