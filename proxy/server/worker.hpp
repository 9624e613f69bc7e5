// A worker thread: one io_context run by one thread, its own listening sockets (SO_REUSEPORT,
// the kernel spreads connections), its own upstream connection pools and balancer instances.
// Everything here is touched only from the worker's thread, except the stats (read by admin)
// and post() (a mutex-guarded mailbox plus an eventfd), so the io_context itself runs without
// any locking.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/intrusive/list.hpp>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "common/random.hpp"
#include "proxy/admin/access_log.hpp"
#include "proxy/admin/stats.hpp"
#include "proxy/affinity/affinity_picker.hpp"
#include "proxy/balancer/balancer.hpp"
#include "proxy/server/generation.hpp"
#include "proxy/server/runtime.hpp"
#include "proxy/upstream_pool/connection_pool.hpp"

namespace spillway::cache {
class response_cache;
}

namespace spillway::server {

/// A client connection a worker can ask to wind down (drain). Unlinks itself on destruction.
class drainable : public boost::intrusive::list_base_hook<
                      boost::intrusive::link_mode<boost::intrusive::auto_unlink>> {
 public:
  virtual void drain() = 0;

 protected:
  ~drainable() = default;
};

class worker {
 public:
  worker(size_t id, std::shared_ptr<const runtime> rt);
  ~worker();

  /// Opens this worker's listening sockets. Called before start(); errors are returned.
  boost::system::error_code listen(listener_shared& l, const boost::asio::ip::tcp::endpoint& at);

  void start();  // spawns the thread
  void join();

  /// Stops accepting, closes idle client connections, lets in-flight exchanges finish.
  /// Thread-safe (posts onto the worker thread).
  void begin_drain();
  /// Stops the event loop at once. Thread-safe.
  void stop();

  /// Reload: from now on new requests on this worker run on `rt` (a new generation, built on
  /// this worker's thread; idle pooled connections to endpoints that stay move over). Exchanges
  /// in flight finish on the generation they started with. Thread-safe (posts).
  void swap_runtime(std::shared_ptr<const runtime> rt);

  /// Runs `fn` on this worker's thread, later, never inline. Thread-safe. The io_context has no
  /// locking of its own, so work from other threads arrives through a mutex-guarded list and an
  /// eventfd the worker waits on.
  void post(std::function<void()> fn);

  size_t id() const noexcept { return id_; }
  boost::asio::io_context& io() noexcept { return *io_; }
  /// Worker thread: the generation new requests start on.
  const std::shared_ptr<generation>& current() const noexcept { return current_; }
  const runtime& rt() const noexcept { return current_->rt(); }
  admin::worker_stats& stats() noexcept { return stats_; }
  const admin::worker_stats& stats() const noexcept { return stats_; }
  xoshiro256& rng() noexcept { return rng_; }
  bool draining() const noexcept { return draining_; }

  void register_session(drainable& s) noexcept { sessions_.push_back(s); }

  /// Access log shared by all workers, or null. Set before start().
  void set_access_log(admin::access_log* log) noexcept { access_log_ = log; }
  bool logging() const noexcept { return access_log_ != nullptr; }
  /// Queues one access-log line; written out in batches (size or tick).
  void log_request(const admin::access_record& r);

  /// Response cache shared by all workers, or null. `open` turns false once the workers have
  /// stopped: cache results are then dropped instead of posted. Set before start().
  void set_cache(cache::response_cache* c, const std::atomic<bool>* open) noexcept {
    cache_ = c;
    cache_open_ = open;
  }
  cache::response_cache* cache() const noexcept { return cache_; }
  const std::atomic<bool>* cache_open() const noexcept { return cache_open_; }

 private:
  struct acceptor;
  void do_tick();
  void drain_now();
  void do_wait_mailbox();
  void run_mailbox();

  static constexpr std::chrono::milliseconds tick_period{100};

  size_t id_;
  // Destroyed explicitly in ~worker after the I/O objects below, so that the sessions its
  // pending handlers own die while stats and runtime still exist.
  std::unique_ptr<boost::asio::io_context> io_;
  std::shared_ptr<generation> current_;
  std::vector<std::unique_ptr<acceptor>> acceptors_;
  admin::worker_stats stats_;
  xoshiro256 rng_;
  std::unique_ptr<boost::asio::steady_timer> tick_;
  bool draining_ = false;
  uint64_t ticks_ = 0;
  std::atomic<bool> stop_requested_{false};
  std::atomic<bool> drain_requested_{false};
  std::mutex mailbox_mutex_;
  std::vector<std::function<void()>> mailbox_;
  std::vector<std::function<void()>> mailbox_running_;
  int event_fd_ = -1;
  std::unique_ptr<boost::asio::posix::stream_descriptor> event_;
  admin::access_log* access_log_ = nullptr;
  cache::response_cache* cache_ = nullptr;
  const std::atomic<bool>* cache_open_ = nullptr;
  std::string log_buffer_;
  std::thread thread_;
  boost::intrusive::list<drainable, boost::intrusive::constant_time_size<false>> sessions_;
};

}  // namespace spillway::server
