// A cluster built by a reload continues the state of the cluster it replaces.
#include <gtest/gtest.h>

#include "proxy/upstream/cluster.hpp"

namespace spillway::upstream {
namespace {

using namespace std::chrono_literals;

config::cluster_config make_config(std::vector<std::pair<std::string, uint32_t>> eps) {
  config::cluster_config c;
  c.name = "engines";
  for (auto& [addr, w] : eps) c.endpoints.push_back({addr, w, std::nullopt});
  return c;
}

int index_of(const cluster& c, const std::string& addr) {
  for (size_t i = 0; i < c.size(); ++i)
    if (c.at(i).address == addr) return static_cast<int>(i);
  return -1;
}

class ClusterCarryOver : public ::testing::Test {
 protected:
  manual_clock clock_;
};

TEST_F(ClusterCarryOver, StayingEndpointIsTheSameObjectWithNewWeightAndLimit) {
  auto before_cfg = make_config({{"a:1", 1}, {"b:1", 1}});
  cluster before(before_cfg, 0, clock_);
  ASSERT_TRUE(before.at(1).try_acquire());
  ASSERT_TRUE(before.at(1).try_acquire());
  before.at(1).unavailable.fetch_or(draining);

  auto after_cfg = make_config({{"c:1", 2}, {"b:1", 5}});
  after_cfg.max_concurrent = 8;
  cluster after(after_cfg, 0, before, clock_);
  const int b = index_of(after, "b:1");
  ASSERT_EQ(b, 1);
  EXPECT_EQ(&after.at(1), &before.at(1));
  EXPECT_EQ(after.at(1).active.load(), 2);
  EXPECT_EQ(after.at(1).weight.load(), 5u);
  EXPECT_EQ(after.at(1).max_concurrent.load(), 8u);
  EXPECT_EQ(after.at(1).effective_weight.load(), 5u * cluster::weight_scale);
  EXPECT_FALSE(after.at(1).available()) << "drain flag lost";
  // A request admitted before the reload releases the slot the new cluster sees.
  before.at(1).release();
  EXPECT_EQ(after.at(1).active.load(), 1);
  // The new endpoint starts clean; the removed one is not in the new cluster.
  EXPECT_EQ(after.at(0).active.load(), 0);
  EXPECT_TRUE(after.at(0).available());
  EXPECT_EQ(index_of(after, "a:1"), -1);
}

TEST_F(ClusterCarryOver, OpenBreakerStaysOpenWhenItsSettingsAreUnchanged) {
  auto cfg = make_config({{"a:1", 1}});
  cfg.circuit_breaker = config::circuit_breaker_config{.window = 10s,
                                                       .min_requests = 2,
                                                       .error_rate = 0.5,
                                                       .open_duration = 5s,
                                                       .half_open_requests = 1};
  cluster before(cfg, 0, clock_);
  for (int i = 0; i < 2; ++i) before.report(0, before.admit(0), try_result::server_error);
  ASSERT_EQ(before.breaker_state(0), breaker::breaker_state::open);

  auto same = cfg;
  same.endpoints[0].weight = 3;
  cluster after(same, 0, before, clock_);
  EXPECT_EQ(after.breaker_state(0), breaker::breaker_state::open);
  EXPECT_FALSE(after.admit(0).admitted);
  EXPECT_FALSE(after.at(0).available());
  // It still turns half-open on time.
  clock_.advance(6s);
  after.control_tick();
  EXPECT_EQ(after.breaker_state(0), breaker::breaker_state::half_open);
  EXPECT_TRUE(after.at(0).available());
}

TEST_F(ClusterCarryOver, ChangedBreakerSettingsStartClosedAndTheOldBreakerLetsGo) {
  auto cfg = make_config({{"a:1", 1}});
  cfg.circuit_breaker = config::circuit_breaker_config{};
  cfg.circuit_breaker->min_requests = 2;
  cluster before(cfg, 0, clock_);
  auto in_flight = before.admit(0);  // a request that will finish after the reload
  for (int i = 0; i < 2; ++i) before.report(0, before.admit(0), try_result::server_error);
  ASSERT_EQ(before.breaker_state(0), breaker::breaker_state::open);

  auto changed = cfg;
  changed.circuit_breaker->error_rate = 0.9;
  cluster after(changed, 0, before, clock_);
  EXPECT_EQ(after.breaker_state(0), breaker::breaker_state::closed);
  EXPECT_TRUE(after.at(0).available());
  // The old breaker no longer writes the shared endpoint's bit.
  clock_.advance(std::chrono::seconds(11));
  before.report(0, in_flight, try_result::server_error);
  for (int i = 0; i < 4; ++i) before.report(0, before.admit(0), try_result::server_error);
  EXPECT_TRUE(after.at(0).available());
}

TEST_F(ClusterCarryOver, RemovedPolicyClearsItsBits) {
  auto cfg = make_config({{"a:1", 1}, {"b:1", 1}});
  cfg.circuit_breaker = config::circuit_breaker_config{};
  cfg.circuit_breaker->min_requests = 1;
  cfg.outlier_detection = config::outlier_detection_config{};
  cfg.outlier_detection->consecutive_5xx = 1;
  cfg.health_check = config::health_check_config{};
  cluster before(cfg, 0, clock_);
  before.report(0, before.admit(0), try_result::server_error);
  ASSERT_TRUE(before.ejected(0));
  ASSERT_EQ(before.breaker_state(0), breaker::breaker_state::open);
  ASSERT_FALSE(before.at(1).available());  // health unknown

  auto plain = make_config({{"a:1", 1}, {"b:1", 1}});
  cluster after(plain, 0, before, clock_);
  EXPECT_TRUE(after.at(0).available());
  EXPECT_TRUE(after.at(1).available());
  EXPECT_FALSE(after.ejected(0));
}

TEST_F(ClusterCarryOver, EjectionAndHealthContinue) {
  auto cfg = make_config({{"a:1", 1}, {"b:1", 1}, {"c:1", 1}});
  cfg.outlier_detection = config::outlier_detection_config{};
  cfg.outlier_detection->consecutive_5xx = 2;
  cfg.outlier_detection->base_ejection_time = 30s;
  cfg.outlier_detection->max_ejection_percent = 1.0;
  cfg.health_check = config::health_check_config{};
  cfg.health_check->healthy_threshold = 1;
  cfg.health_check->unhealthy_threshold = 1;
  cluster before(cfg, 0, clock_);
  before.health_state(0)->record(true);
  before.health_state(1)->record(false);
  before.health_state(2)->record(true);
  for (int i = 0; i < 2; ++i) before.report(0, before.admit(0), try_result::server_error);
  ASSERT_TRUE(before.ejected(0));

  // Reordered, one endpoint added.
  auto next = make_config({{"d:1", 1}, {"c:1", 1}, {"b:1", 1}, {"a:1", 1}});
  next.outlier_detection = cfg.outlier_detection;
  next.health_check = cfg.health_check;
  cluster after(next, 0, before, clock_);
  EXPECT_TRUE(after.ejected(3));
  EXPECT_FALSE(after.at(3).available());
  EXPECT_EQ(after.health(2), health::health_status::unhealthy);
  EXPECT_EQ(after.health(1), health::health_status::healthy);
  EXPECT_TRUE(after.at(1).available());
  EXPECT_EQ(after.health(0), health::health_status::unknown);
  EXPECT_FALSE(after.at(0).available());
  // The ejection ends when it was due, through the new cluster's detector.
  clock_.advance(31s);
  after.control_tick();
  EXPECT_FALSE(after.ejected(3));
  EXPECT_TRUE(after.at(3).available());
  // Health checks added on a serving endpoint do not take it out of service.
  auto checked = make_config({{"x:1", 1}});
  cluster plain(checked, 0, clock_);
  checked.health_check = cfg.health_check;
  cluster with_checks(checked, 0, plain, clock_);
  EXPECT_EQ(with_checks.health(0), health::health_status::healthy);
  EXPECT_TRUE(with_checks.at(0).available());
}

TEST_F(ClusterCarryOver, SlowStartRampContinues) {
  auto cfg = make_config({{"a:1", 10}});
  cfg.slow_start = 10s;
  cfg.health_check = config::health_check_config{};
  cfg.health_check->healthy_threshold = 1;
  cluster before(cfg, 0, clock_);
  before.health_state(0)->record(true);
  before.control_tick();  // joins: the ramp starts
  clock_.advance(5s);
  before.control_tick();
  const uint32_t mid = before.at(0).effective_weight.load();
  ASSERT_LT(mid, 10u * cluster::weight_scale);
  ASSERT_GT(mid, 0u);

  cluster after(cfg, 0, before, clock_);
  EXPECT_EQ(after.at(0).effective_weight.load(), mid) << "the reload restarted or ended the ramp";
  clock_.advance(6s);
  after.control_tick();
  EXPECT_EQ(after.at(0).effective_weight.load(), 10u * cluster::weight_scale);
}

}  // namespace
}  // namespace spillway::upstream
