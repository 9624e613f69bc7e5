// Which failed tries are retried (route retry_config: conditions and statuses, attempts), how
// long to wait before the next try (full-jitter backoff, or the upstream's Retry-After capped at
// max_retry_after), and the per-reason counters behind spillway_retries_total{route,reason}.
//
// Threading: retry_policy is immutable after construction (any thread); retry_counters are
// relaxed atomics shared by every worker.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

#include "common/random.hpp"
#include "config/config.hpp"
#include "proxy/retry/backoff.hpp"
#include "proxy/retry/retry_after.hpp"

namespace spillway::retry {

/// Why a try failed, as the data path saw it.
enum class failure_kind : uint8_t { connect_failure, reset, timeout, status };

/// Label values of spillway_retries_total{reason}; `budget_exhausted` and `attempts_exhausted`
/// count retries that were wanted but not made.
enum class retry_reason : uint8_t {
  connect_failure,
  reset,
  timeout,
  status,
  budget_exhausted,
  attempts_exhausted,
};
inline constexpr std::size_t retry_reason_count = 6;

std::string_view to_string(retry_reason r) noexcept;

struct failed_try {
  failure_kind kind = failure_kind::connect_failure;
  int status = 0;  // HTTP status when kind == status
};

class retry_counters {
 public:
  void count(retry_reason r) noexcept {
    counts_[static_cast<std::size_t>(r)].fetch_add(1, std::memory_order_relaxed);
  }
  uint64_t get(retry_reason r) const noexcept {
    return counts_[static_cast<std::size_t>(r)].load(std::memory_order_relaxed);
  }

 private:
  std::array<std::atomic<uint64_t>, retry_reason_count> counts_{};
};

class retry_policy {
 public:
  explicit retry_policy(const config::retry_config& cfg) : cfg_(cfg) {}

  /// The reason to retry `f`, or empty when the route does not retry this kind of failure.
  std::optional<retry_reason> retryable(const failed_try& f) const noexcept;

  /// True while another try is allowed after `tries_done` tries (the first one included).
  bool attempts_left(uint32_t tries_done) const noexcept { return tries_done < cfg_.attempts; }

  /// Wait before retry number `retry_index` (0 = first retry). A Retry-After header value (may
  /// be empty) is honoured when respect_retry_after is on and it parses; otherwise full jitter.
  std::chrono::microseconds delay(uint32_t retry_index, std::string_view retry_after, wall_time now,
                                  xoshiro256& rng) const noexcept;

  const config::retry_config& config() const noexcept { return cfg_; }

 private:
  const config::retry_config cfg_;
};

}  // namespace spillway::retry
