// Fixed pool of compute threads for the CPU backend. parallel_for splits [0, n) into one
// contiguous range per thread (the caller runs the first) and returns when all are done, so
// which thread computes which output is fixed and results do not depend on timing.
// One caller at a time (the scheduler thread); workers sleep on a condition variable between calls.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <thread>
#include <vector>

namespace spillway::engine::reference {

class thread_pool {
 public:
  /// `threads` counts the caller; 1 runs everything inline.
  explicit thread_pool(int threads);
  ~thread_pool();
  thread_pool(const thread_pool&) = delete;
  thread_pool& operator=(const thread_pool&) = delete;

  int size() const noexcept { return static_cast<int>(workers_.size()) + 1; }

  /// Calls fn(begin, end) over disjoint ranges covering [0, n); range bounds are multiples of
  /// `grain` (except the last end). Blocks until every range is done.
  template <class F>
  void parallel_for(size_t n, size_t grain, F&& fn) {
    run(
        n, grain, [](void* ctx, size_t b, size_t e) { (*static_cast<F*>(ctx))(b, e); }, &fn);
  }

 private:
  using task_fn = void (*)(void*, size_t, size_t);
  void run(size_t n, size_t grain, task_fn fn, void* ctx);
  void worker(int index);
  static void range(size_t n, size_t grain, int parts, int index, size_t& b, size_t& e);

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable start_cv_;
  std::condition_variable done_cv_;
  uint64_t generation_ = 0;
  int pending_ = 0;
  bool stop_ = false;
  // Current task, valid while pending_ > 0.
  task_fn fn_ = nullptr;
  void* ctx_ = nullptr;
  size_t n_ = 0;
  size_t grain_ = 1;
  int parts_ = 1;
};

}  // namespace spillway::engine::reference
