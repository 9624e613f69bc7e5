#include "proxy/ratelimit/shared_limiter.hpp"

#include "common/log.hpp"

namespace spillway::ratelimit {

namespace {

// KEYS[1]: request bucket, KEYS[2]: token budget (hashes with fields l = level, t = time in µs).
// ARGV: rate (req/s, 0 = none), burst, tokens per minute (0 = none), charge (0 = a check).
// Reply: {allowed, reason (0 none, 1 requests, 2 tokens), limit, remaining, retry_after_ms,
// reset_ms}. Same arithmetic as token_bucket.cpp.
constexpr const char* script = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local tpm, cost = tonumber(ARGV[3]), tonumber(ARGV[4])
local function level(key, r, cap)
  local v = redis.call('HMGET', key, 'l', 't')
  local l, at = tonumber(v[1]), tonumber(v[2])
  if not l or not at then return cap end
  local e = now - at
  if e < 0 then e = 0 end
  l = l + e * r / 1000000
  if l > cap then l = cap end
  return l
end
local function store(key, l, r, cap)
  redis.call('HSET', key, 'l', string.format('%.6f', l), 't', now)
  redis.call('PEXPIRE', key, math.ceil((cap - l) / r * 1000) + 1000)
end
local trate = tpm / 60
if cost > 0 then
  if tpm > 0 then
    local b = level(KEYS[2], trate, tpm) - cost
    if b < -tpm then b = -tpm end
    store(KEYS[2], b, trate, tpm)
  end
  return {1, 0, 0, 0, 0, 0}
end
local limit, remaining, reset = 0, 0, 0
if tpm > 0 then
  local b = level(KEYS[2], trate, tpm)
  if b <= 0 then
    return {0, 2, tpm, 0, math.ceil(-b / trate * 1000) + 1, math.ceil((tpm - b) / trate * 1000)}
  end
  limit, remaining, reset = tpm, math.floor(b), math.ceil((tpm - b) / trate * 1000)
end
if rate > 0 then
  local l = level(KEYS[1], rate, burst)
  if l + 1e-9 < 1 then
    return {0, 1, burst, 0, math.ceil((1 - l) / rate * 1000), math.ceil((burst - l) / rate * 1000)}
  end
  l = l - 1
  store(KEYS[1], l, rate, burst)
  limit, remaining, reset = burst, math.floor(l), math.ceil((burst - l) / rate * 1000)
end
return {1, 0, limit, remaining, 0, reset}
)lua";

std::string number(double v) {
  char buf[64];
  int n = std::snprintf(buf, sizeof buf, "%.6f", v);
  return std::string(buf, n > 0 ? static_cast<size_t>(n) : 0);
}

}  // namespace

std::shared_ptr<redis_link> redis_link::start(const config::redis_config& cfg) {
  std::string error;
  auto opt = cache::redis_options::from_config(cfg, &error);
  if (!opt) {
    log::warn("rate limit: redis address '{}': {}", cfg.address, error);
    return nullptr;
  }
  std::shared_ptr<redis_link> link(new redis_link());
  link->work_.emplace(link->io_.get_executor());
  link->client_ = cache::redis_client::create(link->io_.get_executor(), std::move(*opt));
  link->client_->start();
  link->thread_ = std::thread([l = link.get()] { l->io_.run(); });
  return link;
}

redis_link::~redis_link() {
  shutdown();
}

void redis_link::shutdown() {
  if (!thread_.joinable()) return;
  client_->stop();
  work_.reset();
  // Let the stop and the commands it fails run, then leave the loop.
  boost::asio::post(io_, [this] { io_.stop(); });
  thread_.join();
  client_.reset();
  io_.restart();
  io_.poll();
}

shared_limiter::shared_limiter(std::shared_ptr<redis_link> link, std::string route, limits l)
    : link_(std::move(link)),
      base_("rl:" + std::move(route) + ":"),
      limits_(l),
      rate_(number(l.requests.rate)),
      burst_(number(l.requests.capacity)),
      tokens_(number(l.tokens.capacity)) {}

std::vector<std::string> shared_limiter::keys_for(uint64_t key) const {
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(key));
  std::string k = base_ + hex;
  return {k + ":r", k + ":t"};
}

std::optional<decision> shared_limiter::decode(const std::vector<int64_t>& reply) {
  if (reply.size() != 6 || reply[1] < 0 || reply[1] > 2) return std::nullopt;
  decision d;
  d.allowed = reply[0] == 1;
  d.reason = static_cast<limit_reason>(reply[1]);
  d.limit = static_cast<uint64_t>(std::max<int64_t>(0, reply[2]));
  d.remaining = static_cast<uint64_t>(std::max<int64_t>(0, reply[3]));
  d.retry_after = std::chrono::milliseconds(std::max<int64_t>(0, reply[4]));
  d.reset = std::chrono::milliseconds(std::max<int64_t>(0, reply[5]));
  return d;
}

void shared_limiter::check(uint64_t key, cache::dispatcher d, handler h) {
  link_->client().eval(script, keys_for(key), {rate_, burst_, tokens_, "0"}, std::move(d),
                       [h = std::move(h)](cache::error_code ec, std::vector<int64_t> reply) {
                         if (ec) return h(std::nullopt);
                         h(decode(reply));
                       });
}

void shared_limiter::charge(uint64_t key, uint64_t tokens) {
  if (!limits_.limits_tokens() || tokens == 0) return;
  link_->client().eval(
      script, keys_for(key), {rate_, burst_, tokens_, std::to_string(tokens)}, [](cache::task) {},
      [](cache::error_code, std::vector<int64_t>) {});
}

}  // namespace spillway::ratelimit
