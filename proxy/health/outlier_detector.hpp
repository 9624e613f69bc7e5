// Passive outlier detection (Envoy's consecutive_5xx outlier detection): an endpoint that
// returns consecutive_5xx failures in a row (5xx answers or connect failures) is ejected for
// base_ejection_time × its ejection count, capped at max_ejection_time. No more than
// max_ejection_percent of the cluster is ejected at once, but one endpoint always may be.
// Ejected endpoints carry the `ejected` bit so balancers skip them; sweep() brings them back
// once their time is up and, every `interval` an endpoint stays in, lowers its ejection count
// by one so an endpoint that recovered starts again from base_ejection_time.
//
// Threading: one detector per cluster, shared by every worker. report() is lock-free on the
// common path (an atomic per endpoint); the ejection decision and sweep() take a mutex.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "common/clock.hpp"
#include "config/config.hpp"
#include "proxy/upstream/endpoint.hpp"

namespace spillway::health {

enum class outcome : uint8_t { success, server_error, connect_failure };

class outlier_detector {
 public:
  /// `endpoints` and `clock` must outlive the detector.
  outlier_detector(const config::outlier_detection_config& cfg, const clock_source& clock,
                   std::vector<upstream::endpoint*> endpoints);

  /// Outcome of one request to endpoint `index`. Returns true when this report ejected it.
  bool report(std::size_t index, outcome o);

  /// Un-ejects endpoints whose ejection has run out and decays ejection counts. Call it from a
  /// timer, at the latest at next_deadline() and at least every `interval`.
  void sweep();

  /// Earliest time an ejected endpoint is due back; empty when none is ejected.
  std::optional<steady_time> next_deadline() const;

  bool ejected(std::size_t index) const;
  uint32_t ejection_count(std::size_t index) const;
  std::size_t ejected_count() const;

  /// Most endpoints that may be ejected at once.
  std::size_t max_ejected() const noexcept { return max_ejected_; }

  /// Reload: takes over the state (failure streak, ejection, ejection count and times) of the
  /// endpoints `previous` also has; `previous_index[i]` is endpoint i's index there, or -1.
  /// Call before this detector is shared; the endpoint bits are already right.
  void adopt(const outlier_detector& previous, const std::vector<int>& previous_index);
  /// Stops writing endpoints' ejected bits (a reload replaced this detector).
  void detach();

 private:
  struct slot {
    std::atomic<uint32_t> consecutive{0};
    // Guarded by mutex_:
    bool ejected = false;
    uint32_t ejections = 0;     // multiplier of base_ejection_time
    steady_time until{};        // end of the current ejection
    steady_time last_change{};  // last ejection, un-ejection or decay
  };

  bool try_eject_locked(std::size_t index, steady_time now);
  void set_bit(std::size_t index, bool on);

  const config::outlier_detection_config cfg_;
  const clock_source& clock_;
  const std::vector<upstream::endpoint*> endpoints_;
  const std::size_t max_ejected_;
  std::unique_ptr<slot[]> slots_;
  mutable std::mutex mutex_;
  std::size_t ejected_now_ = 0;
  bool detached_ = false;  // guarded by mutex_
};

}  // namespace spillway::health
