#include "proxy/ratelimit/route_limiter.hpp"

#include "proxy/affinity/key.hpp"
#include "proxy/balancer/key_hash.hpp"

namespace spillway::ratelimit {

namespace {
constexpr uint64_t address_seed = 0x72617465'6c696d69ULL;  // keeps address keys apart
}

route_limiter::route_limiter(const config::rate_limit_config& cfg, std::string_view route,
                             std::shared_ptr<redis_link> link, size_t max_keys,
                             const clock_source& clock)
    : cfg_(cfg), local_(cfg, max_keys, clock) {
  if (cfg.shared && link)
    shared_ =
        std::make_unique<shared_limiter>(std::move(link), std::string(route), local_.params());
}

uint64_t route_limiter::key_of(const http::request_head& req, std::string_view client_ip) const {
  std::optional<uint64_t> k;
  if (cfg_.key == config::rate_limit_key_kind::header)
    k = affinity::header_key(req.headers, cfg_.key_arg);
  else if (cfg_.key == config::rate_limit_key_kind::jwt)
    k = affinity::jwt_key(req.headers, cfg_.key_arg);
  if (k) return *k;
  return balancer::hash64(client_ip, address_seed);
}

void route_limiter::count(const decision& d) noexcept {
  if (d.allowed) return;
  (d.reason == limit_reason::tokens ? refused_tokens : refused_requests)
      .fetch_add(1, std::memory_order_relaxed);
}

decision route_limiter::check_local(uint64_t key) {
  decision d = local_.check(key);
  count(d);
  return d;
}

void route_limiter::check_shared(uint64_t key, cache::dispatcher d,
                                 std::function<void(decision)> h) {
  shared_->check(key, std::move(d), [this, key, h = std::move(h)](std::optional<decision> r) {
    if (!r) {
      redis_fallbacks.fetch_add(1, std::memory_order_relaxed);
      return h(check_local(key));
    }
    count(*r);
    h(*r);
  });
}

void route_limiter::charge(uint64_t key, uint64_t tokens) {
  if (tokens == 0 || !limits_tokens()) return;
  tokens_charged.fetch_add(tokens, std::memory_order_relaxed);
  local_.charge(key, tokens);
  if (shared_) shared_->charge(key, tokens);
}

}  // namespace spillway::ratelimit
