// Clock abstraction so policies (breaker, retry, health, queue) can be tested with a fake clock.
#pragma once

#include <chrono>

namespace spillway {

using steady_time = std::chrono::steady_clock::time_point;

class clock_source {
 public:
  virtual ~clock_source() = default;
  virtual steady_time now() const noexcept = 0;
};

class system_clock_source final : public clock_source {
 public:
  steady_time now() const noexcept override { return std::chrono::steady_clock::now(); }
  static const system_clock_source& instance() noexcept {
    static const system_clock_source c;
    return c;
  }
};

/// Test clock: time moves only when advance() is called.
class manual_clock final : public clock_source {
 public:
  steady_time now() const noexcept override { return now_; }
  void advance(std::chrono::nanoseconds d) noexcept { now_ += d; }

 private:
  steady_time now_{std::chrono::hours(1)};
};

}  // namespace spillway
