// least_load: engine reports steer picks, in-flight counts stay authoritative between scrapes,
// saturated endpoints are avoided while another is not, stale or failed reports are ignored.
#include <gtest/gtest.h>

#include <string>

#include "common/random.hpp"
#include "proxy/balancer/balancer_options.hpp"
#include "proxy/balancer/least_load.hpp"
#include "tests/unit/affinity/fixture.hpp"

namespace spillway::affinity::test {
namespace {

using namespace std::chrono_literals;
using balancer::least_load;
using health::load_report_store;
using health::load_sample;

struct rig {
  explicit rig(const std::vector<uint32_t>& weights, uint32_t max_concurrent = 0)
      : c(weights, max_concurrent), store(c.size()), lb(c.set, &store, clock) {}

  void report(std::size_t i, double running, double waiting, double kv = 0) {
    store.record(i, {.waiting = waiting, .running = running, .kv_usage = kv},
                 static_cast<uint32_t>(c[i].active.load()), clock.now() + 1500ms);
  }
  int pick_and_hold(std::span<const int> excluded = {}) {
    const int p = lb.pick({.excluded = excluded});
    if (p >= 0) c[p].try_acquire();
    return p;
  }

  endpoints c;
  manual_clock clock;
  load_report_store store;
  least_load lb;
};

TEST(least_load, without_reports_it_is_least_conn) {
  endpoints c({5, 1, 1});
  c[0].active = 4;
  auto b = balancer::make_balancer(config::balancer_kind::least_load, c.set, 1);
  std::string seq;
  for (int i = 0; i < 7; ++i) seq += static_cast<char>('a' + b->pick({}));
  EXPECT_EQ(seq, "aabacaa");
}

TEST(least_load, reported_queue_steers_picks) {
  rig r({1, 1, 1});
  r.report(0, 8, 4);
  r.report(1, 2, 0);
  r.report(2, 6, 0);
  EXPECT_EQ(r.lb.pick({}), 1);
  // KV usage weighs in: equal queues, the emptier cache wins.
  rig k({1, 1});
  k.report(0, 3, 0, 0.9);
  k.report(1, 3, 0, 0.2);
  EXPECT_EQ(k.lb.pick({}), 1);
}

// A burst between two scrapes spreads: each pick is held, raising that endpoint's estimate at
// once, so the endpoint that looked idle at the scrape does not take everything.
TEST(least_load, burst_between_scrapes_does_not_herd) {
  rig r({1, 1, 1, 1});
  r.report(0, 0, 0);
  r.report(1, 6, 0);
  r.report(2, 6, 0);
  r.report(3, 6, 0);
  int counts[4] = {};
  for (int i = 0; i < 40; ++i) ++counts[r.pick_and_hold()];
  // Estimates end level: endpoint 0 took its 6 of head start plus a quarter of the rest.
  EXPECT_GE(counts[0], 6 + 34 / 4);
  EXPECT_LE(counts[0], 6 + 34 / 4 + 1);
  uint64_t lo = UINT64_MAX, hi = 0;
  for (int i = 0; i < 4; ++i) {
    const uint64_t load = r.lb.score_of(i, r.clock.now()).load;
    lo = std::min(lo, load);
    hi = std::max(hi, load);
  }
  EXPECT_LE(hi - lo, 1000u);  // within one request
}

// Requests this proxy had in flight at the scrape are in the engine's count; once they finish,
// the estimate drops without waiting for the next scrape.
TEST(least_load, finished_requests_leave_the_estimate_before_the_next_scrape) {
  rig r({1, 1});
  for (int i = 0; i < 5; ++i) r.c[0].try_acquire();
  r.report(0, 5, 0);  // the engine sees our 5
  r.report(1, 2, 0);  // two from another proxy replica
  EXPECT_EQ(r.lb.pick({}), 1);
  for (int i = 0; i < 5; ++i) r.c[0].release();
  EXPECT_EQ(r.lb.score_of(0, r.clock.now()).load, 1u * 1000);
  EXPECT_EQ(r.lb.pick({}), 0);
}

TEST(least_load, stale_and_failed_reports_fall_back_to_in_flight_counts) {
  rig r({1, 1});
  r.report(0, 50, 10);
  r.c[1].try_acquire();
  EXPECT_EQ(r.lb.pick({}), 1);  // 1 in flight beats 60 reported
  r.clock.advance(1500ms);      // the report's deadline
  EXPECT_EQ(r.lb.pick({}), 0);  // stale: 0 in flight beats 1
  r.report(0, 50, 10);
  EXPECT_EQ(r.lb.pick({}), 1);
  r.store.invalidate(0);  // scrape failed
  EXPECT_EQ(r.lb.pick({}), 0);
}

TEST(least_load, never_picks_a_saturated_endpoint_while_another_is_not) {
  xoshiro256 rng(77);
  for (int round = 0; round < 3000; ++round) {
    const std::size_t n = 2 + rng.below(6);
    rig r(std::vector<uint32_t>(n, 1 + static_cast<uint32_t>(rng.below(3))),
          static_cast<uint32_t>(rng.below(3) == 0 ? 3 : 0));
    std::vector<int> excluded;
    for (std::size_t i = 0; i < n; ++i) {
      r.c[i].active = static_cast<int32_t>(rng.below(4));
      if (rng.below(6) == 0) r.c[i].unavailable = upstream::ejected;
      if (rng.below(6) == 0) excluded.push_back(static_cast<int>(i));
      switch (rng.below(4)) {
        case 0:
          r.report(i, static_cast<double>(rng.below(4)), 0, 0.985);
          break;  // KV full
        case 1:
          r.report(i, 0, 17 + static_cast<double>(rng.below(50)), 0.1);
          break;  // queue
        case 2:
          r.report(i, static_cast<double>(rng.below(40)), static_cast<double>(rng.below(16)),
                   rng.uniform() * 0.97);
          break;
        default:
          break;  // no report
      }
    }
    const balancer::pick_context ctx{.excluded = excluded};
    bool unsaturated_eligible = false, any = false;
    for (std::size_t i = 0; i < n; ++i) {
      if (!balancer::eligible(r.c[i], static_cast<int>(i), ctx)) continue;
      any = true;
      unsaturated_eligible |= !r.lb.score_of(static_cast<int>(i), r.clock.now()).saturated;
    }
    const int p = r.lb.pick(ctx);
    if (!any) {
      ASSERT_EQ(p, -1);
      continue;
    }
    ASSERT_GE(p, 0);
    ASSERT_TRUE(balancer::eligible(r.c[p], p, ctx)) << "round " << round;
    if (unsaturated_eligible) {
      ASSERT_FALSE(r.lb.score_of(p, r.clock.now()).saturated) << "round " << round;
    }
  }
}

TEST(least_load, saturated_only_when_all_are) {
  rig r({1, 1});
  r.report(0, 1, 0, 0.99);
  r.report(1, 100, 40, 0.5);  // 40 waiting: saturated too, but the lighter KV one still loses
  EXPECT_EQ(r.lb.pick({}), 0);
  r.report(1, 100, 10, 0.5);  // no longer saturated: preferred despite the longer queue
  EXPECT_EQ(r.lb.pick({}), 1);
}

TEST(least_load, eligibility_with_reports) {
  rig r({1, 1, 1}, 2);
  r.report(0, 0, 0);
  r.report(1, 9, 0);
  r.report(2, 9, 0);
  r.c[0].unavailable = upstream::draining;
  const int excluded[] = {1};
  EXPECT_EQ(r.lb.pick({.excluded = excluded}), 2);
  r.c[2].active = 2;  // at max_concurrent
  EXPECT_EQ(r.lb.pick({.excluded = excluded}), -1);
}

}  // namespace
}  // namespace spillway::affinity::test
