// The engine: owns the backend, the block pool and the scheduler, and runs the step loop on its
// own thread. HTTP threads call submit() and cancel(); both only touch a mutex-guarded inbox,
// so the scheduler state stays single-threaded. The waiting queue is bounded: submit() refuses
// with queue_full once `max_queue` requests wait (inbox and scheduler queue together).
// Before start() the engine is "loading" and refuses every request.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "common/clock.hpp"
#include "upstream-engine/model/tokenizer.hpp"
#include "upstream-engine/runtime/backend.hpp"
#include "upstream-engine/runtime/block_pool.hpp"
#include "upstream-engine/runtime/metrics.hpp"
#include "upstream-engine/runtime/scheduler.hpp"
#include "upstream-engine/runtime/sequence.hpp"

namespace spillway::engine::runtime {

struct engine_config {
  int max_batch = 32;
  int max_queue = 256;
  int max_step_tokens = 256;
  bool prefix_caching = true;
  double slowdown = 1.0;  // each step takes this many times its compute time (fault injection)
};

enum class submit_status { ok, loading, queue_full, failed };

struct submit_result {
  submit_status status = submit_status::ok;
  std::shared_ptr<request_handle> handle;
};

class engine {
 public:
  explicit engine(engine_config cfg, const clock_source& clock = system_clock_source::instance());
  ~engine();
  engine(const engine&) = delete;
  engine& operator=(const engine&) = delete;

  /// Takes the loaded model and starts the step thread; the engine is ready afterwards.
  /// `tok` must outlive the engine.
  void start(std::unique_ptr<backend> be, const model::tokenizer& tok);
  /// Marks a load failure: requests are refused with `failed`.
  void set_failed() noexcept { failed_.store(true); }
  /// Stops the step thread; pending sequences end with an error event.
  void stop();

  bool ready() const noexcept { return ready_.load(std::memory_order_acquire); }
  bool failed() const noexcept { return failed_.load(); }
  /// Valid once ready().
  const model::model_config& model_config() const noexcept { return backend_->config(); }
  const model::tokenizer& tokenizer() const noexcept { return *tok_; }
  const char* device() const noexcept { return backend_ ? backend_->name() : "none"; }
  kv_geometry geometry() const noexcept { return backend_->geometry(); }
  const engine_config& config() const noexcept { return cfg_; }

  /// Queues a generation. `sink` runs on the step thread for every event of the sequence.
  /// Any thread.
  submit_result submit(std::vector<int32_t> prompt, sampling_params params, event_sink sink);
  /// Ends a sequence at the next step boundary (its sink gets a final abort event). Any thread.
  void cancel(const std::shared_ptr<request_handle>& handle);
  /// Holds the step loop between steps (tests, to observe a queue without timing). Any thread.
  void set_paused(bool paused);

  engine_metrics& metrics() noexcept { return metrics_; }
  const engine_metrics& metrics() const noexcept { return metrics_; }

 private:
  void loop();
  void step();

  engine_config cfg_;
  const clock_source& clock_;
  engine_metrics metrics_;
  std::atomic<bool> ready_{false};
  std::atomic<bool> failed_{false};
  std::atomic<uint64_t> next_id_{1};
  uint64_t seed_base_;

  std::unique_ptr<backend> backend_;
  const model::tokenizer* tok_ = nullptr;
  std::unique_ptr<block_pool> pool_;
  std::unique_ptr<scheduler> sched_;
  std::vector<float> logits_;
  std::vector<int32_t> argmax_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<sequence>> inbox_;
  bool cancel_pending_ = false;
  bool paused_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace spillway::engine::runtime
