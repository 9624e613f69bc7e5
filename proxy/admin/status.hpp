// Live status (SPEC §2.4 `GET /`): the HTML status page and the JSON snapshot it polls,
// `GET /admin/status`. Workers only count (per-worker counters and latency histograms, see
// stats.hpp); the tracker, on the control thread, sums them once a second into a short ring of
// totals, so rates, error ratios and latency quantiles cover a sliding window (the last
// `window` seconds) whatever the page's polling rhythm.
#pragma once

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.hpp"
#include "proxy/admin/stats.hpp"

namespace spillway::server {
class server;
}

namespace spillway::admin {

using bucket_counts = std::array<uint64_t, latency_buckets.size() + 1>;  // non-cumulative

/// Quantile `q` (0..1) of a histogram over latency_buckets, interpolated linearly inside the
/// bucket that holds it (as Prometheus' histogram_quantile); a rank in the +Inf bucket answers
/// the largest finite bound. nullopt when the histogram is empty.
std::optional<double> bucket_quantile(const bucket_counts& counts, double q) noexcept;

/// Counters summed over every worker at one instant.
struct status_totals {
  struct series {
    uint64_t requests = 0;
    uint64_t errors = 0;  // no response, or status >= 500
    bucket_counts latency{};
  };
  steady_time at{};
  const void* runtime = nullptr;               // totals of another runtime (reload) do not compare
  std::vector<series> routes;                  // config order
  std::vector<std::vector<series>> endpoints;  // [cluster][endpoint]
  std::map<std::string, uint64_t> cache;       // spillway_cache_requests_total by result
  bool cache_present = false;
};

/// Activity between two totals: rates per second, error ratio, latency quantiles.
struct window_view {
  double seconds = 0;
  double rate = 0;                   // requests per second
  std::optional<double> error_rate;  // errors / requests; nullopt without requests
  std::optional<double> p50, p99;    // seconds
};
window_view compare(const status_totals::series& older, const status_totals::series& newer,
                    double seconds) noexcept;

class status_tracker {
 public:
  static constexpr std::chrono::seconds window{10};
  static constexpr std::chrono::seconds sample_every{1};

  status_tracker(boost::asio::io_context& ioc, const server::server& srv,
                 const clock_source& clock = system_clock_source::instance());

  void start();  // first sample now, then one per sample_every
  void stop();

  /// The JSON document served on GET /admin/status.
  std::string render_json();

 private:
  void tick();
  status_totals take() const;

  const server::server& server_;
  const clock_source& clock_;
  steady_time started_;
  boost::asio::steady_timer timer_;
  std::deque<status_totals> ring_;  // oldest first, spans at most `window`
  bool running_ = false;
};

/// The self-contained status page (inline CSS and JS, no external asset).
std::string_view status_page_html() noexcept;

}  // namespace spillway::admin
