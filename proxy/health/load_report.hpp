// Engine-reported load (SPEC §2.1 load_report): the Prometheus text an engine serves on its
// metrics path, reduced to three numbers per endpoint (requests waiting, requests running, KV-cache
// usage), and a store that hands the latest values to every worker's least_load balancer.
//
// Parsing follows the Prometheus text exposition format 0.0.4: `# HELP` / `# TYPE` and other
// comments are skipped, a sample is `name{label="value",...} value [timestamp]`, values may be
// NaN, +Inf, -Inf or use exponents. Series of the same metric with different labels (several
// models or data-parallel engines behind one port) are added up for the counts and reduced to
// their maximum for the KV usage.
//
// Threading: the store is shared by all workers. One writer (the scraper, on the control thread)
// stores each endpoint's report in one 64-bit atomic plus its freshness deadline; readers on any
// thread load them relaxed (a reader may pair a new report with the previous deadline, which is
// harmless: both are recent).
#pragma once

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string_view>

#include "common/clock.hpp"
#include "config/config.hpp"

namespace spillway::health {

/// One endpoint's report, as parsed.
struct load_sample {
  double waiting = 0;   // requests queued in the engine
  double running = 0;   // requests in the engine's running batch
  double kv_usage = 0;  // fraction 0..1 of KV-cache blocks in use
};

/// One sample line of the text format. `labels` is the text between the braces, unparsed.
struct metric_line {
  std::string_view name;
  std::string_view labels;
  double value = 0;
};

/// Calls `on_sample` for every well-formed sample line of `text`; returns the number of
/// malformed lines skipped (comments and blank lines are not counted).
std::size_t for_each_sample(std::string_view text,
                            const std::function<void(const metric_line&)>& on_sample);

/// Parses one sample line (no trailing newline). False for comments, blanks and malformed lines.
bool parse_sample_line(std::string_view line, metric_line& out);

/// The report in `text` under the metric names of `cfg`. NaN and negative values are ignored,
/// KV usage is clamped to [0, 1]. nullopt when neither the waiting nor the running metric occurs.
std::optional<load_sample> parse_load_report(std::string_view text,
                                             const config::load_report_config& cfg);

/// What a balancer sees of one endpoint's report.
struct load_view {
  bool fresh = false;  // false: no report, failed scrape or past its deadline
  uint32_t waiting = 0;
  uint32_t running = 0;
  uint32_t kv_permille = 0;       // 0..1000
  uint32_t active_at_scrape = 0;  // this proxy's in-flight count when the scrape was sent
};

class load_report_store {
 public:
  explicit load_report_store(std::size_t endpoints)
      : size_(endpoints), slots_(std::make_unique<slot[]>(endpoints)) {}

  std::size_t size() const noexcept { return size_; }

  /// Control thread: a successful scrape of endpoint `i`, sent while this proxy had
  /// `active_at_scrape` requests in flight there; trusted until `fresh_until`.
  void record(std::size_t i, const load_sample& s, uint32_t active_at_scrape,
              steady_time fresh_until) noexcept {
    const uint64_t packed = field(s.waiting) | field(s.running) << 16 |
                            uint64_t{kv_permille(s.kv_usage)} << 32 |
                            uint64_t{std::min<uint32_t>(active_at_scrape, 0xffff)} << 48;
    slots_[i].packed.store(packed, std::memory_order_relaxed);
    slots_[i].fresh_until.store(fresh_until.time_since_epoch().count(), std::memory_order_relaxed);
    slots_[i].scrapes_ok.fetch_add(1, std::memory_order_relaxed);
  }

  /// Control thread: scrape of endpoint `i` failed; its report is dropped at once, so balancers
  /// go back to in-flight counts.
  void invalidate(std::size_t i) noexcept {
    slots_[i].fresh_until.store(never, std::memory_order_relaxed);
    slots_[i].scrapes_failed.fetch_add(1, std::memory_order_relaxed);
  }

  /// Any thread: endpoint `i`'s report as of `now`.
  load_view read(std::size_t i, steady_time now) const noexcept {
    load_view v;
    if (slots_[i].fresh_until.load(std::memory_order_relaxed) <= now.time_since_epoch().count())
      return v;
    const uint64_t p = slots_[i].packed.load(std::memory_order_relaxed);
    v.fresh = true;
    v.waiting = static_cast<uint32_t>(p & 0xffff);
    v.running = static_cast<uint32_t>(p >> 16 & 0xffff);
    v.kv_permille = static_cast<uint32_t>(p >> 32 & 0xffff);
    v.active_at_scrape = static_cast<uint32_t>(p >> 48);
    return v;
  }

  uint64_t scrapes_ok(std::size_t i) const noexcept {
    return slots_[i].scrapes_ok.load(std::memory_order_relaxed);
  }
  uint64_t scrapes_failed(std::size_t i) const noexcept {
    return slots_[i].scrapes_failed.load(std::memory_order_relaxed);
  }

 private:
  static constexpr int64_t never = std::numeric_limits<int64_t>::min();

  // Counts are kept in 16 bits: an engine with 65535 requests queued is saturated either way.
  static uint64_t field(double x) noexcept {
    if (!(x > 0)) return 0;
    if (x >= 0xffff) return 0xffff;
    return static_cast<uint64_t>(std::llround(x));
  }
  static uint32_t kv_permille(double f) noexcept {
    if (!(f > 0)) return 0;
    return static_cast<uint32_t>(std::llround(std::min(f, 1.0) * 1000));
  }

  struct alignas(64) slot {  // one cache line per endpoint: the scraper writes, workers read
    std::atomic<uint64_t> packed{0};
    std::atomic<int64_t> fresh_until{never};
    std::atomic<uint64_t> scrapes_ok{0};
    std::atomic<uint64_t> scrapes_failed{0};
  };
  std::size_t size_;
  std::unique_ptr<slot[]> slots_;
};

}  // namespace spillway::health
