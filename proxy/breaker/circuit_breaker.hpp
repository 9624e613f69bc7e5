// Per-endpoint circuit breaker (Hystrix / resilience4j style: closed → open → half-open).
//
// Closed: every request passes; outcomes go into a rolling window of `window` split in
// `buckets` time buckets. When the window holds at least min_requests outcomes and the failure
// share is at least error_rate, the breaker opens. Open: requests are refused and the endpoint
// carries the breaker_open bit so balancers skip it. After open_duration it turns half-open:
// the bit is cleared and up to half_open_requests probes are let through at once; a failed probe
// re-opens it, half_open_requests successful probes close it with an empty window.
//
// Every admitted request holds a ticket; its outcome is recorded with that ticket, so results
// of requests admitted in an earlier state (or an earlier half-open round) never count as probes.
//
// Threading: one breaker per endpoint, shared by every worker. A small mutex guards the window
// and the transitions (held for a few dozen instructions per request outcome); state() reads an
// atomic without locking. Time comes from the injected clock_source.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <vector>

#include "common/clock.hpp"
#include "config/config.hpp"
#include "proxy/upstream/endpoint.hpp"

namespace spillway::breaker {

/// Values match the spillway_circuit_breaker_state metric.
enum class breaker_state : uint8_t { closed = 0, open = 1, half_open = 2 };

const char* to_string(breaker_state s) noexcept;

class circuit_breaker {
 public:
  /// Admission of one request. `admitted` false: the caller must not send it to this endpoint.
  struct ticket {
    bool admitted = false;
    bool probe = false;  // a half-open trial request
    uint64_t round = 0;  // the open/half-open round it belongs to
  };

  static constexpr uint32_t default_buckets = 10;

  /// `target` (optional) gets the breaker_open bit while the breaker is open. `clock` and
  /// `target` must outlive the breaker.
  circuit_breaker(const config::circuit_breaker_config& cfg, const clock_source& clock,
                  upstream::endpoint* target = nullptr, uint32_t buckets = default_buckets);

  /// Asks to send one request now; moves open → half-open when open_duration has passed.
  ticket try_admit();

  /// Records the outcome of a request admitted with `t` (success: the endpoint answered in a
  /// way that says it is healthy; what counts as failure is the caller's classification).
  void record(const ticket& t, bool success);

  /// Gives back a ticket whose request ended without an outcome that says anything about the
  /// endpoint (client went away, request cancelled), so a probe slot is not lost.
  void abandon(const ticket& t);

  /// Moves open → half-open when due (a timer calls this so the endpoint becomes pickable again
  /// even when no request asks). Returns the state after the check.
  breaker_state refresh();

  breaker_state state() const noexcept { return state_.load(std::memory_order_relaxed); }

  /// When an open breaker turns half-open; empty unless open.
  std::optional<steady_time> reopen_at() const;

  /// Outcomes currently in the window (for the admin API and tests).
  struct window_totals {
    uint64_t requests = 0;
    uint64_t failures = 0;
  };
  window_totals totals() const;

  /// Stops writing the endpoint's breaker_open bit (a reload replaced this breaker; the new one
  /// owns the bit). Outcomes of requests still in flight are then recorded here to no effect.
  void detach();

 private:
  struct bucket {
    int64_t slot = -1;  // time slot index this bucket holds; -1 = empty
    uint64_t requests = 0;
    uint64_t failures = 0;
  };

  int64_t slot_of(steady_time t) const noexcept;
  window_totals totals_locked(int64_t now_slot) const;
  void open_locked(steady_time now);
  void half_open_locked();
  void close_locked();
  void set_state_locked(breaker_state s);

  const config::circuit_breaker_config cfg_;
  const clock_source& clock_;
  upstream::endpoint* target_;  // guarded by mutex_; null once detached
  const std::chrono::nanoseconds bucket_width_;

  mutable std::mutex mutex_;
  std::vector<bucket> buckets_;
  std::atomic<breaker_state> state_{breaker_state::closed};
  steady_time opened_at_{};
  uint64_t round_ = 0;  // bumped on each transition to open
  uint32_t probes_in_flight_ = 0;
  uint32_t probe_successes_ = 0;
};

}  // namespace spillway::breaker
