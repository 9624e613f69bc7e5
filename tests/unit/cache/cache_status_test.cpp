#include "cache/cache_status.hpp"

#include <gtest/gtest.h>

namespace spillway::cache {
namespace {

TEST(cache_status, header_values_follow_rfc_9211) {
  EXPECT_EQ(cache_status_value(cache_status::hit), "spillway; hit");
  EXPECT_EQ(cache_status_value(cache_status::stale_hit), "spillway; hit; detail=stale");
  EXPECT_EQ(cache_status_value(cache_status::miss_stored), "spillway; fwd=miss; stored");
  EXPECT_EQ(cache_status_value(cache_status::miss), "spillway; fwd=miss");
  EXPECT_EQ(cache_status_value(cache_status::collapsed), "spillway; fwd=miss; collapsed");
  EXPECT_EQ(cache_status_value(cache_status::bypass), "spillway; fwd=bypass");
}

TEST(cache_status, metric_results) {
  cache_counters c;
  for (auto s :
       {cache_status::hit, cache_status::hit, cache_status::stale_hit, cache_status::miss_stored,
        cache_status::miss, cache_status::collapsed, cache_status::bypass})
    c.count(s);
  EXPECT_EQ(c.hit.load(), 2u);
  EXPECT_EQ(c.stale.load(), 1u);
  EXPECT_EQ(c.miss.load(), 3u);
  EXPECT_EQ(c.bypass.load(), 1u);
  EXPECT_EQ(metric_result(cache_status::stale_hit), "stale");
  EXPECT_EQ(metric_result(cache_status::collapsed), "miss");
}

TEST(cache_status, client_opt_out) {
  EXPECT_TRUE(client_bypasses_cache("no-cache"));
  EXPECT_TRUE(client_bypasses_cache("no-store"));
  EXPECT_TRUE(client_bypasses_cache("No-Cache"));
  EXPECT_TRUE(client_bypasses_cache("max-age=0, no-store"));
  EXPECT_TRUE(client_bypasses_cache(" max-age=10 ,no-cache"));
  EXPECT_TRUE(client_bypasses_cache("no-cache=\"x\""));
  EXPECT_FALSE(client_bypasses_cache(""));
  EXPECT_FALSE(client_bypasses_cache("max-age=60"));
  EXPECT_FALSE(client_bypasses_cache("no-transform"));
  EXPECT_FALSE(client_bypasses_cache("x-no-cache"));
  EXPECT_FALSE(client_bypasses_cache("private=\"no-cache, no-store\""));
  EXPECT_FALSE(client_bypasses_cache("only-if-cached"));
}

}  // namespace
}  // namespace spillway::cache
