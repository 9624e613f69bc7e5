// The proxy process: builds the runtime from a loaded configuration, starts the worker threads
// and the admin listener, and runs the control thread (signals, DNS refresh, drain).
//
// Threads: N workers (data plane), plus the calling thread, which runs the control io_context
// (admin HTTP, signals, timers).
#pragma once

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "config/config.hpp"
#include "proxy/admin/access_log.hpp"
#include "proxy/server/health_checker.hpp"
#include "proxy/server/load_scraper.hpp"
#include "proxy/server/runtime.hpp"
#include "proxy/server/worker.hpp"

namespace spillway::admin {
class admin_server;
}
namespace spillway::cache {
class response_cache;
class redis_client;
}  // namespace spillway::cache

namespace spillway::server {

class server {
 public:
  explicit server(std::shared_ptr<const config::proxy_config> cfg);
  ~server();

  /// Binds listeners and admin, starts workers; blocks until drained or stopped.
  /// Returns the process exit code.
  int run();

  const runtime& rt() const noexcept { return *rt_; }

  /// Outcome of a configuration reload (SIGHUP, POST /admin/reload).
  struct reload_result {
    bool ok = false;
    std::vector<std::string> errors;    // "file:line:col: key: message"; nothing changed
    std::vector<std::string> warnings;  // loader warnings and settings that need a restart
  };
  /// Re-reads and validates the config file; on success swaps a new runtime in (workers pick
  /// it up through their mailboxes; exchanges in flight finish on the old one). On failure
  /// nothing changes. Control thread only. Implemented in reload.cpp.
  reload_result reload(std::string_view trigger);
  /// Reloads so far by result (spillway_config_reloads_total).
  uint64_t reloads(bool ok) const noexcept { return ok ? reloads_ok_ : reloads_failed_; }
  /// Runtimes replaced by a reload that exchanges still hold.
  size_t retired_runtimes() const noexcept;
  const std::vector<std::unique_ptr<worker>>& workers() const noexcept { return workers_; }
  bool ready() const noexcept;
  /// The response cache, or null without a top-level `cache` section. Lives as long as the
  /// server, across reloads.
  cache::response_cache* cache() const noexcept { return cache_.get(); }
  const cache::redis_client* redis() const noexcept { return redis_.get(); }

 private:
  bool bind_listeners();
  void on_signal(const boost::system::error_code& ec, int signo);
  void begin_drain();
  void check_drained();
  void schedule_resolve();
  void schedule_control_tick();
  void start_health_checks();
  void make_cache();   // server_cache.cpp
  void start_cache();  // starts its io thread
  void stop_cache();   // after the workers stopped; idempotent

  std::shared_ptr<const runtime> rt_;
  boost::asio::io_context control_;
  boost::asio::signal_set signals_;
  boost::asio::steady_timer drain_timer_;
  boost::asio::steady_timer resolve_timer_;
  boost::asio::steady_timer control_timer_;
  std::vector<std::unique_ptr<health_checker>> checkers_;
  std::vector<std::unique_ptr<load_scraper>> scrapers_;  // clusters with load_report
  std::chrono::steady_clock::time_point drain_deadline_{};
  bool draining_ = false;
  std::unique_ptr<admin::access_log> access_log_;  // outlives the workers that write to it
  // Response cache: declared before the workers so it outlives the sessions holding its
  // flights; the Redis client outlives the cache, the io_context outlives both.
  std::unique_ptr<boost::asio::io_context> cache_io_;
  std::shared_ptr<cache::redis_client> redis_;
  std::unique_ptr<cache::response_cache> cache_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>>
      cache_work_;
  std::thread cache_thread_;
  std::atomic<bool> cache_dispatch_open_{true};  // false once workers stopped: drop results
  std::vector<std::unique_ptr<worker>> workers_;
  std::unique_ptr<admin::admin_server> admin_;
  std::string config_path_;
  std::vector<std::weak_ptr<const runtime>> retired_;  // control thread
  uint64_t reloads_ok_ = 0;
  uint64_t reloads_failed_ = 0;
};

}  // namespace spillway::server
