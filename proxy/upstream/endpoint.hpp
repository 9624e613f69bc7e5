// Runtime state of one upstream endpoint. One instance per process, shared by every worker
// thread; all mutable fields are atomics (read-mostly, relaxed ordering is enough: the values
// steer balancing decisions, they do not guard memory). A reload that keeps the endpoint (same
// cluster name and address) shares this object with the new runtime, so in-flight counts and
// unavailable bits carry over; weight and max_concurrent are then updated in place.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "config/address.hpp"

namespace spillway::upstream {

/// Reasons an endpoint is skipped by balancers; several may hold at once.
enum unavailable_reason : uint32_t {
  health_unknown = 1u << 0,  // active checks configured and not yet passed
  unhealthy = 1u << 1,       // active checks failing
  ejected = 1u << 2,         // outlier detection
  breaker_open = 1u << 3,    // circuit breaker open (half-open is handled by the breaker)
  draining = 1u << 4,        // admin drain
};

struct endpoint {
  endpoint(std::string address_text, config::host_port target_hp, uint32_t weight_,
           uint32_t max_concurrent_)
      : address(std::move(address_text)),
        target(std::move(target_hp)),
        weight(weight_),
        max_concurrent(max_concurrent_),
        effective_weight(weight_) {}

  endpoint(const endpoint&) = delete;
  endpoint& operator=(const endpoint&) = delete;

  const std::string address;             // as written in the config, used in metrics and admin
  const config::host_port target;        // parsed host and port
  std::atomic<uint32_t> weight;          // configured weight (> 0); changes on reload
  std::atomic<uint32_t> max_concurrent;  // 0 = unlimited; changes on reload

  std::atomic<int32_t> active{0};          // in-flight requests, all workers together
  std::atomic<uint32_t> effective_weight;  // weight after slow start; balancers use this
  std::atomic<uint32_t> unavailable{0};    // unavailable_reason bits

  bool available() const noexcept { return unavailable.load(std::memory_order_relaxed) == 0; }

  bool at_capacity() const noexcept {
    const uint32_t cap = max_concurrent.load(std::memory_order_relaxed);
    return cap != 0 && active.load(std::memory_order_relaxed) >= static_cast<int32_t>(cap);
  }

  /// Takes one in-flight slot; fails when max_concurrent is reached. Pair with release().
  bool try_acquire() noexcept {
    const uint32_t cap = max_concurrent.load(std::memory_order_relaxed);
    if (cap == 0) {
      active.fetch_add(1, std::memory_order_relaxed);
      return true;
    }
    int32_t cur = active.load(std::memory_order_relaxed);
    while (cur < static_cast<int32_t>(cap)) {
      if (active.compare_exchange_weak(cur, cur + 1, std::memory_order_relaxed)) return true;
    }
    return false;
  }

  void release() noexcept { active.fetch_sub(1, std::memory_order_relaxed); }
};

}  // namespace spillway::upstream
