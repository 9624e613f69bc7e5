// A route's rate limit as the session sees it (SPEC §2.2 Traffic policy): the key of a request
// (header:<name>, jwt:<claim> or client_address; a request without the header or claim is
// keyed by its client address, so leaving the header out does not escape the limit), the
// local buckets, and with `shared: true` the Redis buckets in front of them.
//
// Threading: any thread (the limiters lock internally); counters are atomics.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string_view>

#include "proxy/http/message.hpp"
#include "proxy/ratelimit/local_limiter.hpp"
#include "proxy/ratelimit/shared_limiter.hpp"

namespace spillway::ratelimit {

class route_limiter {
 public:
  /// `link` null: local buckets only (also when the config asks for shared ones but Redis
  /// could not be set up).
  route_limiter(const config::rate_limit_config& cfg, std::string_view route,
                std::shared_ptr<redis_link> link, size_t max_keys = 100000,
                const clock_source& clock = system_clock_source::instance());

  uint64_t key_of(const http::request_head& req, std::string_view client_ip) const;

  bool shared() const noexcept { return shared_ != nullptr; }
  bool limits_tokens() const noexcept { return local_.params().limits_tokens(); }

  /// The local decision (and the fallback when Redis fails).
  decision check_local(uint64_t key);
  /// The shared decision, or the local one when Redis cannot answer; `h` runs through `d`.
  void check_shared(uint64_t key, cache::dispatcher d, std::function<void(decision)> h);
  /// Charges an answer's tokens: to the local budget, and to the shared one when shared.
  void charge(uint64_t key, uint64_t tokens);

  const config::rate_limit_config& config() const noexcept { return cfg_; }

  // counters for /metrics
  std::atomic<uint64_t> refused_requests{0};
  std::atomic<uint64_t> refused_tokens{0};
  std::atomic<uint64_t> redis_fallbacks{0};  // shared checks decided locally (Redis failed)
  std::atomic<uint64_t> tokens_charged{0};

  void count(const decision& d) noexcept;

 private:
  const config::rate_limit_config& cfg_;
  local_limiter local_;
  std::unique_ptr<shared_limiter> shared_;
};

}  // namespace spillway::ratelimit
