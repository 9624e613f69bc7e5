#include "proxy/health/health_state.hpp"

#include <gtest/gtest.h>

#include "proxy/health/slow_start.hpp"
#include "tests/unit/resilience/test_endpoint.hpp"

namespace spillway::health {
namespace {

using namespace std::chrono_literals;

config::health_check_config thresholds(uint32_t healthy, uint32_t unhealthy) {
  config::health_check_config c;
  c.healthy_threshold = healthy;
  c.unhealthy_threshold = unhealthy;
  return c;
}

uint32_t health_bits(const upstream::endpoint& e) {
  return e.unavailable.load() & (upstream::health_unknown | upstream::unhealthy);
}

TEST(health_state, starts_unknown_and_unavailable) {
  auto ep = test::make_endpoint();
  health_state h(thresholds(2, 3), ep.get());
  EXPECT_EQ(h.status(), health_status::unknown);
  EXPECT_EQ(health_bits(*ep), upstream::health_unknown);
}

TEST(health_state, unknown_to_healthy_after_threshold_successes) {
  auto ep = test::make_endpoint();
  health_state h(thresholds(2, 3), ep.get());
  EXPECT_FALSE(h.record(true));
  EXPECT_EQ(h.status(), health_status::unknown);
  EXPECT_TRUE(h.record(true));
  EXPECT_EQ(h.status(), health_status::healthy);
  EXPECT_EQ(health_bits(*ep), 0u);
  EXPECT_FALSE(h.record(true));  // no change, no transition reported
}

TEST(health_state, unknown_to_unhealthy_after_threshold_failures) {
  auto ep = test::make_endpoint();
  health_state h(thresholds(2, 3), ep.get());
  h.record(false);
  h.record(false);
  EXPECT_EQ(h.status(), health_status::unknown);
  EXPECT_TRUE(h.record(false));
  EXPECT_EQ(h.status(), health_status::unhealthy);
  EXPECT_EQ(health_bits(*ep), upstream::unhealthy);
}

TEST(health_state, flapping_needs_consecutive_results) {
  auto ep = test::make_endpoint();
  health_state h(thresholds(2, 3), ep.get());
  h.record(true);
  h.record(true);
  ASSERT_EQ(h.status(), health_status::healthy);
  // Two failures, a success, two failures: never three in a row.
  for (bool r : {false, false, true, false, false}) h.record(r);
  EXPECT_EQ(h.status(), health_status::healthy);
  EXPECT_TRUE(h.record(false));
  EXPECT_EQ(h.status(), health_status::unhealthy);
  // One success is not enough to come back.
  EXPECT_FALSE(h.record(true));
  EXPECT_EQ(h.status(), health_status::unhealthy);
  EXPECT_TRUE(h.record(true));
  EXPECT_EQ(h.status(), health_status::healthy);
  EXPECT_EQ(health_bits(*ep), 0u);
}

TEST(health_state, leaves_other_bits_alone) {
  auto ep = test::make_endpoint();
  ep->unavailable = upstream::ejected | upstream::draining;
  health_state h(thresholds(1, 1), ep.get());
  h.record(false);
  EXPECT_EQ(ep->unavailable.load(), upstream::ejected | upstream::draining | upstream::unhealthy);
  h.record(true);
  EXPECT_EQ(ep->unavailable.load(), upstream::ejected | upstream::draining);
}

TEST(slow_start, linear_ramp_with_floor) {
  EXPECT_EQ(ramp_weight(100, 0s, 30s), 10u);  // min_fraction 10%
  EXPECT_EQ(ramp_weight(100, 1s, 30s), 10u);
  EXPECT_EQ(ramp_weight(100, 15s, 30s), 50u);
  EXPECT_EQ(ramp_weight(100, 27s, 30s), 90u);
  EXPECT_EQ(ramp_weight(100, 30s, 30s), 100u);
  EXPECT_EQ(ramp_weight(100, 1h, 30s), 100u);
  EXPECT_EQ(ramp_weight(100, 5s, 0s), 100u);  // no slow start configured
  EXPECT_EQ(ramp_weight(3, 0s, 30s), 1u);     // never below 1
  EXPECT_EQ(ramp_weight(1, 15s, 30s), 1u);
}

TEST(slow_start, ramp_is_monotonic_and_aggression_front_loads) {
  uint32_t prev = 0;
  for (int s = 0; s <= 30; ++s) {
    const uint32_t w = ramp_weight(1000, std::chrono::seconds(s), 30s);
    EXPECT_GE(w, prev);
    prev = w;
    const uint32_t fast = ramp_weight(1000, std::chrono::seconds(s), 30s, {.aggression = 2.0});
    EXPECT_GE(fast, w);
  }
  EXPECT_EQ(ramp_weight(1000, 15s, 30s, {.aggression = 2.0}), 707u);  // sqrt(0.5)
}

TEST(slow_start, ramp_writes_effective_weight_until_done) {
  manual_clock clock;
  auto ep = test::make_endpoint(9001, 5);
  slow_start_ramp ramp(30s, 16);  // weights scaled by 16 for a finer ramp
  ramp.start(clock.now());
  EXPECT_TRUE(ramp.update(*ep, clock.now()));
  EXPECT_EQ(ep->effective_weight.load(), 8u);  // 10% of 80
  clock.advance(15s);
  EXPECT_TRUE(ramp.update(*ep, clock.now()));
  EXPECT_EQ(ep->effective_weight.load(), 40u);
  clock.advance(15s);
  EXPECT_FALSE(ramp.update(*ep, clock.now()));
  EXPECT_EQ(ep->effective_weight.load(), 80u);
  EXPECT_FALSE(ramp.ramping());
}

}  // namespace
}  // namespace spillway::health
