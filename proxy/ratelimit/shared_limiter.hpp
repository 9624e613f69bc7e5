// Rate limits shared by proxy replicas through Redis (SPEC §2.1 rate_limit.shared): the same
// two buckets as local_limiter, kept in two Redis hashes per key and updated by one Lua script
// per check (atomic on the Redis side, and timed by Redis's own clock, so replicas with skewed
// clocks agree). Keys: <cache.redis.key_prefix>rl:<route>:<key hash>:{r,t}, each expiring once
// its bucket would be full again, so idle keys cost Redis nothing.
//
// redis_link owns the connection: a redis_client on its own io_context and thread (the worker
// io_contexts run without locks and are never posted to from outside, see cache/dispatch.hpp).
//
// Threading: check() and charge() from any thread; check's handler runs through the caller's
// dispatcher. A Redis that is down, slow (past cache.redis.timeout) or erroring answers nullopt:
// the caller falls back to its local buckets and traffic is never blocked on Redis.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "cache/redis_client.hpp"
#include "config/config.hpp"
#include "proxy/ratelimit/local_limiter.hpp"

namespace spillway::ratelimit {

class redis_link {
 public:
  /// Starts connecting to `cfg` in the background; null when the address is malformed (the
  /// config loader has already refused those).
  static std::shared_ptr<redis_link> start(const config::redis_config& cfg);
  ~redis_link();
  /// Fails what is outstanding (through the callers' dispatchers) and stops the thread. Call
  /// while the workers still run, before they are destroyed, so no answer arrives after them.
  /// Idempotent; the destructor calls it.
  void shutdown();
  redis_link(const redis_link&) = delete;
  redis_link& operator=(const redis_link&) = delete;

  cache::redis_client& client() noexcept { return *client_; }

 private:
  redis_link() = default;
  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::shared_ptr<cache::redis_client> client_;
  std::thread thread_;
};

class shared_limiter {
 public:
  shared_limiter(std::shared_ptr<redis_link> link, std::string route, limits l);

  using handler = std::function<void(std::optional<decision>)>;
  /// One request of `key` against the shared buckets; nullopt when Redis could not decide.
  void check(uint64_t key, cache::dispatcher d, handler h);
  /// Charges `tokens` to the shared budget of `key`; fire and forget.
  void charge(uint64_t key, uint64_t tokens);

  /// The script's reply as a decision; nullopt for a malformed reply. Public for tests.
  static std::optional<decision> decode(const std::vector<int64_t>& reply);

 private:
  std::vector<std::string> keys_for(uint64_t key) const;

  std::shared_ptr<redis_link> link_;
  std::string base_;  // rl:<route>:
  limits limits_;
  std::string rate_, burst_, tokens_;  // the script's numeric arguments, formatted once
};

}  // namespace spillway::ratelimit
