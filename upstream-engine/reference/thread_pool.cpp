#include "upstream-engine/reference/thread_pool.hpp"

#include <algorithm>

namespace spillway::engine::reference {

thread_pool::thread_pool(int threads) {
  for (int i = 1; i < std::max(1, threads); ++i) workers_.emplace_back([this, i] { worker(i); });
}

thread_pool::~thread_pool() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  start_cv_.notify_all();
  for (auto& t : workers_) t.join();
}

void thread_pool::range(size_t n, size_t grain, int parts, int index, size_t& b, size_t& e) {
  const size_t units = (n + grain - 1) / grain;
  const size_t per = units / static_cast<size_t>(parts);
  const size_t extra = units % static_cast<size_t>(parts);
  const size_t i = static_cast<size_t>(index);
  const size_t first = i * per + std::min(i, extra);
  const size_t count = per + (i < extra ? 1 : 0);
  b = std::min(n, first * grain);
  e = std::min(n, (first + count) * grain);
}

void thread_pool::run(size_t n, size_t grain, task_fn fn, void* ctx) {
  if (n == 0) return;
  grain = std::max<size_t>(1, grain);
  const size_t units = (n + grain - 1) / grain;
  const int parts = static_cast<int>(std::min<size_t>(units, static_cast<size_t>(size())));
  if (parts <= 1) {
    fn(ctx, 0, n);
    return;
  }
  {
    std::lock_guard lock(mu_);
    fn_ = fn;
    ctx_ = ctx;
    n_ = n;
    grain_ = grain;
    parts_ = parts;
    pending_ = parts - 1;
    ++generation_;
  }
  start_cv_.notify_all();
  size_t b, e;
  range(n, grain, parts, 0, b, e);
  fn(ctx, b, e);
  std::unique_lock lock(mu_);
  done_cv_.wait(lock, [this] { return pending_ == 0; });
}

void thread_pool::worker(int index) {
  uint64_t seen = 0;
  for (;;) {
    task_fn fn;
    void* ctx;
    size_t b = 0, e = 0;
    {
      std::unique_lock lock(mu_);
      start_cv_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      if (index >= parts_) continue;
      fn = fn_;
      ctx = ctx_;
      range(n_, grain_, parts_, index, b, e);
    }
    fn(ctx, b, e);
    {
      std::lock_guard lock(mu_);
      if (--pending_ == 0) done_cv_.notify_one();
    }
  }
}

}  // namespace spillway::engine::reference
