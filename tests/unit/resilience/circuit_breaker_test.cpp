#include "proxy/breaker/circuit_breaker.hpp"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "tests/unit/resilience/test_endpoint.hpp"

namespace spillway::breaker {
namespace {

using namespace std::chrono_literals;

config::circuit_breaker_config make_cfg() {
  config::circuit_breaker_config c;
  c.window = 10s;
  c.min_requests = 10;
  c.error_rate = 0.5;
  c.open_duration = 5s;
  c.half_open_requests = 1;
  return c;
}

struct fixture : ::testing::Test {
  manual_clock clock;
  std::unique_ptr<upstream::endpoint> ep = test::make_endpoint();
  circuit_breaker cb{make_cfg(), clock, ep.get()};

  void outcomes(int successes, int failures) {
    for (int i = 0; i < successes; ++i) cb.record(cb.try_admit(), true);
    for (int i = 0; i < failures; ++i) cb.record(cb.try_admit(), false);
  }
  bool bit() const { return (ep->unavailable.load() & upstream::breaker_open) != 0; }
};

using circuit_breaker_test = fixture;

TEST_F(circuit_breaker_test, stays_closed_below_min_requests) {
  outcomes(0, 9);  // 100% errors but only 9 requests
  EXPECT_EQ(cb.state(), breaker_state::closed);
  EXPECT_TRUE(cb.try_admit().admitted);
  EXPECT_FALSE(bit());
}

TEST_F(circuit_breaker_test, stays_closed_below_error_rate) {
  outcomes(11, 9);  // 45%
  EXPECT_EQ(cb.state(), breaker_state::closed);
  EXPECT_EQ(cb.totals().requests, 20u);
  EXPECT_EQ(cb.totals().failures, 9u);
}

TEST_F(circuit_breaker_test, opens_at_error_rate_and_refuses) {
  outcomes(5, 5);  // 10 requests, 50%
  EXPECT_EQ(cb.state(), breaker_state::open);
  EXPECT_TRUE(bit());
  EXPECT_FALSE(cb.try_admit().admitted);
  ASSERT_TRUE(cb.reopen_at().has_value());
  EXPECT_EQ(*cb.reopen_at(), clock.now() + 5s);
}

TEST_F(circuit_breaker_test, old_buckets_leave_the_window) {
  outcomes(0, 6);
  clock.advance(11s);  // the six failures are out of the 10 s window
  outcomes(4, 0);
  EXPECT_EQ(cb.totals().requests, 4u);
  outcomes(0, 5);  // 9 requests in the window: still below min_requests
  EXPECT_EQ(cb.state(), breaker_state::closed);
  outcomes(0, 1);  // 10 requests, 6 failures
  EXPECT_EQ(cb.state(), breaker_state::open);
}

TEST_F(circuit_breaker_test, window_slides_bucket_by_bucket) {
  outcomes(0, 5);  // first 1 s bucket of the window
  clock.advance(5s);
  outcomes(4, 0);
  clock.advance(4999ms);  // 9.999 s after the failures: still inside
  EXPECT_EQ(cb.totals().requests, 9u);
  clock.advance(1ms);  // 10 s: their bucket has left, the later one stays
  EXPECT_EQ(cb.totals().requests, 4u);
  EXPECT_EQ(cb.totals().failures, 0u);
}

TEST_F(circuit_breaker_test, half_open_after_open_duration_then_probe_success_closes) {
  outcomes(0, 10);
  ASSERT_EQ(cb.state(), breaker_state::open);
  clock.advance(4999ms);
  EXPECT_FALSE(cb.try_admit().admitted);
  clock.advance(1ms);
  EXPECT_EQ(cb.refresh(), breaker_state::half_open);
  EXPECT_FALSE(bit());  // balancers may pick it again, for the probe
  const auto probe = cb.try_admit();
  ASSERT_TRUE(probe.admitted);
  EXPECT_TRUE(probe.probe);
  EXPECT_FALSE(cb.try_admit().admitted);  // only half_open_requests probes at once
  cb.record(probe, true);
  EXPECT_EQ(cb.state(), breaker_state::closed);
  EXPECT_EQ(cb.totals().requests, 0u);  // closed with an empty window
  EXPECT_TRUE(cb.try_admit().admitted);
}

TEST_F(circuit_breaker_test, probe_failure_reopens_for_another_open_duration) {
  outcomes(0, 10);
  clock.advance(5s);
  const auto probe = cb.try_admit();  // try_admit itself moves open → half-open
  ASSERT_TRUE(probe.probe);
  clock.advance(2s);
  cb.record(probe, false);
  EXPECT_EQ(cb.state(), breaker_state::open);
  EXPECT_TRUE(bit());
  clock.advance(4s);
  EXPECT_EQ(cb.refresh(), breaker_state::open);
  clock.advance(1s);
  EXPECT_EQ(cb.refresh(), breaker_state::half_open);
}

TEST_F(circuit_breaker_test, stale_results_do_not_count_as_probes) {
  const auto early = cb.try_admit();  // admitted while closed
  outcomes(0, 10);
  clock.advance(5s);
  const auto probe1 = cb.try_admit();
  cb.record(probe1, false);  // round 1 fails: open again
  clock.advance(5s);
  const auto probe2 = cb.try_admit();
  ASSERT_TRUE(probe2.admitted);
  cb.record(early, true);   // a request from the closed period says nothing
  cb.record(probe1, true);  // neither does a probe of the earlier round
  EXPECT_EQ(cb.state(), breaker_state::half_open);
  cb.record(probe2, true);
  EXPECT_EQ(cb.state(), breaker_state::closed);
}

TEST_F(circuit_breaker_test, abandoned_probe_frees_its_slot) {
  outcomes(0, 10);
  clock.advance(5s);
  const auto probe = cb.try_admit();
  ASSERT_TRUE(probe.admitted);
  EXPECT_FALSE(cb.try_admit().admitted);
  cb.abandon(probe);
  EXPECT_EQ(cb.state(), breaker_state::half_open);
  EXPECT_TRUE(cb.try_admit().admitted);
}

TEST(circuit_breaker, several_probes_must_all_succeed) {
  manual_clock clock;
  auto cfg = make_cfg();
  cfg.half_open_requests = 3;
  circuit_breaker cb(cfg, clock);
  for (int i = 0; i < 10; ++i) cb.record(cb.try_admit(), false);
  clock.advance(5s);
  const auto a = cb.try_admit(), b = cb.try_admit(), c = cb.try_admit();
  ASSERT_TRUE(a.probe && b.probe && c.probe);
  EXPECT_FALSE(cb.try_admit().admitted);
  cb.record(a, true);
  cb.record(b, true);
  EXPECT_EQ(cb.state(), breaker_state::half_open);
  EXPECT_FALSE(cb.try_admit().admitted);  // two done, one in flight: no new probe
  cb.record(c, true);
  EXPECT_EQ(cb.state(), breaker_state::closed);
}

// Workers report concurrently; the counts add up (run under TSan too).
TEST(circuit_breaker, concurrent_reports_are_all_counted) {
  manual_clock clock;
  auto cfg = make_cfg();
  cfg.min_requests = 1'000'000;  // never opens here
  circuit_breaker cb(cfg, clock);
  std::vector<std::thread> workers;
  for (int t = 0; t < 4; ++t)
    workers.emplace_back([&, t] {
      for (int i = 0; i < 5000; ++i) cb.record(cb.try_admit(), (i + t) % 3 != 0);
    });
  for (auto& w : workers) w.join();
  const auto w = cb.totals();
  EXPECT_EQ(w.requests, 20'000u);
  uint64_t expected_failures = 0;
  for (int t = 0; t < 4; ++t)
    for (int i = 0; i < 5000; ++i) expected_failures += (i + t) % 3 == 0;
  EXPECT_EQ(w.failures, expected_failures);
}

}  // namespace
}  // namespace spillway::breaker
