// least_load: least_conn over an estimate of each engine's load that joins what the engine last
// reported (load_report: requests waiting and running, KV-cache usage) with this proxy's own
// in-flight count, which stays authoritative between scrapes.
//
// Estimate for an endpoint with a fresh report:
//   queued = max(active, running + waiting + active - active_at_scrape)
// i.e. the engine's count moved by the requests this proxy started (minus those it finished)
// since the scrape was sent, never below our own in-flight count. Every pick is followed by
// try_acquire(), so a burst raises `active` at once and spreads instead of herding onto the
// endpoint that looked idlest at the last scrape. Score = (queued + 1) * (1 + kv_usage) / weight,
// the lowest wins, ties by smooth weighted round robin (as least_conn). Without a fresh report
// (none yet, scrape failed, or older than its deadline) the score is (active + 1) / weight, so the
// policy degrades to least_conn.
//
// Saturation: an endpoint whose fresh report shows KV usage >= saturated_kv_permille / 1000 or
// more than saturated_waiting requests waiting is chosen only when every eligible endpoint is
// saturated.
//
// Threading: one instance per worker thread; the report store is shared (atomics, written by the
// scraper on the control thread).
#pragma once

#include <cstdint>
#include <vector>

#include "common/clock.hpp"
#include "proxy/balancer/balancer.hpp"
#include "proxy/balancer/weighted_load.hpp"
#include "proxy/health/load_report.hpp"

namespace spillway::balancer {

struct least_load_options {
  uint32_t saturated_kv_permille = 980;
  uint32_t saturated_waiting = 16;
};

class least_load final : public balancer {
 public:
  /// `reports` may be null (in-flight counts only); when set it covers every endpoint and must
  /// outlive the balancer, as must `clock`, which must be the clock the scraper stamps with.
  least_load(const endpoint_set& endpoints, const health::load_report_store* reports,
             const clock_source& clock, least_load_options options = {});

  int pick(const pick_context& ctx) override;

  /// Score numerator of endpoint `i` as pick() computes it: (queued + 1) * (1000 + kv_permille),
  /// and whether it counts as saturated. For tests and the status page.
  struct score {
    uint64_t load;
    bool saturated;
  };
  score score_of(int i, steady_time now) const noexcept;

 private:
  struct candidate {
    int index;
    uint32_t weight;
    uint64_t load;
    bool saturated;
  };

  endpoint_set endpoints_;
  const health::load_report_store* reports_;
  const clock_source& clock_;
  least_load_options options_;
  std::vector<candidate> candidates_;  // scratch, sized once
  std::vector<weighted_index> tied_;   // scratch, sized once
  smooth_wrr wrr_;
};

}  // namespace spillway::balancer
