// Which endpoint of the previous runtime a new endpoint continues, and when a breaker is kept.
#include "proxy/upstream/carry_over.hpp"

#include <gtest/gtest.h>

namespace spillway::upstream {
namespace {

TEST(MatchEndpoints, SameAddressMatchesWhateverTheOrder) {
  const std::vector<std::string> before{"a:1", "b:1", "c:1"};
  const std::vector<std::string> now{"c:1", "d:1", "a:1"};
  EXPECT_EQ(match_endpoints(before, now), (std::vector<int>{2, -1, 0}));
}

TEST(MatchEndpoints, RemovedAndAddedEndpointsDoNotMatch) {
  EXPECT_EQ(match_endpoints({"a:1", "b:1"}, {}), std::vector<int>{});
  EXPECT_EQ(match_endpoints({}, {"a:1"}), std::vector<int>{-1});
  // The address is compared as written: another spelling is another endpoint.
  EXPECT_EQ(match_endpoints({"localhost:1"}, {"127.0.0.1:1"}), std::vector<int>{-1});
}

TEST(MatchEndpoints, EachPreviousEndpointMatchesOnce) {
  EXPECT_EQ(match_endpoints({"a:1", "a:1"}, {"a:1", "a:1", "a:1"}), (std::vector<int>{0, 1, -1}));
}

TEST(SameBreaker, AnyChangedSettingMakesANewBreaker) {
  config::circuit_breaker_config a;
  EXPECT_TRUE(same_breaker(a, a));
  auto b = a;
  b.error_rate = 0.25;
  EXPECT_FALSE(same_breaker(a, b));
  b = a;
  b.open_duration = std::chrono::seconds(7);
  EXPECT_FALSE(same_breaker(a, b));
  b = a;
  b.half_open_requests = 2;
  EXPECT_FALSE(same_breaker(a, b));
}

}  // namespace
}  // namespace spillway::upstream
