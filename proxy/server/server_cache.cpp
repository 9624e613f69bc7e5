// The response cache's process-wide part (SPEC §2.2 Cache, cache/README.md "Wiring"): one
// response_cache for the server's lifetime, the Redis client when configured, and one io
// thread that runs Redis I/O and the expiry of stalled coalesced flights.
#include <boost/asio/executor_work_guard.hpp>

#include "cache/redis_client.hpp"
#include "cache/response_cache.hpp"
#include "common/clock.hpp"
#include "common/log.hpp"
#include "proxy/server/server.hpp"

namespace spillway::server {

void server::make_cache() {
  const auto& top = rt_->config->cache;
  // Idempotency records live in the cache tiers; without a `cache` section, in memory only.
  bool idempotency = false;
  for (const auto& r : rt_->config->routes) idempotency = idempotency || r.idempotency;
  if (!top && !idempotency) return;
  const config::cache_config memory_only;
  const config::cache_config& cfg = top ? *top : memory_only;
  cache_io_ = std::make_unique<boost::asio::io_context>();
  if (cfg.redis) {
    std::string err;
    auto ro = cache::redis_options::from_config(*cfg.redis, &err);
    if (ro) {
      redis_ = cache::redis_client::create(cache_io_->get_executor(), *ro);
    } else {
      log::error("cache.redis: {}; running with the memory tier only", err);
    }
  }
  cache_ = std::make_unique<cache::response_cache>(cache::response_cache_options::from_config(cfg),
                                                   system_clock_source::instance(), redis_);
}

void server::start_cache() {
  if (!cache_ || cache_thread_.joinable()) return;
  if (redis_) {
    redis_->start();
    log::info("cache: memory {} bytes, redis {}", cache_->options().memory_max_bytes,
              rt_->config->cache->redis->address);
  } else {
    log::info("cache: memory {} bytes, no redis", cache_->options().memory_max_bytes);
  }
  cache_->start_maintenance(cache_io_->get_executor());
  cache_work_.emplace(cache_io_->get_executor());
  cache_thread_ = std::thread([io = cache_io_.get()] { io->run(); });
}

void server::stop_cache() {
  cache_dispatch_open_.store(false, std::memory_order_release);
  if (!cache_) return;
  cache_->stop();
  if (redis_) redis_->stop();
  // The io thread runs what stop() posted (closing the connection, cancelling timers), then
  // runs out of work and returns.
  cache_work_.reset();
  if (cache_thread_.joinable()) cache_thread_.join();
}

}  // namespace spillway::server
