#include "upstream-engine/reference/thread_pool.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace spillway::engine::reference {
namespace {

// Nanoseconds the calling thread has spent runnable but waiting for a CPU (the second field of
// /proc/thread-self/schedstat), or -1 where the kernel does not say.
int64_t runqueue_wait_ns() {
  const int fd = ::open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char buf[128];
  const ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return -1;
  buf[n] = '\0';
  unsigned long long run = 0, wait = 0;
  if (std::sscanf(buf, "%llu %llu", &run, &wait) != 2) return -1;
  return static_cast<int64_t>(wait);
}

// Fallback: how often the calling thread was preempted.
int64_t involuntary_switches() {
  rusage ru{};
  if (getrusage(RUSAGE_THREAD, &ru) != 0) return 0;
  return ru.ru_nivcsw;
}

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

}  // namespace

thread_pool::thread_pool(int threads, std::chrono::microseconds max_spin)
    : max_spin_(max_spin), spin_us_(max_spin.count()) {
  for (int i = 1; i < std::max(1, threads); ++i) workers_.emplace_back([this, i] { worker(i); });
}

thread_pool::~thread_pool() {
  {
    std::lock_guard lock(mu_);
    stop_.store(true);
    generation_.fetch_add(uint64_t{1} << 16);
  }
  start_cv_.notify_all();
  for (auto& t : workers_) t.join();
}

template <class Pred>
bool thread_pool::spin_until(Pred done, std::chrono::microseconds budget) {
  if (done()) return true;
  if (budget.count() <= 0) return false;
  const auto deadline = std::chrono::steady_clock::now() + budget;
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      cpu_relax();
      if (done()) return true;
    }
    if (std::chrono::steady_clock::now() >= deadline) return false;
  }
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
  if (parts <= 1 || contended()) {
    fn(ctx, 0, n);
    return;
  }
  fn_ = fn;
  ctx_ = ctx;
  n_ = n;
  grain_ = grain;
  pending_.store(parts - 1);
  // seq_cst: publishes the task, and is ordered before the read of sleeping_workers_ below.
  const uint64_t g = generation_.load(std::memory_order_relaxed);
  generation_.store(((g >> 16) + 1) << 16 | static_cast<uint64_t>(parts));
  const bool woke = sleeping_workers_.load() > 0;
  if (woke) {
    // A worker that counted itself asleep checks generation_ under the mutex before it waits.
    std::lock_guard lock(mu_);
    start_cv_.notify_all();
  }
  size_t b, e;
  range(n, grain, parts, 0, b, e);
  const auto start = std::chrono::steady_clock::now();
  fn(ctx, b, e);
  const auto own_end = std::chrono::steady_clock::now();
  const auto budget = std::chrono::microseconds(spin_us_.load(std::memory_order_relaxed));
  const bool done =
      spin_until([this] { return pending_.load(std::memory_order_acquire) == 0; }, budget);
  if (done) return;
  {
    std::unique_lock lock(mu_);
    caller_sleeping_.store(true);
    done_cv_.wait(lock, [this] { return pending_.load() == 0; });
    caller_sleeping_.store(false);
  }
  // A worker that was running finishes its equal range about when the caller finished its own;
  // one that took the spin budget plus the caller's whole time again was not running. (Waiting
  // on a woken worker is its wake-up, not contention.) Judging by the spin budget alone put
  // every large product (a batch-16 step's shares run a millisecond) on one thread for 50 ms
  // as soon as a worker lagged by 50 us.
  if (!woke && std::chrono::steady_clock::now() - own_end > budget + (own_end - start)) spun_out();
}

bool thread_pool::contended() {
  if (max_spin_.count() <= 0) return false;
  const auto now = std::chrono::steady_clock::now();
  // Every 10 ms: the caller waiting for a CPU for over a tenth of that time (or, where the
  // kernel does not report that, being preempted at all) means more runnable threads than
  // cores. A brief preemption, as by the HTTP thread sending a token, stays under it.
  if (now - last_check_ >= std::chrono::milliseconds(10)) {
    int64_t wait = runqueue_wait_ns();
    const bool measured = wait >= 0;
    if (!measured) wait = involuntary_switches();
    const int64_t limit = measured ? 1'000'000 : 0;
    if (last_check_ != std::chrono::steady_clock::time_point{} && wait - last_wait_ > limit)
      quiet_since_ = now + std::chrono::milliseconds(50);
    last_check_ = now;
    last_wait_ = wait;
  }
  const bool busy = now < quiet_since_;
  spin_us_.store(busy ? 0 : max_spin_.count(), std::memory_order_relaxed);
  return busy;
}

void thread_pool::spun_out() {
  if (max_spin_.count() <= 0) return;
  quiet_since_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(50);
  spin_us_.store(0, std::memory_order_relaxed);
}

void thread_pool::worker(int index) {
  uint64_t seen = 0;
  for (;;) {
    const auto fresh = [&] { return generation_.load(std::memory_order_acquire) != seen; };
    if (!spin_until(fresh, std::chrono::microseconds(spin_us_.load(std::memory_order_relaxed)))) {
      std::unique_lock lock(mu_);
      sleeping_workers_.fetch_add(1);
      start_cv_.wait(lock, [&] { return generation_.load() != seen; });
      sleeping_workers_.fetch_sub(1);
    }
    seen = generation_.load(std::memory_order_acquire);
    if (stop_.load()) return;
    // The part count travels in the generation word: a worker with no part of this task must
    // not read the task fields, which the caller may already be rewriting for the next one.
    const int parts = static_cast<int>(seen & 0xffff);
    if (index >= parts) continue;
    size_t b, e;
    range(n_, grain_, parts, index, b, e);
    fn_(ctx_, b, e);
    if (pending_.fetch_sub(1) == 1 && caller_sleeping_.load()) {
      std::lock_guard lock(mu_);
      done_cv_.notify_one();
    }
  }
}

}  // namespace spillway::engine::reference
