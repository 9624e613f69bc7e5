#include "proxy/health/outlier_detector.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "tests/unit/resilience/test_endpoint.hpp"

namespace spillway::health {
namespace {

using namespace std::chrono_literals;

config::outlier_detection_config make_cfg(double max_percent = 0.5) {
  config::outlier_detection_config c;
  c.consecutive_5xx = 5;
  c.interval = 10s;
  c.base_ejection_time = 30s;
  c.max_ejection_time = 300s;
  c.max_ejection_percent = max_percent;
  return c;
}

struct cluster {
  explicit cluster(std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      owned.push_back(test::make_endpoint(static_cast<uint16_t>(9001 + i)));
      raw.push_back(owned.back().get());
    }
  }
  bool bit(std::size_t i) const { return (owned[i]->unavailable.load() & upstream::ejected) != 0; }
  std::vector<std::unique_ptr<upstream::endpoint>> owned;
  std::vector<upstream::endpoint*> raw;
};

void fail(outlier_detector& d, std::size_t i, int n, outcome o = outcome::server_error) {
  for (int k = 0; k < n; ++k) d.report(i, o);
}

TEST(outlier_detector, ejects_after_consecutive_failures) {
  manual_clock clock;
  cluster c(4);
  outlier_detector d(make_cfg(), clock, c.raw);
  fail(d, 0, 4);
  EXPECT_FALSE(d.ejected(0));
  EXPECT_TRUE(d.report(0, outcome::connect_failure));  // 5th in a row, of either kind
  EXPECT_TRUE(d.ejected(0));
  EXPECT_TRUE(c.bit(0));
  EXPECT_EQ(d.ejection_count(0), 1u);
  EXPECT_EQ(d.next_deadline(), clock.now() + 30s);
}

TEST(outlier_detector, a_success_resets_the_run) {
  manual_clock clock;
  cluster c(4);
  outlier_detector d(make_cfg(), clock, c.raw);
  for (int round = 0; round < 10; ++round) {
    fail(d, 0, 4);
    d.report(0, outcome::success);
  }
  EXPECT_FALSE(d.ejected(0));
  EXPECT_EQ(d.ejected_count(), 0u);
}

TEST(outlier_detector, returns_when_time_is_up_and_ejections_grow) {
  manual_clock clock;
  cluster c(4);
  outlier_detector d(make_cfg(), clock, c.raw);
  fail(d, 1, 5);
  clock.advance(29s);
  d.sweep();
  EXPECT_TRUE(d.ejected(1));
  clock.advance(1s);
  d.sweep();
  EXPECT_FALSE(d.ejected(1));
  EXPECT_FALSE(c.bit(1));
  EXPECT_FALSE(d.next_deadline());
  // Fails again at once: second ejection lasts 2 × base.
  fail(d, 1, 5);
  EXPECT_EQ(d.ejection_count(1), 2u);
  EXPECT_EQ(d.next_deadline(), clock.now() + 60s);
}

TEST(outlier_detector, ejection_time_is_capped) {
  manual_clock clock;
  cluster c(2);
  outlier_detector d(make_cfg(), clock, c.raw);
  for (int i = 1; i <= 12; ++i) {
    fail(d, 0, 5);
    ASSERT_TRUE(d.ejected(0));
    const auto length = *d.next_deadline() - clock.now();
    EXPECT_EQ(length, std::min<std::chrono::nanoseconds>(30s * i, 300s)) << "ejection " << i;
    clock.advance(length);
    d.sweep();
  }
}

TEST(outlier_detector, ejection_count_decays_while_healthy) {
  manual_clock clock;
  cluster c(2);
  outlier_detector d(make_cfg(), clock, c.raw);
  fail(d, 0, 5);
  clock.advance(30s);
  d.sweep();  // back
  fail(d, 0, 5);
  clock.advance(60s);
  d.sweep();  // back, count 2
  EXPECT_EQ(d.ejection_count(0), 2u);
  clock.advance(10s);
  d.sweep();
  EXPECT_EQ(d.ejection_count(0), 1u);
  clock.advance(5s);
  d.sweep();
  EXPECT_EQ(d.ejection_count(0), 1u);  // less than an interval since the last decay
  clock.advance(5s);
  d.sweep();
  EXPECT_EQ(d.ejection_count(0), 0u);
  fail(d, 0, 5);
  EXPECT_EQ(d.next_deadline(), clock.now() + 30s);  // starts from base again
}

TEST(outlier_detector, never_more_than_max_percent) {
  manual_clock clock;
  cluster c(10);
  outlier_detector d(make_cfg(0.3), clock, c.raw);
  EXPECT_EQ(d.max_ejected(), 3u);
  for (std::size_t i = 0; i < 10; ++i) fail(d, i, 5);
  EXPECT_EQ(d.ejected_count(), 3u);
  EXPECT_TRUE(d.ejected(0) && d.ejected(1) && d.ejected(2));
  EXPECT_FALSE(d.ejected(3));
  // Once one comes back, the next failing endpoint may take its place.
  clock.advance(30s);
  d.sweep();
  EXPECT_EQ(d.ejected_count(), 0u);
  fail(d, 3, 1);  // its run kept counting while the cap held it back
  EXPECT_TRUE(d.ejected(3));
}

TEST(outlier_detector, at_least_one_may_always_be_ejected) {
  manual_clock clock;
  cluster c(3);
  outlier_detector d(make_cfg(0.1), clock, c.raw);  // 10% of 3 rounds down to 0
  EXPECT_EQ(d.max_ejected(), 1u);
  fail(d, 2, 5);
  fail(d, 1, 5);
  EXPECT_TRUE(d.ejected(2));
  EXPECT_FALSE(d.ejected(1));
}

TEST(outlier_detector, keeps_other_unavailable_bits) {
  manual_clock clock;
  cluster c(2);
  c.owned[0]->unavailable = upstream::draining;
  outlier_detector d(make_cfg(), clock, c.raw);
  fail(d, 0, 5);
  EXPECT_EQ(c.owned[0]->unavailable.load(), upstream::draining | upstream::ejected);
  clock.advance(30s);
  d.sweep();
  EXPECT_EQ(c.owned[0]->unavailable.load(), upstream::draining);
}

}  // namespace
}  // namespace spillway::health
