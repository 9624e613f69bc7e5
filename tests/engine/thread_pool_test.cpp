// The CPU backend's thread pool: every index is handed out exactly once, in grain-aligned ranges,
// whatever the thread count, part count or spin budget, across many back-to-back tasks (the
// part count changes between tasks, so idle workers must skip tasks they have no part of).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <vector>

#include "upstream-engine/reference/thread_pool.hpp"

namespace spillway::engine::reference {
namespace {

using std::chrono::microseconds;

void expect_exact_cover(thread_pool& pool, size_t n, size_t grain) {
  std::vector<std::atomic<int>> hits(n);
  std::atomic<int> misaligned{0};
  pool.parallel_for(n, grain, [&](size_t b, size_t e) {
    if (b % grain != 0 || (e != n && e % grain != 0)) ++misaligned;
    for (size_t i = b; i < e; ++i) ++hits[i];
  });
  EXPECT_EQ(misaligned.load(), 0) << "n " << n << " grain " << grain;
  for (size_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << "index " << i << " of " << n;
}

TEST(ThreadPool, CoversEveryIndexOnceInGrainAlignedRanges) {
  for (int threads : {1, 2, 3, 5})
    for (microseconds spin : {microseconds(0), microseconds(50)}) {
      thread_pool pool(threads, spin);
      EXPECT_EQ(pool.size(), threads);
      for (size_t n : {0, 1, 2, 7, 100, 1001})
        for (size_t grain : {1, 3, 16}) expect_exact_cover(pool, n, grain);
    }
}

TEST(ThreadPool, BackToBackTasksWithChangingPartCounts) {
  for (microseconds spin : {microseconds(0), microseconds(50)}) {
    thread_pool pool(4, spin);
    std::atomic<long> sum{0};
    long want = 0;
    for (int round = 0; round < 3000; ++round) {
      const size_t n = static_cast<size_t>(round % 6);  // 0..5 indices: 0 to 4 parts
      pool.parallel_for(n, 1, [&](size_t b, size_t e) {
        for (size_t i = b; i < e; ++i) sum += static_cast<long>(i) + round;
      });
      for (size_t i = 0; i < n; ++i) want += static_cast<long>(i) + round;
      ASSERT_EQ(sum.load(), want) << "round " << round;
    }
  }
}

TEST(ThreadPool, UnevenRangesFinishBeforeReturning) {
  // The caller's range is short and the workers' long: parallel_for must still wait for them.
  thread_pool pool(3, microseconds(0));
  for (int round = 0; round < 200; ++round) {
    std::vector<int> out(3, 0);
    pool.parallel_for(3, 1, [&](size_t b, size_t e) {
      for (size_t i = b; i < e; ++i) {
        volatile long spin = 0;
        for (long k = 0; k < static_cast<long>(i) * 2000; ++k) spin = spin + k;
        out[i] = static_cast<int>(i) + 1;
      }
    });
    ASSERT_EQ(out, (std::vector<int>{1, 2, 3})) << "round " << round;
  }
}

}  // namespace
}  // namespace spillway::engine::reference
