// Fixed pool of compute threads for the CPU backend. parallel_for splits [0, n) into one
// contiguous range per thread (the caller runs the first) and returns when all are done, so
// which thread computes which output is fixed and results do not depend on timing.
// One caller at a time (the scheduler thread). A decode step is many short products back to
// back, and waking a sleeping thread costs tens of microseconds, so hand-offs spin first:
// workers poll for the next task, and the caller for the last range, for up to `max_spin`
// before sleeping on a condition variable (as OpenMP's default wait policy does); a sleeping
// side is woken through the mutex, so no wake-up is lost.
// Spinning and hand-offs only pay while every thread has a core: a spinning thread can hold the
// core its partner waits for, and a step waits for its slowest, possibly descheduled, thread.
// So when a worker finishes later than the caller's spin budget plus the caller's own range time
// after the caller (it was not running) or the caller spent over 1 ms of the last 10 ms waiting
// for a CPU (/proc/thread-self/schedstat), the caller runs every range itself for the next 50 ms.
// Results do not depend on this: callers compute each output the same way whichever thread computes
// it. With max_spin 0 the pool never spins and always hands off.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace spillway::engine::reference {

class thread_pool {
 public:
  static constexpr std::chrono::microseconds default_max_spin{50};

  /// `threads` counts the caller; 1 runs everything inline. max_spin 0: never spin, and always
  /// hand off (tests use it to make sure the workers run).
  explicit thread_pool(int threads, std::chrono::microseconds max_spin = default_max_spin);
  ~thread_pool();
  thread_pool(const thread_pool&) = delete;
  thread_pool& operator=(const thread_pool&) = delete;

  int size() const noexcept { return static_cast<int>(workers_.size()) + 1; }

  /// Calls fn(begin, end) over disjoint ranges covering [0, n); range bounds are multiples of
  /// `grain` (except the last end). Blocks until every range is done. Which thread runs which
  /// range, and how many ranges there are, may vary from call to call.
  template <class F>
  void parallel_for(size_t n, size_t grain, F&& fn) {
    run(
        n, grain, [](void* ctx, size_t b, size_t e) { (*static_cast<F*>(ctx))(b, e); }, &fn);
  }

 private:
  using task_fn = void (*)(void*, size_t, size_t);
  void run(size_t n, size_t grain, task_fn fn, void* ctx);
  void worker(int index);
  /// Polls `done` for up to `budget`; false if it still is not true.
  template <class Pred>
  static bool spin_until(Pred done, std::chrono::microseconds budget);
  /// Caller only: true while the machine looks oversubscribed (see the top of this file);
  /// sets the workers' spin budget to match.
  bool contended();
  /// Caller only: a worker was not running.
  void spun_out();
  static void range(size_t n, size_t grain, int parts, int index, size_t& b, size_t& e);

  const std::chrono::microseconds max_spin_;
  std::atomic<int64_t> spin_us_;  // current budget; the caller adapts it, workers read it
  // Caller only: hand-offs resume at quiet_since_; the caller's run-queue wait (or preemption
  // count) at last_check_.
  std::chrono::steady_clock::time_point quiet_since_{};
  std::chrono::steady_clock::time_point last_check_{};
  int64_t last_wait_ = 0;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable start_cv_;
  std::condition_variable done_cv_;
  std::atomic<uint64_t> generation_{0};  // task counter << 16 | the task's part count
  std::atomic<int> pending_{0};
  std::atomic<int> sleeping_workers_{0};
  std::atomic<bool> caller_sleeping_{false};
  std::atomic<bool> stop_{false};
  // Current task: written by the caller before it bumps generation_; read only by the workers
  // that have a part of it, which the caller waits for before it writes the next task.
  task_fn fn_ = nullptr;
  void* ctx_ = nullptr;
  size_t n_ = 0;
  size_t grain_ = 1;
};

}  // namespace spillway::engine::reference
