// One event-loop thread's share of a run. Open loop: arrivals j with j mod threads == id from
// the precomputed schedule are released at their scheduled time whatever happened before
// (wrk2's model); a request that finds no free connection or hits the --concurrency cap waits
// in a FIFO, and its latency still counts from the scheduled time, so a stalled target shows up
// instead of hiding (no coordinated omission). Closed loop: the thread's share of --concurrency
// requests is kept in flight, each sent as soon as the previous one ends.
// A 10 ms tick enforces timeouts and cancellations and samples the per-second series.
// Everything runs on the driver's own io_context thread; progress counters are atomics.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <vector>

#include "loadgen/collector.hpp"
#include "loadgen/connection.hpp"
#include "loadgen/request_factory.hpp"

namespace spillway::loadgen {

/// Shared, read-only description of a run.
struct run_plan {
  const options* opts = nullptr;
  const request_factory* factory = nullptr;
  tcp::endpoint endpoint;
  asio::ssl::context* tls = nullptr;
  std::vector<int64_t> schedule;  // open loop only
  unsigned threads = 1;
};

/// Live counters a driver publishes for the progress line.
struct alignas(64) progress_slot {
  std::atomic<uint64_t> sent{0};
  std::atomic<uint64_t> done{0};
  std::atomic<uint64_t> errors{0};
  std::atomic<uint64_t> in_flight{0};
  std::atomic<uint64_t> p99_ns{0};
  std::atomic<bool> finished{false};
};

class driver final : public connection_owner {
 public:
  driver(const run_plan& plan, unsigned id, collector& col, progress_slot& slot);
  ~driver() override;

  asio::io_context& io() { return io_; }
  /// Opens the connections that should exist before the clock starts.
  void preconnect();
  bool preconnected() const;
  /// Starts the run; io().run() returns when this driver's share is done.
  void begin(std::chrono::steady_clock::time_point t0);
  /// Called once per second of run time with the driver's tick (driver 0 prints progress).
  std::function<void(int64_t now)> on_second;

  // connection_owner
  int64_t now() const override;
  void on_sent(request_ctx* r) override;
  void on_response(request_ctx* r) override;
  void on_ready(connection* c) override;
  connection_stats& conn_stats() override { return col_.conn; }

 private:
  request_ctx* make_request(uint64_t index, int64_t scheduled);
  void release(request_ctx* r);
  void dispatch(request_ctx* r, bool count_wait);
  void start_on(connection* c, request_ctx* r);
  connection* pick();
  connection* add_connection();
  void drain_pending();
  void issue_closed();
  void on_arrival();
  void arm_arrival();
  void on_tick();
  void expire(int64_t now);
  void stop_closed();
  void check_finished();
  void finish();
  bool cap_reached() const;

  const run_plan& plan_;
  const options& opts_;
  unsigned id_;
  collector& col_;
  progress_slot& slot_;
  asio::io_context io_{1};
  asio::steady_timer arrival_timer_{io_};
  asio::steady_timer tick_timer_{io_};
  std::chrono::steady_clock::time_point t0_;
  connection_config conn_cfg_;

  std::vector<std::unique_ptr<connection>> conns_;
  std::vector<connection*> ready_;
  size_t max_conns_ = 1;
  size_t preconnect_ = 0;
  size_t cap_ = 0;  // in-flight cap (0 = none)

  std::vector<std::unique_ptr<request_ctx>> pool_;
  std::vector<request_ctx*> free_;
  request_list pending_;
  request_list inflight_;

  std::vector<int64_t> arrivals_;  // this thread's scheduled offsets
  size_t next_arrival_ = 0;
  uint64_t quota_ = UINT64_MAX;  // closed loop: requests this thread may start
  uint64_t issued_ = 0;
  uint64_t deferred_ = 0;  // closed-loop sends delayed to the next tick after a connect error
  int64_t end_time_ = INT64_MAX;
  int64_t next_second_ = 1'000'000'000;
  bool started_ = false;
  bool stopping_ = false;
  bool finished_ = false;
  bool discard_ = false;  // aborting at the end of a closed-loop run: not results
};

}  // namespace spillway::loadgen
